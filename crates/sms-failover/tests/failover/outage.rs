//! Outages: a provider that refuses connections, hangs, or answers late after its breaker opened.

use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{AmbiguityPolicy, ErrorKind, MessageSender};
use sms_failover::{BreakerConfig, BreakerState, RetryPolicy};

use crate::support::*;

/// A breaker that opens after `threshold` failures and stays open for an hour.
fn hour_breaker(threshold: u32) -> BreakerConfig {
    BreakerConfig::default()
        .failure_threshold(threshold)
        .cool_down(Duration::from_secs(3600))
}

#[tokio::test(start_paused = true)]
async fn a_refused_connection_moves_on_at_once_without_retrying() {
    let a = failing("a", ErrorKind::Unreachable);
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]).retry(plain_retry().max_attempts_per_provider(3)));
    let start = tokio::time::Instant::now();
    let receipt = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect("sent via b");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(
        a.call_count(),
        1,
        "nothing was sent and the provider is down: no retry"
    );
    assert_eq!(
        call_offsets_ms(&b, start),
        [0],
        "no pause before the next provider"
    );
}

#[tokio::test(start_paused = true)]
async fn no_pause_is_taken_for_a_provider_whose_breaker_just_opened() {
    let a = failing("a", ErrorKind::Unavailable);
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .retry(plain_retry().max_attempts_per_provider(3))
            .circuit_breaker(hour_breaker(1)),
    );
    let start = tokio::time::Instant::now();
    let receipt = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect("sent via b");
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [
            ("a".to_owned(), ErrorKind::Unavailable),
            ("a".to_owned(), ErrorKind::CircuitOpen),
        ]
    );
    assert_eq!(
        call_offsets_ms(&b, start),
        [0],
        "the retry would only find the breaker open"
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_success_from_before_the_opening_does_not_close_the_breaker() {
    // The first request answers after 3 s; meanwhile the second fails and opens the breaker.
    let a = Arc::new(
        StubSender::new("a")
            .then(StubOutcome::Accept.after(Duration::from_secs(3)))
            .always(StubOutcome::fail(ErrorKind::Unavailable)),
    );
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .retry(RetryPolicy::no_retries().without_attempt_timeout())
            .circuit_breaker(hour_breaker(1).slow_call_threshold(None)),
    );
    let first_message = text_to(number("13800138000"));
    let slow = chain.send(&first_message);
    let failing = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        chain.send(&text_to(number("13800138001"))).await
    };
    let (slow, failing) = tokio::join!(slow, failing);
    assert_eq!(slow.expect("accepted late").providers(), ["a"]);
    assert_eq!(failing.expect("via b").providers(), ["b"]);
    assert_eq!(
        chain.health()[0].breaker,
        BreakerState::Open,
        "the late success changes nothing"
    );
    let receipt = chain.send(&text_to(number("13800138002"))).await.expect("via b");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(
        a.call_count(),
        2,
        "the open breaker kept the third send away from a"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_calls_trip_the_breaker_before_their_timeout_so_later_sends_leave_a_hanging_provider() {
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Hang));
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .ambiguity_policy(AmbiguityPolicy::AtLeastOnce)
            .retry(plain_retry().attempt_timeout(Duration::from_secs(10)))
            .circuit_breaker(hour_breaker(2).slow_call_threshold(Some(Duration::from_secs(1)))),
    );
    let start = tokio::time::Instant::now();
    let hanging = numbers(2);
    let (m0, m1) = (text_to(hanging[0].clone()), text_to(hanging[1].clone()));
    let first = chain.send(&m0);
    let second = chain.send(&m1);
    let later = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let receipt = chain.send(&text_to(number("13900139000"))).await;
        (receipt, start.elapsed())
    };
    let (first, second, (later, later_done)) = tokio::join!(first, second, later);
    let later = later.expect("via b");
    assert_eq!(later.providers(), ["b"]);
    assert_eq!(
        attempt_summary(&later.attempts),
        [("a".to_owned(), ErrorKind::CircuitOpen)]
    );
    assert_eq!(later_done, Duration::from_millis(1500), "no wait for a");
    assert_eq!(
        a.call_count(),
        2,
        "the third send never reached the hanging provider"
    );
    // The hanging ones end at their own attempt timeout and fail over (at least once).
    for receipt in [first, second] {
        let receipt = receipt.expect("via b after the timeout");
        assert_eq!(receipt.providers(), ["b"]);
        assert_eq!(receipt.attempts[0].error.kind(), ErrorKind::Ambiguous);
        assert_eq!(receipt.attempts[0].elapsed, Duration::from_secs(10));
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_probe_reopens_the_breaker() {
    let clock = crate::backend::manual_clock();
    let a = Arc::new(
        StubSender::new("a")
            .then(StubOutcome::fail(ErrorKind::Unavailable))
            .always(StubOutcome::Accept.after(Duration::from_secs(3))),
    );
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .clock(clock.clone())
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(
                BreakerConfig::default()
                    .failure_threshold(1)
                    .cool_down(Duration::from_secs(30))
                    .slow_call_threshold(Some(Duration::from_secs(2))),
            ),
    );
    chain.send(&text_to(number("13800138000"))).await.expect("via b");
    clock.advance(Duration::from_secs(30));
    let receipt = chain
        .send(&text_to(number("13800138001")))
        .await
        .expect("the slow probe");
    assert_eq!(
        receipt.providers(),
        ["a"],
        "it answered within the attempt timeout"
    );
    assert_eq!(chain.health()[0].breaker, BreakerState::Open, "but too slowly");
}

#[test]
fn the_defaults_bound_a_hanging_provider() {
    let retry = RetryPolicy::default();
    assert_eq!(retry.attempt_timeout, Some(Duration::from_secs(5)));
    // A hanging provider costs sequential senders at most three attempt timeouts before the breaker
    // sends everything elsewhere.
    assert_eq!(BreakerConfig::default().failure_threshold, 3);
    assert_eq!(
        BreakerConfig::default().slow_call_threshold,
        Some(Duration::from_secs(2))
    );
}
