//! A circuit breaker per provider: after a run of provider-side failures the chain stops sending to
//! that provider for a cool-down, then lets one probe through.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sms_core::Error;

use crate::clock::Clock;

/// When a provider's breaker opens and how long it stays open.
///
/// ```
/// use std::time::Duration;
/// use sms_failover::BreakerConfig;
/// let config = BreakerConfig::default().failure_threshold(3).cool_down(Duration::from_secs(10));
/// assert_eq!((config.failure_threshold, config.cool_down), (3, Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive provider-side failures (unavailable, ambiguous, unreadable answers, provider fault
    /// codes; never caller mistakes) that open the breaker. Default 3 ([`DEFAULT_FAILURE_THRESHOLD`]);
    /// must be at least 1.
    pub failure_threshold: u32,
    /// How long an open breaker skips its provider before one probe may go through. Default 30 s.
    pub cool_down: Duration,
    /// A request still unanswered after this long counts as a provider-side failure at that moment,
    /// before its own timeout ends it (resilience4j's slow-call rule): a provider that hangs trips its
    /// breaker after `failure_threshold` slow requests, so that other sends leave it early. The request
    /// itself goes on until it is answered or timed out; a slow request counts once, whatever it
    /// ends with. Default 2 s (providers answer well under a second); `None` turns slow-call
    /// detection off. A chain nested in another may take longer by design (its own retries and
    /// failovers): give the outer chain a longer threshold, or none.
    pub slow_call_threshold: Option<Duration>,
}

impl BreakerConfig {
    /// Sets [`Self::failure_threshold`].
    #[must_use]
    pub fn failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures;
        self
    }

    /// Sets [`Self::cool_down`].
    #[must_use]
    pub fn cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }

    /// Sets [`Self::slow_call_threshold`] (`None`: off).
    #[must_use]
    pub fn slow_call_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow_call_threshold = threshold;
        self
    }
}

/// See [`BreakerConfig::slow_call_threshold`].
pub(crate) const DEFAULT_SLOW_CALL_THRESHOLD: Duration = Duration::from_secs(2);

/// Provider-side failures in a row that open a breaker by default. Three: a healthy provider API
/// almost never fails three times running, and every failure of a hanging provider costs a sender a
/// whole attempt timeout, so each one more than needed is seconds of waiting per message.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            cool_down: Duration::from_secs(30),
            slow_call_threshold: Some(DEFAULT_SLOW_CALL_THRESHOLD),
        }
    }
}

/// A breaker's state, as [`crate::FailoverSender::health`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Requests go through.
    Closed,
    /// The provider is skipped without any request until the cool-down ends.
    Open,
    /// The cool-down has ended: the next request is a probe (or one is in flight); its success closes
    /// the breaker, its failure opens it again.
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open {
        since: Instant,
    },
    /// The cool-down is over and one probe is in flight.
    Probing,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive_failures: u32,
    /// Moves on at every change of state. A request's verdict counts only if it was admitted in the
    /// current epoch (or is the probe): an answer to a request admitted before the breaker opened says
    /// nothing about the provider now, and must neither close the breaker nor reopen it.
    epoch: u64,
}

impl Inner {
    fn change(&mut self, state: State) {
        self.state = state;
        self.epoch = self.epoch.wrapping_add(1);
    }
}

/// One provider's breaker.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub(crate) fn new(config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            clock,
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive_failures: 0,
                epoch: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks to send one request. `None` when the breaker is open (or its one probe is in flight): skip
    /// the provider.
    pub(crate) fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        match inner.state {
            State::Closed => Some(Permit {
                breaker: self,
                probe_of: None,
                epoch: inner.epoch,
                settled: false,
            }),
            State::Open { since }
                if self.clock.now().saturating_duration_since(since) >= self.config.cool_down =>
            {
                inner.change(State::Probing);
                Some(Permit {
                    breaker: self,
                    probe_of: Some(since),
                    epoch: inner.epoch,
                    settled: false,
                })
            }
            State::Open { .. } | State::Probing => None,
        }
    }

    /// True when a request asked for now would be refused: the breaker is open and cooling down, or its
    /// one probe is in flight. A retry's pause is never taken for such a provider.
    pub(crate) fn refuses(&self) -> bool {
        match self.lock().state {
            State::Closed => false,
            State::Open { since } => {
                self.clock.now().saturating_duration_since(since) < self.config.cool_down
            }
            State::Probing => true,
        }
    }

    /// The slow-call threshold, if slow-call detection is on.
    pub(crate) fn slow_call_threshold(&self) -> Option<Duration> {
        self.config.slow_call_threshold
    }

    /// The state for health reports.
    pub(crate) fn state(&self) -> BreakerState {
        match self.lock().state {
            State::Closed => BreakerState::Closed,
            State::Open { since }
                if self.clock.now().saturating_duration_since(since) >= self.config.cool_down =>
            {
                BreakerState::HalfOpen
            }
            State::Open { .. } => BreakerState::Open,
            State::Probing => BreakerState::HalfOpen,
        }
    }

    /// Provider-side failures in a row so far.
    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.lock().consecutive_failures
    }

    /// The cool-down.
    pub(crate) fn cool_down(&self) -> Duration {
        self.config.cool_down
    }

    /// Counts a verdict; true when it opened the breaker.
    fn settle(&self, failed: bool, probe: bool, epoch: u64) -> bool {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            // Admitted before the latest change of state (a late answer from before the breaker
            // opened, or from before a probe closed it): it says nothing about the provider now.
            return false;
        }
        if failed {
            inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
            if probe || inner.consecutive_failures >= self.config.failure_threshold {
                let since = self.clock.now();
                inner.change(State::Open { since });
                return true;
            }
        } else {
            inner.consecutive_failures = 0;
            if probe {
                inner.change(State::Closed);
            }
        }
        false
    }

    fn abandon_probe(&self, opened: Instant) {
        let mut inner = self.lock();
        if matches!(inner.state, State::Probing) {
            // The probe never answered (its future was dropped): let the next request probe instead.
            inner.change(State::Open { since: opened });
        }
    }
}

/// True when an error counts against the provider's breaker: it says the provider itself is unwell
/// (unreachable, no answer, unreadable answers, its own faults), not that the caller asked for
/// something wrong or that the account needs attention.
pub(crate) fn counts_as_failure(error: &Error) -> bool {
    error.is_provider_fault()
}

/// Leave to send one request; report its result with [`Permit::record`].
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    probe_of: Option<Instant>,
    /// The breaker's epoch when the request was admitted.
    epoch: u64,
    settled: bool,
}

impl Permit<'_> {
    /// Reports the request's result: a provider-side failure counts towards opening the breaker (and
    /// reopens it after a probe); any other answer closes it. True when this opened the breaker.
    pub(crate) fn record<T>(mut self, result: &Result<T, Error>) -> bool {
        let mut opened = false;
        if !self.settled {
            let failed = result.as_ref().err().is_some_and(counts_as_failure);
            opened = self.breaker.settle(failed, self.probe_of.is_some(), self.epoch);
        }
        self.settled = true;
        opened
    }

    /// Counts the request, still unanswered after the slow-call threshold, as a provider-side failure
    /// now. Its answer, when it comes, counts no more. True when this opened the breaker.
    pub(crate) fn record_slow(&mut self) -> bool {
        if self.settled {
            return false;
        }
        self.settled = true;
        self.breaker.settle(true, self.probe_of.is_some(), self.epoch)
    }

    /// Gives the permit back without a verdict: the request ended for a reason that says nothing about
    /// the provider (the chain's own deadline cut it short). Nothing is counted either way; a probe's
    /// slot is freed, so that the next request probes instead.
    pub(crate) fn release(self) {
        // Dropping an unsettled permit is exactly that (see `Drop`).
        drop(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let (false, Some(opened)) = (self.settled, self.probe_of) {
            self.breaker.abandon_probe(opened);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use sms_core::{ErrorKind, Operation};

    fn breaker(threshold: u32, cool_down_secs: u64) -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        let config = BreakerConfig::default()
            .failure_threshold(threshold)
            .cool_down(Duration::from_secs(cool_down_secs));
        (CircuitBreaker::new(config, clock.clone()), clock)
    }

    fn fail(kind: ErrorKind) -> Result<(), Error> {
        Err(Error::new(kind, Operation::Send))
    }

    fn send(breaker: &CircuitBreaker, result: Result<(), Error>) -> bool {
        match breaker.try_acquire() {
            Some(permit) => {
                permit.record(&result);
                true
            }
            None => false,
        }
    }

    #[test]
    fn opens_after_consecutive_provider_failures_only() {
        let (b, _) = breaker(3, 30);
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        assert!(send(&b, fail(ErrorKind::ProviderFault)));
        // A success in between starts the count again.
        assert!(send(&b, Ok(())));
        assert!(send(&b, fail(ErrorKind::Ambiguous)));
        assert!(send(&b, fail(ErrorKind::Protocol)));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none());
    }

    #[test]
    fn caller_mistakes_and_account_problems_never_open_it() {
        let (b, _) = breaker(1, 30);
        for kind in [
            ErrorKind::InvalidRecipient,
            ErrorKind::InvalidContent,
            ErrorKind::InvalidRequest,
            ErrorKind::RecipientThrottled,
            ErrorKind::ContentRejected,
            ErrorKind::InsufficientBalance,
            ErrorKind::Unauthorized,
            ErrorKind::RateLimited,
        ] {
            assert!(send(&b, fail(kind)), "{kind:?}");
            assert_eq!(b.state(), BreakerState::Closed, "{kind:?}");
            assert_eq!(b.consecutive_failures(), 0);
        }
    }

    #[test]
    fn one_probe_after_cool_down_closes_on_success() {
        let (b, clock) = breaker(1, 30);
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        clock.advance(Duration::from_secs(29));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none());
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.try_acquire().expect("a probe after the cool-down");
        assert!(b.try_acquire().is_none(), "only one probe at a time");
        probe.record(&Ok::<(), Error>(()));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(send(&b, Ok(())));
    }

    #[test]
    fn failed_probe_reopens_for_a_full_cool_down() {
        let (b, clock) = breaker(2, 30);
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        clock.advance(Duration::from_secs(30));
        assert!(send(&b, fail(ErrorKind::Unavailable)), "the probe goes through");
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(29));
        assert!(b.try_acquire().is_none());
        clock.advance(Duration::from_secs(1));
        assert!(b.try_acquire().is_some());
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let (b, clock) = breaker(1, 30);
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        clock.advance(Duration::from_secs(31));
        drop(b.try_acquire().expect("probe"));
        assert!(b.try_acquire().is_some(), "another probe may go");
    }

    #[test]
    fn a_released_permit_counts_nothing() {
        let (b, clock) = breaker(1, 30);
        b.try_acquire().expect("closed").release();
        assert_eq!((b.state(), b.consecutive_failures()), (BreakerState::Closed, 0));
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        clock.advance(Duration::from_secs(30));
        b.try_acquire().expect("probe").release();
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen,
            "still waiting for a probe's verdict"
        );
        let probe = b.try_acquire().expect("the next request probes");
        probe.record(&Ok::<(), Error>(()));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_late_success_from_before_the_opening_does_not_close_it() {
        let (b, clock) = breaker(1, 3600);
        let early = b.try_acquire().expect("closed");
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        assert_eq!(b.state(), BreakerState::Open);
        early.record(&Ok::<(), Error>(()));
        assert_eq!(b.state(), BreakerState::Open, "admitted before the opening");
        assert!(
            b.try_acquire().is_none(),
            "the next send still skips the provider"
        );
        clock.advance(Duration::from_secs(3600));
        let probe = b.try_acquire().expect("the probe");
        probe.record(&Ok::<(), Error>(()));
        assert_eq!(b.state(), BreakerState::Closed, "only the probe closes it");
    }

    #[test]
    fn a_late_answer_from_before_a_probe_closed_it_counts_for_nothing() {
        let (b, clock) = breaker(1, 30);
        let early = b.try_acquire().expect("closed");
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        clock.advance(Duration::from_secs(30));
        b.try_acquire().expect("probe").record(&Ok::<(), Error>(()));
        early.record(&fail(ErrorKind::Unavailable));
        assert_eq!((b.state(), b.consecutive_failures()), (BreakerState::Closed, 0));
    }

    #[test]
    fn slow_calls_trip_the_breaker_before_they_end_and_count_once() {
        let (b, _) = breaker(2, 30);
        let mut first = b.try_acquire().expect("closed");
        let mut second = b.try_acquire().expect("closed");
        first.record_slow();
        assert_eq!((b.state(), b.consecutive_failures()), (BreakerState::Closed, 1));
        second.record_slow();
        assert_eq!(b.state(), BreakerState::Open, "two slow calls trip it");
        assert!(b.refuses());
        // Their answers, when they come, change nothing.
        first.record(&Ok::<(), Error>(()));
        second.record(&fail(ErrorKind::Ambiguous));
        assert_eq!((b.state(), b.consecutive_failures()), (BreakerState::Open, 2));
    }

    #[test]
    fn refuses_only_while_cooling_down_or_probing() {
        let (b, clock) = breaker(1, 30);
        assert!(!b.refuses());
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        assert!(b.refuses());
        clock.advance(Duration::from_secs(30));
        assert!(!b.refuses(), "a probe may go");
        let probe = b.try_acquire().expect("probe");
        assert!(b.refuses(), "its probe is in flight");
        probe.record(&Ok::<(), Error>(()));
        assert!(!b.refuses());
    }

    #[test]
    fn late_failures_do_not_extend_an_open_breaker() {
        let (b, clock) = breaker(1, 30);
        let early = b.try_acquire().expect("closed");
        assert!(send(&b, fail(ErrorKind::Unavailable)));
        clock.advance(Duration::from_secs(20));
        early.record(&fail(ErrorKind::Unavailable));
        clock.advance(Duration::from_secs(10));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }
}
