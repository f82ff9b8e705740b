//! Per-recipient local limits: keep every number under the providers' own per-number limits (ihuyi
//! 4080 "one per second", 4082 "five per day"), so that a flood to one number is stopped here, costs no
//! request and never gets the number blacklisted.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::middleware::NoOpMiddleware;
use governor::{Quota, RateLimiter, state::keyed::DashMapStateStore};
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
/// Each window is a rolling allowance (a generic cell rate algorithm, `governor`): `count` messages may
/// go at once, and the allowance refills evenly over `period`. "5 per day" therefore lets a sixth
/// message through 4.8 hours after the fifth, never a sixth within the same burst.
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

/// Adapts a [`Clock`] for `governor`: time is the distance from the limiter's creation.
#[derive(Debug, Clone)]
struct LimiterClock {
    clock: Arc<dyn Clock>,
    origin: Instant,
}

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.origin)
    }
}

type KeyedLimiter =
    RateLimiter<PhoneNumber, DashMapStateStore<PhoneNumber>, LimiterClock, NoOpMiddleware<Duration>>;

struct Window {
    spec: LimitWindow,
    limiter: KeyedLimiter,
}

/// Drops the state of numbers that are fully replenished every so many checks, so that memory follows
/// the active numbers instead of every number ever seen.
const HOUSEKEEPING_EVERY: u64 = 4096;

/// Enforces [`RecipientLimits`].
pub(crate) struct RecipientLimiter {
    windows: Vec<Window>,
    clock: LimiterClock,
    checks: AtomicU64,
}

impl fmt::Debug for RecipientLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let specs: Vec<LimitWindow> = self.windows.iter().map(|w| w.spec).collect();
        f.debug_struct("RecipientLimiter")
            .field("windows", &specs)
            .finish()
    }
}

impl RecipientLimiter {
    /// A limiter for `limits`, timed by `clock`.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for a window with a zero count or a zero period.
    pub(crate) fn new(limits: &RecipientLimits, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let clock = LimiterClock {
            origin: clock.now(),
            clock,
        };
        let mut specs = limits.windows.clone();
        // Shortest first: a number refused by a short window then consumes nothing from a long one.
        specs.sort_by_key(|w| w.period);
        let windows = specs
            .into_iter()
            .map(|spec| {
                let quota = NonZeroU32::new(spec.count)
                    .and_then(|burst| {
                        Quota::with_period(spec.period / burst.get()).map(|q| q.allow_burst(burst))
                    })
                    .ok_or_else(|| {
                        Error::new(ErrorKind::Configuration, Operation::Configure).with_message(format!(
                            "a recipient limit needs a positive count and period, got {} per {:?}",
                            spec.count, spec.period
                        ))
                    })?;
                Ok(Window {
                    spec,
                    limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self {
            windows,
            clock,
            checks: AtomicU64::new(0),
        })
    }

    /// Counts one message to `number`.
    ///
    /// # Errors
    /// [`ErrorKind::RecipientThrottled`] (with [`Error::retry_after`] set to when it would be allowed)
    /// when the number is over a window; nothing is counted in longer windows then.
    pub(crate) fn admit(&self, number: &PhoneNumber) -> Result<(), Error> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % HOUSEKEEPING_EVERY == HOUSEKEEPING_EVERY - 1 {
            for window in &self.windows {
                window.limiter.retain_recent();
                window.limiter.shrink_to_fit();
            }
        }
        for window in &self.windows {
            if let Err(not_until) = window.limiter.check_key(number) {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(&self.clock));
                return Err(Error::new(ErrorKind::RecipientThrottled, Operation::Send)
                    .with_provider(crate::CHAIN_NAME)
                    .with_message(format!(
                        "{} reached the local limit of {} message(s) per {:?}; next allowed in {:?}",
                        number.masked(),
                        window.spec.count,
                        window.spec.period,
                        wait
                    ))
                    .with_retry_after(wait));
            }
        }
        Ok(())
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
        // The allowance refills one message every 4.8 hours.
        clock.advance(Duration::from_secs(4 * 3600));
        assert!(l.admit(&a).is_err());
        clock.advance(Duration::from_secs(3600));
        assert!(l.admit(&a).is_ok());
        assert!(l.admit(&a).is_err());
        clock.advance(DAY);
        for _ in 0..5 {
            assert!(l.admit(&a).is_ok());
            clock.advance(Duration::from_secs(1));
        }
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
