//! Circuit breakers: skip a failing provider without a request, probe it after a cool-down.

use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{ErrorKind, MessageSender};
use sms_failover::{BreakerConfig, BreakerState, RetryPolicy};

use crate::support::*;

fn breaker(threshold: u32) -> BreakerConfig {
    BreakerConfig::default()
        .failure_threshold(threshold)
        .cool_down(Duration::from_secs(30))
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_skips_its_provider_without_any_request() {
    let a = failing("a", ErrorKind::Unavailable);
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(breaker(2)),
    );
    for to in numbers(2) {
        assert_eq!(chain.send(&text_to(to)).await.expect("sent").providers(), ["b"]);
    }
    assert_eq!(chain.health()[0].breaker, BreakerState::Open);
    let receipt = chain.send(&text_to(number("13900139000"))).await.expect("sent");
    assert_eq!(a.call_count(), 2, "no third request to a");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [("a".to_owned(), ErrorKind::CircuitOpen)]
    );
    assert_eq!(receipt.attempts[0].elapsed, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn retries_count_towards_the_breaker_and_stop_once_it_opens() {
    let a = failing("a", ErrorKind::Unavailable);
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .retry(plain_retry().max_attempts_per_provider(5))
            .circuit_breaker(breaker(2)),
    );
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(a.call_count(), 2, "the third retry finds the breaker open");
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [
            ("a".to_owned(), ErrorKind::Unavailable),
            ("a".to_owned(), ErrorKind::Unavailable),
            ("a".to_owned(), ErrorKind::CircuitOpen),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_breaker() {
    let a = failing("a", ErrorKind::ProviderFault);
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(breaker(1)),
    );
    chain
        .send(&text_to(number("13800138000")))
        .await
        .expect("sent via b");
    assert_eq!(chain.health()[0].breaker, BreakerState::Open);

    tokio::time::advance(Duration::from_secs(29)).await;
    chain
        .send(&text_to(number("13800138001")))
        .await
        .expect("sent via b");
    assert_eq!(a.call_count(), 1, "still cooling down");

    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(chain.health()[0].breaker, BreakerState::HalfOpen);
    a.set_default(StubOutcome::Accept);
    let receipt = chain.send(&text_to(number("13800138002"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["a"], "the probe succeeded");
    assert_eq!(chain.health()[0].breaker, BreakerState::Closed);
    chain.send(&text_to(number("13800138003"))).await.expect("sent");
    assert_eq!(a.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_the_breaker_for_another_cool_down() {
    let a = failing("a", ErrorKind::Unavailable);
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(breaker(3)),
    );
    for to in numbers(3) {
        chain.send(&text_to(to)).await.expect("sent via b");
    }
    assert_eq!(chain.health()[0].breaker, BreakerState::Open);
    tokio::time::advance(Duration::from_secs(30)).await;
    chain
        .send(&text_to(number("13900139000")))
        .await
        .expect("sent via b");
    assert_eq!(a.call_count(), 4, "one probe");
    assert_eq!(
        chain.health()[0].breaker,
        BreakerState::Open,
        "a single failed probe reopens it"
    );
    tokio::time::advance(Duration::from_secs(29)).await;
    chain
        .send(&text_to(number("13900139001")))
        .await
        .expect("sent via b");
    assert_eq!(a.call_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn caller_mistakes_never_open_the_breaker() {
    let a = failing("a", ErrorKind::InvalidRecipient);
    let chain = build(chain_of(&[&a]).circuit_breaker(breaker(1)));
    for to in numbers(5) {
        assert_eq!(
            chain.send(&text_to(to)).await.expect_err("refused").kind(),
            ErrorKind::InvalidRecipient
        );
    }
    assert_eq!(a.call_count(), 5);
    assert_eq!(chain.health()[0].breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn when_every_breaker_is_open_nothing_is_requested() {
    let a = failing("a", ErrorKind::Unavailable);
    let b = failing("b", ErrorKind::Unavailable);
    let chain = build(
        chain_of(&[&a, &b])
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(breaker(1)),
    );
    chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("both down");
    let err = chain
        .send(&text_to(number("13800138001")))
        .await
        .expect_err("both open");
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed);
    assert_eq!(
        attempt_summary(err.attempts()),
        [
            ("a".to_owned(), ErrorKind::CircuitOpen),
            ("b".to_owned(), ErrorKind::CircuitOpen)
        ]
    );
    assert_eq!((a.call_count(), b.call_count()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_manual_clock_drives_the_cool_down() {
    let clock = crate::backend::manual_clock();
    let a = Arc::new(StubSender::new("a").then(StubOutcome::fail(ErrorKind::Unavailable)));
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .clock(clock.clone())
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(breaker(1)),
    );
    chain
        .send(&text_to(number("13800138000")))
        .await
        .expect("sent via b");
    // Tokio time moving does not matter; the injected clock does.
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(chain.health()[0].breaker, BreakerState::Open);
    clock.advance(Duration::from_secs(30));
    let receipt = chain.send(&text_to(number("13800138001"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["a"]);
}

#[tokio::test(start_paused = true)]
async fn the_chains_own_deadline_cut_does_not_count_against_the_breaker() {
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Hang));
    // No attempt timeout and no slow-call detection: only the deadline ends the wait.
    let chain = build(
        chain_of(&[&a])
            .retry(
                plain_retry()
                    .deadline(Duration::from_secs(5))
                    .without_attempt_timeout(),
            )
            .circuit_breaker(breaker(1).slow_call_threshold(None)),
    );
    let err = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("cut by the deadline");
    assert!(err.is_ambiguous());
    assert!(err.message().contains("deadline"), "{err}");
    let health = &chain.health()[0];
    assert_eq!(
        (health.breaker, health.consecutive_failures),
        (BreakerState::Closed, 0)
    );
    assert_eq!(health.requests, 1);

    // A provider that does not answer within its own attempt timeout does count.
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Hang));
    let chain = build(
        chain_of(&[&a])
            .retry(
                plain_retry()
                    .deadline(Duration::from_secs(5))
                    .attempt_timeout(Duration::from_secs(1)),
            )
            .circuit_breaker(breaker(1)),
    );
    let err = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("timed out");
    assert!(err.message().contains("attempt timeout"), "{err}");
    assert_eq!(chain.health()[0].breaker, BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_probe_cut_by_the_deadline_leaves_the_next_request_to_probe() {
    let clock = crate::backend::manual_clock();
    let a = Arc::new(StubSender::new("a").then(StubOutcome::fail(ErrorKind::Unavailable)));
    let chain = build(
        chain_of(&[&a])
            .clock(clock.clone())
            .retry(
                RetryPolicy::no_retries()
                    .deadline(Duration::from_secs(5))
                    .without_attempt_timeout(),
            )
            .circuit_breaker(breaker(1).slow_call_threshold(None)),
    );
    chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("opens the breaker");
    clock.advance(Duration::from_secs(30));
    a.push(StubOutcome::Hang);
    chain
        .send(&text_to(number("13800138001")))
        .await
        .expect_err("the probe is cut by the deadline");
    assert_eq!(chain.health()[0].breaker, BreakerState::HalfOpen);
    let receipt = chain.send(&text_to(number("13800138002"))).await.expect("probe");
    assert_eq!(receipt.providers(), ["a"]);
    assert_eq!(chain.health()[0].breaker, BreakerState::Closed);
}
