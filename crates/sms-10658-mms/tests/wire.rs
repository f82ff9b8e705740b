//! Exact-wire tests against a scripted loopback server: what goes out (form fields, batches, the
//! uploaded zip) and how every kind of answer and transport failure comes back.

use std::io::{Cursor, Read};
use std::time::Duration;

use base64::Engine as _;
use sms_10658_mms::{MmsClient, MmsConfig, MmsPackage};
use sms_core::HttpConfig;
use sms_core::testkit::wire::{CapturedRequest, Reply, WireServer};
use sms_core::{
    BalanceQuery, BeijingTime, ErrorKind, Message, MessageSender, MmsContent, Operation, PhoneNumber,
    TemplateText,
};

const KEY: &str = "Key4wireTests";

fn config(server: &WireServer) -> MmsConfig {
    MmsConfig::new("acct", KEY).base_url(server.url(""))
}

fn client(server: &WireServer) -> MmsClient {
    MmsClient::new(config(server)).unwrap()
}

fn number(n: u64) -> PhoneNumber {
    n.to_string().parse().unwrap()
}

fn numbers(first: u64, count: u64) -> Vec<PhoneNumber> {
    (first..first + count).map(number).collect()
}

fn mms(to: Vec<PhoneNumber>) -> Message {
    Message::mms(to, MmsContent::new("1000", "1"))
}

fn xml(root: &str, code: &str, msg: &str, field: &str, value: &str) -> Reply {
    Reply::ok(format!(
        r#"<?xml version="1.0" encoding="utf-8"?><{root} xmlns="http://10658.cc/"><code>{code}</code><msg>{msg}</msg><{field}>{value}</{field}></{root}>"#
    ))
}

/// Answers every SendMms with success and an id counting up.
fn accept_all() -> impl Fn(&CapturedRequest) -> Reply + Send + Sync {
    let counter = std::sync::atomic::AtomicU64::new(200_000_000);
    move |_: &CapturedRequest| {
        let id = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        xml("SendMmsResult", "2", "提交成功", "mmsid", &id.to_string())
    }
}

#[tokio::test]
async fn a_send_goes_out_as_one_form_post_with_comma_joined_numbers() {
    let server = WireServer::start(accept_all()).await;
    let message = mms(vec![number(13900000001), number(13900000002)]);
    let receipt = client(&server).send(&message).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/webservice/api?method=SendMms");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.body_text(),
        format!("account=acct&password={KEY}&mobile=13900000001%2C13900000002&mmsid=1000&pid=1")
    );
    assert!(receipt.all_accepted());
    assert_eq!(&receipt.reference, message.reference());
    let ids: Vec<&str> = receipt.message_ids().collect();
    assert_eq!(ids, ["200000000", "200000000"]);
    assert!(receipt.outcomes.iter().all(|o| o.provider == "10658-mms"));
}

#[tokio::test]
async fn batches_split_at_the_configured_size() {
    for (batch_size, count, expected) in [
        (100usize, 99u64, vec![99usize]),
        (100, 100, vec![100]),
        (100, 250, vec![100, 100, 50]),
        (2, 5, vec![2, 2, 1]),
    ] {
        let server = WireServer::start(accept_all()).await;
        let client = MmsClient::new(config(&server).batch_size(batch_size)).unwrap();
        assert_eq!(client.capabilities().max_batch, batch_size);
        let recipients = numbers(13900000000, count);
        let receipt = client.send(&mms(recipients.clone())).await.unwrap();
        let batches: Vec<Vec<String>> = server
            .requests()
            .iter()
            .map(|r| {
                r.text_field("mobile")
                    .unwrap()
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, expected, "{count} numbers in batches of {batch_size}");
        let sent: Vec<String> = batches.concat();
        let wanted: Vec<String> = recipients
            .iter()
            .map(|n| n.national_number().to_owned())
            .collect();
        assert_eq!(sent, wanted);
        let got: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
        assert_eq!(got, recipients.iter().collect::<Vec<_>>());
        // Each batch's numbers carry that batch's id.
        let last = receipt.outcomes.last().unwrap().message_id.clone().unwrap();
        assert_eq!(last, format!("{}", 200_000_000 + expected.len() - 1));
    }
}

#[tokio::test]
async fn a_scheduled_send_carries_the_dashed_beijing_time() {
    let server = WireServer::start(accept_all()).await;
    let at = BeijingTime::new(2026, 12, 1, 12, 30, 45).unwrap();
    client(&server)
        .send(&mms(vec![number(13900000001)]).scheduled_at(at))
        .await
        .unwrap();
    client(&server)
        .send(&mms(vec![number(13900000002)]))
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(
        requests[0].text_field("time").as_deref(),
        Some("2026-12-01 12:30:45")
    );
    assert!(requests[0].body_text().ends_with("&time=2026-12-01+12%3A30%3A45"));
    assert_eq!(requests[1].text_field("time"), None);
}

#[tokio::test]
async fn other_message_kinds_are_unsupported_before_any_request() {
    let server = WireServer::start(accept_all()).await;
    let client = client(&server);
    let to = number(13900000001);
    let cases = [
        Message::text(to.clone(), "hello"),
        Message::template(to.clone(), TemplateText::new("t1", "hello")),
        Message::voice_code(to.clone(), "1234").unwrap(),
        mms(vec![PhoneNumber::parse("+44 7700 900123").unwrap()]),
    ];
    for message in &cases {
        let e = client.send(message).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{message:?}");
        assert_eq!(e.provider(), Some("10658-mms"));
    }
    let e = client
        .send(&Message::mms(to, MmsContent::new(" ", "1")))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn batch_failures_are_reported_per_number() {
    // The second of three batches gets a 503; the others succeed.
    let counter = std::sync::atomic::AtomicU64::new(0);
    let server = WireServer::start(move |_: &CapturedRequest| {
        match counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
            1 => Reply::status(503, b"busy".to_vec()),
            n => xml("SendMmsResult", "2", "提交成功", "mmsid", &format!("7{n}")),
        }
    })
    .await;
    let client = MmsClient::new(config(&server).batch_size(2)).unwrap();
    let receipt = client.send(&mms(numbers(13900000001, 5))).await.unwrap();
    assert_eq!(server.requests().len(), 3);
    let kinds: Vec<Option<ErrorKind>> = receipt
        .outcomes
        .iter()
        .map(|o| o.error().map(sms_core::Error::kind))
        .collect();
    assert_eq!(
        kinds,
        [
            None,
            None,
            Some(ErrorKind::Unavailable),
            Some(ErrorKind::Unavailable),
            None
        ]
    );
    assert_eq!(receipt.outcomes[4].message_id.as_deref(), Some("72"));

    // A refusal that concerns the account stops the later batches.
    let server = WireServer::always(xml("SendMmsResult", "405", "用户名或密码不正确", "mmsid", "0")).await;
    let client = MmsClient::new(config(&server).batch_size(2)).unwrap();
    let e = client.send(&mms(numbers(13900000001, 5))).await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Unauthorized, Some("405")));
    assert_eq!(e.message(), "用户名或密码不正确");
    assert_eq!(server.requests().len(), 1);

    // One that concerns the numbers does not.
    let server = WireServer::always(xml("SendMmsResult", "409", "没有合法的手机号码", "mmsid", "0")).await;
    let client = MmsClient::new(config(&server).batch_size(2)).unwrap();
    let e = client.send(&mms(numbers(13900000001, 5))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RecipientRejected);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn balance_is_read_from_getnum() {
    let server = WireServer::always(xml("GetNumResult", "2", "查询成功", "num", "1234")).await;
    let client = MmsClient::new(config(&server).name("mms-b")).unwrap();
    let balance = client.balance().await.unwrap();
    assert_eq!((balance.provider.as_str(), balance.amount), ("mms-b", 1234));
    let request = &server.requests()[0];
    assert_eq!(request.target, "/webservice/api?method=GetNum");
    assert_eq!(request.body_text(), format!("account=acct&password={KEY}"));
}

const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1];

#[tokio::test]
async fn create_mms_uploads_the_zip_base64_encoded() {
    let server = WireServer::always(xml("CreateMmsResult", "2", "提交成功", "mmsid", "300000001")).await;
    let smil = r#"<smil><body><par><img src="a.jpg"/><text src="a.txt"/></par></body></smil>"#;
    let package = MmsPackage::builder()
        .smil(smil)
        .add_image("a.jpg", JPEG)
        .add_text("a.txt", "新品 & 优惠")
        .build()
        .unwrap();
    let id = client(&server).create_mms("新品上市", &package).await.unwrap();
    assert_eq!(id, "300000001");
    let request = &server.requests()[0];
    assert_eq!(request.target, "/webservice/api?method=CreateMms");
    assert_eq!(request.text_field("title").as_deref(), Some("新品上市"));
    let zipfile = request.text_field("zipfile").unwrap();
    let zip = base64::engine::general_purpose::STANDARD.decode(zipfile).unwrap();
    assert_eq!(zip, package.zip_bytes());
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|name| name.expect("a readable file name").into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.jpg", "a.txt", "mms.smil"]);
    let mut text = String::new();
    archive
        .by_name("a.txt")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "新品 & 优惠");
    let mut layout = String::new();
    archive
        .by_name("mms.smil")
        .unwrap()
        .read_to_string(&mut layout)
        .unwrap();
    assert_eq!(layout, smil);
}

#[tokio::test]
async fn create_mms_failures() {
    let package = MmsPackage::builder()
        .smil(r#"<smil><body><img src="a.jpg"/></body></smil>"#)
        .add_image("a.jpg", JPEG)
        .build()
        .unwrap();
    let server = WireServer::always(xml(
        "CreateMmsResult",
        "4060",
        "彩信SMIL文件格式错误",
        "mmsid",
        "0",
    ))
    .await;
    let client = client(&server);
    let e = client.create_mms(" ", &package).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.operation()),
        (ErrorKind::InvalidRequest, Operation::CreateMms)
    );
    assert!(server.requests().is_empty());
    let e = client.create_mms("标题", &package).await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::InvalidContent, Some("4060")));
    let server = WireServer::always(xml("CreateMmsResult", "2", "提交成功", "mmsid", "")).await;
    let e = MmsClient::new(config(&server))
        .unwrap()
        .create_mms("标题", &package)
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Protocol,
        "a success without an id is unusable"
    );
}

fn quick(server: &WireServer) -> MmsClient {
    MmsClient::new(config(server).http(HttpConfig {
        request_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    }))
    .unwrap()
}

#[tokio::test]
async fn transport_failures_map_to_the_error_model() {
    let cases = [
        (Reply::status(503, b"busy".to_vec()), ErrorKind::Unavailable),
        (Reply::status(500, b"oops".to_vec()), ErrorKind::Ambiguous),
        (
            Reply::status(404, b"not found".to_vec()),
            ErrorKind::Configuration,
        ),
        (Reply::Close, ErrorKind::Ambiguous),
        (Reply::Hang, ErrorKind::Ambiguous),
        (Reply::cut_off("num=1&succ"), ErrorKind::Ambiguous),
        (Reply::oversized(1 << 20), ErrorKind::Protocol),
        (Reply::ok(b"\x00\xff\xfe\x81 garbage"), ErrorKind::Protocol),
        (
            Reply::ok(br#"<?xml version="1.0"?><SendMmsResult><code>2</code><msg>ok"#),
            ErrorKind::Protocol,
        ),
    ];
    for (behavior, kind) in cases {
        let server = WireServer::always(behavior.clone()).await;
        let e = quick(&server)
            .send(&mms(vec![number(13900000001)]))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{behavior:?}: {e:?}");
        assert_eq!(
            (e.provider(), e.operation()),
            (Some("10658-mms"), Operation::Send)
        );
        match kind {
            ErrorKind::Unavailable => assert!(e.is_retryable() && e.can_failover() && !e.is_ambiguous()),
            ErrorKind::Configuration => assert!(e.can_failover() && !e.is_ambiguous()),
            _ => assert!(
                e.is_ambiguous() && !e.can_failover(),
                "{behavior:?}: it may have gone out"
            ),
        }
        let e = quick(&server).balance().await.unwrap_err();
        assert_eq!(e.operation(), Operation::Balance);
        assert!(!e.is_ambiguous() || kind == ErrorKind::Ambiguous);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = MmsClient::new(MmsConfig::new("acct", KEY).base_url(format!("http://{addr}"))).unwrap();
    let e = client.send(&mms(vec![number(13900000001)])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable);
}

#[tokio::test]
async fn the_key_is_never_printed() {
    let server =
        WireServer::start(|request: &CapturedRequest| Reply::status(200, request.body.clone())).await;
    let server500 =
        WireServer::start(|request: &CapturedRequest| Reply::status(500, request.body.clone())).await;
    let config = config(&server);
    let client = MmsClient::new(config.clone()).unwrap();
    let e1 = client.send(&mms(vec![number(13900000001)])).await.unwrap_err();
    let e2 = client.balance().await.unwrap_err();
    let e3 = MmsClient::new(MmsConfig::new("acct", KEY).base_url(server500.url("")))
        .unwrap()
        .balance()
        .await
        .unwrap_err();
    let printed = format!("{config:?} {client:?} {e1} {e1:?} {e2} {e2:?} {e3} {e3:?}");
    assert!(!printed.contains(KEY), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
    for request in server.requests() {
        assert!(!request.target.contains(KEY));
        assert!(request.body_text().contains(KEY), "the key travels in the body");
    }
    // A key with reserved characters is echoed percent-encoded: hidden in that form too.
    let special = "k@y w0rd&=";
    let e = MmsClient::new(MmsConfig::new("acct", special).base_url(server.url("")))
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
            .contains("k%40y+w0rd%26%3D")
    );
    assert!(
        !printed.contains(special) && !printed.contains("k%40y+w0rd%26%3D"),
        "{printed}"
    );
    assert!(printed.contains("[redacted]"), "{printed}");
}

#[test]
fn bad_configurations_are_refused() {
    let base = || MmsConfig::new("acct", KEY).base_url("http://127.0.0.1:9");
    let cases = [
        MmsConfig::new("", KEY),
        MmsConfig::new("acct", ""),
        base().base_url("10658.cc"),
        base().batch_size(0),
        base().name(""),
        base().http(HttpConfig {
            connect_timeout: Duration::ZERO,
            ..HttpConfig::default()
        }),
    ];
    for config in cases {
        let e = MmsClient::new(config.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration, "{config:?}");
    }
    let client = MmsClient::new(MmsConfig::new("acct", KEY)).unwrap();
    assert_eq!(client.name(), "10658-mms");
    assert!(format!("{client:?}").contains("http://10658.cc/webservice/api"));
    let caps = client.capabilities();
    assert_eq!(caps.kinds, [sms_core::MessageKind::Mms]);
    assert!(caps.scheduled && !caps.international && caps.max_batch == 100);
}

#[test]
fn configuration_deserialises_with_the_key_hidden() {
    let config: MmsConfig = serde_json::from_str(
        r#"{"account":"acct","key":"hunter2-key","base_url":"http://127.0.0.1:9","batch_size":50,
            "name":"mms","http":{"request_timeout":"30s"}}"#,
    )
    .unwrap();
    assert_eq!(
        config,
        MmsConfig::new("acct", "hunter2-key")
            .base_url("http://127.0.0.1:9")
            .batch_size(50)
            .name("mms")
            .http(HttpConfig {
                request_timeout: Duration::from_secs(30),
                ..HttpConfig::default()
            })
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    let minimal: MmsConfig = serde_json::from_str(r#"{"account":"a","key":"k"}"#).unwrap();
    assert_eq!(minimal, MmsConfig::new("a", "k"));
    assert!(serde_json::from_str::<MmsConfig>(r#"{"account":"a","key":"k","typo":1}"#).is_err());
}

/// Every operation (send, balance, package upload) against every style of echoing server, with a
/// TRACE subscriber: neither an error nor a log line holds the key or any piece of the request.
#[tokio::test]
async fn no_operation_leaks_the_key_or_the_request_through_an_echo() {
    use sms_core::testkit::echo::{assert_no_leak, echo_servers, error_text};
    let logs = sms_core::testkit::echo::LogCapture::global();
    let smil = r#"<smil><body><par><img src="a.jpg"/><text src="a.txt"/></par></body></smil>"#;
    let package = MmsPackage::builder()
        .smil(smil)
        .add_image("a.jpg", JPEG)
        .add_text("a.txt", "欢迎光临本店")
        .build()
        .unwrap();
    let mut seen = String::new();
    let mut requests = Vec::new();
    for (style, server) in echo_servers().await {
        let client = client(&server);
        let send = client
            .send(&Message::mms(
                vec![number(13_800_138_000)],
                MmsContent::new("1000", "1"),
            ))
            .await
            .err();
        let upload = client.create_mms("店庆活动", &package).await.err();
        for error in [send, client.balance().await.err(), upload] {
            let error = error.unwrap_or_else(|| panic!("{style}: an echo is never a success"));
            seen.push_str(&error_text(&error));
        }
        requests.extend(server.requests());
    }
    seen.push_str(&logs.text());
    assert!(seen.contains("batch failed"), "logging was captured");
    assert_no_leak(&seen, &[KEY.as_bytes()], &requests);
}
