//! Exact-wire tests of the voice client against a local server that records the raw request.

#[path = "../../sms-ihuyi/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use sms_core::HttpConfig;
use sms_core::{BalanceQuery, ErrorKind, Message, MessageSender, PhoneNumber, TemplateText};
use sms_ihuyi_voice::{IhuyiVoiceClient, IhuyiVoiceConfig, PasswordMode, ResponseFormat};
use support::{LogCapture, Reply, WireServer, assert_fresh_time, md5_hex};

const ACCOUNT: &str = "VM12345678";
const KEY: &str = "v0ice&k=y+%";

fn number(text: &str) -> PhoneNumber {
    text.parse().unwrap()
}

fn config(server: &WireServer) -> IhuyiVoiceConfig {
    IhuyiVoiceConfig::new(ACCOUNT, KEY).base_url(server.base_url())
}

fn client(server: &WireServer) -> IhuyiVoiceClient {
    IhuyiVoiceClient::new(config(server)).unwrap()
}

fn voice_json(code: &str, msg: &str, id: &str) -> Reply {
    Reply::json(format!(r#"{{"code":{code},"msg":"{msg}","voiceid":"{id}"}}"#))
}

#[tokio::test]
async fn a_submit_carries_exactly_the_signed_fields_and_returns_the_voiceid() {
    let server = WireServer::always(Reply::xml(
        r#"<?xml version="1.0" encoding="utf-8"?><SubmitResult xmlns="http://api.voice.ihuyi.com/"><code>2</code><msg>提交成功</msg><voiceid>197362477</voiceid></SubmitResult>"#,
    ))
    .await;
    let message = Message::voice_code(number("+86 139 0013 9000"), "482913").unwrap();
    let receipt = client(&server).send(&message).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("POST", "/webservice/voice.php")
    );
    assert_eq!(request.query(), "method=Submit");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    assert_eq!(
        request.field_names(),
        ["account", "password", "mobile", "content", "time"]
    );
    assert_eq!(request.text_field("account").as_deref(), Some(ACCOUNT));
    assert_eq!(request.text_field("mobile").as_deref(), Some("13900139000"));
    assert_eq!(request.text_field("content").as_deref(), Some("482913"));
    let time = request.text_field("time").unwrap();
    assert_fresh_time(&time);
    assert_eq!(
        request.text_field("password").unwrap(),
        md5_hex(&[ACCOUNT, KEY, "13900139000", "482913", &time])
    );
    assert!(
        !String::from_utf8_lossy(&request.body).contains("v0ice"),
        "the key never travels"
    );

    assert!(receipt.all_accepted());
    assert_eq!(receipt.outcomes[0].provider, "ihuyi-voice");
    assert_eq!(receipt.outcomes[0].message_id.as_deref(), Some("197362477"));
    assert_eq!(receipt.billed_parts, Some(1));
}

#[tokio::test]
async fn json_and_plain_modes() {
    let server = WireServer::always(voice_json("2", "提交成功", "555")).await;
    let client = IhuyiVoiceClient::new(
        config(&server)
            .format(ResponseFormat::Json)
            .password_mode(PasswordMode::Plain),
    )
    .unwrap();
    let receipt = client
        .send(&Message::voice_code(number("13900139000"), "1234").unwrap())
        .await
        .unwrap();
    assert_eq!(receipt.message_ids().collect::<Vec<_>>(), ["555"]);
    let request = &server.requests()[0];
    assert_eq!(
        request.field_names(),
        ["account", "password", "mobile", "content", "format"]
    );
    assert_eq!(request.text_field("password").as_deref(), Some(KEY));
    assert_eq!(request.text_field("format").as_deref(), Some("json"));
}

#[tokio::test]
async fn balance_uses_getnum_on_the_voice_endpoint() {
    let server = WireServer::always(Reply::xml(
        "<GetNumResult><code>2</code><msg>查询成功</msg><num>42</num></GetNumResult>",
    ))
    .await;
    let balance = client(&server).balance().await.unwrap();
    assert_eq!((balance.provider.as_str(), balance.amount), ("ihuyi-voice", 42));
    let request = &server.requests()[0];
    assert_eq!(
        (request.path(), request.query()),
        ("/webservice/voice.php", "method=GetNum")
    );
    assert_eq!(request.field_names(), ["account", "password", "time"]);
    let time = request.text_field("time").unwrap();
    assert_eq!(
        request.text_field("password").unwrap(),
        md5_hex(&[ACCOUNT, KEY, &time])
    );
}

#[tokio::test]
async fn only_mainland_voice_codes_are_sent_and_bad_codes_never_reach_the_wire() {
    let server = WireServer::always(voice_json("2", "提交成功", "1")).await;
    let client = client(&server);
    let to = number("13900139000");
    let cases = [
        (
            Message::text(to.clone(), "【签名】验证码1234"),
            ErrorKind::Unsupported,
        ),
        (
            Message::template(to.clone(), TemplateText::new("1", "【签名】验证码1234")),
            ErrorKind::Unsupported,
        ),
        (
            Message::voice_code(number("+44 7700 900123"), "1234").unwrap(),
            ErrorKind::Unsupported,
        ),
        (
            Message::voice_code(to.clone(), "1234")
                .unwrap()
                .scheduled_at(sms_core::BeijingTime::now()),
            ErrorKind::Unsupported,
        ),
        (
            Message::voice_code(vec![to.clone(), to.clone()], "1234").unwrap(),
            ErrorKind::InvalidRequest,
        ),
    ];
    for (message, kind) in cases {
        let error = client.send(&message).await.unwrap_err();
        assert_eq!(error.kind(), kind, "{message:?}");
        assert_eq!(error.provider(), Some("ihuyi-voice"));
    }
    for bad in ["123", "1234567", "12a4", "１２３４", "", "12 34"] {
        let error = Message::voice_code(to.clone(), bad).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidContent, "{bad:?}");
    }
    assert_eq!(server.requests().len(), 0);
}

#[tokio::test]
async fn voice_specific_codes() {
    for (code, kind) in [
        ("4070", ErrorKind::InvalidContent),
        ("408", ErrorKind::AccountSuspended),
        ("4051", ErrorKind::InsufficientBalance),
        ("4080", ErrorKind::ProviderFault),
    ] {
        let server = WireServer::always(voice_json(code, "语音验证码错误", "0")).await;
        let error = client(&server)
            .send(&Message::voice_code(number("13900139000"), "1234").unwrap())
            .await
            .unwrap_err();
        assert_eq!((error.kind(), error.code()), (kind, Some(code)));
        assert_eq!(error.message(), "语音验证码错误");
    }
}

#[tokio::test]
async fn several_recipients_get_one_call_each() {
    let server = WireServer::start_async(|request| async move {
        let mobile = request.text_field("mobile").unwrap();
        voice_json("2", "提交成功", &format!("v{mobile}"))
    })
    .await;
    let recipients: Vec<PhoneNumber> = (1..=3).map(|i| number(&format!("1390013900{i}"))).collect();
    let receipt = client(&server)
        .send(&Message::voice_code(recipients.clone(), "2468").unwrap())
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 3);
    for (outcome, recipient) in receipt.outcomes.iter().zip(&recipients) {
        assert_eq!(&outcome.recipient, recipient);
        let expected = format!("v{}", recipient.national_number());
        assert_eq!(outcome.message_id.as_deref(), Some(expected.as_str()));
    }
    assert_eq!(receipt.billed_parts, Some(3));
}

#[tokio::test]
async fn transport_failures_and_unreadable_answers() {
    let quick = HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    };
    let refused = support::refused_base_url().await;
    let cases = [
        (
            WireServer::always(Reply::status(503, "busy")).await,
            ErrorKind::Unavailable,
        ),
        (WireServer::always(Reply::Hang).await, ErrorKind::Ambiguous),
        (WireServer::always(Reply::Close).await, ErrorKind::Ambiguous),
        (
            WireServer::always(Reply::ok(b"\xff\xfe\x00garbage".to_vec())).await,
            ErrorKind::Protocol,
        ),
        (
            WireServer::always(Reply::json(r#"{"code":2,"voiceid":"#)).await,
            ErrorKind::Protocol,
        ),
    ];
    for (server, kind) in &cases {
        let client = IhuyiVoiceClient::new(config(server).http(quick.clone())).unwrap();
        let error = client
            .send(&Message::voice_code(number("13900139000"), "1234").unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), *kind, "{error:?}");
    }
    let client = IhuyiVoiceClient::new(IhuyiVoiceConfig::new(ACCOUNT, KEY).base_url(refused)).unwrap();
    assert_eq!(client.balance().await.unwrap_err().kind(), ErrorKind::Unreachable);
}

#[tokio::test]
async fn the_key_never_appears_in_errors_logs_or_debug_output() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let echo = WireServer::start_async(|request| async move { Reply::ok(request.body) }).await;
    let client = IhuyiVoiceClient::new(config(&echo).password_mode(PasswordMode::Plain)).unwrap();
    let send = client
        .send(&Message::voice_code(number("13900139000"), "1234").unwrap())
        .await
        .unwrap_err();
    let balance = client.balance().await.unwrap_err();
    let all = format!(
        "{send} {send:?} {balance} {balance:?} {client:?} {:?} {}",
        config(&echo),
        logs.text()
    );
    assert!(all.contains("[redacted]"), "{all}");
    for needle in [KEY, "v0ice"] {
        assert!(!all.contains(needle), "{needle} leaked:\n{all}");
    }
}

/// Every operation against every style of echoing server, with a TRACE subscriber: neither an
/// error nor a log line holds the key, a signature made from it, or any piece of the request.
#[tokio::test]
async fn no_operation_leaks_the_key_its_signature_or_the_request_through_an_echo() {
    use sms_core::testkit::echo::{assert_no_leak, echo_servers, error_text};
    let logs = sms_core::testkit::echo::LogCapture::global();
    let mut seen = String::new();
    let mut requests = Vec::new();
    for (style, server) in echo_servers().await {
        for mode in [PasswordMode::Dynamic, PasswordMode::Plain] {
            for format in [ResponseFormat::Xml, ResponseFormat::Json] {
                let client =
                    IhuyiVoiceClient::new(config(&server).password_mode(mode).format(format)).unwrap();
                let send = client
                    .send(&Message::voice_code(number("+86 139 0013 9000"), "482913").unwrap())
                    .await
                    .err();
                for error in [send, client.balance().await.err()] {
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
