//! ihuyi SMS, international SMS and voice over real HTTP: every rule and its code.

mod common;

use std::time::Duration;

use common::{code, md5_hex, now_secs, post_form, post_json, xml_field};
use serde_json::Value;
use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_KEY, Product, Sandbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn number(i: u32) -> String {
    format!("1380013{i:04}")
}

async fn submit(sb: &Sandbox, product: Product, mobile: &str, content: &str) -> Value {
    post_json(
        &format!("{}?method=Submit", sb.url(product)),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", mobile),
            ("content", content),
        ],
    )
    .await
}

async fn submit_as(sb: &Sandbox, account: &str, key: &str, mobile: &str, content: &str) -> Value {
    post_json(
        &format!("{}?method=Submit", sb.url(Product::IhuyiSms)),
        &[
            ("account", account),
            ("password", key),
            ("mobile", mobile),
            ("content", content),
        ],
    )
    .await
}

#[tokio::test]
async fn submit_with_plain_key_is_accepted_recorded_and_billed() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let v = submit(&sb, Product::IhuyiSms, "13800138000", "您的验证码是:1234。").await;
    assert_eq!(code(&v), "2");
    assert_eq!(v["msg"], "提交成功");
    let smsid = v["smsid"].as_str().expect("smsid is a JSON string");
    assert_eq!(smsid.len(), 20);
    assert!(smsid.parse::<i64>().is_err(), "smsid must not fit i64: {smsid}");

    let messages = sb.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.product, Product::IhuyiSms);
    assert_eq!(m.account, DEFAULT_ACCOUNT);
    assert_eq!(m.recipients, vec!["13800138000".to_owned()]);
    assert_eq!(m.text, "您的验证码是:1234。");
    assert_eq!(m.provider_id, smsid);
    assert_eq!((m.parts, m.billed), (1, 1));
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), Some(9_999));
    assert_eq!(sb.request_count(Product::IhuyiSms), 1);
}

#[tokio::test]
async fn xml_is_the_default_and_carries_a_namespace() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let (status, body) = post_form(
        &format!("{}?method=Submit", sb.url(Product::IhuyiSms)),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", "13800138000"),
            ("content", "a < b & c"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
        "{body}"
    );
    assert!(
        body.contains("<SubmitResult xmlns=\"http://106.ihuyi.com/\">"),
        "{body}"
    );
    assert_eq!(xml_field(&body, "code").as_deref(), Some("2"));
    assert_eq!(xml_field(&body, "msg").as_deref(), Some("提交成功"));
    assert_eq!(
        xml_field(&body, "smsid"),
        Some(sb.messages()[0].provider_id.clone())
    );
    assert_eq!(sb.messages()[0].text, "a < b & c");

    let (_, body) = post_form(
        &format!("{}?method=Submit", sb.url(Product::IhuyiSms)),
        &[("account", DEFAULT_ACCOUNT), ("password", "wrong")],
    )
    .await;
    assert_eq!(xml_field(&body, "code").as_deref(), Some("403"));
    assert_eq!(xml_field(&body, "smsid").as_deref(), Some("0"));
}

#[tokio::test]
async fn dynamic_password_is_checked_over_raw_text_and_a_ten_minute_window() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!("{}?method=Submit", sb.url(Product::IhuyiSms));
    // Characters that break naive form encoding must survive.
    let content = "验证码 1+1=2 & 100% 【测试】";
    let send = |mobile: &'static str, time: i64, password: Option<String>| {
        let url = url.clone();
        async move {
            let time = time.to_string();
            let password = password.unwrap_or_else(|| {
                md5_hex(&format!("{DEFAULT_ACCOUNT}{DEFAULT_KEY}{mobile}{content}{time}"))
            });
            code(
                &post_json(
                    &url,
                    &[
                        ("account", DEFAULT_ACCOUNT),
                        ("password", &password),
                        ("mobile", mobile),
                        ("content", content),
                        ("time", &time),
                    ],
                )
                .await,
            )
        }
    };
    assert_eq!(send("13800138001", now_secs(), None).await, "2");
    assert_eq!(send("13800138002", now_secs() - 590, None).await, "2");
    assert_eq!(send("13800138003", now_secs() + 590, None).await, "2");
    assert_eq!(send("13800138004", now_secs() - 610, None).await, "40501");
    assert_eq!(send("13800138005", now_secs() + 610, None).await, "40501");
    let wrong = md5_hex(&format!(
        "{DEFAULT_ACCOUNT}wrong-key13800138006{content}{}",
        now_secs()
    ));
    assert_eq!(send("13800138006", now_secs(), Some(wrong)).await, "40502");
    assert_eq!(sb.messages()[0].text, content);
    assert_eq!(sb.messages().len(), 3);
}

#[tokio::test]
async fn missing_fields_and_wrong_credentials_have_their_codes() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!("{}?method=Submit", sb.url(Product::IhuyiSms));
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[
                ("password", DEFAULT_KEY),
                ("mobile", "13800138000"),
                ("content", "x"),
            ],
            "401",
        ),
        (
            &[
                ("account", DEFAULT_ACCOUNT),
                ("mobile", "13800138000"),
                ("content", "x"),
            ],
            "402",
        ),
        (
            &[
                ("account", DEFAULT_ACCOUNT),
                ("password", DEFAULT_KEY),
                ("content", "x"),
            ],
            "403",
        ),
        (
            &[
                ("account", DEFAULT_ACCOUNT),
                ("password", DEFAULT_KEY),
                ("mobile", "13800138000"),
            ],
            "404",
        ),
        (
            &[
                ("account", DEFAULT_ACCOUNT),
                ("password", "nope"),
                ("mobile", "13800138000"),
                ("content", "x"),
            ],
            "405",
        ),
        (
            &[
                ("account", "nobody"),
                ("password", DEFAULT_KEY),
                ("mobile", "13800138000"),
                ("content", "x"),
            ],
            "405",
        ),
    ];
    for (pairs, expected) in cases {
        let v = post_json(&url, pairs).await;
        assert_eq!(code(&v), expected, "{pairs:?}: {v}");
        assert_eq!(v["smsid"], "0");
    }
    assert!(sb.messages().is_empty());
    assert_eq!(sb.request_count(Product::IhuyiSms), 6);
}

#[tokio::test]
async fn number_format_and_blacklist() {
    let sb = Sandbox::builder()
        .account(
            Product::IhuyiSms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).blacklist(["13800000000"]),
        )
        .spawn()
        .await
        .unwrap();
    for bad in [
        "1380013800",
        "138001380001",
        "12800138000",
        "+8613800138000",
        "1380013800a",
        "13800138000,13800138001",
    ] {
        let v = submit(&sb, Product::IhuyiSms, bad, "hello").await;
        assert_eq!(code(&v), "406", "{bad}");
    }
    let v = submit(&sb, Product::IhuyiSms, "13800000000", "hello").await;
    assert_eq!(code(&v), "4030");
    assert!(sb.messages().is_empty());
}

#[tokio::test]
async fn sensitive_words_emoji_and_length() {
    let sb = Sandbox::builder()
        .account(
            Product::IhuyiSms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
                .sensitive_words(["赌博"])
                .per_second_limit(0),
        )
        .spawn()
        .await
        .unwrap();
    let v = submit(&sb, Product::IhuyiSms, &number(1), "来赌博吧").await;
    assert_eq!(code(&v), "407");
    assert!(v["msg"].as_str().unwrap().contains("赌博"), "{v}");
    let v = submit(&sb, Product::IhuyiSms, &number(2), "六合彩开奖").await;
    assert_eq!(code(&v), "407", "built-in word");
    let v = submit(&sb, Product::IhuyiSms, &number(3), "hi 😀").await;
    assert_eq!(code(&v), "4074");
    let v = submit(&sb, Product::IhuyiSms, &number(4), &"字".repeat(301)).await;
    assert_eq!(code(&v), "4073");
    let v = submit(&sb, Product::IhuyiSms, &number(5), &"字".repeat(300)).await;
    assert_eq!(code(&v), "2");
    assert_eq!(sb.messages().len(), 1);
    assert_eq!(sb.messages()[0].parts, 5, "300 characters = 5 parts of 67");
}

#[tokio::test]
async fn long_messages_are_billed_per_part_and_the_balance_runs_out() {
    let sb = Sandbox::builder()
        .account(
            Product::IhuyiSms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).balance(6),
        )
        .spawn()
        .await
        .unwrap();
    for (i, (chars, parts)) in [(70, 1), (71, 2), (134, 2)].into_iter().enumerate() {
        let v = submit(&sb, Product::IhuyiSms, &number(i as u32), &"短".repeat(chars)).await;
        assert_eq!(code(&v), "2");
        assert_eq!(sb.messages().last().unwrap().parts, parts, "{chars} chars");
    }
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), Some(1));
    let v = submit(&sb, Product::IhuyiSms, &number(10), &"短".repeat(135)).await;
    assert_eq!(code(&v), "4051", "3 parts with 1 left");
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), Some(1));
    let v = submit(&sb, Product::IhuyiSms, &number(11), "one part").await;
    assert_eq!(code(&v), "2");
    let v = submit(&sb, Product::IhuyiSms, &number(12), "one part").await;
    assert_eq!(code(&v), "4051");
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), Some(0));

    assert!(sb.set_balance(Product::IhuyiSms, DEFAULT_ACCOUNT, 5));
    let v = submit(&sb, Product::IhuyiSms, &number(13), "one part").await;
    assert_eq!(code(&v), "2");
    assert!(!sb.set_balance(Product::IhuyiSms, "nobody", 5));
}

#[tokio::test]
async fn frozen_account_and_source_ip() {
    let sb = Sandbox::builder()
        .account(Product::IhuyiSms, Account::new("frozen", "k").frozen(true))
        .account(
            Product::IhuyiSms,
            Account::new("elsewhere", "k").allowed_ips(vec!["10.1.2.3".parse().unwrap()]),
        )
        .account(
            Product::IhuyiSms,
            Account::new("local", "k").allowed_ips(vec!["127.0.0.1".parse().unwrap()]),
        )
        .spawn()
        .await
        .unwrap();
    assert_eq!(
        code(&submit_as(&sb, "frozen", "k", "13800138000", "x").await),
        "4050"
    );
    assert_eq!(
        code(&submit_as(&sb, "elsewhere", "k", "13800138000", "x").await),
        "400"
    );
    assert_eq!(code(&submit_as(&sb, "local", "k", "13800138000", "x").await), "2");
    // The default account is gone once the product has configured accounts.
    assert_eq!(
        code(&submit(&sb, Product::IhuyiSms, "13800138001", "x").await),
        "405"
    );
}

#[tokio::test]
async fn per_second_limit_is_exact_under_concurrent_requests() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!("{}?method=Submit", sb.url(Product::IhuyiSms));
    let requests = (0..20).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            code(
                &post_json(
                    &url,
                    &[
                        ("account", DEFAULT_ACCOUNT),
                        ("password", DEFAULT_KEY),
                        ("mobile", "13900139000"),
                        ("content", "hello"),
                    ],
                )
                .await,
            )
        })
    });
    let mut codes = Vec::new();
    for r in requests.collect::<Vec<_>>() {
        codes.push(r.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| *c == "2").count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "4080").count(), 19, "{codes:?}");
    assert_eq!(sb.messages().len(), 1);
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), Some(9_999));
    // Another number is not affected.
    assert_eq!(
        code(&submit(&sb, Product::IhuyiSms, "13900139001", "hello").await),
        "2"
    );
}

#[tokio::test]
async fn configurable_per_second_limit_allows_that_many() {
    let sb = Sandbox::builder()
        .account(
            Product::IhuyiSms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
                .per_second_limit(3)
                .per_day_limit(0),
        )
        .spawn()
        .await
        .unwrap();
    let futures: Vec<_> = (0..6)
        .map(|_| submit(&sb, Product::IhuyiSms, "13900139000", "hello"))
        .collect();
    let codes: Vec<String> = futures_util::future::join_all(futures)
        .await
        .iter()
        .map(code)
        .collect();
    assert_eq!(codes.iter().filter(|c| *c == "2").count(), 3, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "4080").count(), 3, "{codes:?}");
}

#[tokio::test]
async fn per_day_limits_for_messages_and_verification_codes() {
    let sb = Sandbox::builder()
        .account(
            Product::IhuyiSms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
                .per_second_limit(0)
                .per_day_limit(4)
                .per_day_code_limit(2),
        )
        .spawn()
        .await
        .unwrap();
    let n = "13700137000";
    assert_eq!(
        code(&submit(&sb, Product::IhuyiSms, n, "您的验证码是1111").await),
        "2"
    );
    assert_eq!(
        code(&submit(&sb, Product::IhuyiSms, n, "您的验证码是2222").await),
        "2"
    );
    assert_eq!(
        code(&submit(&sb, Product::IhuyiSms, n, "您的验证码是3333").await),
        "4085"
    );
    assert_eq!(code(&submit(&sb, Product::IhuyiSms, n, "通知 1").await), "2");
    assert_eq!(code(&submit(&sb, Product::IhuyiSms, n, "通知 2").await), "2");
    assert_eq!(code(&submit(&sb, Product::IhuyiSms, n, "通知 3").await), "4082");
    assert_eq!(
        code(&submit(&sb, Product::IhuyiSms, "13700137001", "通知 1").await),
        "2"
    );
    assert_eq!(sb.messages().len(), 5);
}

#[tokio::test]
async fn get_num_with_plain_and_dynamic_passwords_for_every_ihuyi_product() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    for product in [
        Product::IhuyiSms,
        Product::IhuyiInternational,
        Product::IhuyiVoice,
    ] {
        let url = format!("{}?method=GetNum", sb.url(product));
        let v = post_json(&url, &[("account", DEFAULT_ACCOUNT), ("password", DEFAULT_KEY)]).await;
        assert_eq!(code(&v), "2", "{product}");
        assert_eq!(v["num"], 10_000);
        let time = now_secs().to_string();
        let password = md5_hex(&format!("{DEFAULT_ACCOUNT}{DEFAULT_KEY}{time}"));
        let v = post_json(
            &url,
            &[
                ("account", DEFAULT_ACCOUNT),
                ("password", &password),
                ("time", &time),
            ],
        )
        .await;
        assert_eq!(code(&v), "2", "{product} dynamic");
        let v = post_json(
            &url,
            &[
                ("account", DEFAULT_ACCOUNT),
                ("password", &password),
                ("time", "1000000000"),
            ],
        )
        .await;
        assert_eq!(code(&v), "40501");
        let (_, body) = post_form(&url, &[("account", DEFAULT_ACCOUNT), ("password", DEFAULT_KEY)]).await;
        assert!(body.contains("<GetNumResult xmlns=\""), "{body}");
        assert_eq!(xml_field(&body, "num").as_deref(), Some("10000"));
        let v = post_json(&url, &[("account", DEFAULT_ACCOUNT)]).await;
        assert_eq!(code(&v), "402");
    }
}

#[tokio::test]
async fn add_template_then_send_with_it() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!("{}?method=AddTemplate", sb.url(Product::IhuyiSms));
    let v = post_json(
        &url,
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("content", "您的验证码是:【变量】。请不要把验证码泄露给其他人。"),
        ],
    )
    .await;
    assert_eq!(code(&v), "2", "{v}");
    let template_id = v["templateid"].as_str().unwrap().to_owned();
    let v = post_json(&url, &[("account", DEFAULT_ACCOUNT), ("password", DEFAULT_KEY)]).await;
    assert_eq!(code(&v), "404");

    submit(
        &sb,
        Product::IhuyiSms,
        &number(1),
        "您的验证码是:4821。请不要把验证码泄露给其他人。",
    )
    .await;
    submit(&sb, Product::IhuyiSms, &number(2), "free text").await;
    let messages = sb.messages();
    assert_eq!(messages[0].template_id.as_deref(), Some(template_id.as_str()));
    assert_eq!(messages[1].template_id, None);
}

#[tokio::test]
async fn international_numbers_and_gsm_billing() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let p = Product::IhuyiInternational;
    for bad in [
        "+1 2025550123",
        "12025550123",
        "1  2025550123",
        "1-2025550123",
        "0 2025550123",
    ] {
        assert_eq!(code(&submit(&sb, p, bad, "hi").await), "406", "{bad}");
    }
    let cases: [(&str, String, u32); 6] = [
        ("1 2025550100", "a".repeat(160), 1),
        ("1 2025550101", "a".repeat(161), 2),
        ("1 2025550102", "{".repeat(80), 1),
        ("1 2025550103", "{".repeat(81), 2),
        ("44 7700900000", "é".repeat(70) + "中", 2),
        ("81 9012345678", "中".repeat(70), 1),
    ];
    for (mobile, text, parts) in cases {
        let v = submit(&sb, p, mobile, &text).await;
        assert_eq!(code(&v), "2", "{mobile}: {v}");
        let m = sb.messages().pop().unwrap();
        assert_eq!(m.recipients, vec![mobile.to_owned()]);
        assert_eq!(m.parts, parts, "{mobile}");
    }
    let (_, body) = post_form(
        &format!("{}?method=Submit", sb.url(p)),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", "1 2025550199"),
            ("content", "x"),
        ],
    )
    .await;
    assert!(body.contains("<SubmitResult xmlns="), "{body}");
    assert!(xml_field(&body, "smsid").is_some());
}

#[tokio::test]
async fn voice_codes_must_be_four_to_six_digits() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let p = Product::IhuyiVoice;
    for bad in ["123", "1234567", "12a4", "１２３４", "12 34"] {
        let v = submit(&sb, p, "13800138000", bad).await;
        assert_eq!(code(&v), "4070", "{bad}");
        assert_eq!(v["voiceid"], "0");
    }
    let v = submit(&sb, p, "13800138000", "").await;
    assert_eq!(code(&v), "404");
    for (i, ok) in ["1234", "123456"].iter().enumerate() {
        let v = submit(&sb, p, &number(i as u32), ok).await;
        assert_eq!(code(&v), "2", "{v}");
        let voiceid = v["voiceid"].as_str().unwrap();
        let m = sb.messages().pop().unwrap();
        assert_eq!(
            (m.text.as_str(), m.provider_id.as_str(), m.parts),
            (*ok, voiceid, 1)
        );
        assert!(v.get("smsid").is_none());
    }
    assert_eq!(code(&submit(&sb, p, "1380013800", "1234").await), "406");
    assert_eq!(sb.balance(p, DEFAULT_ACCOUNT), Some(9_998));
}

#[tokio::test]
async fn get_requests_with_query_parameters_work() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!(
        "{}?method=Submit&account={DEFAULT_ACCOUNT}&password={DEFAULT_KEY}&mobile=13800138000&content=%E4%BD%A0%E5%A5%BD&format=json",
        sb.url(Product::IhuyiSms)
    );
    let body = common::client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code(&v), "2");
    assert_eq!(sb.messages()[0].text, "你好");
}

#[tokio::test]
async fn absolute_form_targets_from_proxy_clients_are_served() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let body = common::form(&[
        ("account", DEFAULT_ACCOUNT),
        ("password", DEFAULT_KEY),
        ("mobile", "13800138000"),
        ("content", "via proxy"),
        ("format", "json"),
    ]);
    let request = format!(
        "POST http://106.ihuyi.com/webservice/sms.php?method=Submit HTTP/1.1\r\nHost: 106.ihuyi.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(sb.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"code\":2"), "{answer}");
    assert_eq!(sb.messages()[0].text, "via proxy");
}

#[tokio::test]
async fn missing_or_unknown_method_is_a_400() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let (status, body) = post_form(&sb.url(Product::IhuyiSms), &[("account", DEFAULT_ACCOUNT)]).await;
    assert_eq!(status, 400);
    assert!(body.contains("method"), "{body}");
    let (status, _) = post_form(&format!("{}?method=Nope", sb.url(Product::IhuyiSms)), &[]).await;
    assert_eq!(status, 400);
    let (status, _) = post_form(
        &format!("{}?method=AddTemplate", sb.url(Product::IhuyiVoice)),
        &[],
    )
    .await;
    assert_eq!(status, 400, "voice has no AddTemplate");
    // `method` in the form body works too.
    let v = post_json(
        &sb.url(Product::IhuyiSms),
        &[
            ("method", "GetNum"),
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
        ],
    )
    .await;
    assert_eq!(code(&v), "2");
}
