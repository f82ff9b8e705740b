//! Adaptive routing through the chain: send errors move weight, operator overrides pick the first
//! provider, providers without receipts are judged on their errors, bad settings are refused.

use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{ErrorKind, Message, MessageSender, PhoneNumber};

use sms_failover::adaptive::{Reason, ReceiptState, SentMessage, Verdict};
use sms_failover::{
    AdaptiveSettings, BreakerConfig, FailoverSender, ManualClock, ProviderEntry, ReceiptEvidence,
    RecipientLimits, Strategy,
};

fn chain(
    clock: Arc<ManualClock>,
    a: Arc<StubSender>,
    b: Arc<StubSender>,
    c: Arc<StubSender>,
) -> FailoverSender {
    FailoverSender::builder()
        .strategy(Strategy::Adaptive)
        .clock(clock)
        .random_seed(3)
        .recipient_limits(RecipientLimits::disabled())
        .without_idempotency()
        // Breakers would stop the requests to a failing provider long before 50 errors.
        .circuit_breaker(BreakerConfig::default().failure_threshold(10_000))
        .provider(ProviderEntry::new(a).priority(0))
        .provider(ProviderEntry::new(b).priority(1))
        .provider(ProviderEntry::new(c).priority(2))
        .build()
        .expect("valid chain")
}

async fn send_many(chain: &FailoverSender, count: u64) -> Vec<String> {
    let mut firsts = Vec::new();
    for i in 0..count {
        let to: PhoneNumber = (13_900_000_000 + i).to_string().parse().expect("number");
        let receipt = chain
            .send(&Message::text(to, "【示例】验证码 1234"))
            .await
            .expect("sent");
        firsts.push(receipt.providers()[0].to_owned());
    }
    firsts
}

#[tokio::test(start_paused = true)]
async fn fifty_send_errors_in_a_minute_demote_a_provider() {
    let clock = Arc::new(ManualClock::new());
    let a = Arc::new(StubSender::new("a").always(StubOutcome::fail(ErrorKind::ProviderFault)));
    let b = Arc::new(StubSender::new("b"));
    let c = Arc::new(StubSender::new("c"));
    let chain = chain(clock.clone(), a.clone(), b, c);
    let router = chain.adaptive_router().expect("adaptive").clone();
    // Until a has failed 50 times within the error window, it keeps its weight.
    let mut sends = 0;
    while a.calls().len() < 49 {
        send_many(&chain, 1).await;
        sends += 1;
        assert!(sends < 1000, "a is picked first about a third of the time");
    }
    let decision = router.evaluate().await.expect("no receipt source to fail");
    assert_eq!(decision.reason, Reason::AtRest);
    assert_eq!(decision.verdicts[0], Verdict::Healthy);
    while a.calls().len() < 50 {
        send_many(&chain, 1).await;
        sends += 1;
        assert!(sends < 1000, "a is picked first about a third of the time");
    }
    let decision = router.evaluate().await.expect("evaluated");
    assert_eq!(
        decision.reason,
        Reason::Demoted {
            sick: vec![0],
            healthy: vec![1, 2]
        }
    );
    assert_eq!(router.weights(), [24, 38, 38]);
    let change = router.history().pop().expect("the change is kept");
    assert_eq!(change.reason, "demoted");
    assert_eq!(change.providers[0].evidence.send_errors, 50);
    assert_eq!((change.providers[0].before, change.providers[0].after), (34, 24));
}

#[tokio::test(start_paused = true)]
async fn errors_older_than_the_window_do_not_count() {
    let clock = Arc::new(ManualClock::new());
    let a = Arc::new(StubSender::new("a").always(StubOutcome::fail(ErrorKind::ProviderFault)));
    let chain = chain(
        clock.clone(),
        a.clone(),
        Arc::new(StubSender::new("b")),
        Arc::new(StubSender::new("c")),
    );
    let router = chain.adaptive_router().expect("adaptive").clone();
    for _ in 0..1000 {
        if a.calls().len() == 30 {
            break;
        }
        send_many(&chain, 1).await;
    }
    clock.advance(AdaptiveSettings::default().error_window);
    for _ in 0..1000 {
        if a.calls().len() == 60 {
            break;
        }
        send_many(&chain, 1).await;
    }
    let decision = router.evaluate().await.expect("evaluated");
    assert_eq!(router.snapshot()[0].evidence.send_errors, 30);
    assert_eq!(decision.reason, Reason::AtRest);
}

#[tokio::test(start_paused = true)]
async fn pin_and_drain_decide_the_first_provider() {
    let clock = Arc::new(ManualClock::new());
    let chain = chain(
        clock,
        Arc::new(StubSender::new("a")),
        Arc::new(StubSender::new("b")),
        Arc::new(StubSender::new("c")),
    );
    let router = chain.adaptive_router().expect("adaptive").clone();
    router.pin("c").expect("known provider");
    assert!(send_many(&chain, 50).await.iter().all(|p| p == "c"));
    router.clear_overrides();
    router.drain("a").expect("known provider");
    assert_eq!(router.weights(), [0, 50, 50]);
    let firsts = send_many(&chain, 200).await;
    assert!(!firsts.iter().any(|p| p == "a"), "a drained");
    assert!(firsts.iter().any(|p| p == "b") && firsts.iter().any(|p| p == "c"));
    router.drain("b").expect("c is left");
    let error = router.drain("c").expect_err("nothing would be left");
    assert!(error.to_string().contains("no provider to route to"), "{error}");
    let error = router.pin("z").expect_err("unknown");
    assert!(error.to_string().contains("no provider named \"z\""), "{error}");
    router.clear_overrides();
    assert_eq!(router.weights(), [34, 33, 33]);
    let firsts = send_many(&chain, 300).await;
    assert!(firsts.iter().any(|p| p == "a"), "back in rotation");
}

#[test]
fn settings_out_of_range_are_refused() {
    let build = |settings: AdaptiveSettings| {
        FailoverSender::builder()
            .strategy(Strategy::Adaptive)
            .adaptive(settings)
            .provider(ProviderEntry::new(Arc::new(StubSender::new("a"))))
            .provider(ProviderEntry::new(Arc::new(StubSender::new("b"))))
            .provider(ProviderEntry::new(Arc::new(StubSender::new("c"))))
            .build()
    };
    let settings = AdaptiveSettings {
        floor: 34,
        ..AdaptiveSettings::default()
    };
    let error = build(settings).expect_err("3 x 34 > 100");
    assert_eq!(error.kind(), ErrorKind::Configuration);
    assert!(
        error.to_string().contains("floor of 34 points for 3 providers"),
        "{error}"
    );
    let settings = AdaptiveSettings {
        floor: 0,
        ..AdaptiveSettings::default()
    };
    assert!(
        build(settings)
            .expect_err("floor 0")
            .to_string()
            .contains("at least 1 point")
    );
    let mut settings = AdaptiveSettings::default();
    settings.receipt_window = settings.late_after;
    assert!(
        build(settings)
            .expect_err("window")
            .to_string()
            .contains("old enough to judge")
    );
    let settings = AdaptiveSettings {
        floor: 33,
        ..AdaptiveSettings::default()
    };
    assert!(build(settings).is_ok(), "3 x 33 fits");
}

/// Receipts as a fixed list.
#[derive(Debug)]
struct FixedReceipts(Vec<SentMessage>);

#[async_trait::async_trait]
impl ReceiptEvidence for FixedReceipts {
    async fn sent_within(&self, _window: Duration) -> Result<Vec<SentMessage>, sms_core::Error> {
        Ok(self.0.clone())
    }
}

#[tokio::test(start_paused = true)]
async fn a_provider_without_receipts_is_judged_on_send_errors_alone() {
    let pushing = |name: &str| {
        let stub = StubSender::new(name);
        let capabilities = stub.capabilities().clone().with_receipt_push();
        Arc::new(stub.with_capabilities(capabilities))
    };
    let old = Duration::from_secs(600);
    let mut messages = Vec::new();
    for i in 0..50 {
        let late = i % 5 < 2;
        let a = if late {
            ReceiptState::Pending
        } else {
            ReceiptState::Delivered(Duration::from_secs(3))
        };
        messages.push(SentMessage::new("a", old, a));
        messages.push(SentMessage::new(
            "b",
            old,
            ReceiptState::Delivered(Duration::from_secs(3)),
        ));
        // c sends no receipts: every message of it looks pending.
        messages.push(SentMessage::new("c", old, ReceiptState::Pending));
    }
    let chain = FailoverSender::builder()
        .strategy(Strategy::Adaptive)
        .clock(Arc::new(ManualClock::new()))
        .receipt_evidence(Arc::new(FixedReceipts(messages)))
        .provider(ProviderEntry::new(pushing("a")))
        .provider(ProviderEntry::new(pushing("b")))
        .provider(ProviderEntry::new(Arc::new(StubSender::new("c"))))
        .build()
        .expect("valid chain");
    let router = chain.adaptive_router().expect("adaptive");
    let decision = router.evaluate().await.expect("evaluated");
    assert_eq!(
        decision.verdicts,
        [Verdict::Sick, Verdict::Healthy, Verdict::Healthy]
    );
    assert_eq!(router.weights(), [24, 38, 38]);
    assert_eq!(
        router.snapshot()[2].evidence.receipts,
        None,
        "c's receipts say nothing"
    );
}
