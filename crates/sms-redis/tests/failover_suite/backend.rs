//! The `backend` of the failover suite on Redis: every chain's state (opt-outs, limits, idempotency,
//! breaker sharing) on the Redis server under a key prefix of its own, through [`RedisBacked`].
//!
//! The suite runs in paused tokio time. Awaiting real I/O there would let tokio move the clock to the
//! next timer (a deadline, an attempt timeout) while Redis answers, so each state call runs on a worker
//! runtime of its own and the test's thread waits for the answer: seen from the test, a state call
//! takes no time at all. And the scripts take their time from the test's clock (tokio's paused clock,
//! or the manual clock the test injects), exactly, instead of the server's `TIME`.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sms_core::{ClientReference, Error, PhoneNumber};
use sms_failover::state::{
    Adjustment, Admission, BreakerSharing, ChainState, Charge, IdempotencyStore, RecipientLimiter,
    RecordedOutcome, Reservation, SharedBreaker, SpendAdmission, SpendLedger, StartAnswer, StartRequest,
    SuppressionList,
};
use sms_failover::{Clock, FailoverSenderBuilder, LimitWindow, ManualClock, TokioClock};
use sms_redis::{RedisConfig, RedisState};

use crate::redis_support::{connect_with, redis_url, unique_prefix};

/// A new chain's builder with all of its state on Redis (a fresh prefix: each chain's state is its
/// own, as in memory), timed by the test's clock ([`test_clock`]).
pub fn apply(builder: FailoverSenderBuilder) -> FailoverSenderBuilder {
    builder.shared_state(Arc::new(RedisBacked::new()))
}

thread_local! {
    /// The manual clock of the test running on this thread (tests run one per thread at a time);
    /// weak, so that it ends with the test.
    static MANUAL_CLOCK: RefCell<Weak<ManualClock>> = const { RefCell::new(Weak::new()) };
}

/// A test's manual clock: the state on Redis made while it lives is timed by it.
pub fn manual_clock() -> Arc<ManualClock> {
    let clock = Arc::new(ManualClock::new());
    MANUAL_CLOCK.with(|current| *current.borrow_mut() = Arc::downgrade(&clock));
    clock
}

/// The clock of the state a test makes now: its manual clock if it has one, else tokio's (paused)
/// clock, as the chains of the suite use.
fn test_clock() -> Arc<dyn Clock> {
    match MANUAL_CLOCK.with(|current| current.borrow().upgrade()) {
        Some(clock) => clock,
        None => Arc::new(TokioClock),
    }
}

/// An opt-out list a test fills itself and gives to its chain.
pub fn suppression_list() -> Arc<dyn SuppressionList> {
    Arc::new(RedisBacked::new())
}

/// Breaker sharing for several chains of one test.
pub fn breaker_sharing() -> Arc<dyn BreakerSharing> {
    Arc::new(RedisBacked::new())
}

/// The runtime Redis calls run on, shared by every test of the binary.
fn worker() -> &'static tokio::runtime::Runtime {
    static WORKER: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    WORKER.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("redis-state")
            .enable_all()
            .build()
            .expect("the Redis worker runtime starts")
    })
}

/// Runs `call` on the worker and blocks this thread until it is done (its panic, if any, goes on
/// here). Blocking is the point: the paused runtime of the test must not run, so its clock cannot move.
fn blocking<T: Send + 'static>(call: impl Future<Output = T> + Send + 'static) -> T {
    let task = worker().spawn(call);
    let (answer, wait) = std::sync::mpsc::channel();
    worker().spawn(async move {
        let _ = answer.send(task.await);
    });
    match wait.recv().expect("the Redis worker answers") {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("Redis call cancelled: {e}"),
    }
}

/// The four state traits over [`RedisState`], each call synchronous (see the module's docs), the
/// scripts' time the test clock's.
pub struct RedisBacked {
    state: RedisState,
    clock: Arc<dyn Clock>,
    /// The test clock when this backend was made, and the Redis time it stands for.
    start: Instant,
    start_us: i64,
    /// The time the next script takes, in microseconds since the Unix epoch.
    now_us: Arc<AtomicI64>,
}

impl RedisBacked {
    fn new() -> Self {
        let clock = test_clock();
        let start_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        let now_us = Arc::new(AtomicI64::new(start_us));
        let prefix = unique_prefix("failover-suite");
        let read = now_us.clone();
        let config = RedisConfig::new(redis_url())
            .key_prefix(prefix)
            // Not years: the keys of a test are left to expire (deleting them would mean scanning
            // every key of a server other tests share). The others expire within a day.
            .opt_out_retention(Duration::from_secs(3600))
            .test_clock(Arc::new(move || {
                Duration::from_micros(u64::try_from(read.load(Ordering::SeqCst)).unwrap_or(0))
            }));
        let state = blocking(connect_with(config));
        Self {
            state,
            start: clock.now(),
            clock,
            start_us,
            now_us,
        }
    }

    /// Runs `call` on the Redis state at the test clock's time.
    fn call<T, F, Fut>(&self, call: F) -> T
    where
        T: Send + 'static,
        F: FnOnce(RedisState) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let elapsed = self.clock.now().saturating_duration_since(self.start);
        let elapsed_us = i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX);
        self.now_us
            .store(self.start_us.saturating_add(elapsed_us), Ordering::SeqCst);
        blocking(call(self.state.clone()))
    }
}

#[async_trait]
impl SuppressionList for RedisBacked {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        let numbers = numbers.to_vec();
        self.call(|s| async move { s.suppressed(&numbers).await })
    }

    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        let number = number.clone();
        self.call(|s| async move { s.suppress(&number).await })
    }

    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        let number = number.clone();
        self.call(|s| async move { s.unsuppress(&number).await })
    }
}

#[async_trait]
impl RecipientLimiter for RedisBacked {
    async fn admit(
        &self,
        scope: &str,
        numbers: &[PhoneNumber],
        windows: &[LimitWindow],
    ) -> Result<Vec<Admission>, Error> {
        let (scope, numbers, windows) = (scope.to_owned(), numbers.to_vec(), windows.to_vec());
        self.call(|s| async move { RecipientLimiter::admit(&s, &scope, &numbers, &windows).await })
    }
}

#[async_trait]
impl IdempotencyStore for RedisBacked {
    async fn reserve(&self, reference: &ClientReference, retention: Duration) -> Result<Reservation, Error> {
        let reference = reference.clone();
        self.call(|s| async move { s.reserve(&reference, retention).await })
    }

    async fn complete(
        &self,
        reference: &ClientReference,
        outcome: &RecordedOutcome,
        retention: Duration,
    ) -> Result<(), Error> {
        let (reference, outcome) = (reference.clone(), outcome.clone());
        self.call(|s| async move { s.complete(&reference, &outcome, retention).await })
    }

    async fn release(&self, reference: &ClientReference) -> Result<(), Error> {
        let reference = reference.clone();
        self.call(|s| async move { s.release(&reference).await })
    }
}

#[async_trait]
impl BreakerSharing for RedisBacked {
    async fn admit(&self, provider: &str, probe_lease: Duration) -> Result<SharedBreaker, Error> {
        let provider = provider.to_owned();
        self.call(|s| async move { BreakerSharing::admit(&s, &provider, probe_lease).await })
    }

    async fn trip(&self, provider: &str, cool_down: Duration) -> Result<(), Error> {
        let provider = provider.to_owned();
        self.call(|s| async move { s.trip(&provider, cool_down).await })
    }

    async fn close(&self, provider: &str) -> Result<(), Error> {
        let provider = provider.to_owned();
        self.call(|s| async move { s.close(&provider).await })
    }

    async fn release_probe(&self, provider: &str) -> Result<(), Error> {
        let provider = provider.to_owned();
        self.call(|s| async move { s.release_probe(&provider).await })
    }
}

/// A message's start in one script call, as [`RedisState`] answers it: the chains of the suite take
/// the same path as a chain given a `RedisState` does.
#[async_trait]
impl ChainState for RedisBacked {
    async fn start(&self, request: &StartRequest<'_>) -> Result<StartAnswer, Error> {
        let numbers = request.numbers.to_vec();
        let reservation = request
            .reservation
            .map(|(reference, retention)| (reference.clone(), retention));
        let breaker = request
            .breaker
            .map(|(provider, lease)| (provider.to_owned(), lease));
        let limits = request
            .limits
            .map(|(scope, windows)| (scope.to_owned(), windows.to_vec()));
        self.call(|s| async move {
            let request = StartRequest {
                numbers: &numbers,
                reservation: reservation
                    .as_ref()
                    .map(|(reference, retention)| (reference, *retention)),
                breaker: breaker
                    .as_ref()
                    .map(|(provider, lease)| (provider.as_str(), *lease)),
                limits: limits
                    .as_ref()
                    .map(|(scope, windows)| (scope.as_str(), windows.as_slice())),
            };
            ChainState::start(&s, &request).await
        })
    }
}

#[async_trait]
impl SpendLedger for RedisBacked {
    async fn charge(&self, charges: &[Charge], now: u64) -> Result<SpendAdmission, Error> {
        let charges = charges.to_vec();
        self.call(|s| async move { s.charge(&charges, now).await })
    }

    async fn settle(&self, adjustments: &[Adjustment], now: u64) -> Result<(), Error> {
        let adjustments = adjustments.to_vec();
        self.call(|s| async move { s.settle(&adjustments, now).await })
    }

    async fn usage(&self, counters: &[String]) -> Result<Vec<u64>, Error> {
        let counters = counters.to_vec();
        self.call(|s| async move { s.usage(&counters).await })
    }
}
