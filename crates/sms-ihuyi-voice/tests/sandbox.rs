//! Against the sandbox: the conformance suite, the rules the voice API enforces, receipts, faults.

#[path = "../../sms-ihuyi/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use sms_core::testkit::conformance::{Fixture, run};
use sms_core::{BalanceQuery, ErrorKind, Message, MessageSender, PhoneNumber, TemplateText};
use sms_ihuyi_voice::push::{RECEIPT_ACK, parse_delivery_report};
use sms_ihuyi_voice::{IhuyiVoiceClient, IhuyiVoiceConfig, PasswordMode, ResponseFormat};
use sms_sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_BALANCE, DEFAULT_KEY, Fault, FaultKind, FaultTarget, Product, Sandbox,
};
use support::{Reply, WireServer};

fn number(text: &str) -> PhoneNumber {
    text.parse().unwrap()
}

fn config(sandbox: &Sandbox) -> IhuyiVoiceConfig {
    IhuyiVoiceConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY).base_url(sandbox.base_url())
}

fn client(sandbox: &Sandbox) -> IhuyiVoiceClient {
    IhuyiVoiceClient::new(config(sandbox)).unwrap()
}

fn code_to(to: &str) -> Message {
    Message::voice_code(number(to), "482913").unwrap()
}

async fn sandbox_with(account: Account) -> Sandbox {
    Sandbox::builder()
        .account(Product::IhuyiVoice, account)
        .spawn()
        .await
        .unwrap()
}

#[tokio::test]
async fn conformance_in_every_format_and_password_mode() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let modes = [
        (ResponseFormat::Xml, PasswordMode::Dynamic),
        (ResponseFormat::Json, PasswordMode::Dynamic),
        (ResponseFormat::Json, PasswordMode::Plain),
    ];
    for (index, (format, mode)) in modes.into_iter().enumerate() {
        let client = IhuyiVoiceClient::new(config(&sandbox).format(format).password_mode(mode)).unwrap();
        let fixture = Fixture::with_first_number(13_700_000_000 + 1_000 * index as u64)
            .with_template(TemplateText::new("1", "【测试】您的验证码是5678。"));
        let report = run(&client, &fixture).await;
        report.assert_passed();
        let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
        for expected in [
            "a voice code message is accepted",
            "an unsupported text message is refused as unsupported",
            "an unsupported template message is refused as unsupported",
            "an international number is refused as unsupported",
            "a batch gets one outcome per recipient, in order",
        ] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
    }
}

#[tokio::test]
async fn a_call_is_recorded_billed_and_identified_by_its_voiceid() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let client = client(&sandbox);
    let receipt = client.send(&code_to("13700000001")).await.unwrap();
    let recorded = sandbox.messages().pop().unwrap();
    assert_eq!(recorded.product, Product::IhuyiVoice);
    assert_eq!(
        (recorded.recipients.as_slice(), recorded.text.as_str()),
        (&["13700000001".to_owned()][..], "482913")
    );
    assert_eq!(
        receipt.outcomes[0].message_id.as_deref(),
        Some(recorded.provider_id.as_str())
    );
    assert_eq!(client.balance().await.unwrap().amount, DEFAULT_BALANCE - 1);
}

#[tokio::test]
async fn account_rules_map_to_their_kinds() {
    let cases = [
        (
            Account::new(DEFAULT_ACCOUNT, "other-key"),
            ErrorKind::Unauthorized,
            "40502",
        ),
        (
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).frozen(true),
            ErrorKind::AccountSuspended,
            "4050",
        ),
        (
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).balance(0),
            ErrorKind::InsufficientBalance,
            "4051",
        ),
        (
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).blacklist(["13700000002"]),
            ErrorKind::RecipientRejected,
            "4030",
        ),
    ];
    for (account, kind, code) in cases {
        let sandbox = sandbox_with(account).await;
        let error = client(&sandbox).send(&code_to("13700000002")).await.unwrap_err();
        assert_eq!((error.kind(), error.code()), (kind, Some(code)), "{error:?}");
        assert!(sandbox.messages().is_empty());
    }
}

#[tokio::test]
async fn faults_and_voice_codes_map_to_their_kinds() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let quick = sms_core::HttpConfig {
        request_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let client = IhuyiVoiceClient::new(config(&sandbox).http(quick)).unwrap();
    let cases = [
        (FaultKind::HttpStatus(502), ErrorKind::Ambiguous),
        (FaultKind::Hang, ErrorKind::Ambiguous),
        (FaultKind::ResetMidBody, ErrorKind::Ambiguous),
        (FaultKind::GarbledBody, ErrorKind::Protocol),
        (FaultKind::TruncatedBody, ErrorKind::Protocol),
        (FaultKind::OversizedBody, ErrorKind::Protocol),
        (FaultKind::ProviderCode("4070".into()), ErrorKind::InvalidContent),
        (FaultKind::ProviderCode("408".into()), ErrorKind::AccountSuspended),
    ];
    for (index, (fault, kind)) in cases.into_iter().enumerate() {
        sandbox.inject_fault(
            Fault::new(fault.clone())
                .target(FaultTarget::Product(Product::IhuyiVoice))
                .next(1),
        );
        let error = client
            .send(&code_to(&format!("137000001{index:02}")))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), kind, "{fault:?}: {error:?}");
        assert_eq!(error.provider(), Some("ihuyi-voice"));
    }
}

#[tokio::test]
async fn receipts_arrive_at_a_local_receiver_and_parse() {
    let (pushes, mut received) = tokio::sync::mpsc::unbounded_channel();
    let receiver = WireServer::start_async(move |request| {
        let _ = pushes.send(request.body);
        async {
            Reply::Body {
                status: 200,
                content_type: "text/plain",
                body: RECEIPT_ACK.into(),
            }
        }
    })
    .await;
    let sandbox = Sandbox::builder()
        .receipt_url(format!("{}/voice/receipts", receiver.base_url()))
        .receipt_delay(Duration::from_millis(10))
        .spawn()
        .await
        .unwrap();
    let receipt = client(&sandbox).send(&code_to("13700000003")).await.unwrap();
    let body = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .expect("a receipt within 5 s")
        .unwrap();
    let report = parse_delivery_report(&body).unwrap();
    assert_eq!(report.provider, "ihuyi-voice");
    assert_eq!(
        Some(report.message_id.as_str()),
        receipt.outcomes[0].message_id.as_deref()
    );
    assert_eq!(report.recipient, "13700000003");
    assert!(report.is_delivered());
}
