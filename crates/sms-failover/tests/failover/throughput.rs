//! A provider's batch parts go out concurrently, within a bound, under the same rules as one by one.

use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{Capabilities, ErrorKind, MessageKind, MessageSender};
use sms_failover::{RecipientLimits, TokioClock};

use crate::support::*;

/// One number per request, every answer after 100 ms.
fn one_per_request(name: &str, outcome: StubOutcome) -> Arc<StubSender> {
    Arc::new(
        StubSender::new(name)
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(1))
            .always(outcome),
    )
}

#[tokio::test(start_paused = true)]
async fn parts_are_sent_concurrently_within_the_bound() {
    let a = one_per_request("a", StubOutcome::Accept.after(Duration::from_millis(100)));
    let chain = build(chain_of(&[&a]).part_concurrency(3));
    let start = tokio::time::Instant::now();
    let receipt = chain.send(&text_to(numbers(7))).await.expect("sent");
    assert_eq!(receipt.accepted().count(), 7);
    assert_eq!(
        call_offsets_ms(&a, start),
        [0, 100, 100, 100, 200, 200, 200],
        "the first part alone (slow start), then three in flight at a time"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    // Each request carried its own number, in message order of start.
    let sent: Vec<_> = a.sent().iter().map(|m| m.recipients()[0].clone()).collect();
    assert_eq!(sent, numbers(7));
}

#[tokio::test(start_paused = true)]
async fn a_part_refused_by_the_limits_takes_no_slot() {
    let a = one_per_request("a", StubOutcome::Accept.after(Duration::from_millis(100)));
    let chain = build(
        chain_of(&[&a])
            .clock(Arc::new(TokioClock))
            .recipient_limits(RecipientLimits::disabled().with_limit(1, Duration::from_secs(3600)))
            .part_concurrency(2),
    );
    let all = numbers(4);
    // The first two numbers have had their message for the hour.
    chain.send(&text_to(all[..2].to_vec())).await.expect("sent");
    let start = tokio::time::Instant::now();
    let receipt = chain.send(&text_to(all.clone())).await.expect("two sent");
    let throttled: Vec<ErrorKind> = receipt
        .failed()
        .filter_map(|o| o.error().map(|e| e.kind()))
        .collect();
    assert_eq!(throttled, [ErrorKind::RecipientThrottled; 2]);
    assert_eq!(a.call_count(), 4, "two requests per message");
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "both sendable parts at once"
    );
}

#[tokio::test(start_paused = true)]
async fn an_account_wide_refusal_in_a_batch_answer_stops_requests_to_that_provider() {
    let all = numbers(6);
    // a takes two numbers per request; its first answer accepts one and refuses the other for a
    // reason that will repeat for every number (the account is out of credit).
    let a = Arc::new(
        StubSender::new("a")
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(2))
            .then(StubOutcome::AcceptOnly(
                vec![all[0].clone()],
                error(ErrorKind::InsufficientBalance),
            ))
            .always(StubOutcome::fail(ErrorKind::InsufficientBalance)),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]).part_concurrency(1));
    let receipt = chain.send(&text_to(all.clone())).await.expect("sent");
    assert_eq!(a.call_count(), 1, "no further request to a for this message");
    let by: Vec<(String, String)> = receipt
        .outcomes
        .iter()
        .map(|o| (o.recipient.to_string(), o.provider.clone()))
        .collect();
    let expected: Vec<(String, String)> = all
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), if i == 0 { "a" } else { "b" }.to_owned()))
        .collect();
    assert_eq!(by, expected);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_key_costs_one_request_not_one_per_number() {
    // The refusal takes a round trip, as over a network: concurrent parts would all be in flight by
    // the time the first answer comes back, unless the first part goes alone.
    let a = one_per_request(
        "a",
        StubOutcome::fail(ErrorKind::Unauthorized).after(Duration::from_millis(30)),
    );
    let chain = build(chain_of(&[&a]).part_concurrency(4));
    let err = chain
        .send(&text_to(numbers(300)))
        .await
        .expect_err("unauthorized");
    assert_eq!(a.call_count(), 1);
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed);
    assert!(
        err.attempts()
            .iter()
            .all(|a| a.error.kind() == ErrorKind::Unauthorized),
        "{err:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn under_at_most_once_an_unknown_part_keeps_its_numbers_and_the_rest_fail_over() {
    let all = numbers(4);
    let a = Arc::new(
        StubSender::new("a")
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(1))
            .then(StubOutcome::Accept.after(Duration::from_millis(50)))
            .then(StubOutcome::fail(ErrorKind::Ambiguous).after(Duration::from_millis(10)))
            .always(StubOutcome::Accept.after(Duration::from_millis(50))),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]).part_concurrency(2));
    let receipt = chain.send(&text_to(all.clone())).await.expect("partly sent");
    let providers: Vec<&str> = receipt.outcomes.iter().map(|o| o.provider.as_str()).collect();
    // The first part goes alone (slow start); then parts 2 and 3 are in flight together when part 2
    // comes back unknown: part 3 still lands on a, and part 4 is never sent to a.
    assert_eq!(providers, ["a", "a", "a", "b"]);
    assert!(receipt.outcomes[1].error().is_some_and(|e| e.is_ambiguous()));
    assert_eq!(a.call_count(), 3, "a was left after the unknown outcome");
    assert!(
        !b.sent().iter().any(|m| m.recipients().contains(&all[1])),
        "never resent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_big_batch_finishes() {
    let a = one_per_request("a", StubOutcome::Accept);
    let chain = build(chain_of(&[&a]).part_concurrency(16));
    let many: Vec<_> = (0..5000).map(|i| number(&format!("138{i:08}"))).collect();
    let receipt = chain.send(&text_to(many)).await.expect("sent");
    assert_eq!(receipt.accepted().count(), 5000);
}

/// 300 numbers to a provider that takes one per request and answers in 120 ms: with the default
/// concurrency they all go out well within the default deadline (one by one, they took 36 s): the
/// first alone (slow start), then the other 299 eight at a time.
#[tokio::test(start_paused = true)]
async fn three_hundred_numbers_at_120_ms_fit_the_default_deadline() {
    let a = one_per_request("a", StubOutcome::Accept.after(Duration::from_millis(120)));
    let chain = build(chain_of(&[&a]).retry(sms_failover::RetryPolicy::default()));
    let start = tokio::time::Instant::now();
    let receipt = chain.send(&text_to(numbers(300))).await.expect("sent");
    assert_eq!(receipt.accepted().count(), 300, "none failed");
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(120) * (1 + 299u32.div_ceil(sms_failover::DEFAULT_PART_CONCURRENCY as u32))
    );
}
