//! The time source of circuit-breaker cool-downs and per-recipient limits, injectable for tests.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tells the time to circuit breakers and per-recipient limiters.
///
/// Retry pauses, the per-message deadline and attempt latencies use tokio time instead (so that
/// `tokio::time::pause` controls them). Under paused tokio time, use [`TokioClock`] so that both agree;
/// use [`ManualClock`] to move a breaker or limiter through hours or days without sleeping at all.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant. Must never go backwards.
    fn now(&self) -> Instant;
}

/// The operating system's monotonic clock, [`Instant::now`]. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Tokio's clock, [`tokio::time::Instant::now`]: the system clock normally, and the paused test clock
/// under `tokio::time::pause` (which `tokio::time::advance` and auto-advancing sleeps move forward).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// A clock that moves only when told to, for deterministic tests.
///
/// ```
/// use std::time::Duration;
/// use sms_failover::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(86_400));
/// assert_eq!(clock.now() - start, Duration::from_secs(86_400));
/// ```
pub struct ManualClock {
    origin: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing still at an arbitrary instant.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *offset = offset.saturating_add(by);
    }

    /// How far the clock has moved since it was created.
    pub fn elapsed(&self) -> Duration {
        *self
            .offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - start, Duration::from_millis(1500));
        assert_eq!(clock.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let start = TokioClock.now();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(TokioClock.now() - start, Duration::from_secs(30));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(TokioClock.now() - start, Duration::from_secs(35));
    }

    #[test]
    fn system_clock_does_not_go_backwards() {
        let a = SystemClock.now();
        let b = SystemClock.now();
        assert!(b >= a);
    }
}
