//! Tests against the sandbox simulator: the conformance suite, packages created and sent, batches,
//! balance, refusals, and every fault mapped to its error kind.

use std::time::Duration;

use sms_10658_mms::{MmsClient, MmsConfig, MmsPackage};
use sms_core::HttpConfig;
use sms_core::testkit::conformance::{Fixture, run};
use sms_core::{
    BalanceQuery, BeijingTime, ErrorKind, Message, MessageSender, MmsContent, Operation, PhoneNumber,
};
use sms_sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_KEY, DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID, Fault, FaultKind,
    FaultTarget, Product, Sandbox,
};

async fn sandbox() -> Sandbox {
    Sandbox::builder().spawn().await.unwrap()
}

fn config(sandbox: &Sandbox) -> MmsConfig {
    MmsConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY).base_url(sandbox.base_url())
}

fn client(sandbox: &Sandbox) -> MmsClient {
    MmsClient::new(config(sandbox)).unwrap()
}

fn number(n: u64) -> PhoneNumber {
    n.to_string().parse().unwrap()
}

fn numbers(first: u64, count: u64) -> Vec<PhoneNumber> {
    (first..first + count).map(number).collect()
}

fn stored() -> MmsContent {
    MmsContent::new(DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID)
}

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1,
];

fn package(text: &str) -> MmsPackage {
    MmsPackage::builder()
        .smil(r#"<smil><body><par dur="5000ms"><img src="a.jpg"/><text src="a.txt"/></par></body></smil>"#)
        .add_image("a.jpg", JPEG)
        .add_text("a.txt", text)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_conformance_suite_passes() {
    let sandbox = sandbox().await;
    let fixture = Fixture::with_first_number(13_600_000_000).with_mms(stored());
    run(&client(&sandbox), &fixture).await.assert_passed();
    let small = MmsClient::new(config(&sandbox).batch_size(2).name("mms-small")).unwrap();
    run(
        &small,
        &Fixture::with_first_number(13_600_001_000).with_mms(stored()),
    )
    .await
    .assert_passed();
}

#[tokio::test]
async fn a_created_package_can_be_sent() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let id = client
        .create_mms("新品上市", &package("新品上市，欢迎选购"))
        .await
        .unwrap();
    assert_ne!(id, DEFAULT_MMS_PACKAGE_ID);
    let at = BeijingTime::new(2030, 1, 2, 8, 30, 0).unwrap();
    let message = Message::mms(
        numbers(13_600_100_000, 2),
        MmsContent::new(id.clone(), DEFAULT_MMS_PRODUCT_ID),
    )
    .scheduled_at(at);
    let receipt = client.send(&message).await.unwrap();
    assert!(receipt.all_accepted());
    let recorded = sandbox.messages();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].text, id);
    assert_eq!(recorded[0].recipients, ["13600100000", "13600100001"]);
    assert_eq!(recorded[0].scheduled.as_deref(), Some("2030-01-02 08:30:00"));
    let ids: Vec<&str> = receipt.message_ids().collect();
    assert_eq!(ids, [recorded[0].provider_id.as_str(); 2]);
}

#[tokio::test]
async fn large_sends_are_split_into_batches() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let recipients = numbers(13_600_200_000, 250);
    let receipt = client
        .send(&Message::mms(recipients.clone(), stored()))
        .await
        .unwrap();
    assert!(receipt.all_accepted());
    let sizes: Vec<usize> = sandbox.messages().iter().map(|m| m.recipients.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let sent: Vec<String> = sandbox
        .messages()
        .iter()
        .flat_map(|m| m.recipients.clone())
        .collect();
    let wanted: Vec<String> = recipients
        .iter()
        .map(|n| n.national_number().to_owned())
        .collect();
    assert_eq!(sent, wanted);
    assert_eq!(client.balance().await.unwrap().amount, 10_000 - 250);
}

#[tokio::test]
async fn refusals_map_to_error_kinds() {
    let sandbox = Sandbox::builder()
        .account(
            Product::Mms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).sensitive_words(["违禁词"]),
        )
        // Its own stored package id: with the default "1000" on both accounts, the sandbox gives
        // the package to the last account configured (reported to the sandbox's author).
        .account(
            Product::Mms,
            Account::new("frozen", "frozen-key")
                .frozen(true)
                .mms_packages(["2000"]),
        )
        .spawn()
        .await
        .unwrap();
    let client = client(&sandbox);
    let to = || vec![number(13_600_300_000)];
    let e = client
        .send(&Message::mms(
            to(),
            MmsContent::new("424242", DEFAULT_MMS_PRODUCT_ID),
        ))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::InvalidRequest, Some("404")));
    let e = client
        .send(&Message::mms(to(), MmsContent::new(DEFAULT_MMS_PACKAGE_ID, "77")))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::InvalidRequest, Some("4060")));
    let bad = client
        .create_mms("促销", &package("含有违禁词的内容"))
        .await
        .unwrap();
    let e = client
        .send(&Message::mms(to(), MmsContent::new(bad, DEFAULT_MMS_PRODUCT_ID)))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::ContentRejected, Some("4070")));
    assert!(e.can_failover());

    let wrong =
        MmsClient::new(MmsConfig::new(DEFAULT_ACCOUNT, "wrong-key").base_url(sandbox.base_url())).unwrap();
    let e = wrong.balance().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.operation()),
        (ErrorKind::Unauthorized, Some("405"), Operation::Balance)
    );
    let frozen = MmsClient::new(MmsConfig::new("frozen", "frozen-key").base_url(sandbox.base_url())).unwrap();
    let e = frozen
        .send(&Message::mms(
            to(),
            MmsContent::new("2000", DEFAULT_MMS_PRODUCT_ID),
        ))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::AccountSuspended, Some("4050")));

    sandbox.set_balance(Product::Mms, DEFAULT_ACCOUNT, 1);
    let e = client
        .send(&Message::mms(numbers(13_600_300_010, 2), stored()))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::InsufficientBalance, Some("4051"))
    );
    assert!(sandbox.messages().is_empty());
}

#[tokio::test]
async fn every_fault_maps_to_its_error_kind() {
    let sandbox = sandbox().await;
    let client = MmsClient::new(config(&sandbox).http(HttpConfig {
        request_timeout: Duration::from_millis(500),
        ..HttpConfig::default()
    }))
    .unwrap();
    // (fault, kind, whether the sandbox accepted the message before the answer broke)
    let cases = [
        (FaultKind::HttpStatus(503), ErrorKind::Unavailable, false),
        (FaultKind::HttpStatus(502), ErrorKind::Ambiguous, false),
        (FaultKind::CloseWithoutResponse, ErrorKind::Ambiguous, false),
        (FaultKind::Hang, ErrorKind::Ambiguous, false),
        (FaultKind::ResetMidBody, ErrorKind::Ambiguous, true),
        (FaultKind::GarbledBody, ErrorKind::Protocol, true),
        (FaultKind::TruncatedBody, ErrorKind::Protocol, true),
        (FaultKind::OversizedBody, ErrorKind::Protocol, true),
        (
            FaultKind::ProviderCode("4051".into()),
            ErrorKind::InsufficientBalance,
            false,
        ),
        (
            FaultKind::ProviderCode("0".into()),
            ErrorKind::ProviderFault,
            false,
        ),
        (
            FaultKind::ProviderCode("12345".into()),
            ErrorKind::ProviderFault,
            false,
        ),
    ];
    for (index, (fault, kind, recorded)) in cases.into_iter().enumerate() {
        let before = sandbox.messages().len();
        sandbox.inject_fault(
            Fault::new(fault.clone())
                .target(FaultTarget::Product(Product::Mms))
                .next(1),
        );
        let message = Message::mms(vec![number(13_600_400_000 + index as u64)], stored());
        let e = client.send(&message).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{fault:?}: {e:?}");
        assert_eq!(e.provider(), Some("10658-mms"));
        match kind {
            ErrorKind::Ambiguous | ErrorKind::Protocol => {
                assert!(e.is_ambiguous() && !e.can_failover(), "{fault:?}")
            }
            _ => assert!(e.can_failover(), "{fault:?}"),
        }
        assert_eq!(
            sandbox.messages().len() - before,
            usize::from(recorded),
            "{fault:?}"
        );
    }
    client
        .send(&Message::mms(vec![number(13_600_400_100)], stored()))
        .await
        .unwrap();
    // A slow answer: the message may have gone out.
    sandbox.inject_fault(
        Fault::latency(Duration::from_secs(1))
            .target(FaultTarget::Product(Product::Mms))
            .next(1),
    );
    let e = client
        .send(&Message::mms(vec![number(13_600_400_101)], stored()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Ambiguous);
    // Queries and uploads: unreadable answers do not claim that a message went out.
    for (fault, kind) in [
        (FaultKind::TruncatedBody, ErrorKind::Protocol),
        (FaultKind::HttpStatus(503), ErrorKind::Unavailable),
    ] {
        sandbox.inject_fault(
            Fault::new(fault.clone())
                .target(FaultTarget::Product(Product::Mms))
                .next(2),
        );
        let e = client.balance().await.unwrap_err();
        assert_eq!((e.kind(), e.operation()), (kind, Operation::Balance), "{fault:?}");
        assert!(!e.is_ambiguous() && e.can_failover());
        let e = client.create_mms("标题", &package("内容")).await.unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (kind, Operation::CreateMms),
            "{fault:?}"
        );
    }
}
