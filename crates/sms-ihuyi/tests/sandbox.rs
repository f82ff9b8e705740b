//! Against the sandbox: the conformance suite, every rule the sandbox enforces, receipts and replies
//! pushed to a local receiver, and every fault kind mapped to the right error kind.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use sms_core::HttpConfig;
use sms_core::testkit::conformance::{Fixture, run};
use sms_core::{BalanceQuery, ErrorKind, Message, MessageSender, MmsContent, PhoneNumber, TemplateText};
use sms_ihuyi::push::{RECEIPT_ACK, parse_delivery_report, parse_reply};
use sms_ihuyi::{IhuyiClient, IhuyiConfig, PasswordMode, ResponseFormat};
use sms_sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_BALANCE, DEFAULT_KEY, DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID,
    Fault, FaultKind, FaultTarget, InboundReply, Product, Sandbox,
};
use support::{CapturedRequest, Reply, WireServer};
use tokio::sync::mpsc;

fn number(text: &str) -> PhoneNumber {
    text.parse().unwrap()
}

fn config(sandbox: &Sandbox) -> IhuyiConfig {
    IhuyiConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
        .base_url(sandbox.base_url())
        .international_base_url(sandbox.base_url())
}

fn client(sandbox: &Sandbox) -> IhuyiClient {
    IhuyiClient::new(config(sandbox)).unwrap()
}

async fn sandbox_with(product: Product, account: Account) -> Sandbox {
    Sandbox::builder()
        .account(product, account)
        .spawn()
        .await
        .unwrap()
}

/// A local receiver that acknowledges every push with [`RECEIPT_ACK`] and hands it to the test.
async fn receiver() -> (WireServer, mpsc::UnboundedReceiver<CapturedRequest>) {
    let (pushes, received) = mpsc::unbounded_channel();
    let server = WireServer::start_async(move |request| {
        let _ = pushes.send(request);
        async {
            Reply::Body {
                status: 200,
                content_type: "text/plain",
                body: RECEIPT_ACK.into(),
            }
        }
    })
    .await;
    (server, received)
}

async fn next_push(received: &mut mpsc::UnboundedReceiver<CapturedRequest>) -> CapturedRequest {
    tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .expect("a push within 5 s")
        .expect("the receiver is alive")
}

#[tokio::test]
async fn conformance_in_every_format_and_password_mode() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let modes = [
        (ResponseFormat::Xml, PasswordMode::Dynamic),
        (ResponseFormat::Json, PasswordMode::Dynamic),
        (ResponseFormat::Xml, PasswordMode::Plain),
        (ResponseFormat::Json, PasswordMode::Plain),
    ];
    for (index, (format, mode)) in modes.into_iter().enumerate() {
        let client = IhuyiClient::new(config(&sandbox).format(format).password_mode(mode)).unwrap();
        let mut fixture = Fixture::with_first_number(13_900_000_000 + 1_000 * index as u64)
            .with_template(TemplateText::new("1", "【测试】您的验证码是5678。").variable("code", "5678"))
            .with_mms(MmsContent::new(DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID));
        fixture.international = Some(number(&format!("+44 7700 9001{index:02}")));
        let report = run(&client, &fixture).await;
        report.assert_passed();
        let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
        for expected in [
            "a text message is accepted",
            "a template message is accepted",
            "an unsupported voice code message is refused as unsupported",
            "an unsupported MMS message is refused as unsupported",
            "an international number is accepted",
            "a scheduled message is refused as unsupported",
        ] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
    }
}

#[tokio::test]
async fn what_the_sandbox_records_is_exactly_what_was_sent() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let client = client(&sandbox);
    let tricky = "【签名】a&b=c+d%e f 100%+ ?#;/:中文 ~*";
    let long: String = "【签名】"
        .chars()
        .chain("好a&+ %".chars().cycle().take(296))
        .collect();
    let gsm: String = "Code 1234 & more: ".chars().cycle().take(200).collect();
    let sends = [
        (
            number("13800000001"),
            tricky.to_owned(),
            Product::IhuyiSms,
            "13800000001",
        ),
        (number("13800000002"), long, Product::IhuyiSms, "13800000002"),
        (
            number("+44 7700 900200"),
            gsm,
            Product::IhuyiInternational,
            "44 7700900200",
        ),
    ];
    for (to, text, product, wire_number) in sends {
        let receipt = client.send(&Message::text(to, text.clone())).await.unwrap();
        let recorded = sandbox.messages().pop().unwrap();
        assert_eq!(recorded.product, product);
        assert_eq!(recorded.account, DEFAULT_ACCOUNT);
        assert_eq!(recorded.recipients, [wire_number]);
        assert_eq!(recorded.text, text);
        assert_eq!(
            receipt.outcomes[0].message_id.as_deref(),
            Some(recorded.provider_id.as_str())
        );
        assert!(
            recorded.provider_id.parse::<u128>().unwrap() > i64::MAX as u128,
            "ids past i64 survive"
        );
        assert_eq!(receipt.billed_parts, Some(recorded.billed as u32), "{text}");
    }
    // The international API bills its own account; `balance` is the mainland account's.
    let billed: i64 = sandbox
        .messages()
        .iter()
        .filter(|m| m.product == Product::IhuyiSms)
        .map(|m| m.billed)
        .sum();
    assert_eq!(billed, 1 + 5);
    assert_eq!(
        sandbox.balance(Product::IhuyiInternational, DEFAULT_ACCOUNT),
        Some(DEFAULT_BALANCE - 2)
    );
    assert_eq!(
        client.international_balance().await.unwrap().amount,
        DEFAULT_BALANCE - 2
    );
    assert_eq!(sandbox.request_count(Product::IhuyiInternational), 2);
    let balance = client.balance().await.unwrap();
    assert_eq!(balance.amount, DEFAULT_BALANCE - billed);
    assert_eq!(
        Some(balance.amount),
        sandbox.balance(Product::IhuyiSms, DEFAULT_ACCOUNT)
    );
}

#[tokio::test]
async fn a_registered_template_is_matched_by_the_rendered_text() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let client = client(&sandbox);
    let id = client
        .add_template("【签名】您的验证码是【变量】，【变量】分钟内有效。")
        .await
        .unwrap();
    let template = TemplateText::new(id.clone(), "【签名】您的验证码是8888，5分钟内有效。")
        .variable("code", "8888")
        .variable("minutes", "5");
    client
        .send(&Message::template(number("13800000003"), template))
        .await
        .unwrap();
    assert_eq!(sandbox.messages()[0].template_id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let wrong_key = IhuyiConfig::new(DEFAULT_ACCOUNT, "wrong").base_url(sandbox.base_url());
    let unknown = IhuyiConfig::new("nobody", DEFAULT_KEY).base_url(sandbox.base_url());
    let cases = [
        (wrong_key.clone(), "40502"),
        (wrong_key.password_mode(PasswordMode::Plain), "405"),
        (unknown, "405"),
    ];
    for (config, code) in cases {
        let client = IhuyiClient::new(config).unwrap();
        let error = client
            .send(&Message::text(number("13800000004"), "hi"))
            .await
            .unwrap_err();
        assert_eq!(
            (error.kind(), error.code()),
            (ErrorKind::Unauthorized, Some(code))
        );
        assert!(error.can_failover() && !error.is_retryable());
        let error = client.balance().await.unwrap_err();
        assert_eq!(
            (error.kind(), error.code()),
            (ErrorKind::Unauthorized, Some(code))
        );
    }
    assert!(sandbox.messages().is_empty());
}

#[tokio::test]
async fn a_frozen_account_is_suspended() {
    let sandbox = sandbox_with(
        Product::IhuyiSms,
        Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).frozen(true),
    )
    .await;
    let error = client(&sandbox)
        .send(&Message::text(number("13800000005"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::AccountSuspended, Some("4050"))
    );
    let error = client(&sandbox).balance().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AccountSuspended);
}

#[tokio::test]
async fn an_empty_balance_is_insufficient() {
    let sandbox = sandbox_with(
        Product::IhuyiSms,
        Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).balance(0),
    )
    .await;
    assert_eq!(client(&sandbox).balance().await.unwrap().amount, 0);
    let error = client(&sandbox)
        .send(&Message::text(number("13800000006"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::InsufficientBalance, Some("4051"))
    );
    assert!(error.can_failover());
}

#[tokio::test]
async fn a_blacklisted_number_is_refused_while_the_others_are_sent() {
    let account = Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).blacklist(["13800000008"]);
    let sandbox = sandbox_with(Product::IhuyiSms, account).await;
    let message = Message::text(
        vec![
            number("13800000007"),
            number("13800000008"),
            number("13800000009"),
        ],
        "hi",
    );
    let receipt = client(&sandbox).send(&message).await.unwrap();
    assert!(receipt.outcomes[0].is_accepted() && receipt.outcomes[2].is_accepted());
    let refused = receipt.outcomes[1].error().unwrap();
    assert_eq!(
        (refused.kind(), refused.code()),
        (ErrorKind::RecipientRejected, Some("4030"))
    );
    assert_eq!(receipt.billed_parts, Some(2));
    assert_eq!(sandbox.messages().len(), 2);
}

#[tokio::test]
async fn sensitive_words_are_content_rejected() {
    let account = Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).sensitive_words(["赌博"]);
    let sandbox = sandbox_with(Product::IhuyiSms, account).await;
    for (index, text) in ["【签名】六合彩开奖", "【签名】线上赌博"].into_iter().enumerate() {
        let error = client(&sandbox)
            .send(&Message::text(number(&format!("1380000001{index}")), text))
            .await
            .unwrap_err();
        assert_eq!(
            (error.kind(), error.code()),
            (ErrorKind::ContentRejected, Some("407"))
        );
        assert!(error.message().contains("敏感"), "{error}");
    }
}

#[tokio::test]
async fn per_number_limits_rate_limit_or_throttle() {
    // Per second (default 1): the second message within a second is rate limited for 1 s.
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let to = number("13800000020");
    client(&sandbox)
        .send(&Message::text(to.clone(), "one"))
        .await
        .unwrap();
    let error = client(&sandbox)
        .send(&Message::text(to, "two"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::RateLimited, Some("4080"))
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
    assert!(error.is_retryable());

    // Per day.
    let account = Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
        .per_second_limit(0)
        .per_day_limit(2);
    let sandbox = sandbox_with(Product::IhuyiSms, account).await;
    let to = number("13800000021");
    for text in ["one", "two"] {
        client(&sandbox)
            .send(&Message::text(to.clone(), text))
            .await
            .unwrap();
    }
    let error = client(&sandbox)
        .send(&Message::text(to, "three"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::RecipientThrottled, Some("4082"))
    );
    assert!(!error.can_failover() && !error.is_retryable());

    // Verification codes per day.
    let account = Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
        .per_second_limit(0)
        .per_day_code_limit(1);
    let sandbox = sandbox_with(Product::IhuyiSms, account).await;
    let to = number("13800000022");
    let code = "【签名】您的验证码是1234。";
    client(&sandbox)
        .send(&Message::text(to.clone(), code))
        .await
        .unwrap();
    let error = client(&sandbox).send(&Message::text(to, code)).await.unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::RecipientThrottled, Some("4085"))
    );
}

#[tokio::test]
async fn a_source_ip_outside_the_allow_list_is_unauthorized() {
    let account =
        Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).allowed_ips([IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))]);
    let sandbox = sandbox_with(Product::IhuyiSms, account).await;
    let error = client(&sandbox)
        .send(&Message::text(number("13800000023"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Unauthorized, Some("400"))
    );
}

#[tokio::test]
async fn local_checks_spend_no_request() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let client = client(&sandbox);
    for text in ["验证码 😀".to_owned(), "好".repeat(301)] {
        let error = client
            .send(&Message::text(number("13800000024"), text))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidContent);
    }
    let voice = Message::voice_code(number("13800000024"), "1234").unwrap();
    assert_eq!(
        client.send(&voice).await.unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(sandbox.request_count(Product::IhuyiSms), 0);
}

#[tokio::test]
async fn a_stale_time_is_retried_once() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let stale = || {
        Fault::new(FaultKind::ProviderCode("40501".into())).target(FaultTarget::Product(Product::IhuyiSms))
    };
    sandbox.inject_fault(stale().next(1));
    let receipt = client(&sandbox)
        .send(&Message::text(number("13800000025"), "hi"))
        .await
        .unwrap();
    assert!(receipt.all_accepted());
    assert_eq!(sandbox.request_count(Product::IhuyiSms), 2);

    sandbox.reset();
    sandbox.inject_fault(stale());
    let error = client(&sandbox)
        .send(&Message::text(number("13800000026"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        (error.kind(), error.code()),
        (ErrorKind::Unauthorized, Some("40501"))
    );
    assert_eq!(sandbox.request_count(Product::IhuyiSms), 2);
}

#[tokio::test]
async fn every_fault_kind_maps_to_the_right_error_kind() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let quick = HttpConfig {
        request_timeout: Duration::from_millis(500),
        ..HttpConfig::default()
    };
    let client = IhuyiClient::new(config(&sandbox).http(quick)).unwrap();
    // (fault, error kind, whether the sandbox accepted the message before the answer broke)
    let cases = [
        (FaultKind::HttpStatus(500), ErrorKind::Ambiguous, false),
        (FaultKind::HttpStatus(503), ErrorKind::Unavailable, false),
        (FaultKind::Hang, ErrorKind::Ambiguous, false),
        (FaultKind::CloseWithoutResponse, ErrorKind::Ambiguous, false),
        (FaultKind::ResetMidBody, ErrorKind::Ambiguous, true),
        (FaultKind::GarbledBody, ErrorKind::Protocol, true),
        (FaultKind::TruncatedBody, ErrorKind::Protocol, true),
        (FaultKind::OversizedBody, ErrorKind::Protocol, true),
        (
            FaultKind::ProviderCode("0".into()),
            ErrorKind::ProviderFault,
            false,
        ),
        (
            FaultKind::ProviderCode("4052".into()),
            ErrorKind::Unauthorized,
            false,
        ),
        (
            FaultKind::ProviderCode("4075".into()),
            ErrorKind::ContentRejected,
            false,
        ),
        (
            FaultKind::ProviderCode("9999".into()),
            ErrorKind::ProviderFault,
            false,
        ),
    ];
    for (index, (fault, kind, accepted)) in cases.into_iter().enumerate() {
        sandbox.reset();
        sandbox.inject_fault(
            Fault::new(fault.clone())
                .target(FaultTarget::Product(Product::IhuyiSms))
                .next(1),
        );
        let to = number(&format!("138000001{index:02}"));
        let error = client.send(&Message::text(to, "hi")).await.unwrap_err();
        assert_eq!(error.kind(), kind, "{fault:?}: {error:?}");
        assert_eq!(error.provider(), Some("ihuyi"));
        assert_eq!(sandbox.messages().len(), usize::from(accepted), "{fault:?}");
        if accepted {
            assert!(
                error.is_ambiguous(),
                "{fault:?}: the message went out; that must show"
            );
        }
        assert!(error.message().chars().count() < 300, "{fault:?}: {error}");
    }
    // The client keeps working after every fault.
    sandbox.reset();
    client
        .send(&Message::text(number("13800000199"), "hi"))
        .await
        .unwrap();
}

#[tokio::test]
async fn receipts_arrive_at_a_local_receiver_and_parse() {
    let (receiver, mut received) = receiver().await;
    let sandbox = Sandbox::builder()
        .receipt_url(format!("{}/ihuyi/receipts", receiver.base_url()))
        .receipt_delay(Duration::from_millis(10))
        .spawn()
        .await
        .unwrap();
    let recipients = vec![number("13800000030"), number("+44 7700 900300")];
    let receipt = client(&sandbox)
        .send(&Message::text(recipients, "【签名】您的验证码是1234。"))
        .await
        .unwrap();
    let mut reports = Vec::new();
    for _ in 0..2 {
        let push = next_push(&mut received).await;
        assert_eq!((push.method.as_str(), push.path()), ("POST", "/ihuyi/receipts"));
        reports.push(parse_delivery_report(&push.body).unwrap());
    }
    let report_for = |recipient: &str| reports.iter().find(|r| r.recipient == recipient).unwrap();
    let mainland = report_for("13800000030");
    let abroad = report_for("44 7700900300");
    for (report, outcome) in [(mainland, &receipt.outcomes[0]), (abroad, &receipt.outcomes[1])] {
        assert_eq!(Some(report.message_id.as_str()), outcome.message_id.as_deref());
        assert!(report.is_delivered());
        assert_eq!(report.provider, "ihuyi");
        assert!(report.reported_at.is_some(), "{:?}", report.raw);
    }
    let pushes = tokio::time::timeout(Duration::from_secs(5), sandbox.wait_for_pushes(2))
        .await
        .unwrap();
    assert!(
        pushes.iter().all(|p| p.succeeded && p.attempts == 1),
        "{pushes:?}"
    );
}

#[tokio::test]
async fn undelivered_receipts_say_so() {
    let (receiver, mut received) = receiver().await;
    let sandbox = Sandbox::builder()
        .receipt_url(receiver.base_url())
        .receipt_delay(Duration::ZERO)
        .undelivered_ratio(1.0)
        .spawn()
        .await
        .unwrap();
    let receipt = client(&sandbox)
        .send(&Message::text(number("13800000031"), "hi"))
        .await
        .unwrap();
    let report = parse_delivery_report(&next_push(&mut received).await.body).unwrap();
    assert!(!report.is_delivered());
    assert_eq!(report.code, "0");
    assert_eq!(
        Some(report.message_id.as_str()),
        receipt.outcomes[0].message_id.as_deref()
    );
}

#[tokio::test]
async fn replies_arrive_at_a_local_receiver_and_parse() {
    let (receiver, mut received) = receiver().await;
    let sandbox = Sandbox::builder()
        .upstream_url(
            Product::IhuyiSms,
            format!("{}/ihuyi/replies", receiver.base_url()),
        )
        .spawn()
        .await
        .unwrap();
    sandbox.inject_inbound(InboundReply::new(
        Product::IhuyiSms,
        "13800000032",
        "好的 & 谢谢 100%",
    ));
    let reply = parse_reply(&next_push(&mut received).await.body).unwrap();
    assert_eq!(reply.sender, "13800000032");
    assert_eq!(reply.text, "好的 & 谢谢 100%");
    assert!(reply.received_at.is_some());
    assert_eq!(reply.sender_number(), Some(number("13800000032")));
}
