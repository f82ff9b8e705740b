//! Retry here, move on, or stop: each decision comes from the core error model.

use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{ErrorKind, MessageSender};
use sms_failover::{BreakerConfig, RetryPolicy};
use tokio::time::Instant;

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn a_retryable_error_is_retried_on_the_same_provider_with_exponential_backoff() {
    let a = Arc::new(
        StubSender::new("a")
            .then(StubOutcome::fail(ErrorKind::Unavailable))
            .then(StubOutcome::fail(ErrorKind::Unavailable)),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let start = Instant::now();
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["a"]);
    assert_eq!(call_offsets_ms(&a, start), [0, 100, 300]);
    assert_eq!(b.call_count(), 0);
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [
            ("a".to_owned(), ErrorKind::Unavailable),
            ("a".to_owned(), ErrorKind::Unavailable)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn jittered_pauses_stay_between_the_delay_and_twice_it() {
    let a = Arc::new(StubSender::new("a").always(StubOutcome::fail(ErrorKind::Unavailable)));
    let chain = build(
        chain_of(&[&a])
            .retry(
                RetryPolicy::default()
                    .max_attempts_per_provider(4)
                    .initial_backoff(Duration::from_millis(100))
                    .max_backoff(Duration::from_secs(1)),
            )
            // Four attempts in a row must not open the breaker before the last one.
            .circuit_breaker(BreakerConfig::default().failure_threshold(5)),
    );
    let start = Instant::now();
    let _ = chain.send(&text_to(number("13800138000"))).await;
    let at = call_offsets_ms(&a, start);
    let gaps: Vec<u128> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 3);
    for (gap, base) in gaps.iter().zip([100u128, 200, 400]) {
        assert!(
            (base..=2 * base).contains(gap),
            "gap {gap} for base {base}: {gaps:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_providers_retry_after_is_honoured() {
    let limited = error(ErrorKind::RateLimited)
        .with_code("4080")
        .with_retry_after(Duration::from_secs(1));
    let a = Arc::new(StubSender::new("a").then(StubOutcome::Fail(limited)));
    let chain = build(chain_of(&[&a]));
    let start = Instant::now();
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert!(receipt.all_accepted());
    assert_eq!(
        call_offsets_ms(&a, start),
        [0, 1000],
        "waited the provider's 1 s, not 100 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_move_on_to_the_next_provider() {
    let a = failing("a", ErrorKind::Unavailable);
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let start = Instant::now();
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(call_offsets_ms(&a, start), [0, 100, 300]);
    assert_eq!(
        call_offsets_ms(&b, start),
        [300],
        "no pause before another provider"
    );
    assert_eq!(receipt.attempts.len(), 3);
    assert!(
        receipt
            .attempts
            .iter()
            .all(|a| a.provider == "a" && a.recipients == 1)
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_another_provider_may_fix_moves_on_without_retrying() {
    for kind in [
        ErrorKind::InsufficientBalance,
        ErrorKind::AccountSuspended,
        ErrorKind::Unauthorized,
        ErrorKind::Configuration,
        ErrorKind::ContentRejected,
        ErrorKind::RecipientRejected,
        ErrorKind::ProviderFault,
        ErrorKind::Unsupported,
    ] {
        let a = failing("a", kind);
        let b = stub("b");
        let chain = build(chain_of(&[&a, &b]));
        let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
        assert_eq!(receipt.providers(), ["b"], "{kind:?}");
        assert_eq!(a.call_count(), 1, "{kind:?} is not retried");
        assert_eq!(attempt_summary(&receipt.attempts), [("a".to_owned(), kind)]);
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_no_provider_can_fix_stops_at_once() {
    for kind in [
        ErrorKind::InvalidRecipient,
        ErrorKind::InvalidContent,
        ErrorKind::InvalidRequest,
        ErrorKind::RecipientThrottled,
        ErrorKind::RecipientOptedOut,
    ] {
        let a = Arc::new(StubSender::new("a").always(StubOutcome::Fail(error(kind).with_code("406"))));
        let b = stub("b");
        let chain = build(chain_of(&[&a, &b]));
        let err = chain
            .send(&text_to(number("13800138000")))
            .await
            .expect_err("stopped");
        assert_eq!(err.kind(), kind);
        assert_eq!((err.provider(), err.code()), (Some("a"), Some("406")));
        assert_eq!(attempt_summary(err.attempts()), [("a".to_owned(), kind)]);
        assert_eq!((a.call_count(), b.call_count()), (1, 0), "{kind:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_invalid_message_fails_before_any_request() {
    let a = stub("a");
    let chain = build(chain_of(&[&a]));
    let err = chain
        .send(&sms_core::Message::text(number("13800138000"), "   "))
        .await
        .expect_err("empty text");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(a.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_retries_and_the_chain_moves_on_instead() {
    let a = failing("a", ErrorKind::Unavailable);
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b]).retry(
            plain_retry()
                .max_attempts_per_provider(10)
                .initial_backoff(Duration::from_millis(400))
                .deadline(Duration::from_secs(1)),
        ),
    );
    let start = Instant::now();
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    // 0 ms, then 400 ms; the next pause (800 ms) would end after the deadline: not started.
    assert_eq!(call_offsets_ms(&a, start), [0, 400]);
    assert_eq!(call_offsets_ms(&b, start), [400]);
    assert_eq!(receipt.providers(), ["b"]);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_deadline_is_not_waited_for() {
    let limited = error(ErrorKind::RateLimited).with_retry_after(Duration::from_secs(60));
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Fail(limited)));
    let chain = build(chain_of(&[&a]).retry(plain_retry().deadline(Duration::from_secs(5))));
    let start = Instant::now();
    let err = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("all failed");
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed);
    assert_eq!(a.call_count(), 1);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "returned at once instead of sleeping"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_still_in_flight_at_the_deadline_is_abandoned_as_ambiguous() {
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Hang));
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]).retry(plain_retry().deadline(Duration::from_secs(5))));
    let start = Instant::now();
    let err = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("ambiguous");
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(err.kind(), ErrorKind::Ambiguous);
    assert!(err.is_ambiguous());
    assert_eq!(err.attempts().len(), 1);
    assert_eq!(err.attempts()[0].elapsed, Duration::from_secs(5));
    assert_eq!(b.call_count(), 0, "at most once: it may have gone out");
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_under_at_least_once_moves_on() {
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Hang));
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b])
            .ambiguity_policy(sms_core::AmbiguityPolicy::AtLeastOnce)
            .retry(plain_retry().attempt_timeout(Duration::from_secs(2))),
    );
    let start = Instant::now();
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(call_offsets_ms(&b, start), [2000]);
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [("a".to_owned(), ErrorKind::Ambiguous)]
    );
}

#[tokio::test(start_paused = true)]
async fn when_every_provider_fails_one_error_lists_every_attempt() {
    let a = Arc::new(
        StubSender::new("a")
            .always(StubOutcome::fail(ErrorKind::Unavailable).after(Duration::from_millis(50))),
    );
    let b = Arc::new(
        StubSender::new("b").always(
            StubOutcome::Fail(error(ErrorKind::InsufficientBalance).with_code("4051"))
                .after(Duration::from_millis(70)),
        ),
    );
    let chain = build(chain_of(&[&a, &b]).retry(plain_retry().max_attempts_per_provider(2)));
    let err = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("all failed");
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed);
    assert_eq!(err.provider(), Some("failover"));
    let listed: Vec<(String, ErrorKind, Duration)> = err
        .attempts()
        .iter()
        .map(|a| (a.provider.clone(), a.error.kind(), a.elapsed))
        .collect();
    assert_eq!(
        listed,
        [
            ("a".to_owned(), ErrorKind::Unavailable, Duration::from_millis(50)),
            ("a".to_owned(), ErrorKind::Unavailable, Duration::from_millis(50)),
            (
                "b".to_owned(),
                ErrorKind::InsufficientBalance,
                Duration::from_millis(70)
            ),
        ]
    );
    // One line by default; the alternate form (and `report()`) lists every attempt.
    assert!(!err.to_string().contains('\n'), "{err}");
    let text = format!("{err:#}");
    assert_eq!(text, err.report());
    assert!(
        text.contains("attempt 3: b: send failed: insufficient balance (code 4051) after 70ms"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_receipt_says_why_the_secondary_was_used() {
    let a = Arc::new(
        StubSender::new("a").always(StubOutcome::Fail(
            error(ErrorKind::ContentRejected)
                .with_code("407")
                .with_message("sensitive words"),
        )),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let to = number("13800138000");
    let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
    let outcome = receipt.outcome_for(&to).expect("outcome");
    assert!(outcome.is_accepted());
    assert_eq!(outcome.provider, "b");
    assert_eq!(outcome.message_id.as_deref(), Some("b-1"));
    assert_eq!(receipt.attempts.len(), 1);
    assert_eq!(receipt.attempts[0].error.code(), Some("407"));
    assert_eq!(receipt.attempts[0].error.message(), "sensitive words");
}

#[tokio::test(start_paused = true)]
async fn a_huge_retry_after_neither_panics_nor_waits() {
    let forever = error(ErrorKind::RateLimited).with_retry_after(Duration::from_secs(u64::MAX));
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Fail(forever.clone())));
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let start = Instant::now();
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!((a.call_count(), start.elapsed()), (1, Duration::ZERO));

    // Alone, the provider's answer ends the send at once.
    let a = Arc::new(StubSender::new("a").always(StubOutcome::Fail(forever)));
    let chain = build(chain_of(&[&a]).retry(plain_retry().jitter(true)));
    let err = chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("failed");
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed);
    assert_eq!(a.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn absurd_deadlines_and_attempt_timeouts_are_configuration_errors() {
    let a = stub("a");
    for (what, policy) in [
        ("deadline", plain_retry().deadline(Duration::MAX)),
        ("deadline", plain_retry().deadline(Duration::from_secs(86_401))),
        ("attempt timeout", plain_retry().attempt_timeout(Duration::MAX)),
        ("attempt timeout", plain_retry().attempt_timeout(Duration::ZERO)),
    ] {
        let err = chain_of(&[&a]).retry(policy).build().expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Configuration, "{what}: {err}");
        assert!(err.message().contains(what), "{err}");
    }
    // A day is the most a message may take; it works.
    let day = Duration::from_secs(86_400);
    let chain = build(chain_of(&[&a]).retry(plain_retry().deadline(day).attempt_timeout(day)));
    chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(a.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_not_started_with_almost_no_time_left() {
    // a answers in 200 ms once it is up; a retry 950 ms into a 1 s budget would be cut short and end
    // ambiguous. The chain moves on at once instead.
    let a = Arc::new(
        StubSender::new("a")
            .then(StubOutcome::fail(ErrorKind::Unavailable))
            .always(StubOutcome::Accept.after(Duration::from_millis(200))),
    );
    let b = stub("b");
    let chain = build(
        chain_of(&[&a, &b]).retry(
            plain_retry()
                .initial_backoff(Duration::from_millis(950))
                .deadline(Duration::from_secs(1)),
        ),
    );
    let start = Instant::now();
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(call_offsets_ms(&a, start), [0]);
    assert_eq!(call_offsets_ms(&b, start), [0]);

    // With room for the pause and a request, the retry is made.
    let a = Arc::new(StubSender::new("a").then(StubOutcome::fail(ErrorKind::Unavailable)));
    let chain = build(
        chain_of(&[&a]).retry(
            plain_retry()
                .initial_backoff(Duration::from_millis(850))
                .deadline(Duration::from_secs(1)),
        ),
    );
    let start = Instant::now();
    chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(call_offsets_ms(&a, start), [0, 850]);
}
