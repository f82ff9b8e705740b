//! Tests against the sandbox simulator: the conformance suite, partial success, GBK round trips,
//! batches, inbound polling, reply pushes with `0000`, and every fault mapped to its error kind.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sms_core::HttpConfig;
use sms_core::testkit::conformance::{Fixture, run};
use sms_core::testkit::wire::{CapturedRequest, Reply, WireServer};
use sms_core::{
    BalanceQuery, Error, ErrorKind, InboundMessage, InboundSource, Message, MessageSender, Operation,
    PhoneNumber, RecipientStatus,
};
use sms_juxiang::push::{ACK_OK, ack_failure, parse_reply};
use sms_juxiang::{ContentCheck, JuxiangClient, JuxiangConfig};
use sms_sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, Fault, FaultKind, FaultTarget, InboundReply, Product,
    Sandbox,
};

async fn sandbox() -> Sandbox {
    Sandbox::builder().spawn().await.unwrap()
}

fn config(sandbox: &Sandbox) -> JuxiangConfig {
    JuxiangConfig::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD)
        .base_url(format!("{}/send/", sandbox.base_url()))
}

fn client(sandbox: &Sandbox) -> JuxiangClient {
    JuxiangClient::new(config(sandbox)).unwrap()
}

fn number(n: u64) -> PhoneNumber {
    n.to_string().parse().unwrap()
}

fn numbers(first: u64, count: u64) -> Vec<PhoneNumber> {
    (first..first + count).map(number).collect()
}

#[tokio::test]
async fn the_conformance_suite_passes() {
    let sandbox = sandbox().await;
    run(&client(&sandbox), &Fixture::with_first_number(13_700_000_000))
        .await
        .assert_passed();
    let long = JuxiangClient::new(config(&sandbox).long_sms(true).name("juxiang-long")).unwrap();
    run(&long, &Fixture::with_first_number(13_700_001_000))
        .await
        .assert_passed();
}

#[tokio::test]
async fn chinese_text_arrives_intact_and_batches_split_at_99() {
    let sandbox = sandbox().await;
    let client = JuxiangClient::new(config(&sandbox).long_sms(true)).unwrap();
    let text = "【巨象】您好，这是一条含有标点“引号”、符号&=+%以及繁體字的长短信。".repeat(2);
    assert!(text.chars().count() > 60);
    let recipients = numbers(13_700_100_000, 250);
    let receipt = client
        .send(&Message::text(recipients.clone(), text.clone()))
        .await
        .unwrap();
    assert!(receipt.all_accepted(), "{:?}", receipt.failed().next());
    let recorded = sandbox.messages();
    let sizes: Vec<usize> = recorded.iter().map(|m| m.recipients.len()).collect();
    assert_eq!(sizes, [99, 99, 52]);
    assert!(recorded.iter().all(|m| m.text == text), "GBK round trip, not cut");
    let sent: Vec<String> = recorded.iter().flat_map(|m| m.recipients.clone()).collect();
    let wanted: Vec<String> = recipients
        .iter()
        .map(|n| n.national_number().to_owned())
        .collect();
    assert_eq!(sent, wanted);
    assert_eq!(sandbox.request_count(Product::Juxiang), 3);
}

#[tokio::test]
async fn partial_success_reports_each_number() {
    let sandbox = Sandbox::builder()
        .account(
            Product::Juxiang,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).blacklist(["13700200002"]),
        )
        .spawn()
        .await
        .unwrap();
    let client = client(&sandbox);
    let receipt = client
        .send(&Message::text(numbers(13_700_200_001, 3), "通知"))
        .await
        .unwrap();
    let statuses: Vec<Option<ErrorKind>> = receipt
        .outcomes
        .iter()
        .map(|o| match &o.status {
            RecipientStatus::Accepted => None,
            RecipientStatus::Failed(e) => Some(e.kind()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(statuses, [None, Some(ErrorKind::RecipientRejected), None]);
    assert_eq!(sandbox.messages()[0].recipients, ["13700200001", "13700200003"]);
    // Only the blacklisted number: the whole batch fails with the mapped errid.
    let e = client
        .send(&Message::text(number(13_700_200_002), "通知"))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::RecipientRejected, Some("6009")));
}

#[tokio::test]
async fn balance_content_check_and_password_change() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    assert_eq!(client.balance().await.unwrap().amount, 10_000);
    client
        .send(&Message::text(numbers(13_700_300_000, 3), "通知"))
        .await
        .unwrap();
    assert_eq!(client.balance().await.unwrap().amount, 9_997);

    assert_eq!(
        client.check_content("您好，欢迎光临").await.unwrap(),
        ContentCheck::Legal
    );
    assert_eq!(
        client.check_content("欢迎参与博彩活动").await.unwrap(),
        ContentCheck::Illegal {
            word: "博彩".to_owned()
        }
    );
    assert_eq!(
        client.check_content("回复1开通包月").await.unwrap(),
        ContentCheck::SuspectedPremium
    );
    let e = client
        .send(&Message::text(number(13_700_300_010), "欢迎参与博彩活动"))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::ContentRejected, Some("6005")));
    assert!(e.can_failover());

    let stale = client.clone();
    let other = JuxiangClient::new(config(&sandbox)).unwrap();
    client.change_password("NewSecret42").await.unwrap();
    stale
        .send(&Message::text(number(13_700_300_011), "通知"))
        .await
        .unwrap();
    let e = other.balance().await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Unauthorized, Some("6003")));
    let e = client.change_password("abc").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);

    sandbox.set_balance(Product::Juxiang, DEFAULT_ACCOUNT, 0);
    let e = client
        .send(&Message::text(number(13_700_300_012), "通知"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::InsufficientBalance, Some("6013"))
    );
}

#[tokio::test]
async fn wrong_credentials_and_frozen_accounts() {
    let sandbox = Sandbox::builder()
        .account(
            Product::Juxiang,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD),
        )
        .account(
            Product::Juxiang,
            Account::new("frozen", "frozen-pwd").frozen(true),
        )
        .spawn()
        .await
        .unwrap();
    let base = format!("{}/send/", sandbox.base_url());
    let wrong = JuxiangClient::new(JuxiangConfig::new(DEFAULT_ACCOUNT, "wrong-pwd").base_url(&base)).unwrap();
    let e = wrong
        .send(&Message::text(number(13_700_400_000), "通知"))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Unauthorized, Some("6003")));
    let unknown = JuxiangClient::new(JuxiangConfig::new("nobody", "whatever").base_url(&base)).unwrap();
    assert_eq!(unknown.balance().await.unwrap_err().code(), Some("6001"));
    let frozen = JuxiangClient::new(JuxiangConfig::new("frozen", "frozen-pwd").base_url(&base)).unwrap();
    let e = frozen.next_inbound().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.operation()),
        (ErrorKind::AccountSuspended, Operation::Inbound)
    );
}

#[tokio::test]
async fn readsms_returns_one_reply_per_call_and_flags_0000() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    assert_eq!(client.next_inbound().await.unwrap(), None);
    sandbox.inject_inbound(
        InboundReply::new(Product::Juxiang, "13700500001", "你好吗").service_number("10657001"),
    );
    sandbox.inject_inbound(InboundReply::new(Product::Juxiang, "13700500002", "0000"));
    let first = client.next_inbound().await.unwrap().unwrap();
    assert_eq!(
        (first.sender.as_str(), first.text.as_str(), first.opt_out),
        ("13700500001", "你好吗", false)
    );
    assert_eq!(first.service_number.as_deref(), Some("10657001"));
    assert!(first.received_at.is_some());
    let second = client.next_inbound().await.unwrap().unwrap();
    assert_eq!((second.sender.as_str(), second.opt_out), ("13700500002", true));
    assert_eq!(client.next_inbound().await.unwrap(), None);
    assert_eq!(sandbox.request_count(Product::Juxiang), 4);
}

/// readsms answers a failure as `id=0` with a reason and, as documented, no `errid`: a wrong password
/// is an error, never an empty inbox, and the waiting reply stays queued.
#[tokio::test]
async fn a_readsms_failure_without_errid_is_an_error_not_an_empty_inbox() {
    let sandbox = sandbox().await;
    sandbox.inject_inbound(InboundReply::new(Product::Juxiang, "13700500001", "在吗"));
    let wrong = JuxiangClient::new(
        JuxiangConfig::new(DEFAULT_ACCOUNT, "not-the-password")
            .base_url(format!("{}/send/", sandbox.base_url())),
    )
    .unwrap();
    let e = wrong.next_inbound().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.operation()),
        (ErrorKind::Unauthorized, Operation::Inbound)
    );
    let reply = client(&sandbox).next_inbound().await.unwrap().unwrap();
    assert_eq!(reply.text, "在吗");
    assert_eq!(client(&sandbox).next_inbound().await.unwrap(), None);
}

/// The sender extension: up to 8 digits go out and the sandbox records the sending number (the
/// documentation's 7-digit service code followed by them); 9 digits are refused before any request.
#[tokio::test]
async fn sender_extensions_of_up_to_8_digits_reach_the_sandbox() {
    let sandbox = sandbox().await;
    let client = JuxiangClient::new(config(&sandbox).sender_extension("12345678")).unwrap();
    let receipt = client
        .send(&Message::text(number(13_700_700_001), "通知"))
        .await
        .unwrap();
    assert!(receipt.all_accepted());
    assert_eq!(
        sandbox.messages()[0].sender_number.as_deref(),
        Some("088800812345678")
    );
    let e = JuxiangClient::new(config(&sandbox).sender_extension("123456789")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Configuration);
    assert!(e.to_string().contains("1 to 8 digits"), "{e}");
    assert_eq!(sandbox.request_count(Product::Juxiang), 1);
}

/// Records when each pull happened (tokio time) and forwards it to the real client.
struct Timed {
    client: JuxiangClient,
    calls: Mutex<Vec<tokio::time::Instant>>,
}

#[async_trait]
impl InboundSource for Timed {
    async fn next_inbound(&self) -> Result<Option<InboundMessage>, Error> {
        self.calls.lock().unwrap().push(tokio::time::Instant::now());
        self.client.next_inbound().await
    }
}

/// The polling adapter over the sandbox keeps more than 5 s between readsms calls (the provider's
/// rule) while draining, in paused time. A 1 ms heartbeat keeps auto-advance from jumping over the real loopback I/O.
#[tokio::test(start_paused = true)]
async fn polling_the_sandbox_keeps_more_than_five_seconds_between_calls() {
    use futures_util::StreamExt;
    let heartbeat = tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let sandbox = sandbox().await;
    for (from, text) in [
        ("13700600001", "一"),
        ("13700600002", "二"),
        ("13700600003", "0000"),
    ] {
        sandbox.inject_inbound(InboundReply::new(Product::Juxiang, from, text));
    }
    let client = JuxiangClient::new(config(&sandbox).http(HttpConfig {
        request_timeout: Duration::from_secs(3600),
        ..HttpConfig::default()
    }))
    .unwrap();
    let source = Arc::new(Timed {
        client,
        calls: Mutex::default(),
    });
    let replies: Vec<InboundMessage> = sms_core::inbound_stream(source.clone(), sms_juxiang::POLL_INTERVAL)
        .take(3)
        .map(Result::unwrap)
        .collect()
        .await;
    heartbeat.abort();
    let texts: Vec<(&str, bool)> = replies.iter().map(|m| (m.text.as_str(), m.opt_out)).collect();
    assert_eq!(texts, [("一", false), ("二", false), ("0000", true)]);
    let calls = source.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    for pair in calls.windows(2) {
        assert!(
            pair[1] - pair[0] > Duration::from_secs(5),
            "{:?}",
            pair[1] - pair[0]
        );
    }
    assert_eq!(sandbox.request_count(Product::Juxiang), 3);
}

/// A push receiver as an application would write it: parse, record opt-outs, answer exactly `0`.
async fn receiver(opt_outs: Arc<Mutex<Vec<String>>>, fail: bool) -> WireServer {
    WireServer::start(move |request: &CapturedRequest| {
        if fail {
            return Reply::ok(ack_failure(1));
        }
        match parse_reply(&request.body) {
            Ok(push) => {
                if push.is_opt_out() {
                    opt_outs.lock().unwrap().push(push.message.sender.clone());
                }
                Reply::ok(ACK_OK)
            }
            Err(_) => Reply::ok(ack_failure(2)),
        }
    })
    .await
}

#[tokio::test]
async fn reply_pushes_are_parsed_and_acknowledged_with_0() {
    let opt_outs = Arc::new(Mutex::new(Vec::new()));
    let receiver = receiver(Arc::clone(&opt_outs), false).await;
    let sandbox = Sandbox::builder()
        .upstream_url(Product::Juxiang, receiver.url("/mo"))
        .spawn()
        .await
        .unwrap();
    sandbox.inject_inbound(InboundReply::new(Product::Juxiang, "13700700001", "你好，收到"));
    sandbox.inject_inbound(InboundReply::new(Product::Juxiang, "13700700002", "0000"));
    let pushes = tokio::time::timeout(Duration::from_secs(10), sandbox.wait_for_pushes(2))
        .await
        .unwrap();
    assert!(
        pushes.iter().all(|p| p.succeeded && p.attempts == 1),
        "{pushes:?}"
    );
    assert_eq!(*opt_outs.lock().unwrap(), ["13700700002"]);
    let parsed: Vec<(String, String, bool)> = receiver
        .requests()
        .iter()
        .map(|r| {
            let m = parse_reply(&r.body).unwrap().message;
            (m.sender, m.text, m.opt_out)
        })
        .collect();
    assert!(parsed.contains(&("13700700001".to_owned(), "你好，收到".to_owned(), false)));
    assert!(parsed.contains(&("13700700002".to_owned(), "0000".to_owned(), true)));
}

#[tokio::test]
async fn a_negative_acknowledgement_is_a_failed_push() {
    let receiver = receiver(Arc::default(), true).await;
    let sandbox = Sandbox::builder()
        .upstream_url(Product::Juxiang, receiver.url("/mo"))
        .push_retries(0)
        .spawn()
        .await
        .unwrap();
    sandbox.inject_inbound(InboundReply::new(Product::Juxiang, "13700700003", "hi"));
    let pushes = tokio::time::timeout(Duration::from_secs(10), sandbox.wait_for_pushes(1))
        .await
        .unwrap();
    assert!(!pushes[0].succeeded, "{pushes:?}");
}

#[tokio::test]
async fn every_fault_maps_to_its_error_kind() {
    let sandbox = sandbox().await;
    let client = JuxiangClient::new(config(&sandbox).http(HttpConfig {
        request_timeout: Duration::from_millis(500),
        ..HttpConfig::default()
    }))
    .unwrap();
    // (fault, kind, whether the sandbox accepted the message before the answer broke)
    let cases = [
        (FaultKind::HttpStatus(503), ErrorKind::Unavailable, false),
        (FaultKind::HttpStatus(500), ErrorKind::Ambiguous, false),
        (FaultKind::CloseWithoutResponse, ErrorKind::Ambiguous, false),
        (FaultKind::Hang, ErrorKind::Ambiguous, false),
        (FaultKind::ResetMidBody, ErrorKind::Ambiguous, true),
        (FaultKind::GarbledBody, ErrorKind::Protocol, true),
        (FaultKind::OversizedBody, ErrorKind::Protocol, true),
        (
            FaultKind::ProviderCode("6013".into()),
            ErrorKind::InsufficientBalance,
            false,
        ),
        (
            FaultKind::ProviderCode("6007".into()),
            ErrorKind::ProviderFault,
            false,
        ),
        (
            FaultKind::ProviderCode("9999".into()),
            ErrorKind::ProviderFault,
            false,
        ),
    ];
    for (index, (fault, kind, recorded)) in cases.into_iter().enumerate() {
        let before = sandbox.messages().len();
        sandbox.inject_fault(
            Fault::new(fault.clone())
                .target(FaultTarget::Product(Product::Juxiang))
                .next(1),
        );
        let message = Message::text(number(13_700_800_000 + index as u64), "通知");
        let e = client.send(&message).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{fault:?}: {e:?}");
        assert_eq!(e.provider(), Some("juxiang"));
        match kind {
            ErrorKind::Ambiguous | ErrorKind::Protocol => {
                assert!(e.is_ambiguous() && !e.can_failover(), "{fault:?}")
            }
            _ => assert!(e.can_failover(), "{fault:?}"),
        }
        let accepted = sandbox.messages().len() - before;
        assert_eq!(accepted, usize::from(recorded), "{fault:?}");
    }
    // The faults were one-shot: the next request goes through.
    client
        .send(&Message::text(number(13_700_800_100), "通知"))
        .await
        .unwrap();
    // An answer slower than the request timeout: the message may have gone out.
    sandbox.inject_fault(
        Fault::latency(Duration::from_secs(1))
            .target(FaultTarget::Product(Product::Juxiang))
            .next(1),
    );
    let e = client
        .send(&Message::text(number(13_700_800_101), "通知"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Ambiguous, "{e:?}");
    assert!(e.is_ambiguous() && !e.can_failover());
    // Queries: unreadable answers are protocol errors that do not claim a message went out.
    sandbox.inject_fault(
        Fault::new(FaultKind::GarbledBody)
            .target(FaultTarget::Product(Product::Juxiang))
            .next(1),
    );
    let e = client.balance().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(!e.is_ambiguous() && e.can_failover());
    sandbox.inject_fault(
        Fault::new(FaultKind::ProviderCode("6017".into()))
            .target(FaultTarget::Product(Product::Juxiang))
            .next(1),
    );
    let e = client.balance().await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::ProviderFault, Some("6017")));

    // A truncated answer that still reads `num=1&success=<number>&` is a success: the sandbox cut its
    // answer after accepting the message, and `num > 0` is the provider's only success signal.
    let before = sandbox.messages().len();
    sandbox.inject_fault(
        Fault::new(FaultKind::TruncatedBody)
            .target(FaultTarget::Product(Product::Juxiang))
            .next(1),
    );
    let to = number(13_700_800_099);
    let receipt = client.send(&Message::text(to.clone(), "通知")).await.unwrap();
    assert!(receipt.outcome_for(&to).unwrap().is_accepted(), "{receipt:?}");
    assert_eq!(sandbox.messages().len() - before, 1);
}
