//! What a send costs in Redis round trips ([`RedisState::round_trips`]): the checks of a message's
//! start in one, its outcome in one, and concurrent outcomes written together.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sms_core::{ClientReference, Message, MessageSender, PhoneNumber, Receipt, RecipientOutcome};
use sms_failover::state::{IdempotencyStore, RecordedOutcome, Reservation};
use sms_failover::{FailoverSender, ProviderEntry, RecipientLimits};
use sms_redis::RedisState;
use support::{Bed, TestTime, connect, unique_prefix};

fn number(i: u32) -> PhoneNumber {
    format!("1390013{i:04}").parse().expect("number")
}

/// ihuyi alone, limits, idempotency, opt-outs and breaker sharing all on `state`.
fn chain(bed: &Bed, time: &TestTime, state: &RedisState) -> FailoverSender {
    FailoverSender::builder()
        .provider(ProviderEntry::new(bed.ihuyi.clone()))
        .clock(time.clock())
        .recipient_limits(RecipientLimits::new(1, 5))
        .shared_state(Arc::new(state.clone()))
        .build()
        .expect("a valid chain")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_number_send_is_two_round_trips_and_a_replay_one() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let state = connect(&unique_prefix("round-trips"), &time).await;
    let chain = chain(&bed, &time, &state);
    let to = number(1);
    let message = Message::text(to.clone(), "【示例】您的订单已发货");

    let before = state.round_trips();
    let receipt = chain.send(&message).await.expect("sent");
    assert!(receipt.all_accepted());
    assert_eq!(
        state.round_trips() - before,
        2,
        "reservation, opt-outs, breaker and limits in one round trip; the outcome in another"
    );
    assert_eq!(bed.delivered_to(&to).len(), 1);

    let before = state.round_trips();
    let again = chain.send(&message).await.expect("the first outcome, replayed");
    assert_eq!(again.outcomes[0].message_id, receipt.outcomes[0].message_id);
    assert_eq!(state.round_trips() - before, 1, "a replay is the start alone");
    assert_eq!(bed.delivered_to(&to).len(), 1, "nothing sent again");

    // Over the limit: the start answers the refusal, and the outcome is recorded.
    let before = state.round_trips();
    let e = chain
        .send(&Message::text(to.clone(), "【示例】您的订单已签收"))
        .await
        .expect_err("1 per second");
    assert_eq!(e.kind(), sms_core::ErrorKind::RecipientThrottled, "{e}");
    assert_eq!(
        state.round_trips() - before,
        2,
        "the start, and the reference released (nothing went out)"
    );
    assert_eq!(bed.delivered_to(&to).len(), 1);

    // Idle for a second: admitted again, still two round trips.
    time.advance(Duration::from_secs(1));
    let before = state.round_trips();
    chain
        .send(&Message::text(to.clone(), "【示例】您的订单已签收"))
        .await
        .expect("a second later");
    assert_eq!(state.round_trips() - before, 2);
    assert_eq!(bed.delivered_to(&to).len(), 2);
}

fn outcome(reference: &ClientReference, i: u32) -> RecordedOutcome {
    RecordedOutcome::of(&Ok(Receipt::new(
        reference.clone(),
        vec![RecipientOutcome::accepted(
            number(i),
            "ihuyi",
            Some(format!("id-{i}")),
        )],
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_outcomes_are_written_together_and_each_is_kept() {
    let time = TestTime::default();
    let prefix = unique_prefix("completions");
    let state = connect(&prefix, &time).await;
    let retention = Duration::from_secs(3600);
    let references: Vec<ClientReference> = (0..50)
        .map(|i| ClientReference::new(format!("batch-{i}")))
        .collect();
    for reference in &references {
        assert_eq!(
            state.reserve(reference, retention).await.expect("reserve"),
            Reservation::Reserved
        );
    }
    let before = state.round_trips();
    let writes = references.iter().zip(0..).map(|(reference, i)| {
        let state = state.clone();
        async move { state.complete(reference, &outcome(reference, i), retention).await }
    });
    for result in join_all(writes).await {
        result.expect("written");
    }
    let trips = state.round_trips() - before;
    assert!(
        trips < 5,
        "50 concurrent outcomes share round trips (one alone, then the rest together): {trips}"
    );
    let other = connect(&prefix, &time).await;
    for (reference, i) in references.iter().zip(0..) {
        assert_eq!(
            other.reserve(reference, retention).await.expect("reserve"),
            Reservation::Completed(outcome(reference, i)),
            "each outcome is kept under its own reference"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_of_a_batch_asks_the_breaker_and_the_limits_in_one_round_trip() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let state = connect(&unique_prefix("batch-trips"), &time).await;
    let chain = chain(&bed, &time, &state);
    let numbers: Vec<PhoneNumber> = (100..110).map(number).collect();
    let before = state.round_trips();
    let receipt = chain
        .send(&Message::text(numbers.clone(), "【示例】您的订单已发货"))
        .await
        .expect("sent");
    assert!(receipt.all_accepted());
    for to in &numbers {
        assert_eq!(bed.delivered_to(to).len(), 1);
    }
    // ihuyi takes one number per request: the start (reference, opt-outs, the first request's
    // breaker), the first request's limits, one round trip for each of the other nine requests
    // (breaker and limits together), and the outcome: 12 at most. The requests run concurrently, and
    // checks that wait at the same time share a round trip, so it is often fewer; never fewer than
    // the start, one round of checks and the outcome.
    let trips = state.round_trips() - before;
    assert!((3..=1 + 1 + 9 + 1).contains(&trips), "{trips} round trips");
    // Every number was counted: a second message to them within the second is refused, unsent.
    let e = chain
        .send(&Message::text(numbers.clone(), "【示例】您的订单已签收"))
        .await
        .expect_err("1 per second");
    assert_eq!(e.kind(), sms_core::ErrorKind::RecipientThrottled, "{e}");
    for to in &numbers {
        assert_eq!(bed.delivered_to(to).len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_share_round_trips_and_each_gets_its_own_answer() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let state = connect(&unique_prefix("grouped-starts"), &time).await;
    let chain = chain(&bed, &time, &state);
    // 15 numbers, two messages each (1 per second: one of the two is refused), and one reference
    // used by two messages (one goes out, the other is refused as in flight or replayed).
    let mut messages: Vec<Message> = (0..30)
        .map(|i| Message::text(number(200 + i % 15), "【示例】您的订单已发货"))
        .collect();
    let shared = "grouped-shared-reference";
    messages.push(Message::text(number(300), "【示例】您的订单已发货").with_reference(shared));
    messages.push(Message::text(number(301), "【示例】您的订单已发货").with_reference(shared));
    let before = state.round_trips();
    let results = join_all(messages.iter().map(|m| chain.send(m))).await;
    let trips = state.round_trips() - before;
    assert!(
        trips < 32,
        "32 concurrent sends share the round trips of their starts and outcomes: {trips}"
    );
    for i in 0..15 {
        let to = number(200 + i);
        assert_eq!(bed.delivered_to(&to).len(), 1, "one message to {to}");
        let (first, second) = (&results[i as usize], &results[i as usize + 15]);
        assert!(
            first.is_ok() != second.is_ok(),
            "exactly one of the two messages to {to} was admitted: {first:?} / {second:?}"
        );
        let refused = first
            .as_ref()
            .err()
            .or(second.as_ref().err())
            .expect("one refused");
        assert_eq!(
            refused.kind(),
            sms_core::ErrorKind::RecipientThrottled,
            "{refused}"
        );
    }
    let sent = bed.delivered_to(&number(300)).len() + bed.delivered_to(&number(301)).len();
    assert_eq!(sent, 1, "one reference goes out once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numbers_log_keeps_only_the_sends_its_windows_can_count() {
    let time = TestTime::default();
    let prefix = unique_prefix("log-size");
    let state = connect(&prefix, &time).await;
    let to = number(400);
    let windows = [
        sms_failover::LimitWindow {
            count: 2,
            period: Duration::from_secs(1),
        },
        sms_failover::LimitWindow {
            count: 3,
            period: Duration::from_secs(60),
        },
    ];
    use sms_failover::state::{Admission, RecipientLimiter};
    let mut admitted = 0;
    for _ in 0..20 {
        let answer = state
            .admit("chain", std::slice::from_ref(&to), &windows)
            .await
            .expect("admit");
        if answer[0] == Admission::Admitted {
            admitted += 1;
        }
        time.advance(Duration::from_secs(30));
    }
    // Every 30 s: at most 3 per minute admits each one (one in the last minute before it).
    assert_eq!(admitted, 20);
    let client = redis::Client::open(support::redis_url()).expect("url");
    let mut admin = client.get_multiplexed_async_connection().await.expect("redis");
    let size: u64 = redis::cmd("ZCARD")
        .arg(format!("{{{prefix}}}:limit:chain:{}", to.e164()))
        .query_async(&mut admin)
        .await
        .expect("zcard");
    assert_eq!(size, 3, "the log holds the largest count of sends, not all 20");
    // And it still counts: the oldest kept send leaves the minute as the first admission comes,
    // and two at once fill the 2-per-second window.
    let answer = state
        .admit("chain", std::slice::from_ref(&to), &windows)
        .await
        .expect("admit");
    assert_eq!(answer[0], Admission::Admitted);
    let answer = state
        .admit("chain", std::slice::from_ref(&to), &windows)
        .await
        .expect("admit");
    assert_eq!(answer[0], Admission::Admitted, "2 per second admits the second");
    let answer = state.admit("chain", &[to], &windows).await.expect("admit");
    assert!(matches!(answer[0], Admission::Refused { .. }), "{answer:?}");
}
