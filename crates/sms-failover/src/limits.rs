//! Per-recipient local limits: keep every number under the providers' own per-number limits (ihuyi
//! 4080 "one per second", 4082 "five per day"), so that a flood to one number is stopped here, costs no
//! request and never gets the number blacklisted.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sms_core::{Error, ErrorKind, Operation, PhoneNumber};

use crate::clock::Clock;

/// One limit: at most `count` messages to a number per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitWindow {
    /// Messages allowed per period.
    pub count: u32,
    /// The period.
    pub period: Duration,
}

/// The per-recipient limits a chain enforces before any request.
///
/// Each window is a sliding window: a message to a number is allowed when fewer than `count` messages
/// went to it within the last `period`. "5 per day" therefore never lets a sixth message through
/// within 24 hours of the first of the five, however they are spread. A message refused by one
/// window counts in none, and a number's history is forgotten once it is older than the longest
/// window.
///
/// ```
/// use std::time::Duration;
/// use sms_failover::RecipientLimits;
/// let default = RecipientLimits::default();
/// assert_eq!(default.windows().len(), 2); // 1 per second and 5 per day
/// let custom = RecipientLimits::disabled().with_limit(3, Duration::from_secs(3600));
/// assert_eq!(custom.windows()[0].count, 3);
/// assert!(RecipientLimits::disabled().is_disabled());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientLimits {
    windows: Vec<LimitWindow>,
}

/// A day, for "per day" limits.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl RecipientLimits {
    /// At most `per_second` messages per second and `per_day` per day to each number.
    pub fn new(per_second: u32, per_day: u32) -> Self {
        Self::disabled()
            .with_limit(per_second, Duration::from_secs(1))
            .with_limit(per_day, DAY)
    }

    /// No per-recipient limits.
    pub fn disabled() -> Self {
        Self { windows: Vec::new() }
    }

    /// Adds a window: at most `count` messages per `period` to each number. `count` and `period` must
    /// be positive ([`crate::FailoverSenderBuilder::build`] refuses them otherwise).
    #[must_use]
    pub fn with_limit(mut self, count: u32, period: Duration) -> Self {
        self.windows.push(LimitWindow { count, period });
        self
    }

    /// The windows, as added.
    pub fn windows(&self) -> &[LimitWindow] {
        &self.windows
    }

    /// True when there is no window.
    pub fn is_disabled(&self) -> bool {
        self.windows.is_empty()
    }
}

impl Default for RecipientLimits {
    /// One message per second and five per day to each number: the ihuyi defaults.
    fn default() -> Self {
        Self::new(1, 5)
    }
}

/// A sweep of a shard's forgotten numbers runs once this many admissions to the shard, or as many as
/// there were numbers left in it after its previous sweep if more, have passed: the cost stays constant
/// per admission, and memory stays within about twice the numbers seen within the longest window.
const MIN_SWEEP_INTERVAL: usize = 64;

/// The limiter's state is split by number into this many independently locked shards, so that
/// concurrent sends to different numbers rarely wait for one another.
const SHARDS: usize = 16;

/// The times of the messages counted to one number within the longest window, oldest first. One log
/// serves every window: a window's messages are the log's suffix within its period, and it is full
/// when its `count`-th most recent time is within its period. The longest window keeps the log to at
/// most its own `count` times.
type Log = VecDeque<Instant>;

#[derive(Debug, Default)]
struct State {
    numbers: HashMap<PhoneNumber, Log>,
    admissions_since_sweep: usize,
    numbers_after_sweep: usize,
}

/// Enforces [`RecipientLimits`].
pub(crate) struct RecipientLimiter {
    /// Shortest period first.
    windows: Vec<LimitWindow>,
    clock: Arc<dyn Clock>,
    shards: Vec<Mutex<State>>,
    hasher: std::hash::RandomState,
}

impl fmt::Debug for RecipientLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecipientLimiter")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

/// Drops the times older than `period`.
fn prune(log: &mut Log, period: Duration, now: Instant) {
    while log
        .front()
        .is_some_and(|&at| now.saturating_duration_since(at) >= period)
    {
        log.pop_front();
    }
}

impl RecipientLimiter {
    /// A limiter for `limits`, timed by `clock`.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for a window with a zero count or a zero period.
    pub(crate) fn new(limits: &RecipientLimits, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        if let Some(bad) = limits.windows.iter().find(|w| w.count == 0 || w.period.is_zero()) {
            return Err(
                Error::new(ErrorKind::Configuration, Operation::Configure).with_message(format!(
                    "a recipient limit needs a positive count and period, got {} per {:?}",
                    bad.count, bad.period
                )),
            );
        }
        let mut windows = limits.windows.clone();
        windows.sort_by_key(|w| w.period);
        Ok(Self {
            windows,
            clock,
            shards: (0..SHARDS).map(|_| Mutex::new(State::default())).collect(),
            hasher: std::hash::RandomState::new(),
        })
    }

    /// The shard that holds `number`.
    fn lock(&self, number: &PhoneNumber) -> MutexGuard<'_, State> {
        use std::hash::BuildHasher;
        // The remainder is below SHARDS, so it fits in usize on every platform.
        let shard = (self.hasher.hash_one(number) % SHARDS as u64) as usize;
        self.shards[shard].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one message to `number`.
    ///
    /// # Errors
    /// [`ErrorKind::RecipientThrottled`] (with [`Error::retry_after`] set to when it would be allowed)
    /// when the number is over a window; nothing is counted in any window then.
    pub(crate) fn admit(&self, number: &PhoneNumber) -> Result<(), Error> {
        if self.windows.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut state = self.lock(number);
        self.sweep_if_due(&mut state, now);
        let longest = self.longest_period();
        let log = state.numbers.entry(number.clone()).or_default();
        prune(log, longest, now);
        // Every window first: a refusal must consume nothing anywhere.
        let mut refusal: Option<(&LimitWindow, Duration)> = None;
        for window in &self.windows {
            let Some(nth_latest) = usize::try_from(window.count)
                .ok()
                .and_then(|count| log.len().checked_sub(count))
                .and_then(|index| log.get(index))
            else {
                continue;
            };
            let age = now.saturating_duration_since(*nth_latest);
            if age < window.period {
                let wait = window.period - age;
                if refusal.is_none_or(|(_, longest)| wait > longest) {
                    refusal = Some((window, wait));
                }
            }
        }
        if let Some((window, wait)) = refusal {
            return Err(Error::new(ErrorKind::RecipientThrottled, Operation::Send)
                .with_provider(crate::CHAIN_NAME)
                .with_message(format!(
                    "{} reached the local limit of {} message(s) per {:?}; next allowed in {:?}",
                    number.masked(),
                    window.count,
                    window.period,
                    wait
                ))
                .with_retry_after(wait));
        }
        log.push_back(now);
        Ok(())
    }

    /// Forgets the numbers with no message left in any window, once enough admissions have passed.
    fn sweep_if_due(&self, state: &mut State, now: Instant) {
        state.admissions_since_sweep += 1;
        if state.admissions_since_sweep < state.numbers_after_sweep.max(MIN_SWEEP_INTERVAL) {
            return;
        }
        let longest = self.longest_period();
        state.numbers.retain(|_, log| {
            prune(log, longest, now);
            !log.is_empty()
        });
        if state.numbers.capacity() > 2 * state.numbers.len() + MIN_SWEEP_INTERVAL {
            state.numbers.shrink_to_fit();
        }
        state.admissions_since_sweep = 0;
        state.numbers_after_sweep = state.numbers.len();
    }

    /// The longest window's period (windows are sorted shortest first; there is at least one).
    fn longest_period(&self) -> Duration {
        self.windows.last().map_or(Duration::ZERO, |w| w.period)
    }

    /// How many numbers the limiter remembers.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner).numbers.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn number(s: &str) -> PhoneNumber {
        s.parse().expect("valid number")
    }

    fn limiter(limits: &RecipientLimits) -> (RecipientLimiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        (
            RecipientLimiter::new(limits, clock.clone()).expect("valid limits"),
            clock,
        )
    }

    #[test]
    fn one_per_second_per_number() {
        let (l, clock) = limiter(&RecipientLimits::default());
        let a = number("13800138000");
        let b = number("13900139000");
        assert!(l.admit(&a).is_ok());
        let err = l.admit(&a).expect_err("second within a second");
        assert_eq!(err.kind(), ErrorKind::RecipientThrottled);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        assert!(err.message().contains(&a.masked()), "{err}");
        assert!(!err.message().contains("13800138000"), "masked: {err}");
        assert!(l.admit(&b).is_ok(), "other numbers are independent");
        clock.advance(Duration::from_millis(999));
        assert!(l.admit(&a).is_err());
        clock.advance(Duration::from_millis(1));
        assert!(l.admit(&a).is_ok());
    }

    #[test]
    fn five_per_day_per_number() {
        let (l, clock) = limiter(&RecipientLimits::default());
        let a = number("13800138000");
        for i in 0..5 {
            assert!(l.admit(&a).is_ok(), "message {i}");
            clock.advance(Duration::from_secs(2));
        }
        let err = l.admit(&a).expect_err("sixth within the day");
        assert!(err.message().contains("5 message(s) per 86400s"), "{err}");
        assert_eq!(err.retry_after(), Some(DAY - Duration::from_secs(10)));
        // No refill in the meantime: the sixth waits until the first is a day old.
        clock.advance(DAY - Duration::from_secs(11));
        assert!(l.admit(&a).is_err());
        clock.advance(Duration::from_secs(1));
        assert!(l.admit(&a).is_ok(), "the first is a day old");
        assert!(l.admit(&a).is_err(), "the second is not");
        clock.advance(Duration::from_secs(2));
        assert!(l.admit(&a).is_ok(), "the second is now a day old");
    }

    #[test]
    fn one_message_a_minute_for_a_day_lets_exactly_five_through() {
        let (l, clock) = limiter(&RecipientLimits::default());
        let a = number("13800138000");
        let mut passed = Vec::new();
        for minute in 0..24 * 60 {
            if l.admit(&a).is_ok() {
                passed.push(minute);
            }
            clock.advance(Duration::from_secs(60));
        }
        assert_eq!(passed, [0, 1, 2, 3, 4]);
        // Now exactly 24 h after the first.
        assert_eq!(clock.elapsed(), DAY);
        assert!(l.admit(&a).is_ok(), "the sixth, once the first is 24 h old");
        assert!(l.admit(&a).is_err(), "still five within any day");
    }

    #[test]
    fn a_refusal_by_the_long_window_costs_nothing_in_the_short_one() {
        let (l, clock) = limiter(&RecipientLimits::new(1, 2));
        let a = number("13800138000");
        assert!(l.admit(&a).is_ok());
        clock.advance(Duration::from_secs(1));
        assert!(l.admit(&a).is_ok());
        // Refused by the day, half a second before the first message is a day old.
        clock.advance(DAY - Duration::from_millis(1500));
        let err = l.admit(&a).expect_err("two per day");
        assert!(err.message().contains("per 86400s"), "{err}");
        assert_eq!(err.retry_after(), Some(Duration::from_millis(500)));
        clock.advance(Duration::from_millis(500));
        assert!(
            l.admit(&a).is_ok(),
            "the refused attempt did not use up the per-second allowance"
        );
    }

    #[test]
    fn a_refusal_by_the_short_window_costs_nothing_in_the_long_one() {
        let (l, clock) = limiter(&RecipientLimits::new(1, 2));
        let a = number("13800138000");
        assert!(l.admit(&a).is_ok());
        for _ in 0..10 {
            assert!(l.admit(&a).is_err(), "per second");
        }
        clock.advance(Duration::from_secs(1));
        assert!(l.admit(&a).is_ok(), "the day still has room for a second message");
    }

    #[test]
    fn numbers_are_forgotten_once_their_messages_leave_the_longest_window() {
        let (l, clock) = limiter(&RecipientLimits::default());
        let pool = |from: u64, n: u64| (from..from + n).map(|i| number(&format!("138{i:08}")));
        for n in pool(0, 3000) {
            assert!(l.admit(&n).is_ok());
        }
        assert_eq!(l.remembered(), 3000, "all within the day");
        clock.advance(DAY);
        for n in pool(10_000, 3000) {
            assert!(l.admit(&n).is_ok());
        }
        assert!(
            l.remembered() <= 3000,
            "the first 3000 were swept: {}",
            l.remembered()
        );
        // Forgetting changes nothing for a number still within its window.
        let recent = number("13800010000");
        assert!(l.admit(&recent).is_err(), "one per second still holds");
    }

    #[test]
    fn disabled_limits_admit_everything() {
        let (l, _) = limiter(&RecipientLimits::disabled());
        let a = number("13800138000");
        for _ in 0..100 {
            assert!(l.admit(&a).is_ok());
        }
    }

    #[test]
    fn zero_counts_and_periods_are_configuration_errors() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new());
        for limits in [
            RecipientLimits::disabled().with_limit(0, Duration::from_secs(1)),
            RecipientLimits::disabled().with_limit(1, Duration::ZERO),
        ] {
            let err = RecipientLimiter::new(&limits, clock.clone()).expect_err("refused");
            assert_eq!(err.kind(), ErrorKind::Configuration);
        }
    }
}
