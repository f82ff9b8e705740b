//! What a chain knows about each provider's recent behaviour.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::breaker::BreakerState;

/// A snapshot of one provider, from [`crate::FailoverSender::health`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProviderHealth {
    /// The provider's name in the chain.
    pub name: String,
    /// Its circuit breaker.
    pub breaker: BreakerState,
    /// Share of the recent requests (the last [`crate::FailoverSenderBuilder::health_window`]) that the
    /// provider accepted, from 0.0 to 1.0; 1.0 before any request.
    pub success_rate: f64,
    /// Mean time to an answer over the recent requests; `None` before any request.
    pub average_latency: Option<Duration>,
    /// Requests sent to this provider since the chain was built (skips by an open breaker are not
    /// requests).
    pub requests: u64,
    /// Provider-side failures in a row, as the breaker counts them.
    pub consecutive_failures: u32,
}

#[derive(Debug)]
struct Window {
    recent: VecDeque<(bool, Duration)>,
    requests: u64,
}

/// The last `capacity` request outcomes of one provider.
#[derive(Debug)]
pub(crate) struct HealthRecorder {
    capacity: usize,
    window: Mutex<Window>,
}

impl HealthRecorder {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            window: Mutex::new(Window {
                recent: VecDeque::with_capacity(capacity),
                requests: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one request: whether the provider accepted it, and how long the answer took.
    pub(crate) fn record(&self, accepted: bool, latency: Duration) {
        let mut window = self.lock();
        if window.recent.len() == self.capacity {
            window.recent.pop_front();
        }
        window.recent.push_back((accepted, latency));
        window.requests += 1;
    }

    /// (success rate, average latency, requests).
    pub(crate) fn summary(&self) -> (f64, Option<Duration>, u64) {
        let window = self.lock();
        let n = window.recent.len();
        if n == 0 {
            return (1.0, None, window.requests);
        }
        let accepted = window.recent.iter().filter(|(ok, _)| *ok).count();
        let total: Duration = window.recent.iter().map(|(_, latency)| *latency).sum();
        // Window sizes are small, so the count always fits in u32.
        let average = total / u32::try_from(n).unwrap_or(u32::MAX);
        (accepted as f64 / n as f64, Some(average), window.requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_window_reports_full_health() {
        let h = HealthRecorder::new(10);
        assert_eq!(h.summary(), (1.0, None, 0));
    }

    #[test]
    fn success_rate_and_latency_follow_the_recent_window() {
        let h = HealthRecorder::new(4);
        h.record(false, Duration::from_millis(100));
        h.record(false, Duration::from_millis(100));
        h.record(true, Duration::from_millis(10));
        h.record(true, Duration::from_millis(30));
        assert_eq!(h.summary(), (0.5, Some(Duration::from_millis(60)), 4));
        // The two failures fall out of the window.
        h.record(true, Duration::from_millis(20));
        h.record(true, Duration::from_millis(20));
        assert_eq!(h.summary(), (1.0, Some(Duration::from_millis(20)), 6));
    }
}
