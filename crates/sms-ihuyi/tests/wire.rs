//! Exact-wire tests: what each request carries, byte for byte where it matters, against a local
//! server that records the raw request; and how every kind of broken answer is classified.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sms_core::HttpConfig;
use sms_core::{
    BalanceQuery, ErrorKind, Message, MessageSender, MmsContent, Operation, PhoneNumber, TemplateText,
};
use sms_ihuyi::{IhuyiClient, IhuyiConfig, PasswordMode, ResponseFormat};
use support::{CapturedRequest, LogCapture, Reply, WireServer, assert_fresh_time, md5_hex, submit_xml};

const ACCOUNT: &str = "C80604386";
const KEY: &str = "k3y-S3cr3t+&=%value";

fn number(text: &str) -> PhoneNumber {
    text.parse().unwrap()
}

fn config(server: &WireServer) -> IhuyiConfig {
    IhuyiConfig::new(ACCOUNT, KEY)
        .base_url(server.base_url())
        .international_base_url(server.base_url())
}

fn client(server: &WireServer) -> IhuyiClient {
    IhuyiClient::new(config(server)).unwrap()
}

fn accepted(id: &str) -> Reply {
    submit_xml("2", "提交成功", id)
}

/// The form fields of a dynamic-password Submit, checked completely; returns the `time`.
fn assert_signed_submit(request: &CapturedRequest, path: &str, mobile: &str, content: &str) -> String {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path(), path);
    assert_eq!(
        request.query_pairs(),
        vec![("method".to_owned(), "Submit".to_owned())]
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    assert_eq!(
        request.field_names(),
        ["account", "password", "mobile", "content", "time"]
    );
    assert_eq!(request.text_field("account").as_deref(), Some(ACCOUNT));
    assert_eq!(request.text_field("mobile").as_deref(), Some(mobile));
    assert_eq!(request.text_field("content").as_deref(), Some(content));
    let time = request.text_field("time").unwrap();
    assert_fresh_time(&time);
    assert_eq!(
        request.text_field("password").unwrap(),
        md5_hex(&[ACCOUNT, KEY, mobile, content, &time]),
        "md5 over the raw strings"
    );
    let raw = String::from_utf8_lossy(&request.body);
    assert!(
        !raw.contains(KEY) && !raw.contains("S3cr3t"),
        "the key never travels: {raw}"
    );
    time
}

#[tokio::test]
async fn a_mainland_submit_carries_exactly_the_signed_fields() {
    let server = WireServer::always(accepted("15870246956696820530")).await;
    let message = Message::text(
        number("+86 138 0013 8000"),
        "【互亿无线】您的验证码是:1234。请不要把验证码泄露给其他人。",
    );
    let receipt = client(&server).send(&message).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_signed_submit(
        &requests[0],
        "/webservice/sms.php",
        "13800138000",
        "【互亿无线】您的验证码是:1234。请不要把验证码泄露给其他人。",
    );
    assert!(receipt.all_accepted());
    assert_eq!(receipt.reference, *message.reference());
    assert_eq!(receipt.outcomes[0].provider, "ihuyi");
    assert_eq!(
        receipt.outcomes[0].message_id.as_deref(),
        Some("15870246956696820530")
    );
    assert_eq!(receipt.billed_parts, Some(1));
}

#[tokio::test]
async fn reserved_characters_chinese_and_300_characters_survive_encoding() {
    let server = WireServer::always(accepted("1")).await;
    let client = client(&server);
    let tricky = "【签名】a&b=c+d%e f 100%+ ?#;/:中文 & 'q' \"dq\" ~*";
    let long: String = "【签名】"
        .chars()
        .chain("好a&+ %".chars().cycle().take(296))
        .collect();
    assert_eq!(long.chars().count(), 300);
    for (index, text) in [tricky, long.as_str()].into_iter().enumerate() {
        let to = number(&format!("1390000000{index}"));
        let receipt = client.send(&Message::text(to.clone(), text)).await.unwrap();
        let request = &server.requests()[index];
        assert_signed_submit(request, "/webservice/sms.php", to.national_number(), text);
        // Form encoding on the wire: reserved characters escaped, spaces as `+`.
        let raw = String::from_utf8(request.body.clone()).unwrap();
        let content = raw.split('&').find(|p| p.starts_with("content=")).unwrap();
        assert!(!content["content=".len()..].contains(['=', ' ']), "{content}");
        if index == 0 {
            for escaped in ["%26", "%3D", "%2B", "%25", "+f+", "%E4%B8%AD"] {
                assert!(content.contains(escaped), "{escaped} in {content}");
            }
        } else {
            // 300 characters: 5 billed parts (67 per part).
            assert_eq!(receipt.billed_parts, Some(5));
        }
    }
}

#[tokio::test]
async fn an_international_submit_goes_to_isms_with_a_spaced_country_code() {
    let sms = WireServer::always(Reply::status(500, "wrong endpoint")).await;
    let isms = WireServer::always(accepted("777")).await;
    let client = IhuyiClient::new(
        IhuyiConfig::new(ACCOUNT, KEY)
            .base_url(sms.base_url())
            .international_base_url(isms.base_url()),
    )
    .unwrap();
    let receipt = client
        .send(&Message::text(number("+44 7700 900123"), "Your code is 1234"))
        .await
        .unwrap();
    assert_eq!(sms.requests().len(), 0);
    let requests = isms.requests();
    assert_eq!(requests.len(), 1);
    assert_signed_submit(
        &requests[0],
        "/webservice/isms.php",
        "44 7700900123",
        "Your code is 1234",
    );
    assert_eq!(receipt.message_ids().collect::<Vec<_>>(), ["777"]);
}

#[tokio::test]
async fn json_format_is_requested_and_read() {
    let server = WireServer::always(Reply::json(
        r#"{"code":2,"msg":"提交成功","smsid":"16842079209571524017"}"#,
    ))
    .await;
    let client = IhuyiClient::new(config(&server).format(ResponseFormat::Json)).unwrap();
    let receipt = client
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(
        request.field_names(),
        ["account", "password", "mobile", "content", "time", "format"]
    );
    assert_eq!(request.text_field("format").as_deref(), Some("json"));
    assert_eq!(
        receipt.outcomes[0].message_id.as_deref(),
        Some("16842079209571524017")
    );
}

#[tokio::test]
async fn plain_password_mode_sends_the_key_and_no_time() {
    let server = WireServer::always(accepted("1")).await;
    let client = IhuyiClient::new(config(&server).password_mode(PasswordMode::Plain)).unwrap();
    client
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_eq!(
        request.field_names(),
        ["account", "password", "mobile", "content"]
    );
    assert_eq!(request.text_field("password").as_deref(), Some(KEY));
    assert_eq!(
        request.query(),
        "method=Submit",
        "credentials stay out of the URL"
    );
}

#[tokio::test]
async fn balance_signs_account_key_and_time_only() {
    let server = WireServer::always(Reply::xml(
        r#"<?xml version="1.0" encoding="utf-8"?><GetNumResult xmlns="http://106.ihuyi.cn/"><code>2</code><msg>查询成功</msg><num>7</num></GetNumResult>"#,
    ))
    .await;
    let balance = client(&server).balance().await.unwrap();
    assert_eq!((balance.provider.as_str(), balance.amount), ("ihuyi", 7));
    let request = &server.requests()[0];
    assert_eq!(request.path(), "/webservice/sms.php");
    assert_eq!(request.query(), "method=GetNum");
    assert_eq!(request.field_names(), ["account", "password", "time"]);
    let time = request.text_field("time").unwrap();
    assert_fresh_time(&time);
    assert_eq!(
        request.text_field("password").unwrap(),
        md5_hex(&[ACCOUNT, KEY, &time])
    );

    client(&server).international_balance().await.unwrap();
    let request = &server.requests()[1];
    assert_eq!(
        (request.path(), request.query()),
        ("/webservice/isms.php", "method=GetNum")
    );
    assert_eq!(request.field_names(), ["account", "password", "time"]);
}

#[tokio::test]
async fn add_template_signs_the_content() {
    let server = WireServer::always(Reply::json(
        r#"{"code":2,"msg":"提交成功","templateid":"1234567"}"#,
    ))
    .await;
    let template = "【签名】您的验证码是【变量】，【变量】分钟内有效。";
    let id = client(&server).add_template(template).await.unwrap();
    assert_eq!(id, "1234567");
    let request = &server.requests()[0];
    assert_eq!(request.query(), "method=AddTemplate");
    assert_eq!(request.field_names(), ["account", "password", "content", "time"]);
    assert_eq!(request.text_field("content").as_deref(), Some(template));
    let time = request.text_field("time").unwrap();
    assert_eq!(
        request.text_field("password").unwrap(),
        md5_hex(&[ACCOUNT, KEY, template, &time])
    );

    let empty = client(&server).add_template("  ").await.unwrap_err();
    assert_eq!(
        (empty.kind(), empty.operation()),
        (ErrorKind::InvalidRequest, Operation::AddTemplate)
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_template_message_submits_the_rendered_text() {
    let server = WireServer::always(accepted("5")).await;
    let template = TemplateText::new("1234567", "【签名】您的验证码是8888。").variable("code", "8888");
    client(&server)
        .send(&Message::template(number("13800138000"), template))
        .await
        .unwrap();
    let request = &server.requests()[0];
    assert_signed_submit(
        request,
        "/webservice/sms.php",
        "13800138000",
        "【签名】您的验证码是8888。",
    );
}

#[tokio::test]
async fn a_stale_time_is_retried_once_with_a_fresh_signature() {
    let calls = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&calls);
    let server = WireServer::start_async(move |_| {
        let mut calls = counter.lock().unwrap();
        *calls += 1;
        let reply = if *calls == 1 {
            submit_xml("40501", "动态密码已过期", "0")
        } else {
            accepted("42")
        };
        async move { reply }
    })
    .await;
    let receipt = client(&server)
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap();
    assert_eq!(receipt.message_ids().collect::<Vec<_>>(), ["42"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_signed_submit(request, "/webservice/sms.php", "13800138000", "hi");
    }
}

#[tokio::test]
async fn a_stale_time_twice_is_an_error_keeping_the_code() {
    let server = WireServer::always(submit_xml("40501", "动态密码已过期", "0")).await;
    let error = client(&server)
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert_eq!((error.code(), error.message()), (Some("40501"), "动态密码已过期"));
    assert!(error.can_failover());
    assert_eq!(server.requests().len(), 2, "exactly one retry");

    let plain = WireServer::always(submit_xml("40501", "动态密码已过期", "0")).await;
    let client = IhuyiClient::new(config(&plain).password_mode(PasswordMode::Plain)).unwrap();
    let error = client
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("40501"));
    assert_eq!(plain.requests().len(), 1, "no time to refresh in plain mode");
}

/// A server that holds the answers of each group of 8 arrivals (or of the last, smaller group)
/// until the whole group has arrived, and records the most requests it ever had in flight.
#[tokio::test]
async fn recipients_are_split_with_bounded_concurrency_and_ordered_outcomes() {
    const TOTAL: usize = 20;
    #[derive(Default)]
    struct Flight {
        arrived: usize,
        in_flight: usize,
        max: usize,
    }
    let (flight, _) = tokio::sync::watch::channel(Flight::default());
    let flight = Arc::new(flight);
    let state = Arc::clone(&flight);
    let server = WireServer::start_async(move |request| {
        let state = Arc::clone(&state);
        async move {
            let mut index = 0;
            state.send_modify(|f| {
                index = f.arrived;
                f.arrived += 1;
                f.in_flight += 1;
                f.max = f.max.max(f.in_flight);
            });
            let group_end = ((index / 8 + 1) * 8).min(TOTAL);
            let mut watcher = state.subscribe();
            watcher.wait_for(|f| f.arrived >= group_end).await.unwrap();
            state.send_modify(|f| f.in_flight -= 1);
            let mobile = request.text_field("mobile").unwrap();
            if mobile.ends_with("07") {
                submit_xml("4030", "手机号码已被列入黑名单", "0")
            } else {
                accepted(&format!("id-{mobile}"))
            }
        }
    })
    .await;
    let recipients: Vec<PhoneNumber> = (0..TOTAL).map(|i| number(&format!("138000000{i:02}"))).collect();
    let message = Message::text(recipients.clone(), "hi").with_reference("batch-1");
    let receipt = tokio::time::timeout(Duration::from_secs(10), client(&server).send(&message))
        .await
        .expect("no deadlock")
        .unwrap();

    assert_eq!(server.requests().len(), TOTAL, "one request per recipient");
    assert_eq!(flight.borrow().max, 8, "at most 8 at once, and really 8");
    assert_eq!(receipt.reference.as_str(), "batch-1");
    let order: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
    assert_eq!(order, recipients.iter().collect::<Vec<_>>());
    for outcome in &receipt.outcomes {
        let national = outcome.recipient.national_number();
        if national.ends_with("07") {
            assert_eq!(outcome.error().unwrap().kind(), ErrorKind::RecipientRejected);
            assert_eq!(outcome.message_id, None);
        } else {
            assert!(outcome.is_accepted());
            assert_eq!(
                outcome.message_id.as_deref(),
                Some(format!("id-{national}").as_str())
            );
        }
    }
    assert_eq!(receipt.billed_parts, Some(TOTAL as u32 - 1));
}

#[tokio::test]
async fn when_no_recipient_is_accepted_the_send_fails_with_a_representative_error() {
    let server = WireServer::start_async(|request| async move {
        if request.text_field("mobile").unwrap().ends_with('1') {
            submit_xml("406", "手机格式不正确", "0")
        } else {
            Reply::Close
        }
    })
    .await;
    let message = Message::text(vec![number("13800138001"), number("13800138002")], "hi");
    let error = client(&server).send(&message).await.unwrap_err();
    // The second recipient's outcome is unknown: that must not be hidden behind the first's
    // clean refusal.
    assert_eq!(error.kind(), ErrorKind::Ambiguous, "{error:?}");

    let refusing = WireServer::always(submit_xml("4051", "剩余条数不足", "0")).await;
    let error = client(&refusing).send(&message).await.unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::InsufficientBalance, Some("4051"))
    );
}

#[tokio::test]
async fn local_checks_refuse_before_any_request() {
    let server = WireServer::always(accepted("1")).await;
    let client = client(&server);
    let to = number("13800138000");
    let cases = [
        (
            Message::text(to.clone(), "验证码 1234 😀"),
            ErrorKind::InvalidContent,
        ),
        (
            Message::text(to.clone(), "好".repeat(301)),
            ErrorKind::InvalidContent,
        ),
        (Message::text(to.clone(), "  "), ErrorKind::InvalidRequest),
        (
            Message::text(Vec::<PhoneNumber>::new(), "hi"),
            ErrorKind::InvalidRequest,
        ),
        (
            Message::text(vec![to.clone(), to.clone()], "hi"),
            ErrorKind::InvalidRequest,
        ),
        (
            Message::template(to.clone(), TemplateText::new("123", "")),
            ErrorKind::InvalidRequest,
        ),
        (
            Message::voice_code(to.clone(), "1234").unwrap(),
            ErrorKind::Unsupported,
        ),
        (
            Message::mms(to.clone(), MmsContent::new("1000", "1")),
            ErrorKind::Unsupported,
        ),
        (
            Message::text(to.clone(), "hi").scheduled_at(sms_core::BeijingTime::now()),
            ErrorKind::Unsupported,
        ),
    ];
    for (message, kind) in cases {
        let error = client.send(&message).await.unwrap_err();
        assert_eq!(error.kind(), kind, "{message:?}: {error:?}");
        assert_eq!(error.provider(), Some("ihuyi"));
    }
    assert_eq!(server.requests().len(), 0);
}

#[tokio::test]
async fn the_configured_name_is_used_everywhere() {
    let server = WireServer::always(submit_xml("4051", "剩余条数不足", "0")).await;
    let client = IhuyiClient::new(config(&server).name("ihuyi-backup")).unwrap();
    assert_eq!(client.name(), "ihuyi-backup");
    let error = client
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.provider(), Some("ihuyi-backup"));
    assert_eq!(
        client.balance().await.unwrap_err().provider(),
        Some("ihuyi-backup")
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_at_construction() {
    for config in [
        IhuyiConfig::new("", "k"),
        IhuyiConfig::new("a", ""),
        IhuyiConfig::new("a", "k").name(" "),
        IhuyiConfig::new("a", "k").base_url("106.ihuyi.com"),
        IhuyiConfig::new("a", "k").international_base_url("ftp://x"),
        IhuyiConfig::new("a", "k").http(HttpConfig {
            request_timeout: Duration::ZERO,
            ..HttpConfig::default()
        }),
    ] {
        let error = IhuyiClient::new(config).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Configuration, "{error:?}");
        assert_eq!(error.operation(), Operation::Configure);
    }
}

// --- Broken answers and transports -------------------------------------------------------------

async fn send_error(client: &IhuyiClient) -> sms_core::Error {
    client
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn server_errors_and_refused_connections_are_unavailable() {
    let server = WireServer::always(Reply::status(503, "<html>busy</html>")).await;
    let error = send_error(&client(&server)).await;
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.is_retryable() && error.can_failover() && !error.is_ambiguous());
    // Other 5xx may follow processing: ambiguous, neither retried nor failed over by default...
    for status in [500, 502, 504] {
        let server = WireServer::always(Reply::status(status, "<html>busy</html>")).await;
        let error = send_error(&client(&server)).await;
        assert_eq!(error.kind(), ErrorKind::Ambiguous, "{status}");
        assert!(!error.is_retryable() && !error.can_failover() && error.is_ambiguous());
        assert_eq!(server.requests().len(), 1, "{status} is not resent");
    }
    // ...unless the provider's configuration says the status means "not processed".
    let server = WireServer::always(Reply::status(502, "<html>busy</html>")).await;
    let declared = IhuyiClient::new(config(&server).http(HttpConfig {
        unprocessed_statuses: vec![502, 503],
        ..HttpConfig::default()
    }))
    .unwrap();
    assert_eq!(send_error(&declared).await.kind(), ErrorKind::Unavailable);
    let refused = support::refused_base_url().await;
    let client = IhuyiClient::new(IhuyiConfig::new(ACCOUNT, KEY).base_url(refused)).unwrap();
    let error = client
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unreachable, "{error:?}");
    assert_eq!(client.balance().await.unwrap_err().kind(), ErrorKind::Unreachable);
}

#[tokio::test]
async fn no_answer_after_the_request_was_written_is_ambiguous() {
    let hang = WireServer::always(Reply::Hang).await;
    let quick = HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let client_with_timeout = IhuyiClient::new(config(&hang).http(quick)).unwrap();
    let close = WireServer::always(Reply::Close).await;
    let reset = WireServer::always(Reply::Raw(
        b"HTTP/1.1 200 OK\r\ncontent-length: 200\r\n\r\n<SubmitResult><code>2</co".to_vec(),
    ))
    .await;
    for (what, error) in [
        ("timeout", send_error(&client_with_timeout).await),
        ("closed", send_error(&client(&close)).await),
        ("reset mid-body", send_error(&client(&reset)).await),
    ] {
        assert_eq!(error.kind(), ErrorKind::Ambiguous, "{what}: {error:?}");
        assert!(
            error.is_ambiguous() && !error.can_failover() && !error.is_retryable(),
            "{what}"
        );
    }
    assert_eq!(hang.requests().len(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn unreadable_answers_are_protocol_errors_with_a_short_excerpt() {
    let oversized = {
        let mut body = b"<SubmitResult><code>2</code><msg>".to_vec();
        body.extend(std::iter::repeat_n(b'x', 70 * 1024));
        body
    };
    let cases: Vec<(&str, Reply)> = vec![
        ("garbage", Reply::ok(b"\x00\x01\x02 garbage \x7f".to_vec())),
        (
            "non-UTF-8",
            Reply::ok(b"<SubmitResult><code>2</code><msg>\xd0\xa1\xff</msg></SubmitResult>".to_vec()),
        ),
        (
            "truncated XML",
            Reply::xml("<SubmitResult xmlns=\"http://106.ihuyi.com/\"><code>2</code><msg>提交"),
        ),
        (
            "truncated JSON",
            Reply::json("{\"code\":2,\"msg\":\"提交成功\",\"smsid\":\"1"),
        ),
        ("HTML", Reply::xml("<html><body><h1>维护中</h1></body></html>")),
        ("empty", Reply::ok(Vec::new())),
        ("oversized", Reply::ok(oversized)),
    ];
    for (what, reply) in cases {
        let server = WireServer::always(reply).await;
        let error = send_error(&client(&server)).await;
        assert_eq!(error.kind(), ErrorKind::Protocol, "{what}: {error:?}");
        assert!(
            error.is_ambiguous(),
            "{what}: a send with an unreadable answer may have gone out"
        );
        assert!(error.message().chars().count() < 300, "{what}: short excerpt");
        assert_eq!(error.provider(), Some("ihuyi"));
        let balance = client(&server).balance().await.unwrap_err();
        assert_eq!(balance.kind(), ErrorKind::Protocol, "{what}");
        assert!(!balance.is_ambiguous() && balance.can_failover(), "{what}");
    }
}

#[tokio::test]
async fn success_answers_missing_their_result_field() {
    let server = WireServer::always(Reply::xml(
        "<GetNumResult><code>2</code><num>many</num></GetNumResult>",
    ))
    .await;
    let error = client(&server).balance().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    let error = client(&server).add_template("x").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    // A Submit success without an id is still a success: the message was accepted.
    let receipt = client(&server)
        .send(&Message::text(number("13800138000"), "hi"))
        .await
        .unwrap();
    assert!(receipt.all_accepted());
    assert_eq!(receipt.outcomes[0].message_id, None);
}

#[tokio::test]
async fn the_key_never_appears_in_errors_logs_or_debug_output() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    // An echoing server puts the plain key into the answer body; the client must scrub it.
    let echo_ok = WireServer::start_async(|request| async move { Reply::ok(request.body) }).await;
    let echo_500 = WireServer::start_async(|request| async move { Reply::status(500, request.body) }).await;
    let echo_msg = WireServer::start_async(|request| async move {
        let password = request.text_field("password").unwrap().replace('&', "&amp;");
        submit_xml("405", &format!("bad password {password}"), "0")
    })
    .await;
    let mut seen = Vec::new();
    for server in [&echo_ok, &echo_500, &echo_msg] {
        let client = IhuyiClient::new(config(server).password_mode(PasswordMode::Plain)).unwrap();
        let error = send_error(&client).await;
        seen.push(format!("{error} {error:?} {client:?}"));
        let error = client.balance().await.unwrap_err();
        seen.push(format!("{error} {error:?}"));
        let error = client.add_template("x").await.unwrap_err();
        seen.push(format!("{error} {error:?}"));
    }
    seen.push(format!("{:?}", config(&echo_ok)));
    seen.push(logs.text());
    let all = seen.join("\n");
    assert!(
        logs.text().contains("batch failed"),
        "logging was captured: {}",
        logs.text()
    );
    assert!(all.contains("[redacted]"), "{all}");
    for needle in [KEY, "S3cr3t"] {
        assert!(!all.contains(needle), "{needle} leaked:\n{all}");
    }
}

/// Every operation against every style of echoing server, in both password modes and formats, with
/// a TRACE subscriber: neither an error (`Display`, `{:#}`, `Debug`, sources) nor a log line holds
/// the key, a signature made from it, or any piece of the request.
#[tokio::test]
async fn no_operation_leaks_the_key_its_signature_or_the_request_through_an_echo() {
    use sms_core::testkit::echo::{assert_no_leak, echo_servers, error_text};
    let logs = sms_core::testkit::echo::LogCapture::global();
    let mut seen = String::new();
    let mut requests = Vec::new();
    for (style, server) in echo_servers().await {
        for mode in [PasswordMode::Dynamic, PasswordMode::Plain] {
            for format in [ResponseFormat::Xml, ResponseFormat::Json] {
                let client = IhuyiClient::new(config(&server).password_mode(mode).format(format)).unwrap();
                let mut errors = Vec::new();
                for to in ["13800138000", "+44 7700 900123"] {
                    errors.push(
                        client
                            .send(&Message::text(number(to), "您的验证码是 482913"))
                            .await
                            .err(),
                    );
                }
                errors.push(client.balance().await.err());
                errors.push(client.international_balance().await.err());
                errors.push(client.add_template("您的验证码是【变量】").await.err());
                for error in errors {
                    let error = error.unwrap_or_else(|| panic!("{style}: an echo is never a success"));
                    seen.push_str(&error_text(&error));
                }
            }
        }
        requests.extend(server.requests());
    }
    seen.push_str(&logs.text());
    assert!(seen.contains("batch failed"), "logging was captured");
    assert_no_leak(&seen, &[KEY.as_bytes()], &requests);
}
