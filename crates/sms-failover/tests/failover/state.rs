//! The chain's state through its traits: idempotency by client reference, a failing backend (the
//! message is not sent, and the error says why), failing open by choice, limits per provider account,
//! and breaker trips shared between separately built chains.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sms_core::testkit::StubOutcome;
use sms_core::{ClientReference, Error, ErrorKind, MessageSender, PhoneNumber};
use sms_failover::state::{
    Adjustment, Admission, BreakerSharing, ChainState, Charge, FailOpen, IdempotencyStore, RecipientLimiter,
    RecordedOutcome, Reservation, SharedBreaker, SpendAdmission, SpendLedger, SuppressionList,
    backend_unavailable,
};
use sms_failover::{BreakerConfig, LimitScope, LimitWindow, RecipientLimits};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn a_reference_sent_twice_goes_out_once_and_the_second_gets_the_first_outcome() {
    let a = stub("a");
    let chain = build(chain_of(&[&a]));
    let message = text_to(number("13800138000")).with_reference("order-1");
    let first = chain.send(&message).await.expect("sent");
    let second = chain.send(&message).await.expect("the first outcome");
    assert_eq!(a.call_count(), 1, "no second request");
    assert_eq!(
        second.message_ids().collect::<Vec<_>>(),
        first.message_ids().collect::<Vec<_>>()
    );
    assert_eq!(second.providers(), ["a"]);
    // Another reference is another message.
    chain
        .send(&text_to(number("13800138000")).with_reference("order-2"))
        .await
        .expect("sent");
    assert_eq!(a.call_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_reference_in_flight_is_refused_as_unknown_without_a_request() {
    let a = Arc::new(
        sms_core::testkit::StubSender::new("a").always(StubOutcome::Accept.after(Duration::from_secs(1))),
    );
    let chain = build(chain_of(&[&a]));
    let message = text_to(number("13800138000")).with_reference("order-3");
    let (first, second) = tokio::join!(chain.send(&message), async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        chain.send(&message).await
    });
    first.expect("the first goes out");
    let e = second.expect_err("in flight");
    assert!(e.is_ambiguous(), "{e}");
    assert!(e.message().contains("order-3"), "{e}");
    assert_eq!(a.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_outcome_is_kept_and_the_reference_is_never_sent_again() {
    let a = failing("a", ErrorKind::Ambiguous);
    let chain = build(chain_of(&[&a]));
    let message = text_to(number("13800138000")).with_reference("order-4");
    assert!(chain.send(&message).await.expect_err("unknown").is_ambiguous());
    let again = chain.send(&message).await.expect_err("still unknown");
    assert!(again.is_ambiguous(), "{again}");
    assert!(again.message().contains("replayed without a request"), "{again}");
    assert_eq!(a.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_send_that_failed_cleanly_frees_its_reference_for_a_retry() {
    let a = Arc::new(
        sms_core::testkit::StubSender::new("a")
            .then(StubOutcome::fail(ErrorKind::InsufficientBalance))
            .always(StubOutcome::Accept),
    );
    let chain = build(chain_of(&[&a]));
    let message = text_to(number("13800138000")).with_reference("order-5");
    let e = chain.send(&message).await.expect_err("no credit");
    assert!(!e.is_ambiguous());
    chain
        .send(&message)
        .await
        .expect("nothing went out the first time: sent now");
    assert_eq!(a.call_count(), 2);
}

/// A backend that is down: every call fails.
struct Down;

fn down(check: &str) -> Error {
    backend_unavailable("test-backend", check, "connection refused")
}

#[async_trait]
impl SuppressionList for Down {
    async fn suppressed(&self, _: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        Err(down("opt-outs"))
    }
    async fn suppress(&self, _: &PhoneNumber) -> Result<(), Error> {
        Err(down("opt-outs"))
    }
    async fn unsuppress(&self, _: &PhoneNumber) -> Result<bool, Error> {
        Err(down("opt-outs"))
    }
}

#[async_trait]
impl RecipientLimiter for Down {
    async fn admit(&self, _: &str, _: &[PhoneNumber], _: &[LimitWindow]) -> Result<Vec<Admission>, Error> {
        Err(down("recipient limits"))
    }
}

#[async_trait]
impl IdempotencyStore for Down {
    async fn reserve(&self, _: &ClientReference, _: Duration) -> Result<Reservation, Error> {
        Err(down("idempotency"))
    }
    async fn complete(&self, _: &ClientReference, _: &RecordedOutcome, _: Duration) -> Result<(), Error> {
        Err(down("idempotency"))
    }
    async fn release(&self, _: &ClientReference) -> Result<(), Error> {
        Err(down("idempotency"))
    }
}

#[async_trait]
impl BreakerSharing for Down {
    async fn admit(&self, _: &str, _: Duration) -> Result<SharedBreaker, Error> {
        Err(down("breaker sharing"))
    }
    async fn trip(&self, _: &str, _: Duration) -> Result<(), Error> {
        Err(down("breaker sharing"))
    }
    async fn close(&self, _: &str) -> Result<(), Error> {
        Err(down("breaker sharing"))
    }
    async fn release_probe(&self, _: &str) -> Result<(), Error> {
        Err(down("breaker sharing"))
    }
}

/// The whole state down: its start fails as its first check does.
impl ChainState for Down {}

#[async_trait]
impl SpendLedger for Down {
    async fn charge(&self, _: &[Charge], _: u64) -> Result<SpendAdmission, Error> {
        Err(down("spend caps"))
    }
    async fn settle(&self, _: &[Adjustment], _: u64) -> Result<(), Error> {
        Err(down("spend caps"))
    }
    async fn usage(&self, _: &[String]) -> Result<Vec<u64>, Error> {
        Err(down("spend caps"))
    }
}

/// Puts [`Down`] in one place of a chain's state.
type WithDown = fn(sms_failover::FailoverSenderBuilder, Arc<Down>) -> sms_failover::FailoverSenderBuilder;

#[tokio::test(start_paused = true)]
async fn a_failing_state_backend_stops_the_send_and_says_why() {
    let down = Arc::new(Down);
    let setups: [(&str, WithDown); 4] = [
        ("opt-outs", |b, d| b.suppression_list(d)),
        ("recipient limits", |b, d| b.recipient_limiter(d)),
        ("idempotency", |b, d| b.idempotency_store(d)),
        ("breaker sharing", |b, d| b.breaker_sharing(d)),
    ];
    for (check, with) in setups {
        let a = stub("a");
        let b = stub("b");
        let chain = build(with(
            chain_of(&[&a, &b]).recipient_limits(RecipientLimits::default()),
            down.clone(),
        ));
        let e = chain
            .send(&text_to(numbers(3)))
            .await
            .expect_err("no state, no send");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{check}: {e}");
        assert!(e.is_retryable(), "{check}");
        assert_eq!(e.provider(), Some("test-backend"), "{check}: {e}");
        assert!(
            e.message().contains(check) && e.message().contains("not sent"),
            "{check}: {e}"
        );
        assert_eq!((a.call_count(), b.call_count()), (0, 0), "{check}: no request");
    }
}

#[tokio::test(start_paused = true)]
async fn failing_open_is_a_choice_per_trait() {
    let a = stub("a");
    let chain = build(
        chain_of(&[&a])
            .recipient_limits(RecipientLimits::default())
            .suppression_list(Arc::new(FailOpen::new(Down)))
            .recipient_limiter(Arc::new(FailOpen::new(Down)))
            .idempotency_store(Arc::new(FailOpen::new(Down)))
            .breaker_sharing(Arc::new(FailOpen::new(Down))),
    );
    chain
        .send(&text_to(numbers(2)))
        .await
        .expect("sent despite the backend");
    assert_eq!(a.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_whole_state_that_fails_stops_the_send_unless_it_fails_open() {
    let a = stub("a");
    let chain = build(
        chain_of(&[&a])
            .recipient_limits(RecipientLimits::default())
            .shared_state(Arc::new(Down)),
    );
    let e = chain
        .send(&text_to(numbers(2)))
        .await
        .expect_err("no state, no send");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(e.provider(), Some("test-backend"), "{e}");
    assert_eq!(a.call_count(), 0, "nothing went out");
    let chain = build(
        chain_of(&[&a])
            .recipient_limits(RecipientLimits::default())
            .shared_state(Arc::new(FailOpen::new(Down))),
    );
    chain
        .send(&text_to(numbers(2)))
        .await
        .expect("sent despite the backend");
    assert_eq!(a.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn limits_per_provider_account_count_at_each_provider_and_fail_over() {
    let a = stub("a");
    let b = stub("b");
    let limits = RecipientLimits::disabled()
        .with_limit(1, Duration::from_secs(60))
        .scope(LimitScope::ProviderAccount);
    let chain = build(chain_of(&[&a, &b]).recipient_limits(limits));
    let to = number("13800138000");
    chain.send(&text_to(to.clone())).await.expect("a takes it");
    let second = chain
        .send(&text_to(to.clone()))
        .await
        .expect("b's account has room");
    assert_eq!(second.providers(), ["b"]);
    assert_eq!(second.attempts[0].error.kind(), ErrorKind::RecipientThrottled);
    assert_eq!((a.call_count(), b.call_count()), (1, 1));
    let third = chain
        .send(&text_to(to.clone()))
        .await
        .expect_err("both accounts spent");
    assert_eq!(third.attempts().len(), 2, "{third:#}");
    assert!(
        third
            .attempts()
            .iter()
            .all(|t| t.error.kind() == ErrorKind::RecipientThrottled),
        "{third:#}"
    );
    assert_eq!(
        (a.call_count(), b.call_count()),
        (1, 1),
        "no request for the third"
    );
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(
        chain
            .send(&text_to(to))
            .await
            .expect("a minute later")
            .providers(),
        ["a"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_breaker_tripped_by_one_chain_sends_the_others_straight_to_the_next_provider() {
    let sharing = crate::backend::breaker_sharing();
    let primary = failing("primary", ErrorKind::Unavailable);
    let secondary = stub("secondary");
    let make = || {
        build(
            chain_of(&[&primary, &secondary])
                .circuit_breaker(
                    BreakerConfig::default()
                        .failure_threshold(1)
                        .cool_down(Duration::from_secs(30)),
                )
                .breaker_sharing(sharing.clone()),
        )
    };
    let (one, other) = (make(), make());
    one.send(&text_to(number("13800138000")))
        .await
        .expect("secondary");
    assert_eq!(primary.call_count(), 1);
    let receipt = other
        .send(&text_to(number("13800138001")))
        .await
        .expect("secondary");
    assert_eq!(receipt.attempts[0].error.kind(), ErrorKind::CircuitOpen);
    assert_eq!(
        primary.call_count(),
        1,
        "the other chain skipped it without a request"
    );
    // After the cool-down, one probe from either chain; then the primary (still failing) is open again.
    tokio::time::advance(Duration::from_secs(30)).await;
    let (m1, m2) = (text_to(number("13800138002")), text_to(number("13800138003")));
    let (x, y) = tokio::join!(other.send(&m1), one.send(&m2));
    x.expect("sent");
    y.expect("sent");
    assert_eq!(primary.call_count(), 2, "exactly one probe");
}
