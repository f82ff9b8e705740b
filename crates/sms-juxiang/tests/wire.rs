//! Exact-wire tests against a scripted loopback server: what goes out (GBK bytes, percent-encoding,
//! batches) and how every kind of answer and transport failure comes back.

use std::time::Duration;

use sms_core::HttpConfig;
use sms_core::testkit::wire::{CapturedRequest, Reply, WireServer};
use sms_core::{
    BalanceQuery, BeijingTime, ErrorKind, InboundSource, Message, MessageSender, MmsContent, Operation,
    PhoneNumber, RecipientStatus,
};
use sms_juxiang::{ContentCheck, JuxiangClient, JuxiangConfig};

const PASSWORD: &str = "Pwd4wireTests";

fn config(server: &WireServer) -> JuxiangConfig {
    JuxiangConfig::new("ent", PASSWORD).base_url(server.url("/send/"))
}

fn client(server: &WireServer) -> JuxiangClient {
    JuxiangClient::new(config(server)).unwrap()
}

fn number(n: u64) -> PhoneNumber {
    n.to_string().parse().unwrap()
}

fn numbers(first: u64, count: u64) -> Vec<PhoneNumber> {
    (first..first + count).map(number).collect()
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// 200 with `text` encoded as GBK.
fn gbk_reply(text: &str) -> Reply {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    Reply::ok(bytes)
}

/// Accepts every number of a gsend request and lists them all in `success`.
fn accept_all(request: &CapturedRequest) -> Reply {
    let dst = request.text_field("dst").unwrap_or_default();
    let count = dst.split(',').filter(|n| !n.is_empty()).count();
    gbk_reply(&format!("num={count}&success={dst},&faile=&err=发送成功&errid=0"))
}

#[tokio::test]
async fn chinese_text_goes_out_as_percent_encoded_gbk_in_a_post_body() {
    let server = WireServer::start(accept_all).await;
    let receipt = client(&server)
        .send(&Message::text(number(13900000001), "【测试】你好 a&b=c+%"))
        .await
        .unwrap();
    assert!(receipt.all_accepted());
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/send/gsend.asp");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // 【 A1BE, 测 B2E2, 试 CAD4, 】 A1BF, 你 C4E3, 好 BAC3; reserved characters escaped.
    assert_eq!(
        request.body_text(),
        format!(
            "name=ent&pwd={PASSWORD}&dst=13900000001&msg=%A1%BE%B2%E2%CA%D4%A1%BF%C4%E3%BA%C3+a%26b%3Dc%2B%25"
        )
    );
    assert!(!request.target.contains(PASSWORD));
}

#[tokio::test]
async fn batches_split_at_99_numbers() {
    for (count, expected) in [
        (99u64, vec![99usize]),
        (100, vec![99, 1]),
        (250, vec![99, 99, 52]),
    ] {
        let server = WireServer::start(accept_all).await;
        let recipients = numbers(13900000000, count);
        let message = Message::text(recipients.clone(), "【测试】批量");
        let receipt = client(&server).send(&message).await.unwrap();
        let sizes: Vec<usize> = server
            .requests()
            .iter()
            .map(|r| r.text_field("dst").unwrap().split(',').count())
            .collect();
        assert_eq!(sizes, expected, "{count} numbers");
        // Every number once, in order, across the batches.
        let sent: Vec<String> = server
            .requests()
            .iter()
            .flat_map(|r| {
                r.text_field("dst")
                    .unwrap()
                    .split(',')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let wanted: Vec<String> = recipients
            .iter()
            .map(|n| n.national_number().to_owned())
            .collect();
        assert_eq!(sent, wanted);
        assert_eq!(&receipt.reference, message.reference());
        let got: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
        assert_eq!(got, recipients.iter().collect::<Vec<_>>());
        assert!(receipt.all_accepted());
        assert!(receipt.outcomes.iter().all(|o| o.provider == "juxiang"));
    }
}

#[tokio::test]
async fn partial_success_is_reported_per_number_across_batches() {
    // First batch (99 numbers): 95 fillers and 13900000001 accepted, 13900000002 accepted under a
    // mask, 13900000003 failed, 13900000004 not listed. Second batch: HTTP 503.
    let fillers = numbers(13811110000, 95);
    let filler_list: Vec<String> = fillers.iter().map(|n| n.national_number().to_owned()).collect();
    let first_answer = format!(
        "num=97&success=13900000001,1390000***2,{},&faile=13900000003,&err=发送成功&errid=0",
        filler_list.join(",")
    );
    let server = WireServer::start(move |request: &CapturedRequest| {
        if request.text_field("dst").unwrap().starts_with("137") {
            Reply::status(503, b"<html>busy</html>".to_vec())
        } else {
            gbk_reply(&first_answer)
        }
    })
    .await;
    let mut recipients = numbers(13900000001, 4);
    recipients.extend(fillers);
    recipients.extend(numbers(13722220000, 5));
    let receipt = client(&server)
        .send(&Message::text(recipients.clone(), "通知"))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2, "the second batch is still sent");
    let status = |i: usize| &receipt.outcomes[i].status;
    assert!(matches!(status(0), RecipientStatus::Accepted));
    assert!(
        matches!(status(1), RecipientStatus::Accepted),
        "masked entry matched"
    );
    match status(2) {
        RecipientStatus::Failed(e) => {
            assert_eq!(e.kind(), ErrorKind::RecipientRejected);
            assert!(e.can_failover());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(status(3), RecipientStatus::Unknown),
        "not listed: unknown, not sent"
    );
    assert!(receipt.outcomes[4..99].iter().all(|o| o.is_accepted()));
    for outcome in &receipt.outcomes[99..] {
        let error = outcome.error().expect("the 503 batch failed");
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert_eq!(error.code(), Some("HTTP 503"));
    }
    assert_eq!(receipt.accepted().count(), 97);
    assert_eq!(receipt.unknown().count(), 1);
    assert_eq!(receipt.failed().count(), 6);
    let order: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
    assert_eq!(order, recipients.iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn a_batch_refused_for_the_account_stops_the_later_batches() {
    let server = WireServer::always(gbk_reply("num=0&err=余额不足&errid=6013")).await;
    let e = client(&server)
        .send(&Message::text(numbers(13900000000, 120), "通知"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::InsufficientBalance, Some("6013"))
    );
    assert_eq!(e.message(), "余额不足");
    assert_eq!(e.provider(), Some("juxiang"));
    // Balance might suffice for a smaller batch: both are tried.
    assert_eq!(server.requests().len(), 2);

    let server = WireServer::always(gbk_reply("num=0&err=密码错误&errid=6003")).await;
    let e = client(&server)
        .send(&Message::text(numbers(13900000000, 250), "通知"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        server.requests().len(),
        1,
        "a wrong password is not tried three times"
    );
}

#[tokio::test]
async fn long_sms_is_used_only_when_enabled_and_needed() {
    let server = WireServer::start(accept_all).await;
    let short = "好".repeat(60);
    let long = "好".repeat(61);
    let longest = "好".repeat(240);

    let plain = client(&server);
    plain
        .send(&Message::text(number(13900000001), short.clone()))
        .await
        .unwrap();
    let e = plain
        .send(&Message::text(number(13900000002), long.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ContentRejected);
    assert!(
        e.message().contains("61 characters") && e.message().contains("long_sms"),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1, "refused before any request");

    let with_long = JuxiangClient::new(config(&server).long_sms(true)).unwrap();
    assert_eq!(with_long.capabilities().max_text_chars, Some(240));
    assert_eq!(plain.capabilities().max_text_chars, Some(60));
    with_long
        .send(&Message::text(number(13900000003), short))
        .await
        .unwrap();
    with_long
        .send(&Message::text(number(13900000004), long))
        .await
        .unwrap();
    with_long
        .send(&Message::text(number(13900000005), longest.clone()))
        .await
        .unwrap();
    let e = with_long
        .send(&Message::text(number(13900000006), format!("{longest}好")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ContentRejected);
    let txt: Vec<Option<String>> = server.requests().iter().map(|r| r.text_field("txt")).collect();
    assert_eq!(
        txt,
        [None, None, Some("ccdx".to_owned()), Some("ccdx".to_owned())]
    );
}

/// A character GBK cannot write is this provider's limit (a UTF-8 provider may send the text), so the
/// refusal allows failover; an emoji is refused everywhere, so it stops.
#[tokio::test]
async fn text_gbk_cannot_write_is_refused_before_any_request() {
    let server = WireServer::start(accept_all).await;
    let client = client(&server);
    let e = client
        .send(&Message::text(number(13900000001), "你好한국"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ContentRejected);
    assert!(
        e.message().contains("'한'") && e.message().contains("position 2"),
        "{e}"
    );
    let e = client.check_content("ok 😀").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidContent);
    assert!(e.message().contains("😀"), "{e}");
    let e = client
        .send(&Message::text(number(13900000002), "你好😀"))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::InvalidContent,
        "emoji are refused by every gateway"
    );
    assert!(!e.can_failover());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn schedule_sender_extension_and_templates_on_the_wire() {
    let server = WireServer::start(accept_all).await;
    let client = JuxiangClient::new(config(&server).sender_extension("01")).unwrap();
    let at = BeijingTime::new(2026, 12, 1, 12, 30, 45).unwrap();
    client
        .send(&Message::text(number(13900000001), "定时").scheduled_at(at))
        .await
        .unwrap();
    let template = sms_core::TemplateText::new("tpl-1", "【测试】验证码1234");
    client
        .send(&Message::template(number(13900000002), template))
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests[0].text_field("time").as_deref(), Some("202612011230"));
    assert_eq!(requests[0].text_field("sender").as_deref(), Some("01"));
    assert_eq!(requests[1].text_field("time"), None);
    assert_eq!(requests[1].field("msg").unwrap(), gbk("【测试】验证码1234"));
}

#[tokio::test]
async fn unsupported_messages_are_refused_before_any_request() {
    let server = WireServer::start(accept_all).await;
    let client = client(&server);
    let cases = [
        Message::voice_code(number(13900000001), "1234").unwrap(),
        Message::mms(number(13900000001), MmsContent::new("1", "1")),
        Message::text(PhoneNumber::parse("+44 7700 900123").unwrap(), "hello"),
    ];
    for message in &cases {
        let e = client.send(message).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{message:?}");
        assert_eq!(e.provider(), Some("juxiang"));
    }
    let e = client
        .send(&Message::text(Vec::<PhoneNumber>::new(), "x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    // Juxiang sends the rendered text: a template known only by its id cannot go out.
    let e = client
        .send(&Message::template(
            number(13900000001),
            sms_core::TemplateText::new("tpl-1", ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(e.message().contains("rendered"), "{e}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn check_content_balance_and_readsms_on_the_wire() {
    let server = WireServer::start(|request: &CapturedRequest| match request.path() {
        "/send/checkcontent.asp" => {
            let content = encoding_rs::GBK
                .decode(&request.field("content").unwrap())
                .0
                .into_owned();
            if content.contains("博彩") {
                gbk_reply("errid=6005&err=博彩")
            } else {
                gbk_reply("errid=0&err=成功")
            }
        }
        "/send/getfee.asp" => gbk_reply("id=9586&err=成功&errid=0&short=企业简称"),
        "/send/readsms.asp" => {
            gbk_reply("id=12&err=成功&src=13939040001&msg=你好吗&dst=106571234&time=200505241713")
        }
        _ => Reply::status(404, Vec::new()),
    })
    .await;
    let client = JuxiangClient::new(config(&server).name("jx-b")).unwrap();
    assert_eq!(client.check_content("你好").await.unwrap(), ContentCheck::Legal);
    assert_eq!(
        client.check_content("欢迎来博彩").await.unwrap(),
        ContentCheck::Illegal {
            word: "博彩".to_owned()
        }
    );
    let balance = client.balance().await.unwrap();
    assert_eq!((balance.provider.as_str(), balance.amount), ("jx-b", 9586));
    let reply = client.next_inbound().await.unwrap().unwrap();
    assert_eq!(
        (
            reply.provider.as_str(),
            reply.sender.as_str(),
            reply.text.as_str()
        ),
        ("jx-b", "13939040001", "你好吗")
    );
    let requests = server.requests();
    assert_eq!(requests[0].field("content").unwrap(), gbk("你好"));
    for r in &requests {
        assert_eq!(r.text_field("name").as_deref(), Some("ent"));
        assert_eq!(r.text_field("pwd").as_deref(), Some(PASSWORD));
    }
    let paths: Vec<&str> = requests.iter().map(CapturedRequest::path).collect();
    assert_eq!(
        paths,
        [
            "/send/checkcontent.asp",
            "/send/checkcontent.asp",
            "/send/getfee.asp",
            "/send/readsms.asp"
        ]
    );
}

#[tokio::test]
async fn a_changed_password_is_used_by_every_clone() {
    let server = WireServer::start(|request: &CapturedRequest| match request.path() {
        "/send/cpwd.asp" => gbk_reply("errid=0&err=成功"),
        _ => gbk_reply("id=1&err=成功&errid=0"),
    })
    .await;
    let client = client(&server);
    let clone = client.clone();
    for bad in ["abcd", "has space1", "12345678901234567890", "密码密码密码"] {
        let e = client.change_password(bad).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (ErrorKind::InvalidRequest, Operation::ChangePassword)
        );
    }
    assert!(server.requests().is_empty());
    client.change_password("NewPass99").await.unwrap();
    clone.balance().await.unwrap();
    let requests = server.requests();
    assert_eq!(requests[0].text_field("pwd").as_deref(), Some(PASSWORD));
    assert_eq!(requests[0].text_field("newpwd").as_deref(), Some("NewPass99"));
    assert_eq!(requests[1].text_field("pwd").as_deref(), Some("NewPass99"));
}

fn quick(server: &WireServer) -> JuxiangClient {
    JuxiangClient::new(config(server).http(HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    }))
    .unwrap()
}

#[tokio::test]
async fn transport_failures_map_to_the_error_model() {
    let message = || Message::text(number(13900000001), "通知");
    let cases = [
        (Reply::status(503, b"busy".to_vec()), ErrorKind::Unavailable),
        // A 502 may follow processing: ambiguous, never resent by default.
        (Reply::status(502, b"bad gateway".to_vec()), ErrorKind::Ambiguous),
        (Reply::Close, ErrorKind::Ambiguous),
        (Reply::Hang, ErrorKind::Ambiguous),
        (Reply::cut_off("num=1&succ"), ErrorKind::Ambiguous),
        (Reply::oversized(1 << 20), ErrorKind::Protocol),
        (Reply::ok(b"\x00\xff\xfe\x81 garbage"), ErrorKind::Protocol),
        (
            Reply::ok(b"<html><body>Server Error</body></html>"),
            ErrorKind::Protocol,
        ),
        // A refusal cut off before its `errid`.
        (gbk_reply("num=0&err=无效"), ErrorKind::Protocol),
    ];
    for (behavior, kind) in cases {
        let server = WireServer::always(behavior.clone()).await;
        let e = quick(&server).send(&message()).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{behavior:?}: {e:?}");
        assert_eq!(e.provider(), Some("juxiang"));
        assert_eq!(e.operation(), Operation::Send);
        if kind == ErrorKind::Unavailable {
            assert!(e.is_retryable() && e.can_failover() && !e.is_ambiguous());
        } else {
            assert!(
                e.is_ambiguous() && !e.can_failover(),
                "{behavior:?}: a send may have gone out"
            );
        }
    }
    // A refused connection: nothing was sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client =
        JuxiangClient::new(JuxiangConfig::new("ent", PASSWORD).base_url(format!("http://{addr}/send/")))
            .unwrap();
    let e = client.send(&message()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable);
    let e = client.balance().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.operation()),
        (ErrorKind::Unreachable, Operation::Balance)
    );
}

#[tokio::test]
async fn unreadable_answers_to_queries_are_protocol_errors_that_allow_failover() {
    let server = WireServer::always(Reply::ok(b"\x00\xff\xfe\x81 garbage")).await;
    let client = quick(&server);
    let e = client.balance().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(!e.is_ambiguous());
    let e = client.next_inbound().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.operation()),
        (ErrorKind::Protocol, Operation::Inbound)
    );
}

#[tokio::test]
async fn the_password_is_never_printed() {
    // A server that echoes the request body back: the answer is unreadable and its excerpt would
    // contain the password.
    let server =
        WireServer::start(|request: &CapturedRequest| Reply::status(200, request.body.clone())).await;
    let config = config(&server);
    let client = JuxiangClient::new(config.clone()).unwrap();
    let e = client
        .send(&Message::text(number(13900000001), "通知"))
        .await
        .unwrap_err();
    let e2 = client.balance().await.unwrap_err();
    let server500 =
        WireServer::start(|request: &CapturedRequest| Reply::status(500, request.body.clone())).await;
    let e3 = JuxiangClient::new(JuxiangConfig::new("ent", PASSWORD).base_url(server500.url("/send/")))
        .unwrap()
        .balance()
        .await
        .unwrap_err();
    let printed = format!(
        "{config:?} {client:?} {e} {e:?} {e2} {e2:?} {e3} {e3:?} {}",
        server.url("/send/")
    );
    assert!(!printed.contains(PASSWORD), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
    // It went in the body, not the URL.
    for request in server.requests() {
        assert!(!request.target.contains(PASSWORD));
        assert!(request.body_text().contains(PASSWORD));
    }
    // A password with reserved characters is echoed percent-encoded: hidden in that form too.
    let special = "p@ss w0rd&=";
    let e = JuxiangClient::new(JuxiangConfig::new("ent", special).base_url(server.url("/send/")))
        .unwrap()
        .balance()
        .await
        .unwrap_err();
    let printed = format!("{e} {e:?}");
    assert!(
        server
            .requests()
            .last()
            .unwrap()
            .body_text()
            .contains("p%40ss+w0rd%26%3D")
    );
    assert!(
        !printed.contains(special) && !printed.contains("p%40ss+w0rd%26%3D"),
        "{printed}"
    );
    assert!(printed.contains("[redacted]"), "{printed}");
}

#[test]
fn bad_configurations_are_refused() {
    let base = || JuxiangConfig::new("ent", PASSWORD).base_url("http://127.0.0.1:9/send/");
    let cases = [
        JuxiangConfig::new("", PASSWORD),
        JuxiangConfig::new("ent", ""),
        base().base_url("not a url"),
        base().sender_extension("12a"),
        base().sender_extension("12345678901234567"),
        base().name(" "),
        base().http(HttpConfig {
            request_timeout: Duration::ZERO,
            ..HttpConfig::default()
        }),
        JuxiangConfig::new("ent", "密码한"),
    ];
    for config in cases {
        let e = JuxiangClient::new(config.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{config:?}");
        assert!(
            !e.to_string().contains('한'),
            "the password's characters are not shown: {e}"
        );
    }
    let client = JuxiangClient::new(base().sender_extension("")).unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:9/send/");
    let client = JuxiangClient::new(JuxiangConfig::new("ent", PASSWORD)).unwrap();
    assert_eq!(client.base_url(), sms_juxiang::DEFAULT_BASE_URL);
    assert_eq!(client.name(), "juxiang");
}

#[test]
fn configuration_deserialises_with_the_password_hidden() {
    let config: JuxiangConfig = serde_json::from_str(
        r#"{"login":"ent","password":"hunter2-pass","long_sms":true,"sender_extension":"01",
            "base_url":"http://127.0.0.1:9/send","name":"jx","http":{"request_timeout":"3s"}}"#,
    )
    .unwrap();
    assert_eq!(
        config,
        JuxiangConfig::new("ent", "hunter2-pass")
            .long_sms(true)
            .sender_extension("01")
            .base_url("http://127.0.0.1:9/send")
            .name("jx")
            .http(HttpConfig {
                request_timeout: Duration::from_secs(3),
                ..HttpConfig::default()
            })
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    let minimal: JuxiangConfig = serde_json::from_str(r#"{"login":"ent","password":"p4ssw0rd"}"#).unwrap();
    assert_eq!(minimal, JuxiangConfig::new("ent", "p4ssw0rd"));
    assert!(serde_json::from_str::<JuxiangConfig>(r#"{"login":"e","password":"p","typo":1}"#).is_err());
}

/// Polling through `sms_core::inbound_stream` with the client's interval keeps more than 5 s between
/// `readsms` calls, also while draining a backlog, and yields replies in order with the `0000` opt-out
/// flagged. Time is paused; a 1 ms heartbeat keeps tokio's auto-advance from jumping over the real
/// loopback I/O to the request timeout.
#[tokio::test(start_paused = true)]
async fn inbound_polling_keeps_more_than_five_seconds_between_calls() {
    use futures_util::StreamExt;
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;

    let heartbeat = tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let recorded = Arc::clone(&calls);
    let server = WireServer::start(move |_: &CapturedRequest| {
        let mut calls = recorded.lock().unwrap();
        calls.push(Instant::now());
        match calls.len() {
            1 => gbk_reply("id=1&err=成功&src=13900000001&msg=第一&dst=10657&time=202611221713"),
            2 => gbk_reply("id=0&err=没有新的短信&errid=0"),
            3 => gbk_reply("id=2&err=成功&src=13900000002&msg=第二&dst=10657&time=202611221714"),
            _ => gbk_reply("id=3&err=成功&src=13900000003&msg=0000&dst=10657&time=202611221715"),
        }
    })
    .await;
    let client = JuxiangClient::new(config(&server).http(HttpConfig {
        request_timeout: Duration::from_secs(3600),
        ..HttpConfig::default()
    }))
    .unwrap();
    let interval = match client.capabilities().inbound {
        sms_core::InboundMode::Pull { min_interval } => min_interval,
        other => panic!("{other:?}"),
    };
    assert!(
        interval > Duration::from_secs(5),
        "the provider wants more than 5 s: {interval:?}"
    );
    let replies: Vec<_> = sms_core::inbound_stream(Arc::new(client), interval)
        .take(3)
        .collect()
        .await;
    heartbeat.abort();
    let replies: Vec<_> = replies.into_iter().map(Result::unwrap).collect();
    let summary: Vec<(&str, &str, bool)> = replies
        .iter()
        .map(|m| (m.sender.as_str(), m.text.as_str(), m.opt_out))
        .collect();
    assert_eq!(
        summary,
        [
            ("13900000001", "第一", false),
            ("13900000002", "第二", false),
            ("13900000003", "0000", true)
        ]
    );
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 4, "one call per tick, no extra calls");
    for pair in calls.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap > Duration::from_secs(5), "calls {gap:?} apart");
    }
}

/// Every operation (send, balance, content check, password change, inbound) against every style of
/// echoing server, with a TRACE subscriber: neither an error nor a log line holds the password, the
/// new password or any piece of the request.
#[tokio::test]
async fn no_operation_leaks_a_password_or_the_request_through_an_echo() {
    use sms_core::testkit::echo::{assert_no_leak, echo_servers, error_text};
    const NEW_PASSWORD: &str = "N3wPwd&=+";
    let logs = sms_core::testkit::echo::LogCapture::global();
    let mut seen = String::new();
    let mut requests = Vec::new();
    for (style, server) in echo_servers().await {
        let client = client(&server);
        let send = client
            .send(&Message::text(
                numbers(13_800_138_000, 2),
                "【商城】您的订单已发货",
            ))
            .await
            .err();
        let errors = [
            send,
            client.balance().await.err(),
            client.check_content("【商城】您的订单已发货").await.err(),
            client.change_password(NEW_PASSWORD).await.err(),
            client.next_inbound().await.err(),
        ];
        for error in errors {
            let error = error.unwrap_or_else(|| panic!("{style}: an echo is never a success"));
            seen.push_str(&error_text(&error));
        }
        requests.extend(server.requests());
    }
    seen.push_str(&logs.text());
    assert!(seen.contains("batch failed"), "logging was captured");
    assert_no_leak(&seen, &[PASSWORD.as_bytes(), NEW_PASSWORD.as_bytes()], &requests);
}

/// A batch the provider partly accepts, whose `err` echoes the request: the failed number's error
/// (inside a successful receipt, and in logs) holds neither the password nor the request.
#[tokio::test]
async fn a_listed_failure_quoting_the_request_is_scrubbed_too() {
    use sms_core::testkit::echo::{assert_no_leak, error_text};
    let logs = sms_core::testkit::echo::LogCapture::global();
    let server = WireServer::start(|request: &CapturedRequest| {
        let mut echo = String::new();
        sms_core::raw::http::percent_encode_into(&mut echo, &request.body);
        Reply::ok(format!(
            "num=1&success=13800138000&faile=13800138001&err={echo}&errid=0"
        ))
    })
    .await;
    let receipt = client(&server)
        .send(&Message::text(
            numbers(13_800_138_000, 2),
            "【商城】您的订单已发货",
        ))
        .await
        .unwrap();
    let failed = receipt.outcomes[1].error().expect("the listed number failed");
    let mut seen = error_text(failed);
    seen.push_str(&format!("{receipt:?}"));
    seen.push_str(&logs.text());
    assert!(seen.contains("[redacted]"), "{seen}");
    assert_no_leak(&seen, &[PASSWORD.as_bytes()], &server.requests());
}
