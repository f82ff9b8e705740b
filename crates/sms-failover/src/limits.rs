//! Per-recipient local limits: keep every number under the providers' own per-number limits (ihuyi
//! 4080 "one per second", 4082 "five per day"), so that a flood to one number is stopped here, costs no
//! request and never gets the number blacklisted.

use std::time::Duration;

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
    scope: LimitScope,
}

/// Whose messages a number's limits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LimitScope {
    /// Every message the chain sends to the number, whichever provider takes it, counts once (the
    /// default): the number's own budget.
    #[default]
    Chain,
    /// Each provider account (a chain member, by its [`crate::ProviderEntry::name`]) counts the
    /// messages it is asked to send to the number, as the providers themselves do: a message that
    /// fails over counts at each provider it reaches.
    ProviderAccount,
}

impl LimitScope {
    /// The scope key a [`crate::state::RecipientLimiter`] is given: `"chain"`, or the provider's
    /// name in the chain.
    pub(crate) fn key(self, provider: &str) -> &str {
        match self {
            Self::Chain => "chain",
            Self::ProviderAccount => provider,
        }
    }
}

/// A day, for "per day" limits.
pub(crate) const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl RecipientLimits {
    /// At most `per_second` messages per second and `per_day` per day to each number.
    pub fn new(per_second: u32, per_day: u32) -> Self {
        Self::disabled()
            .with_limit(per_second, Duration::from_secs(1))
            .with_limit(per_day, DAY)
    }

    /// No per-recipient limits.
    pub fn disabled() -> Self {
        Self {
            windows: Vec::new(),
            scope: LimitScope::Chain,
        }
    }

    /// Sets whose messages count (default [`LimitScope::Chain`]).
    #[must_use]
    pub fn scope(mut self, scope: LimitScope) -> Self {
        self.scope = scope;
        self
    }

    /// Whose messages count.
    pub fn limit_scope(&self) -> LimitScope {
        self.scope
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
