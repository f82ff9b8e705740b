//! One behaviour suite per state trait, written once and run by every implementation's tests (the
//! in-memory ones here, Redis in `sms-redis`, a database store in its own crate), in the manner of
//! `sms_core::testkit::conformance`.
//!
//! Each `run_*` function takes an opener: `open(namespace)` gives a handle on the state named
//! `namespace`. Handles opened with the same namespace must share their state, as separate instances
//! of an application on one backend do (open a new connection for each, where the backend has
//! connections); a namespace never opened before must start empty. Checks that move time take an
//! `advance` function that moves the backend's clock forward (a [`crate::ManualClock`] for the
//! in-memory types; a time offset for a backend that reads a server's clock). Every check panics with
//! a message saying what broke.
//!
//! ```
//! # #[cfg(feature = "conformance")] {
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use sms_failover::state::{conformance, InMemorySuppressionList, SuppressionList};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let lists: Mutex<HashMap<String, Arc<InMemorySuppressionList>>> = Mutex::default();
//! conformance::run_suppression(|namespace| {
//!     let list = lists.lock().unwrap().entry(namespace).or_default().clone();
//!     async move { list as Arc<dyn SuppressionList> }
//! })
//! .await;
//! # });
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sms_core::{
    ClientReference, Error, ErrorKind, InboundMessage, Operation, PhoneNumber, Receipt, RecipientOutcome,
};

use super::{
    Adjustment, Admission, BreakerSharing, ChainState, Charge, IdempotencyStore, RecipientLimiter,
    RecordedOutcome, Reservation, SharedBreaker, SpendAdmission, SpendLedger, StartAnswer, StartRequest,
    SuppressionList,
};
use crate::limits::LimitWindow;

fn number(i: u32) -> PhoneNumber {
    format!("1380013{:04}", i % 10_000)
        .parse()
        .expect("a valid test number")
}

fn window(count: u32, secs: u64) -> LimitWindow {
    LimitWindow {
        count,
        period: Duration::from_secs(secs),
    }
}

const DAY_SECS: u64 = 24 * 60 * 60;

// ---------------------------------------------------------------------------------------------------
// Opt-out lists.

/// Every [`SuppressionList`] check, each in its own namespace.
pub async fn run_suppression<F, Fut>(open: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn SuppressionList>>,
{
    suppression_batch_lookup(&open(ns("suppression-batch")).await).await;
    suppression_is_shared(
        open(ns("suppression-shared")).await,
        open(ns("suppression-shared")).await,
    )
    .await;
    suppression_observes_unsubscribe_replies(&open(ns("suppression-inbound")).await).await;
}

fn ns(name: &str) -> String {
    name.to_owned()
}

/// A batch lookup answers every number in order, in one call; an empty batch gets an empty answer;
/// a number in another notation is the same number.
pub async fn suppression_batch_lookup(list: &Arc<dyn SuppressionList>) {
    let (a, b, c) = (number(1), number(2), number(3));
    assert_eq!(list.suppressed(&[]).await.expect("answers"), Vec::<bool>::new());
    assert_eq!(
        list.suppressed(&[a.clone(), b.clone()]).await.expect("answers"),
        [false, false],
        "an empty list lists nobody"
    );
    list.suppress(&a).await.expect("suppress");
    list.suppress(&c).await.expect("suppress");
    list.suppress(&c).await.expect("suppressing twice is harmless");
    let same_as_a: PhoneNumber = format!("+86 {}", a.national_number()).parse().expect("number");
    assert_eq!(
        list.suppressed(&[a.clone(), b.clone(), c.clone(), same_as_a])
            .await
            .expect("answers"),
        [true, false, true, true]
    );
    assert!(list.is_suppressed(&a).await.expect("answers"));
    assert!(list.unsuppress(&a).await.expect("unsuppress"), "a was listed");
    assert!(
        !list.unsuppress(&a).await.expect("unsuppress"),
        "a is no longer listed"
    );
    assert!(!list.unsuppress(&b).await.expect("unsuppress"), "b never was");
    assert_eq!(
        list.suppressed(&[a, b, c]).await.expect("answers"),
        [false, false, true]
    );
}

/// An opt-out recorded through one handle is seen through another (another instance), and so is its
/// removal.
pub async fn suppression_is_shared(one: Arc<dyn SuppressionList>, other: Arc<dyn SuppressionList>) {
    let a = number(11);
    one.suppress(&a).await.expect("suppress");
    assert!(
        other.is_suppressed(&a).await.expect("answers"),
        "the other instance sees the opt-out"
    );
    assert!(other.unsuppress(&a).await.expect("unsuppress"));
    assert!(!one.is_suppressed(&a).await.expect("answers"), "and its removal");
}

/// A Juxiang `0000` reply lists its sender; other replies and unreadable senders change nothing.
pub async fn suppression_observes_unsubscribe_replies(list: &Arc<dyn SuppressionList>) {
    let reply = |sender: &str, opt_out: bool| InboundMessage {
        provider: "juxiang".into(),
        sender: sender.into(),
        service_number: None,
        text: if opt_out { "0000".into() } else { "hello".into() },
        received_at: None,
        opt_out,
        raw: Default::default(),
    };
    let a = number(21);
    assert!(
        !list
            .observe_inbound(&reply(a.national_number(), false))
            .await
            .expect("observe")
    );
    assert!(
        !list
            .observe_inbound(&reply("1380013****", true))
            .await
            .expect("observe")
    );
    assert!(!list.is_suppressed(&a).await.expect("answers"));
    assert!(
        list.observe_inbound(&reply(a.national_number(), true))
            .await
            .expect("observe")
    );
    assert!(list.is_suppressed(&a).await.expect("answers"));
}

// ---------------------------------------------------------------------------------------------------
// Recipient limiters.

/// Every [`RecipientLimiter`] check, each in its own namespace. `advance` moves the limiter's clock.
pub async fn run_limiter<F, Fut>(open: F, advance: &(dyn Fn(Duration) + Sync))
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn RecipientLimiter>>,
{
    limiter_sliding_windows(&open(ns("limiter-sliding")).await, advance).await;
    limiter_all_or_nothing(&open(ns("limiter-atomic")).await, advance).await;
    limiter_batches_and_scopes(&open(ns("limiter-batch")).await).await;
    let handles = vec![
        open(ns("limiter-shared")).await,
        open(ns("limiter-shared")).await,
        open(ns("limiter-shared")).await,
    ];
    limiter_is_shared_and_exact_under_concurrency(&handles).await;
}

async fn admit_one(
    limiter: &Arc<dyn RecipientLimiter>,
    n: &PhoneNumber,
    windows: &[LimitWindow],
) -> Admission {
    let answer = limiter
        .admit("chain", std::slice::from_ref(n), windows)
        .await
        .expect("the limiter answers");
    assert_eq!(answer.len(), 1, "one answer per number");
    answer[0]
}

/// "1 per second and 5 per day" is exact and sliding: five messages a few minutes apart, then
/// nothing until the first is a day old, then one more; the wait is exact.
pub async fn limiter_sliding_windows(
    limiter: &Arc<dyn RecipientLimiter>,
    advance: &(dyn Fn(Duration) + Sync),
) {
    let windows = [window(1, 1), window(5, DAY_SECS)];
    let a = number(31);
    assert_eq!(admit_one(limiter, &a, &windows).await, Admission::Admitted);
    match admit_one(limiter, &a, &windows).await {
        Admission::Refused { window: w, wait } => {
            assert_eq!(w, windows[0], "the per-second window refused");
            assert!(
                wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
                "wait {wait:?}"
            );
        }
        Admission::Admitted => panic!("a second message within a second was admitted"),
    }
    let mut passed = 1;
    // One attempt every ten minutes for a day: exactly five pass.
    for _ in 0..(DAY_SECS / 600 - 1) {
        advance(Duration::from_secs(600));
        if admit_one(limiter, &a, &windows).await == Admission::Admitted {
            passed += 1;
        }
    }
    assert_eq!(passed, 5, "five per day, never more");
    // 24 h - 10 min have passed since the first: it still counts.
    match admit_one(limiter, &a, &windows).await {
        Admission::Refused { window: w, wait } => {
            assert_eq!(w, windows[1], "the day refused");
            assert!(
                wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
                "the wait runs to the first message's 24th hour: {wait:?}"
            );
        }
        Admission::Admitted => panic!("a sixth message within 24 hours was admitted"),
    }
    advance(Duration::from_secs(600));
    assert_eq!(
        admit_one(limiter, &a, &windows).await,
        Admission::Admitted,
        "the first is a day old"
    );
    assert!(
        matches!(admit_one(limiter, &a, &windows).await, Admission::Refused { .. }),
        "still five within any day"
    );
}

/// A refusal by one window records nothing in any window.
pub async fn limiter_all_or_nothing(
    limiter: &Arc<dyn RecipientLimiter>,
    advance: &(dyn Fn(Duration) + Sync),
) {
    let windows = [window(1, 1), window(2, DAY_SECS)];
    let a = number(41);
    assert_eq!(admit_one(limiter, &a, &windows).await, Admission::Admitted);
    for _ in 0..5 {
        assert!(matches!(
            admit_one(limiter, &a, &windows).await,
            Admission::Refused { .. }
        ));
    }
    advance(Duration::from_secs(1));
    assert_eq!(
        admit_one(limiter, &a, &windows).await,
        Admission::Admitted,
        "refusals by the second did not use the day's room"
    );
    advance(Duration::from_secs(1));
    assert!(matches!(
        admit_one(limiter, &a, &windows).await,
        Admission::Refused { window: w, .. } if w == windows[1]
    ));
    advance(Duration::from_secs(DAY_SECS - 2));
    assert_eq!(
        admit_one(limiter, &a, &windows).await,
        Admission::Admitted,
        "the refusal by the day did not use the second's room"
    );
}

/// A batch is answered number by number in order; a number twice in a batch counts twice; scopes
/// count apart.
pub async fn limiter_batches_and_scopes(limiter: &Arc<dyn RecipientLimiter>) {
    let windows = [window(1, 60)];
    let (a, b, c) = (number(51), number(52), number(53));
    let first = limiter
        .admit("chain", &[a.clone(), b.clone()], &windows)
        .await
        .expect("answers");
    assert_eq!(first, [Admission::Admitted, Admission::Admitted]);
    let second = limiter
        .admit("chain", &[a.clone(), c.clone(), b.clone(), c.clone()], &windows)
        .await
        .expect("answers");
    assert!(matches!(second[0], Admission::Refused { .. }));
    assert_eq!(second[1], Admission::Admitted);
    assert!(matches!(second[2], Admission::Refused { .. }));
    assert!(
        matches!(second[3], Admission::Refused { .. }),
        "c's second copy in one batch"
    );
    assert_eq!(
        limiter
            .admit("ihuyi", std::slice::from_ref(&a), &windows)
            .await
            .expect("answers"),
        [Admission::Admitted],
        "another scope counts apart"
    );
    assert!(
        limiter
            .admit("chain", &[], &windows)
            .await
            .expect("answers")
            .is_empty()
    );
}

/// Handles on one state (instances) share the count: 30 concurrent attempts at "1 per minute" through
/// them admit exactly one.
pub async fn limiter_is_shared_and_exact_under_concurrency(handles: &[Arc<dyn RecipientLimiter>]) {
    let windows = [window(1, 60)];
    let a = number(61);
    let attempts = (0..30).map(|i| {
        let limiter = handles[i % handles.len()].clone();
        let a = a.clone();
        async move { admit_one(&limiter, &a, &windows).await }
    });
    let admitted = join_all(attempts)
        .await
        .into_iter()
        .filter(|v| *v == Admission::Admitted)
        .count();
    assert_eq!(admitted, 1, "exactly one of 30 concurrent sends to one number");
}

// ---------------------------------------------------------------------------------------------------
// Idempotency stores.

/// Every [`IdempotencyStore`] check, each in its own namespace. `advance` moves the store's clock.
pub async fn run_idempotency<F, Fut>(open: F, advance: &(dyn Fn(Duration) + Sync))
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn IdempotencyStore>>,
{
    idempotency_reserve_complete_replay(open(ns("idem-cycle")).await, open(ns("idem-cycle")).await).await;
    idempotency_release(&open(ns("idem-release")).await).await;
    idempotency_retention(&open(ns("idem-retention")).await, advance).await;
    let handles = vec![
        open(ns("idem-race")).await,
        open(ns("idem-race")).await,
        open(ns("idem-race")).await,
    ];
    idempotency_one_reservation_under_concurrency(&handles).await;
}

fn sample_outcome(reference: &ClientReference) -> RecordedOutcome {
    let receipt = Receipt::new(
        reference.clone(),
        vec![
            RecipientOutcome::accepted(number(71), "ihuyi", Some("4242".into())),
            RecipientOutcome::failed(
                number(72),
                "ihuyi",
                Error::new(ErrorKind::RecipientRejected, Operation::Send).with_code("4085"),
            ),
        ],
    );
    RecordedOutcome::of(&Ok(receipt))
}

/// Reserve, then every handle sees the reservation pending; complete, then every handle gets the
/// outcome back as recorded; a completed reference cannot be released.
pub async fn idempotency_reserve_complete_replay(
    one: Arc<dyn IdempotencyStore>,
    other: Arc<dyn IdempotencyStore>,
) {
    let retention = Duration::from_secs(3600);
    let reference = ClientReference::new("order-1001");
    assert_eq!(
        one.reserve(&reference, retention).await.expect("reserve"),
        Reservation::Reserved
    );
    assert_eq!(
        one.reserve(&reference, retention).await.expect("reserve"),
        Reservation::Pending
    );
    assert_eq!(
        other.reserve(&reference, retention).await.expect("reserve"),
        Reservation::Pending,
        "another instance sees it in flight"
    );
    let outcome = sample_outcome(&reference);
    one.complete(&reference, &outcome, retention)
        .await
        .expect("complete");
    assert_eq!(
        other.reserve(&reference, retention).await.expect("reserve"),
        Reservation::Completed(outcome.clone())
    );
    other.release(&reference).await.expect("release");
    assert_eq!(
        one.reserve(&reference, retention).await.expect("reserve"),
        Reservation::Completed(outcome),
        "releasing a completed reference changes nothing"
    );
    let fresh = ClientReference::new("order-1002");
    assert_eq!(
        other.reserve(&fresh, retention).await.expect("reserve"),
        Reservation::Reserved
    );
}

/// A released reservation (nothing was sent) may be reserved again.
pub async fn idempotency_release(store: &Arc<dyn IdempotencyStore>) {
    let retention = Duration::from_secs(3600);
    let reference = ClientReference::new("order-2001");
    assert_eq!(
        store.reserve(&reference, retention).await.expect("reserve"),
        Reservation::Reserved
    );
    store.release(&reference).await.expect("release");
    assert_eq!(
        store.reserve(&reference, retention).await.expect("reserve"),
        Reservation::Reserved
    );
    store
        .release(&ClientReference::new("never-reserved"))
        .await
        .expect("release of nothing");
}

/// A reference is remembered for the retention, pending or completed, and forgotten after it.
pub async fn idempotency_retention(store: &Arc<dyn IdempotencyStore>, advance: &(dyn Fn(Duration) + Sync)) {
    let retention = Duration::from_secs(600);
    let pending = ClientReference::new("order-3001");
    let done = ClientReference::new("order-3002");
    assert_eq!(
        store.reserve(&pending, retention).await.expect("reserve"),
        Reservation::Reserved
    );
    assert_eq!(
        store.reserve(&done, retention).await.expect("reserve"),
        Reservation::Reserved
    );
    advance(Duration::from_secs(300));
    store
        .complete(&done, &sample_outcome(&done), retention)
        .await
        .expect("complete");
    advance(Duration::from_secs(299));
    assert_eq!(
        store.reserve(&pending, retention).await.expect("reserve"),
        Reservation::Pending,
        "a reservation without an outcome stays unknown for the whole retention"
    );
    advance(Duration::from_secs(2));
    assert_eq!(
        store.reserve(&pending, retention).await.expect("reserve"),
        Reservation::Reserved,
        "forgotten after the retention"
    );
    assert!(
        matches!(
            store.reserve(&done, retention).await.expect("reserve"),
            Reservation::Completed(_)
        ),
        "an outcome is kept for the retention from its completion"
    );
    advance(Duration::from_secs(300));
    assert_eq!(
        store.reserve(&done, retention).await.expect("reserve"),
        Reservation::Reserved
    );
}

/// Of 30 concurrent reservations of one reference through several handles, exactly one succeeds.
pub async fn idempotency_one_reservation_under_concurrency(handles: &[Arc<dyn IdempotencyStore>]) {
    let reference = ClientReference::new("order-4001");
    let attempts = (0..30).map(|i| {
        let store = handles[i % handles.len()].clone();
        let reference = reference.clone();
        async move {
            store
                .reserve(&reference, Duration::from_secs(60))
                .await
                .expect("reserve")
        }
    });
    let answers = join_all(attempts).await;
    let reserved = answers.iter().filter(|r| **r == Reservation::Reserved).count();
    let pending = answers.iter().filter(|r| **r == Reservation::Pending).count();
    assert_eq!((reserved, pending), (1, 29), "exactly one reservation");
}

// ---------------------------------------------------------------------------------------------------
// Breaker sharing.

/// Every [`BreakerSharing`] check, each in its own namespace. `advance` moves the backend's clock.
pub async fn run_breaker_sharing<F, Fut>(open: F, advance: &(dyn Fn(Duration) + Sync))
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn BreakerSharing>>,
{
    let handles = vec![
        open(ns("breaker-trip")).await,
        open(ns("breaker-trip")).await,
        open(ns("breaker-trip")).await,
    ];
    breaker_trip_is_shared_and_one_probe(&handles, advance).await;
    breaker_failed_or_lost_probes(&open(ns("breaker-probe")).await, advance).await;
}

/// A trip through one handle opens the breaker for all; after the cool-down, of many concurrent
/// callers through every handle exactly one gets the probe; its success closes it for all.
pub async fn breaker_trip_is_shared_and_one_probe(
    handles: &[Arc<dyn BreakerSharing>],
    advance: &(dyn Fn(Duration) + Sync),
) {
    let lease = Duration::from_secs(5);
    for handle in handles {
        assert_eq!(
            handle.admit("ihuyi", lease).await.expect("admit"),
            SharedBreaker::Closed
        );
    }
    handles[0]
        .trip("ihuyi", Duration::from_secs(30))
        .await
        .expect("trip");
    for handle in handles {
        match handle.admit("ihuyi", lease).await.expect("admit") {
            SharedBreaker::Open { wait } => {
                assert!(
                    wait > Duration::from_secs(29) && wait <= Duration::from_secs(30),
                    "{wait:?}"
                );
            }
            other => panic!("the trip was not shared: {other:?}"),
        }
        assert_eq!(
            handle.admit("juxiang", lease).await.expect("admit"),
            SharedBreaker::Closed,
            "other providers are not affected"
        );
    }
    advance(Duration::from_secs(30));
    let callers = (0..30).map(|i| {
        let handle = handles[i % handles.len()].clone();
        async move { handle.admit("ihuyi", lease).await.expect("admit") }
    });
    let answers = join_all(callers).await;
    let probes = answers.iter().filter(|a| **a == SharedBreaker::Probe).count();
    assert_eq!(probes, 1, "exactly one probe after the cool-down: {answers:?}");
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, SharedBreaker::Probe | SharedBreaker::Open { .. }))
    );
    handles[1].close("ihuyi").await.expect("close");
    for handle in handles {
        assert_eq!(
            handle.admit("ihuyi", lease).await.expect("admit"),
            SharedBreaker::Closed
        );
    }
}

/// A failed probe (a trip) opens the breaker for a full cool-down; a probe given back, or whose lease
/// ran out (its instance vanished), goes to the next caller.
pub async fn breaker_failed_or_lost_probes(
    sharing: &Arc<dyn BreakerSharing>,
    advance: &(dyn Fn(Duration) + Sync),
) {
    let lease = Duration::from_secs(5);
    let cool_down = Duration::from_secs(30);
    sharing.trip("ihuyi", cool_down).await.expect("trip");
    advance(cool_down);
    assert_eq!(
        sharing.admit("ihuyi", lease).await.expect("admit"),
        SharedBreaker::Probe
    );
    sharing.trip("ihuyi", cool_down).await.expect("the probe failed");
    advance(Duration::from_secs(29));
    assert!(matches!(
        sharing.admit("ihuyi", lease).await.expect("admit"),
        SharedBreaker::Open { .. }
    ));
    advance(Duration::from_secs(1));
    assert_eq!(
        sharing.admit("ihuyi", lease).await.expect("admit"),
        SharedBreaker::Probe
    );
    assert!(matches!(
        sharing.admit("ihuyi", lease).await.expect("admit"),
        SharedBreaker::Open { .. }
    ));
    sharing.release_probe("ihuyi").await.expect("release");
    assert_eq!(
        sharing.admit("ihuyi", lease).await.expect("admit"),
        SharedBreaker::Probe,
        "a probe given back goes to the next caller"
    );
    advance(lease);
    assert_eq!(
        sharing.admit("ihuyi", lease).await.expect("admit"),
        SharedBreaker::Probe,
        "a lost probe's lease ran out"
    );
    sharing.close("ihuyi").await.expect("close");
    assert_eq!(
        sharing.admit("ihuyi", lease).await.expect("admit"),
        SharedBreaker::Closed
    );
}

// ---------------------------------------------------------------------------------------------------
// A message's start in one step.

/// Every [`ChainState::start`] check, each in its own namespace. `advance` moves the backend's clock.
pub async fn run_chain_state<F, Fut>(open: F, advance: &(dyn Fn(Duration) + Sync))
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn ChainState>>,
{
    start_reserves_looks_up_and_counts(&open(ns("start-all")).await).await;
    start_asks_only_what_is_asked(&open(ns("start-parts")).await).await;
    start_stops_at_a_reference_that_is_not_free(&open(ns("start-reference")).await, advance).await;
    start_stops_at_an_open_breaker(&open(ns("start-breaker")).await, advance).await;
    start_refusals_record_nothing(&open(ns("start-refusals")).await, advance).await;
    let handles = vec![
        open(ns("start-race")).await,
        open(ns("start-race")).await,
        open(ns("start-race")).await,
    ];
    start_is_exact_under_concurrency(&handles, advance).await;
}

const LEASE: Duration = Duration::from_secs(5);
const RETENTION: Duration = Duration::from_secs(3600);

/// A request for everything: `reference` reserved, `numbers` looked up and counted under
/// `windows` in the scope `"chain"`, the breaker of `"ihuyi"` asked.
fn full_request<'a>(
    reference: &'a ClientReference,
    numbers: &'a [PhoneNumber],
    windows: &'a [LimitWindow],
) -> StartRequest<'a> {
    StartRequest {
        numbers,
        reservation: Some((reference, RETENTION)),
        breaker: Some(("ihuyi", LEASE)),
        limits: Some(("chain", windows)),
    }
}

async fn start(state: &Arc<dyn ChainState>, request: &StartRequest<'_>) -> StartAnswer {
    state.start(request).await.expect("the state answers")
}

/// One step reserves the reference, looks every number up, asks the breaker and counts only the
/// numbers that did not opt out, in order; each part is then seen through its own trait.
pub async fn start_reserves_looks_up_and_counts(state: &Arc<dyn ChainState>) {
    let windows = [window(1, 60)];
    let (a, b, c) = (number(101), number(102), number(103));
    state.suppress(&b).await.expect("suppress");
    let reference = ClientReference::new("start-1");
    let numbers = [a.clone(), b.clone(), c.clone()];
    let answer = start(state, &full_request(&reference, &numbers, &windows)).await;
    assert_eq!(
        answer,
        StartAnswer {
            reservation: Some(Reservation::Reserved),
            suppressed: vec![false, true, false],
            breaker: Some(SharedBreaker::Closed),
            admissions: Some(vec![Admission::Admitted, Admission::Admitted]),
        }
    );
    assert_eq!(
        state.reserve(&reference, RETENTION).await.expect("reserve"),
        Reservation::Pending,
        "the step reserved the reference"
    );
    let counted = RecipientLimiter::admit(&**state, "chain", &[a, b, c], &windows)
        .await
        .expect("admit");
    assert!(matches!(counted[0], Admission::Refused { .. }), "a was counted");
    assert_eq!(
        counted[1],
        Admission::Admitted,
        "an opted-out number is not counted"
    );
    assert!(matches!(counted[2], Admission::Refused { .. }), "c was counted");
    // A second message to c is refused by the limits in its own step, and still reserves its
    // reference (the refusal is the chain's to report).
    let again = ClientReference::new("start-2");
    let c_only = [number(103)];
    let answer = start(state, &full_request(&again, &c_only, &windows)).await;
    assert_eq!(answer.reservation, Some(Reservation::Reserved));
    match answer.admissions.as_deref() {
        Some([Admission::Refused { window: w, wait }]) => {
            assert_eq!(*w, windows[0]);
            assert!(
                *wait > Duration::from_secs(59) && *wait <= Duration::from_secs(60),
                "{wait:?}"
            );
        }
        other => panic!("c's second message within a minute: {other:?}"),
    }
}

/// A part that is not asked is neither answered nor touched: no reservation, no breaker, no count.
pub async fn start_asks_only_what_is_asked(state: &Arc<dyn ChainState>) {
    let windows = [window(1, 60)];
    let a = number(111);
    let numbers = [a.clone()];
    let answer = start(
        state,
        &StartRequest {
            numbers: &numbers,
            reservation: None,
            breaker: None,
            limits: None,
        },
    )
    .await;
    assert_eq!(
        answer,
        StartAnswer {
            reservation: None,
            suppressed: vec![false],
            breaker: None,
            admissions: None,
        }
    );
    assert_eq!(
        RecipientLimiter::admit(&**state, "chain", std::slice::from_ref(&a), &windows)
            .await
            .expect("admit"),
        [Admission::Admitted],
        "nothing was counted"
    );
    // Limits alone, in another scope.
    let answer = start(
        state,
        &StartRequest {
            numbers: &numbers,
            reservation: None,
            breaker: None,
            limits: Some(("ihuyi", &windows)),
        },
    )
    .await;
    assert_eq!(
        answer.admissions,
        Some(vec![Admission::Admitted]),
        "scopes count apart"
    );
    assert_eq!(answer.breaker, None);
}

/// A reference that is pending or completed ends the step: nothing is looked up or counted, and no
/// probe is handed out.
pub async fn start_stops_at_a_reference_that_is_not_free(
    state: &Arc<dyn ChainState>,
    advance: &(dyn Fn(Duration) + Sync),
) {
    let windows = [window(1, 60)];
    let a = number(121);
    let numbers = [a.clone()];
    let pending = ClientReference::new("start-pending");
    let done = ClientReference::new("start-done");
    assert_eq!(
        state.reserve(&pending, RETENTION).await.expect("reserve"),
        Reservation::Reserved
    );
    assert_eq!(
        state.reserve(&done, RETENTION).await.expect("reserve"),
        Reservation::Reserved
    );
    let outcome = sample_outcome(&done);
    state
        .complete(&done, &outcome, RETENTION)
        .await
        .expect("complete");
    // A probe is due: a step that stops at the reference must not take it.
    state.trip("ihuyi", Duration::from_secs(30)).await.expect("trip");
    advance(Duration::from_secs(30));
    let answer = start(state, &full_request(&pending, &numbers, &windows)).await;
    assert_eq!(
        answer,
        StartAnswer {
            reservation: Some(Reservation::Pending),
            suppressed: Vec::new(),
            breaker: None,
            admissions: None,
        }
    );
    let answer = start(state, &full_request(&done, &numbers, &windows)).await;
    assert_eq!(answer.reservation, Some(Reservation::Completed(outcome)));
    assert_eq!((answer.breaker, answer.admissions), (None, None));
    assert_eq!(
        BreakerSharing::admit(&**state, "ihuyi", LEASE)
            .await
            .expect("admit"),
        SharedBreaker::Probe,
        "the probe is still to be had"
    );
    state.close("ihuyi").await.expect("close");
    assert_eq!(
        RecipientLimiter::admit(&**state, "chain", &numbers, &windows)
            .await
            .expect("admit"),
        [Admission::Admitted],
        "nothing was counted"
    );
}

/// An open shared breaker ends the step after the opt-outs: the reference is reserved (the chain
/// goes on to another provider), nothing is counted; after the cool-down the step hands out the
/// probe, once.
pub async fn start_stops_at_an_open_breaker(
    state: &Arc<dyn ChainState>,
    advance: &(dyn Fn(Duration) + Sync),
) {
    let windows = [window(1, 60)];
    let (a, b) = (number(131), number(132));
    state.suppress(&b).await.expect("suppress");
    let numbers = [a.clone(), b.clone()];
    state.trip("ihuyi", Duration::from_secs(30)).await.expect("trip");
    let first = ClientReference::new("start-open");
    let answer = start(state, &full_request(&first, &numbers, &windows)).await;
    assert_eq!(answer.reservation, Some(Reservation::Reserved));
    assert_eq!(answer.suppressed, [false, true]);
    match answer.breaker {
        Some(SharedBreaker::Open { wait }) => {
            assert!(
                wait > Duration::from_secs(29) && wait <= Duration::from_secs(30),
                "{wait:?}"
            );
        }
        other => panic!("the breaker is open: {other:?}"),
    }
    assert_eq!(answer.admissions, None, "nothing counted behind an open breaker");
    advance(Duration::from_secs(30));
    let second = ClientReference::new("start-probe");
    let answer = start(state, &full_request(&second, &numbers, &windows)).await;
    assert_eq!(answer.breaker, Some(SharedBreaker::Probe));
    assert_eq!(
        answer.admissions,
        Some(vec![Admission::Admitted]),
        "the probe's message is counted (a was not before)"
    );
    let third = ClientReference::new("start-after-probe");
    let answer = start(state, &full_request(&third, &numbers, &windows)).await;
    assert!(
        matches!(answer.breaker, Some(SharedBreaker::Open { .. })),
        "one probe: {:?}",
        answer.breaker
    );
    state.close("ihuyi").await.expect("close");
}

/// A refusal by one window records nothing in any window, through the step as through the limiter.
pub async fn start_refusals_record_nothing(state: &Arc<dyn ChainState>, advance: &(dyn Fn(Duration) + Sync)) {
    let windows = [window(1, 1), window(2, DAY_SECS)];
    let numbers = [number(141)];
    let mut sent = 0;
    let mut step = |expect_admitted: bool, why: &'static str| {
        sent += 1;
        let reference = ClientReference::new(format!("start-refusal-{sent}"));
        let numbers = &numbers;
        let windows = &windows;
        async move {
            let answer = start(state, &full_request(&reference, numbers, windows)).await;
            let admitted = answer.admissions.as_deref() == Some(&[Admission::Admitted][..]);
            assert_eq!(admitted, expect_admitted, "{why}: {answer:?}");
        }
    };
    step(true, "the first").await;
    for _ in 0..5 {
        step(false, "within the second").await;
    }
    advance(Duration::from_secs(1));
    step(true, "refusals by the second did not use the day's room").await;
    advance(Duration::from_secs(1));
    step(false, "two per day").await;
    advance(Duration::from_secs(DAY_SECS - 2));
    step(true, "the refusal by the day did not use the second's room").await;
}

/// Of 30 concurrent steps through several handles (instances): one reference is reserved once; one
/// number under "1 per minute" is admitted once; after a trip's cool-down one probe is handed out.
pub async fn start_is_exact_under_concurrency(
    handles: &[Arc<dyn ChainState>],
    advance: &(dyn Fn(Duration) + Sync),
) {
    let windows = [window(1, 60)];
    let shared_reference = ClientReference::new("start-race");
    let steps = (0..30).map(|i| {
        let state = handles[i % handles.len()].clone();
        let reference = shared_reference.clone();
        async move {
            let numbers = [number(150 + u32::try_from(i).unwrap_or(0))];
            start(&state, &full_request(&reference, &numbers, &windows)).await
        }
    });
    let answers = join_all(steps).await;
    let reserved: Vec<&StartAnswer> = answers
        .iter()
        .filter(|a| a.reservation == Some(Reservation::Reserved))
        .collect();
    assert_eq!(reserved.len(), 1, "one reservation of one reference: {answers:?}");
    assert_eq!(
        reserved[0].admissions,
        Some(vec![Admission::Admitted]),
        "the one that reserved counted its number"
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.reservation != Some(Reservation::Reserved))
            .all(|a| a.reservation == Some(Reservation::Pending) && a.admissions.is_none()),
        "the others stopped at the reference"
    );

    let a = number(190);
    let steps = (0..30).map(|i| {
        let state = handles[i % handles.len()].clone();
        let a = a.clone();
        async move {
            let reference = ClientReference::new(format!("start-limit-{i}"));
            let numbers = [a];
            start(&state, &full_request(&reference, &numbers, &windows)).await
        }
    });
    let admitted = join_all(steps)
        .await
        .iter()
        .filter(|a| a.admissions.as_deref() == Some(&[Admission::Admitted][..]))
        .count();
    assert_eq!(admitted, 1, "exactly one of 30 concurrent messages to one number");

    handles[0]
        .trip("ihuyi", Duration::from_secs(30))
        .await
        .expect("trip");
    advance(Duration::from_secs(30));
    let steps = (0..30).map(|i| {
        let state = handles[i % handles.len()].clone();
        async move {
            let reference = ClientReference::new(format!("start-probe-{i}"));
            let numbers = [number(200 + u32::try_from(i).unwrap_or(0))];
            start(&state, &full_request(&reference, &numbers, &windows)).await
        }
    });
    let answers = join_all(steps).await;
    let probes = answers
        .iter()
        .filter(|a| a.breaker == Some(SharedBreaker::Probe))
        .count();
    assert_eq!(probes, 1, "exactly one probe after the cool-down");
    assert!(
        answers
            .iter()
            .filter(|a| a.breaker != Some(SharedBreaker::Probe))
            .all(|a| matches!(a.breaker, Some(SharedBreaker::Open { .. })) && a.admissions.is_none()),
        "the others see it open and count nothing"
    );
    handles[1].close("ihuyi").await.expect("close");
}

// Spend ledgers.

/// Every [`SpendLedger`] check, each in its own namespace. Counters are named per period, so no clock
/// is needed: `now` is passed to each reservation.
pub async fn run_spend_ledger<F, Fut>(open: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Arc<dyn SpendLedger>>,
{
    spend_all_or_nothing(&open(ns("spend-atomic")).await).await;
    spend_adjust_and_expiry(&open(ns("spend-adjust")).await).await;
    let handles = vec![
        open(ns("spend-shared")).await,
        open(ns("spend-shared")).await,
        open(ns("spend-shared")).await,
    ];
    spend_is_shared_and_exact_under_concurrency(&handles).await;
}

const SPEND_NOW: u64 = 1_800_000_000;

fn charge(counter: &str, amount: u64, limit: u64) -> Charge {
    Charge {
        counter: counter.to_owned(),
        amount,
        limit,
        expires_at: SPEND_NOW + DAY_SECS,
    }
}

async fn usage_of(ledger: &Arc<dyn SpendLedger>, counters: &[&str]) -> Vec<u64> {
    let names: Vec<String> = counters.iter().map(|c| (*c).to_owned()).collect();
    ledger.usage(&names).await.expect("the ledger answers")
}

/// A reservation adds every charge or none: one charge over its limit leaves every counter as it was,
/// and the answer names it and its value.
pub async fn spend_all_or_nothing(ledger: &Arc<dyn SpendLedger>) {
    let first = ledger
        .charge(&[charge("a", 6, 10), charge("b", 60, 100)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    assert_eq!(first, SpendAdmission::Reserved { used: vec![6, 60] });
    let over = ledger
        .charge(&[charge("a", 3, 10), charge("b", 50, 100)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    assert_eq!(
        over,
        SpendAdmission::Refused { index: 1, used: 60 },
        "b would reach 110"
    );
    assert_eq!(
        usage_of(ledger, &["a", "b", "never"]).await,
        vec![6, 60, 0],
        "nothing added on a refusal"
    );
    let exact = ledger
        .charge(&[charge("a", 4, 10)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    assert_eq!(
        exact,
        SpendAdmission::Reserved { used: vec![10] },
        "reaching the limit exactly fits"
    );
    let one_more = ledger
        .charge(&[charge("a", 1, 10)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    assert_eq!(one_more, SpendAdmission::Refused { index: 0, used: 10 });
}

/// Adjustments give back and add, never below zero; a counter past its expiry starts again at zero.
pub async fn spend_adjust_and_expiry(ledger: &Arc<dyn SpendLedger>) {
    ledger
        .charge(&[charge("c", 5, 10)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    let adjust = |delta: i64| Adjustment {
        counter: "c".to_owned(),
        delta,
        expires_at: SPEND_NOW + DAY_SECS,
    };
    ledger
        .settle(&[adjust(-2)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    assert_eq!(usage_of(ledger, &["c"]).await, vec![3]);
    ledger
        .settle(&[adjust(4)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    assert_eq!(usage_of(ledger, &["c"]).await, vec![7]);
    ledger
        .settle(&[adjust(-100)], SPEND_NOW)
        .await
        .expect("the ledger answers");
    assert_eq!(usage_of(ledger, &["c"]).await, vec![0], "clamped at zero");
    let short = Charge {
        counter: "d".to_owned(),
        amount: 9,
        limit: 10,
        expires_at: SPEND_NOW + 60,
    };
    ledger
        .charge(std::slice::from_ref(&short), SPEND_NOW)
        .await
        .expect("answers");
    let later = SPEND_NOW + 120;
    let again = ledger
        .charge(
            &[Charge {
                expires_at: later + 60,
                ..short
            }],
            later,
        )
        .await
        .expect("the ledger answers");
    assert_eq!(
        again,
        SpendAdmission::Reserved { used: vec![9] },
        "an expired counter starts again at zero"
    );
}

/// Handles on one state (instances) share the counters: 50 concurrent reservations of one part each
/// against a limit of 10 reserve exactly 10.
pub async fn spend_is_shared_and_exact_under_concurrency(handles: &[Arc<dyn SpendLedger>]) {
    let attempts = (0..50).map(|i| {
        let ledger = handles[i % handles.len()].clone();
        async move {
            ledger
                .charge(&[charge("shared", 1, 10)], SPEND_NOW)
                .await
                .expect("the ledger answers")
        }
    });
    let reserved = join_all(attempts)
        .await
        .into_iter()
        .filter(|a| matches!(a, SpendAdmission::Reserved { .. }))
        .count();
    assert_eq!(
        reserved, 10,
        "exactly 10 of 50 concurrent one-part reservations under a cap of 10"
    );
    for handle in handles {
        assert_eq!(
            usage_of(handle, &["shared"]).await,
            vec![10],
            "every instance sees the same count"
        );
    }
}
