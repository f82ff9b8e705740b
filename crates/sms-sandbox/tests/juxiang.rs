//! Juxiang over real HTTP, in GBK: gsend, checkcontent, getfee, readsms, cpwd.

mod common;

use common::{client, gbk_form, juxiang, parse_gbk_kv};
use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, InboundReply, Product, Sandbox};

fn page(sb: &Sandbox, name: &str) -> String {
    format!("{}{name}", sb.url(Product::Juxiang))
}

async fn gsend(sb: &Sandbox, dst: &str, msg: &str) -> std::collections::HashMap<String, String> {
    juxiang(
        &page(sb, "gsend.asp"),
        &[
            ("name", DEFAULT_ACCOUNT),
            ("pwd", DEFAULT_JUXIANG_PASSWORD),
            ("dst", dst),
            ("msg", msg),
        ],
    )
    .await
}

#[tokio::test]
async fn gbk_round_trip_of_a_send() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let text = "您好，您的订单已发货！编号：A&B=1+1 100%";
    let answer = gsend(&sb, "13800138000,13800138001", text).await;
    assert_eq!(answer["num"], "2");
    assert_eq!(answer["success"], "13800138000,13800138001");
    assert_eq!(answer["faile"], "");
    assert_eq!(answer["err"], "发送成功");
    assert_eq!(answer["errid"], "0");
    let m = &sb.messages()[0];
    assert_eq!(m.product, Product::Juxiang);
    assert_eq!(m.text, text);
    assert_eq!(m.recipients, vec!["13800138000", "13800138001"]);
    assert!(!m.provider_id.is_empty());
    assert_eq!(m.billed, 2);
    assert_eq!(sb.balance(Product::Juxiang, DEFAULT_ACCOUNT), Some(9_998));
}

#[tokio::test]
async fn gbk_query_string_get_works_too() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let query = gbk_form(&[
        ("name", DEFAULT_ACCOUNT),
        ("pwd", DEFAULT_JUXIANG_PASSWORD),
        ("dst", "13800138000"),
        ("msg", "查询中文"),
    ]);
    let response = client()
        .get(format!("{}?{query}", page(&sb, "gsend.asp")))
        .send()
        .await
        .unwrap();
    let answer = parse_gbk_kv(&response.bytes().await.unwrap());
    assert_eq!(answer["num"], "1");
    assert_eq!(sb.messages()[0].text, "查询中文");
}

#[tokio::test]
async fn partial_success_lists_success_and_faile() {
    let sb = Sandbox::builder()
        .account(
            Product::Juxiang,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).blacklist(["13800000000"]),
        )
        .spawn()
        .await
        .unwrap();
    let answer = gsend(&sb, "13800138000,12345,13800000000,13800138001,", "hello").await;
    assert_eq!(answer["num"], "2");
    assert_eq!(answer["success"], "13800138000,13800138001");
    assert_eq!(answer["faile"], "12345,13800000000");
    assert_eq!(answer["errid"], "0");
    assert_eq!(sb.messages()[0].failed, vec!["12345", "13800000000"]);

    let answer = gsend(&sb, "12345,678", "hello").await;
    assert_eq!((answer["num"].as_str(), answer["errid"].as_str()), ("0", "6008"));
    assert_eq!(answer["err"], "无效的手机号码");
    let answer = gsend(&sb, "13800000000", "hello").await;
    assert_eq!((answer["num"].as_str(), answer["errid"].as_str()), ("0", "6009"));
    assert_eq!(sb.messages().len(), 1);
}

#[tokio::test]
async fn batches_must_have_fewer_than_100_numbers() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let numbers: Vec<String> = (0..100).map(|i| format!("1380013{i:04}")).collect();
    let answer = gsend(&sb, &numbers.join(","), "hi").await;
    assert_eq!(answer["num"], "0");
    assert_eq!(answer["errid"], "6008");
    let answer = gsend(&sb, &numbers[..99].join(","), "hi").await;
    assert_eq!(answer["num"], "99");
}

#[tokio::test]
async fn credentials_frozen_ip_empty_and_balance() {
    let sb = Sandbox::builder()
        .account(Product::Juxiang, Account::new("ok", "pass1").balance(3))
        .account(Product::Juxiang, Account::new("ice", "pass1").frozen(true))
        .account(
            Product::Juxiang,
            Account::new("far", "pass1").allowed_ips(vec!["192.0.2.1".parse().unwrap()]),
        )
        .spawn()
        .await
        .unwrap();
    let url = page(&sb, "gsend.asp");
    let send = |name: &'static str, pwd: &'static str, dst: &'static str, msg: &'static str| {
        let url = url.clone();
        async move { juxiang(&url, &[("name", name), ("pwd", pwd), ("dst", dst), ("msg", msg)]).await }
    };
    assert_eq!(send("nobody", "pass1", "13800138000", "x").await["errid"], "6001");
    assert_eq!(send("", "pass1", "13800138000", "x").await["errid"], "6001");
    assert_eq!(send("ok", "wrong", "13800138000", "x").await["errid"], "6003");
    assert_eq!(send("ice", "pass1", "13800138000", "x").await["errid"], "6002");
    assert_eq!(send("far", "pass1", "13800138000", "x").await["errid"], "6012");
    assert_eq!(send("ok", "pass1", "13800138000", "").await["errid"], "6014");
    assert_eq!(send("ok", "pass1", "", "x").await["errid"], "6008");
    let answer = send("ok", "pass1", "13800138000,13800138001", "x").await;
    assert_eq!(answer["num"], "2");
    let answer = send("ok", "pass1", "13800138000,13800138001", "x").await;
    assert_eq!((answer["num"].as_str(), answer["errid"].as_str()), ("0", "6013"));
    assert_eq!(answer["err"], "余额不足");
    assert_eq!(sb.balance(Product::Juxiang, "ok"), Some(1));
}

#[tokio::test]
async fn sensitive_words_are_named_in_err() {
    let sb = Sandbox::builder()
        .account(
            Product::Juxiang,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).sensitive_words(["赌博"]),
        )
        .spawn()
        .await
        .unwrap();
    let answer = gsend(&sb, "13800138000", "一起赌博").await;
    assert_eq!(answer["errid"], "6005");
    assert!(answer["err"].contains("赌博"), "{answer:?}");
    let answer = juxiang(
        &page(&sb, "checkcontent.asp"),
        &[
            ("name", DEFAULT_ACCOUNT),
            ("pwd", DEFAULT_JUXIANG_PASSWORD),
            ("content", "一起赌博"),
        ],
    )
    .await;
    assert_eq!(answer["errid"], "6005");
    assert!(answer["err"].contains("赌博"));
    assert!(sb.messages().is_empty());
}

#[tokio::test]
async fn length_rules_cut_normal_sms_at_60_and_allow_240_with_ccdx() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = page(&sb, "gsend.asp");
    let text = "长".repeat(100);
    let answer = gsend(&sb, "13800138000", &text).await;
    assert_eq!(answer["num"], "1");
    let m = sb.messages().pop().unwrap();
    assert_eq!(m.text.chars().count(), 60, "cut to 60");
    assert_eq!(m.parts, 1);

    let creds = [
        ("name", DEFAULT_ACCOUNT),
        ("pwd", DEFAULT_JUXIANG_PASSWORD),
        ("dst", "13800138001"),
    ];
    let long = "长".repeat(240);
    let mut pairs = creds.to_vec();
    pairs.extend([("msg", long.as_str()), ("txt", "ccdx")]);
    let answer = juxiang(&url, &pairs).await;
    assert_eq!(answer["num"], "1");
    let m = sb.messages().pop().unwrap();
    assert_eq!((m.text.chars().count(), m.parts), (240, 4));

    let too_long = "长".repeat(241);
    let mut pairs = creds.to_vec();
    pairs.extend([("msg", too_long.as_str()), ("txt", "ccdx")]);
    let answer = juxiang(&url, &pairs).await;
    assert_eq!(answer["errid"], "6015");
    assert_eq!(sb.balance(Product::Juxiang, DEFAULT_ACCOUNT), Some(10_000 - 5));
}

#[tokio::test]
async fn scheduled_time_and_extension() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = page(&sb, "gsend.asp");
    let base = [
        ("name", DEFAULT_ACCOUNT),
        ("pwd", DEFAULT_JUXIANG_PASSWORD),
        ("msg", "x"),
    ];
    let mut pairs = base.to_vec();
    pairs.extend([("dst", "13800138000"), ("time", "203001020304"), ("sender", "12")]);
    assert_eq!(juxiang(&url, &pairs).await["num"], "1");
    let mut pairs = base.to_vec();
    pairs.extend([("dst", "13800138001"), ("time", "tomorrow")]);
    assert_eq!(juxiang(&url, &pairs).await["num"], "1", "malformed time = now");
    let mut pairs = base.to_vec();
    pairs.extend([("dst", "13800138002"), ("sender", "12a")]);
    assert_eq!(juxiang(&url, &pairs).await["errid"], "6021");
    let messages = sb.messages();
    assert_eq!(messages[0].scheduled.as_deref(), Some("203001020304"));
    assert_eq!(messages[1].scheduled, None);
    assert_eq!(messages[0].sender_number.as_deref(), Some("088800812"));
    assert_eq!(messages[1].sender_number, None);
}

/// The documented extension rule: at most 8 digits ("length < 9"), and the service code plus the
/// extension under 17 digits. With the documentation's 7-digit service code the 8-digit limit binds;
/// with a 10-digit one the 17-digit total does.
#[tokio::test]
async fn sender_extensions_follow_the_documented_limits() {
    let sb = Sandbox::builder()
        .account(
            Product::Juxiang,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD),
        )
        .account(
            Product::Juxiang,
            Account::new("long-code", DEFAULT_JUXIANG_PASSWORD).service_code("1065900001"),
        )
        .spawn()
        .await
        .unwrap();
    let url = page(&sb, "gsend.asp");
    let send = |name: &'static str, dst: &'static str, sender: &'static str| {
        let url = url.clone();
        async move {
            juxiang(
                &url,
                &[
                    ("name", name),
                    ("pwd", DEFAULT_JUXIANG_PASSWORD),
                    ("msg", "x"),
                    ("dst", dst),
                    ("sender", sender),
                ],
            )
            .await
        }
    };
    // The documentation's example: service code 0888008, sender 00.
    assert_eq!(send(DEFAULT_ACCOUNT, "13800138000", "00").await["num"], "1");
    assert_eq!(send(DEFAULT_ACCOUNT, "13800138001", "12345678").await["num"], "1");
    assert_eq!(
        send(DEFAULT_ACCOUNT, "13800138002", "123456789").await["errid"],
        "6021"
    );
    assert_eq!(send("long-code", "13800138003", "123456").await["num"], "1");
    assert_eq!(send("long-code", "13800138004", "1234567").await["errid"], "6021");
    let numbers: Vec<Option<String>> = sb.messages().into_iter().map(|m| m.sender_number).collect();
    assert_eq!(
        numbers,
        [
            Some("088800800".to_owned()),
            Some("088800812345678".to_owned()),
            Some("1065900001123456".to_owned()),
        ]
    );
}

#[tokio::test]
async fn check_content_and_get_fee() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let check = |content: String| {
        let url = page(&sb, "checkcontent.asp");
        async move {
            juxiang(
                &url,
                &[
                    ("name", DEFAULT_ACCOUNT),
                    ("pwd", DEFAULT_JUXIANG_PASSWORD),
                    ("content", &content),
                ],
            )
            .await
        }
    };
    let answer = check("正常的通知内容".to_owned()).await;
    assert_eq!((answer["errid"].as_str(), answer["err"].as_str()), ("0", "成功"));
    assert_eq!(check("".to_owned()).await["errid"], "6014");
    assert_eq!(check("字".repeat(541)).await["errid"], "6015");
    assert_eq!(check("回复1开通包月".to_owned()).await["errid"], "6022");

    gsend(&sb, "13800138000", "x").await;
    let answer = juxiang(
        &page(&sb, "getfee.asp"),
        &[("name", DEFAULT_ACCOUNT), ("pwd", DEFAULT_JUXIANG_PASSWORD)],
    )
    .await;
    assert_eq!(answer["id"], "9999");
    assert_eq!(answer["errid"], "0");
    assert_eq!(answer["short"], "沙箱");
    let answer = juxiang(
        &page(&sb, "getfee.asp"),
        &[("name", DEFAULT_ACCOUNT), ("pwd", "bad")],
    )
    .await;
    assert_eq!(
        (answer["id"].as_str(), answer["errid"].as_str()),
        ("-9999", "6003")
    );
}

#[tokio::test]
async fn read_sms_returns_injected_replies_one_per_call_oldest_first() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = page(&sb, "readsms.asp");
    let creds = [("name", DEFAULT_ACCOUNT), ("pwd", DEFAULT_JUXIANG_PASSWORD)];
    let answer = juxiang(&url, &creds).await;
    assert_eq!(answer["id"], "0", "nothing unread");

    sb.inject_inbound(
        InboundReply::new(Product::Juxiang, "13900000001", "你好吗").service_number("10690001"),
    );
    sb.inject_inbound(InboundReply::new(Product::Juxiang, "13900000002", "0000"));
    sb.inject_inbound(InboundReply::new(Product::Juxiang, "13900000003", "other").account("someone-else"));

    let first = juxiang(&url, &creds).await;
    assert_ne!(first["id"], "0");
    assert_eq!(first["src"], "13900000001");
    assert_eq!(first["msg"], "你好吗");
    assert_eq!(first["dst"], "10690001");
    assert_eq!(first["time"].len(), 12);
    let second = juxiang(&url, &creds).await;
    assert_eq!(
        (second["src"].as_str(), second["msg"].as_str()),
        ("13900000002", "0000")
    );
    let third = juxiang(&url, &creds).await;
    assert_eq!(third["id"], "0", "the last one belongs to another account");
    assert_eq!(third["err"], "没有新的短信");
    assert!(
        !third.contains_key("errid"),
        "readsms answers carry no errid: {third:?}"
    );
    // A reply without `dst` was sent to the account's service code.
    sb.inject_inbound(InboundReply::new(Product::Juxiang, "13900000004", "好"));
    assert_eq!(juxiang(&url, &creds).await["dst"], "0888008");
}

/// readsms documents no `errid`: a failure is `id=0` with its reason in `err`, like an empty inbox
/// with a different text.
#[tokio::test]
async fn read_sms_failures_are_id_zero_with_a_reason_and_no_errid() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_inbound(InboundReply::new(Product::Juxiang, "13900000001", "你好"));
    let url = page(&sb, "readsms.asp");
    let answer = juxiang(&url, &[("name", DEFAULT_ACCOUNT), ("pwd", "wrong")]).await;
    assert_eq!((answer["id"].as_str(), answer["err"].as_str()), ("0", "密码错误"));
    assert!(!answer.contains_key("errid"), "{answer:?}");
    // The reply is still waiting for the right password.
    let answer = juxiang(
        &url,
        &[("name", DEFAULT_ACCOUNT), ("pwd", DEFAULT_JUXIANG_PASSWORD)],
    )
    .await;
    assert_eq!(answer["src"], "13900000001");
}

#[tokio::test]
async fn change_password() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = page(&sb, "cpwd.asp");
    let change = |pwd: &'static str, new: &'static str| {
        let url = url.clone();
        async move { juxiang(&url, &[("name", DEFAULT_ACCOUNT), ("pwd", pwd), ("newpwd", new)]).await }
    };
    assert_eq!(change(DEFAULT_JUXIANG_PASSWORD, "abcd").await["errid"], "6016");
    assert_eq!(
        change(DEFAULT_JUXIANG_PASSWORD, "abcdefghijklmnopqrst").await["errid"],
        "6016"
    );
    assert_eq!(change("wrong", "abcdef").await["errid"], "6003");
    let answer = change(DEFAULT_JUXIANG_PASSWORD, "abcdef").await;
    assert_eq!((answer["errid"].as_str(), answer["err"].as_str()), ("0", "成功"));
    assert_eq!(
        gsend(&sb, "13800138000", "x").await["errid"],
        "6003",
        "old password refused"
    );
    let answer = juxiang(
        &page(&sb, "gsend.asp"),
        &[
            ("name", DEFAULT_ACCOUNT),
            ("pwd", "abcdef"),
            ("dst", "13800138000"),
            ("msg", "x"),
        ],
    )
    .await;
    assert_eq!(answer["num"], "1");
    sb.reset();
    assert_eq!(
        gsend(&sb, "13800138001", "x").await["num"],
        "1",
        "reset restores the password"
    );
}

#[tokio::test]
async fn pages_are_case_insensitive_like_iis() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!("{}/SEND/GetFee.ASP", sb.base_url());
    let answer = juxiang(
        &url,
        &[("name", DEFAULT_ACCOUNT), ("pwd", DEFAULT_JUXIANG_PASSWORD)],
    )
    .await;
    assert_eq!(answer["id"], "10000");
}
