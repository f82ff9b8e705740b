//! Random provider behaviour and clock jumps against the chain's invariants.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use proptest::prelude::*;
use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{
    AmbiguityPolicy, Capabilities, Error, ErrorKind, Message, MessageKind, MessageSender, Operation,
    PhoneNumber, Receipt, RecipientStatus,
};
use sms_failover::{
    BreakerConfig, BreakerState, ProviderEntry, RecipientLimits, RetryPolicy, Strategy as Routing,
};
use tokio::time::Instant;

use crate::support::{builder, numbers, text_to};

/// What a provider does with one request.
#[derive(Debug, Clone)]
enum Step {
    Accept,
    /// Fail; a retryable error (rate limited, unavailable) carries a retry-after of this many seconds
    /// when positive (up to `u64::MAX`: a provider's Retry-After header can say anything).
    Fail(ErrorKind, u64),
    /// Accept only the pool numbers in the mask, fail the others with the error.
    AcceptSome(u8, ErrorKind),
    /// Answer after this many milliseconds: accept, or an ambiguous failure.
    Slow(u64, bool),
    Hang,
}

impl Step {
    fn outcome(&self, pool: &[PhoneNumber]) -> StubOutcome {
        match self {
            Self::Accept => StubOutcome::Accept,
            Self::Fail(kind, retry_after) => {
                let mut error = Error::new(*kind, Operation::Send);
                if error.is_retryable() && *retry_after > 0 {
                    error = error.with_retry_after(Duration::from_secs(*retry_after));
                }
                StubOutcome::Fail(error)
            }
            Self::AcceptSome(mask, kind) => {
                StubOutcome::AcceptOnly(in_mask(pool, *mask), Error::new(*kind, Operation::Send))
            }
            Self::Slow(ms, accept) => {
                let inner = if *accept {
                    StubOutcome::Accept
                } else {
                    StubOutcome::fail(ErrorKind::Ambiguous)
                };
                inner.after(Duration::from_millis(*ms))
            }
            Self::Hang => StubOutcome::Hang,
        }
    }

    /// True when this request certainly took `number`.
    fn delivered(&self, number: &PhoneNumber, pool: &[PhoneNumber]) -> bool {
        match self {
            Self::Accept => true,
            Self::AcceptSome(mask, _) => in_mask(pool, *mask).contains(number),
            _ => false,
        }
    }

    /// True when this request may have taken `number` (certainly, or with an unknown outcome).
    fn may_have_delivered(&self, number: &PhoneNumber, pool: &[PhoneNumber]) -> bool {
        match self {
            Self::Accept | Self::Slow(..) | Self::Hang => true,
            Self::Fail(kind, _) => Error::new(*kind, Operation::Send).is_ambiguous(),
            Self::AcceptSome(mask, kind) => {
                in_mask(pool, *mask).contains(number) || Error::new(*kind, Operation::Send).is_ambiguous()
            }
        }
    }
}

fn in_mask(pool: &[PhoneNumber], mask: u8) -> Vec<PhoneNumber> {
    pool.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| n.clone())
        .collect()
}

#[derive(Debug, Clone)]
struct ProviderPlan {
    script: Vec<Step>,
    default: Step,
    max_batch: usize,
}

impl ProviderPlan {
    fn step(&self, call: usize) -> &Step {
        self.script.get(call).unwrap_or(&self.default)
    }
}

#[derive(Debug, Clone)]
struct SendPlan {
    mask: u8,
    at_least_once: bool,
    clock_jump_secs: u64,
}

#[derive(Debug, Clone)]
struct Plan {
    providers: Vec<ProviderPlan>,
    routing: u8,
    seed: u64,
    threshold: u32,
    cool_down_secs: u64,
    attempts: u32,
    initial_backoff_ms: u64,
    deadline_ms: u64,
    jitter: bool,
    attempt_timeout_ms: Option<u64>,
    /// Batch parts in flight at once per provider.
    part_concurrency: usize,
    sends: Vec<SendPlan>,
}

fn kind() -> impl Strategy<Value = ErrorKind> {
    prop_oneof![
        Just(ErrorKind::Unavailable),
        Just(ErrorKind::RateLimited),
        Just(ErrorKind::InsufficientBalance),
        Just(ErrorKind::ProviderFault),
        Just(ErrorKind::RecipientRejected),
        Just(ErrorKind::Ambiguous),
        Just(ErrorKind::Protocol),
        Just(ErrorKind::InvalidRecipient),
    ]
}

/// Mostly short pauses, sometimes absurd ones.
fn retry_after_secs() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..3,
        1 => Just(u64::MAX),
        1 => (1u64 << 32)..u64::MAX,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Accept),
        6 => (kind(), retry_after_secs()).prop_map(|(k, after)| Step::Fail(k, after)),
        2 => (0u8..8, prop_oneof![
            Just(ErrorKind::RecipientRejected),
            Just(ErrorKind::Unavailable),
            Just(ErrorKind::Ambiguous),
            Just(ErrorKind::InvalidRecipient),
        ])
            .prop_map(|(mask, k)| Step::AcceptSome(mask, k)),
        1 => (1u64..3000, any::<bool>()).prop_map(|(ms, ok)| Step::Slow(ms, ok)),
        1 => Just(Step::Hang),
    ]
}

fn provider_plan() -> impl Strategy<Value = ProviderPlan> {
    (prop::collection::vec(step(), 0..6), step(), 1usize..=3).prop_map(|(script, default, max_batch)| {
        ProviderPlan {
            script,
            default,
            max_batch,
        }
    })
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(provider_plan(), 1..=3),
        (0u8..3, any::<u64>()),
        (1u32..=3, 1u64..=20),
        (1u32..=3, 10u64..=500, 1_000u64..=10_000, any::<bool>()),
        (prop::option::of(500u64..=3_000), 1usize..=3),
        prop::collection::vec(
            (1u8..8, any::<bool>(), 0u64..30).prop_map(|(mask, at_least_once, clock_jump_secs)| SendPlan {
                mask,
                at_least_once,
                clock_jump_secs,
            }),
            1..6,
        ),
    )
        .prop_map(
            |(
                providers,
                (routing, seed),
                (threshold, cool_down_secs),
                (attempts, initial_backoff_ms, deadline_ms, jitter),
                (attempt_timeout_ms, part_concurrency),
                sends,
            )| Plan {
                providers,
                routing,
                seed,
                threshold,
                cool_down_secs,
                attempts,
                initial_backoff_ms,
                deadline_ms,
                jitter,
                attempt_timeout_ms,
                part_concurrency,
                sends,
            },
        )
}

/// One request as the providers saw it, in the order they were made.
#[derive(Debug, Clone)]
struct Entry {
    provider: usize,
    call: usize,
    recipients: Vec<PhoneNumber>,
}

/// Logs every request in one shared, ordered log, then lets the stub answer.
struct Recorded {
    index: usize,
    stub: StubSender,
    calls: Mutex<usize>,
    log: Arc<Mutex<Vec<Entry>>>,
}

#[async_trait]
impl MessageSender for Recorded {
    fn name(&self) -> &str {
        self.stub.name()
    }

    fn capabilities(&self) -> &Capabilities {
        self.stub.capabilities()
    }

    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let call = {
            let mut calls = self.calls.lock().expect("calls");
            *calls += 1;
            *calls - 1
        };
        self.log.lock().expect("log").push(Entry {
            provider: self.index,
            call,
            recipients: message.recipients().to_vec(),
        });
        self.stub.send(message).await
    }
}

const NAMES: [&str; 3] = ["p0", "p1", "p2"];

async fn check(plan: Plan) -> Result<(), TestCaseError> {
    let pool = numbers(3);
    let log = Arc::new(Mutex::new(Vec::<Entry>::new()));
    let clock = crate::backend::manual_clock();
    let routing = match plan.routing {
        0 => Routing::Priority,
        1 => Routing::RoundRobin,
        _ => Routing::WeightedRandom,
    };
    let mut retry = RetryPolicy::default()
        .max_attempts_per_provider(plan.attempts)
        .initial_backoff(Duration::from_millis(plan.initial_backoff_ms))
        .max_backoff(Duration::from_secs(2))
        .jitter(plan.jitter)
        .deadline(Duration::from_millis(plan.deadline_ms));
    retry.attempt_timeout = plan.attempt_timeout_ms.map(Duration::from_millis);
    let mut builder = builder()
        .part_concurrency(plan.part_concurrency)
        .strategy(routing)
        .random_seed(plan.seed)
        .clock(clock.clone())
        .recipient_limits(RecipientLimits::disabled())
        .retry(retry)
        .circuit_breaker(
            BreakerConfig::default()
                .failure_threshold(plan.threshold)
                .cool_down(Duration::from_secs(plan.cool_down_secs)),
        );
    for (index, provider) in plan.providers.iter().enumerate() {
        let mut stub = StubSender::new(NAMES[index])
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(provider.max_batch))
            .always(provider.default.outcome(&pool));
        for step in &provider.script {
            stub = stub.then(step.outcome(&pool));
        }
        let recorded = Recorded {
            index,
            stub,
            calls: Mutex::new(0),
            log: log.clone(),
        };
        builder = builder.provider(
            ProviderEntry::send_only(Arc::new(recorded))
                .priority(index as u32)
                .weight(1),
        );
    }
    let chain = builder.build().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let deadline = Duration::from_millis(plan.deadline_ms);

    for send in &plan.sends {
        clock.advance(Duration::from_secs(send.clock_jump_secs));
        let recipients = in_mask(&pool, send.mask);
        let policy = if send.at_least_once {
            AmbiguityPolicy::AtLeastOnce
        } else {
            AmbiguityPolicy::AtMostOnce
        };
        let message = text_to(recipients.clone()).with_ambiguity_policy(policy);
        let open_before: Vec<bool> = chain
            .health()
            .iter()
            .map(|h| h.breaker == BreakerState::Open)
            .collect();
        let first_entry = log.lock().expect("log").len();
        let started = Instant::now();
        let result = chain.send(&message).await;
        let elapsed = started.elapsed();
        let entries: Vec<Entry> = log.lock().expect("log")[first_entry..].to_vec();
        let step = |e: &Entry| plan.providers[e.provider].step(e.call).clone();

        // Time and attempts stay within bounds.
        prop_assert!(elapsed <= deadline, "took {elapsed:?} > {deadline:?}");
        for (index, provider) in plan.providers.iter().enumerate() {
            let parts = recipients.len().div_ceil(provider.max_batch);
            let requests = entries.iter().filter(|e| e.provider == index).count();
            prop_assert!(
                requests <= plan.attempts as usize * parts,
                "{requests} requests to p{index} for {parts} part(s)"
            );
        }

        // Providers in strategy order, minus open breakers: never revisited, and after the first choice
        // in priority order; an open breaker gets no request (its clock does not move during a send).
        let mut visited: Vec<usize> = Vec::new();
        for entry in &entries {
            if visited.last() != Some(&entry.provider) {
                prop_assert!(
                    !visited.contains(&entry.provider),
                    "p{} revisited: {visited:?}",
                    entry.provider
                );
                visited.push(entry.provider);
            }
        }
        let in_priority_order = match routing {
            Routing::Priority => &visited[..],
            _ => visited.get(1..).unwrap_or(&[]),
        };
        prop_assert!(
            in_priority_order.windows(2).all(|w| w[0] < w[1]),
            "order {visited:?}"
        );
        for (index, open) in open_before.iter().enumerate() {
            prop_assert!(
                !open || entries.iter().all(|e| e.provider != index),
                "p{index} was open but got a request"
            );
        }

        // No number is sent again once certainly taken; under at-most-once, once possibly taken.
        for number in &recipients {
            let with_number: Vec<&Entry> = entries.iter().filter(|e| e.recipients.contains(number)).collect();
            for (i, entry) in with_number.iter().enumerate() {
                let s = step(entry);
                let final_allowed = if policy == AmbiguityPolicy::AtMostOnce {
                    s.may_have_delivered(number, &pool)
                } else {
                    s.delivered(number, &pool)
                };
                prop_assert!(
                    !final_allowed || i + 1 == with_number.len(),
                    "{} sent again after {s:?} ({policy:?})",
                    number.masked()
                );
            }
        }

        // Ambiguity is never hidden, under either policy: a number one of whose requests may have
        // delivered it without saying so, and that no provider accepted afterwards, ends unknown
        // (an unknown outcome, or a failure that `is_ambiguous`), whatever failed after; and when
        // nothing was accepted, the error says so.
        let uncertain_numbers: Vec<&PhoneNumber> = recipients
            .iter()
            .filter(|number| {
                entries.iter().any(|e| {
                    e.recipients.contains(number)
                        && step(e).may_have_delivered(number, &pool)
                        && !step(e).delivered(number, &pool)
                })
            })
            .collect();
        match &result {
            Ok(receipt) => {
                for number in &uncertain_numbers {
                    let outcome = receipt.outcome_for(number);
                    prop_assert!(
                        outcome.is_some_and(|o| match &o.status {
                            RecipientStatus::Accepted | RecipientStatus::Unknown => true,
                            RecipientStatus::Failed(error) => error.is_ambiguous(),
                            _ => false,
                        }),
                        "{} may have got it, but ends {:?} ({policy:?})",
                        number.masked(),
                        outcome.map(|o| &o.status)
                    );
                }
            }
            Err(error) => prop_assert!(
                uncertain_numbers.is_empty() || error.is_ambiguous(),
                "{} may have got it, but the error is {error} ({policy:?})",
                uncertain_numbers[0].masked()
            ),
        }

        match &result {
            Ok(receipt) => {
                let got: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
                prop_assert_eq!(got, recipients.iter().collect::<Vec<_>>());
                for outcome in receipt.accepted() {
                    let index = NAMES.iter().position(|n| *n == outcome.provider);
                    prop_assert!(
                        entries.iter().any(|e| Some(e.provider) == index
                            && e.recipients.contains(&outcome.recipient)
                            && step(e).may_have_delivered(&outcome.recipient, &pool)),
                        "accepted by {} without such a request",
                        outcome.provider
                    );
                }
            }
            Err(error) => {
                // Under at-most-once, a number that may have gone out makes the error say so, whatever
                // else failed: a caller seeing any other error would resend it.
                let uncertain = entries.iter().find(|e| {
                    e.recipients
                        .iter()
                        .any(|number| step(e).may_have_delivered(number, &pool))
                });
                if let (AmbiguityPolicy::AtMostOnce, Some(entry)) = (policy, uncertain) {
                    prop_assert!(
                        error.is_ambiguous(),
                        "{:?} to p{} may have delivered, but the error is {error}",
                        step(entry),
                        entry.provider
                    );
                }
                // Nothing was certainly taken.
                for entry in &entries {
                    for number in &entry.recipients {
                        prop_assert!(!step(entry).delivered(number, &pool), "{error}");
                    }
                }
                for attempt in error.attempts() {
                    prop_assert!(attempt.elapsed <= deadline);
                    if attempt.error.kind() == ErrorKind::CircuitOpen {
                        prop_assert_eq!(attempt.elapsed, Duration::ZERO);
                    }
                }
                if error.kind() == ErrorKind::AllProvidersFailed {
                    // Every request is listed, and every provider was tried or skipped.
                    for (index, name) in NAMES.iter().enumerate().take(plan.providers.len()) {
                        let listed = error
                            .attempts()
                            .iter()
                            .filter(|a| a.provider == *name && a.error.kind() != ErrorKind::CircuitOpen)
                            .count();
                        let made = entries.iter().filter(|e| e.provider == index).count();
                        prop_assert_eq!(listed, made, "requests to {} vs attempts listed", name);
                        let deadline_cut = error.message().contains("deadline");
                        prop_assert!(
                            deadline_cut || error.attempts().iter().any(|a| a.provider == *name),
                            "{name} missing from {error}"
                        );
                    }
                } else {
                    // One cause stopped the send: a number no provider can take, or an unknown outcome.
                    prop_assert!(!error.attempts().is_empty(), "{error}");
                    prop_assert!(
                        matches!(
                            error.kind(),
                            ErrorKind::InvalidRecipient | ErrorKind::Ambiguous | ErrorKind::Protocol
                        ),
                        "{error}"
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_chain_keeps_its_invariants(plan in plan()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runtime.block_on(check(plan))?;
    }
}
