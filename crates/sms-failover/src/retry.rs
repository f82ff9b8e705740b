//! How often and how patiently a chain retries the same provider, and how long one message may take.

use std::time::Duration;

/// Retries of a retryable error ([`sms_core::Error::is_retryable`]: unavailable, rate limited) on the
/// same provider, and the time budget of a whole message.
///
/// Pauses grow exponentially from `initial_backoff` (doubling, capped at `max_backoff`); with `jitter`
/// each pause is a random point between that delay and twice it, still capped at `max_backoff`. A
/// provider's own retry-after ([`sms_core::Error::retry_after`]) wins when it is longer, however long it
/// is. `deadline` bounds the whole message across all providers: a retry is made only if its pause
/// leaves time for a request (the smaller of 100 ms and a tenth of the deadline), otherwise the chain
/// moves to the next provider at once; no request starts with less time than that left; and a request
/// still in flight at the deadline is abandoned with an ambiguous error (which, being the chain's own
/// cut, does not count against the provider's circuit breaker).
///
/// Retryable refusals of some numbers inside a batch answer (a receipt listing them as rate limited or
/// unavailable) are retried the same way, with only those numbers, within the same attempts.
///
/// [`crate::FailoverSenderBuilder::build`] refuses a deadline or an attempt timeout longer than a day,
/// and a zero one.
///
/// ```
/// use std::time::Duration;
/// use sms_failover::RetryPolicy;
/// let policy = RetryPolicy::default()
///     .max_attempts_per_provider(2)
///     .initial_backoff(Duration::from_millis(50))
///     .deadline(Duration::from_secs(10));
/// assert_eq!(policy.max_attempts_per_provider, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests per provider per message, the first included. Default 3; must be at least 1.
    pub max_attempts_per_provider: u32,
    /// The first pause. Default 200 ms.
    pub initial_backoff: Duration,
    /// The longest computed pause. Default 5 s.
    pub max_backoff: Duration,
    /// Randomise pauses so that many clients do not retry in step. Default true.
    pub jitter: bool,
    /// The time budget of one message, all providers and pauses included. Default 30 s; must be
    /// positive and at most a day.
    pub deadline: Duration,
    /// The longest one request may take before it is abandoned as ambiguous (the message may have gone
    /// out), if shorter than what is left of the deadline. Default 5 s: a provider's API answers well
    /// under a second, and a hanging one must not hold a message for long. `None`: only the
    /// providers' own HTTP timeouts and the deadline apply. When set, must be positive and at most a
    /// day; a request it abandons counts against the provider's circuit breaker.
    pub attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts_per_provider: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            jitter: true,
            deadline: Duration::from_secs(30),
            attempt_timeout: Some(DEFAULT_ATTEMPT_TIMEOUT),
        }
    }
}

impl RetryPolicy {
    /// One request per provider: no retries, straight to the next provider.
    pub fn no_retries() -> Self {
        Self::default().max_attempts_per_provider(1)
    }

    /// Sets [`Self::max_attempts_per_provider`].
    #[must_use]
    pub fn max_attempts_per_provider(mut self, attempts: u32) -> Self {
        self.max_attempts_per_provider = attempts;
        self
    }

    /// Sets [`Self::initial_backoff`].
    #[must_use]
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// Sets [`Self::max_backoff`].
    #[must_use]
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// Sets [`Self::jitter`].
    #[must_use]
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`Self::deadline`].
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`Self::attempt_timeout`]; [`Self::without_attempt_timeout`] removes it.
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Removes [`Self::attempt_timeout`]: only the providers' own timeouts and the deadline bound a
    /// request.
    #[must_use]
    pub fn without_attempt_timeout(mut self) -> Self {
        self.attempt_timeout = None;
        self
    }

    /// The least time that must be left of the deadline to start a request (after a retry's pause):
    /// 100 ms, or a tenth of a shorter deadline. A request started with less would most likely be cut
    /// short and end ambiguous.
    pub(crate) fn min_request_budget(&self) -> Duration {
        MIN_REQUEST_BUDGET.min(self.deadline / 10)
    }

    /// The pauses before the second, third, … request to one provider; `seed` drives the jitter.
    pub(crate) fn backoff(&self, seed: u64) -> Backoff {
        Backoff {
            next: self.initial_backoff,
            cap: self.max_backoff.max(self.initial_backoff),
            rng: self.jitter.then(|| fastrand::Rng::with_seed(seed)),
        }
    }
}

/// The longest [`RetryPolicy::deadline`] or [`RetryPolicy::attempt_timeout`] a chain accepts: an SMS
/// that has not gone out within a day should not go out at all, and longer times only risk overflowing
/// the clock.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// See [`RetryPolicy::attempt_timeout`].
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// See [`RetryPolicy::min_request_budget`].
const MIN_REQUEST_BUDGET: Duration = Duration::from_millis(100);

/// The pause sequence of one provider within one message: exact integer doubling (no float drift, so
/// paused-time tests see round numbers), and optional jitter.
pub(crate) struct Backoff {
    next: Duration,
    cap: Duration,
    rng: Option<fastrand::Rng>,
}

impl Backoff {
    /// The pause before the next request, given the provider's retry-after, if it sent one.
    pub(crate) fn next_pause(&mut self, retry_after: Option<Duration>) -> Duration {
        let base = self.next.min(self.cap);
        self.next = self.next.saturating_mul(2);
        let computed = match &mut self.rng {
            Some(rng) => {
                let nanos = u64::try_from(base.as_nanos()).unwrap_or(u64::MAX);
                base.saturating_add(Duration::from_nanos(rng.u64(0..=nanos)))
                    .min(self.cap)
            }
            None => base,
        };
        retry_after.map_or(computed, |after| after.max(computed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pauses(policy: &RetryPolicy, seed: u64, n: usize) -> Vec<Duration> {
        let mut backoff = policy.backoff(seed);
        (0..n).map(|_| backoff.next_pause(None)).collect()
    }

    #[test]
    fn pauses_double_up_to_the_cap_without_jitter() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(500))
            .jitter(false);
        let ms: Vec<u128> = pauses(&policy, 1, 5).iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn jitter_stays_between_the_delay_and_twice_it_and_under_the_cap() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(1000));
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..50 {
            for (i, pause) in pauses(&policy, seed, 6).into_iter().enumerate() {
                let base = Duration::from_millis(100 * (1 << i)).min(Duration::from_millis(1000));
                assert!(pause >= base, "{pause:?} < {base:?}");
                assert!(pause <= (base * 2).min(Duration::from_millis(1000)), "{pause:?}");
                distinct.insert(pause);
            }
        }
        assert!(distinct.len() > 50, "jitter varies the pauses");
    }

    #[test]
    fn the_minimum_request_budget_is_100_ms_or_a_tenth_of_a_short_deadline() {
        let budget = |ms| {
            RetryPolicy::default()
                .deadline(Duration::from_millis(ms))
                .min_request_budget()
        };
        assert_eq!(budget(30_000), Duration::from_millis(100));
        assert_eq!(budget(1_000), Duration::from_millis(100));
        assert_eq!(budget(500), Duration::from_millis(50));
    }

    #[test]
    fn a_huge_retry_after_is_kept_without_overflow() {
        let mut backoff = RetryPolicy::default().backoff(3);
        assert_eq!(backoff.next_pause(Some(Duration::MAX)), Duration::MAX);
        let mut huge = RetryPolicy::default()
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX)
            .backoff(3);
        for _ in 0..3 {
            assert_eq!(huge.next_pause(None), Duration::MAX);
        }
    }

    #[test]
    fn a_longer_retry_after_wins() {
        let policy = RetryPolicy::default().jitter(false);
        let mut backoff = policy.backoff(0);
        assert_eq!(
            backoff.next_pause(Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff.next_pause(Some(Duration::from_millis(10))),
            Duration::from_millis(400)
        );
    }
}
