//! Assembles a [`FailoverSender`] and checks its configuration.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sms_core::{AmbiguityPolicy, Capabilities, Error, ErrorKind, InboundMode, Operation};

use crate::adaptive::{AdaptiveRouter, AdaptiveSettings, ReceiptEvidence};
use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::clock::{Clock, SystemClock};
use crate::health::HealthRecorder;
use crate::limits::RecipientLimits;
use crate::provider::{Provider, ProviderEntry};
use crate::retry::{LONGEST_WAIT, RetryPolicy};
use crate::sender::{Chain, FailoverSender, Idempotency};
use crate::spend::{SpendPolicy, SystemWallClock, WallClock};
use crate::state::{
    BreakerSharing, ChainState, IdempotencyStore, InMemoryIdempotencyStore, InMemoryRecipientLimiter,
    InMemorySuppressionList, RecipientLimiter, SuppressionList,
};
use crate::state::{InMemorySpendLedger, SharedBackend, SpendLedger};
use crate::strategy::{Router, Strategy};

/// Requests remembered per provider for [`crate::ProviderHealth`], unless
/// [`FailoverSenderBuilder::health_window`] says otherwise.
const DEFAULT_HEALTH_WINDOW: usize = 100;

/// Requests in flight at once to one provider for one message's batch parts, unless
/// [`FailoverSenderBuilder::part_concurrency`] says otherwise.
pub const DEFAULT_PART_CONCURRENCY: usize = 8;

/// How long a client reference is remembered, unless [`FailoverSenderBuilder::idempotency_retention`]
/// says otherwise: a day.
pub const DEFAULT_IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Where the chain keeps client references: its own in-memory store, another store, or none.
enum IdempotencyChoice {
    InMemory,
    Store(Arc<dyn IdempotencyStore>),
    Off,
}

/// Builds a [`FailoverSender`]; start with [`FailoverSender::builder`].
pub struct FailoverSenderBuilder {
    entries: Vec<ProviderEntry>,
    strategy: Strategy,
    ambiguity: AmbiguityPolicy,
    retry: RetryPolicy,
    breaker: BreakerConfig,
    limits: RecipientLimits,
    suppression: Option<Arc<dyn SuppressionList>>,
    limiter: Option<Arc<dyn RecipientLimiter>>,
    idempotency: IdempotencyChoice,
    retention: Duration,
    breaker_sharing: Option<Arc<dyn BreakerSharing>>,
    /// The backend given whole to [`Self::shared_state`], while every part of the state is still on it.
    shared: Option<Arc<dyn ChainState>>,
    clock: Arc<dyn Clock>,
    seed: Option<u64>,
    health_window: usize,
    part_concurrency: usize,
    adaptive: AdaptiveSettings,
    receipts: Option<Arc<dyn ReceiptEvidence>>,
    spend: Option<SpendPolicy>,
    spend_ledger: Option<Arc<dyn SpendLedger>>,
    wall_clock: Arc<dyn WallClock>,
}

impl Default for FailoverSenderBuilder {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            strategy: Strategy::default(),
            ambiguity: AmbiguityPolicy::default(),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            limits: RecipientLimits::default(),
            suppression: None,
            limiter: None,
            idempotency: IdempotencyChoice::InMemory,
            retention: DEFAULT_IDEMPOTENCY_RETENTION,
            breaker_sharing: None,
            shared: None,
            clock: Arc::new(SystemClock),
            seed: None,
            health_window: DEFAULT_HEALTH_WINDOW,
            part_concurrency: DEFAULT_PART_CONCURRENCY,
            adaptive: AdaptiveSettings::default(),
            receipts: None,
            spend: None,
            spend_ledger: None,
            wall_clock: Arc::new(SystemWallClock),
        }
    }
}

impl fmt::Debug for FailoverSenderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailoverSenderBuilder")
            .field("providers", &self.entries)
            .field("strategy", &self.strategy)
            .field("ambiguity", &self.ambiguity)
            .field("retry", &self.retry)
            .field("breaker", &self.breaker)
            .field("limits", &self.limits)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl FailoverSenderBuilder {
    /// Sets the cost and abuse protection: spend caps, prices, allowed destinations and velocity
    /// windows (none by default on a chain built in code; `sms-config` turns it on by default).
    #[must_use]
    pub fn spend_policy(mut self, policy: SpendPolicy) -> Self {
        self.spend = Some(policy);
        self
    }

    /// Sets where spending is counted (default: an [`InMemorySpendLedger`] of this chain). Share one
    /// (Redis's) across instances, or use a store's to keep it across restarts.
    #[must_use]
    pub fn spend_ledger(mut self, ledger: Arc<dyn SpendLedger>) -> Self {
        self.spend_ledger = Some(ledger);
        self
    }

    /// Sets the wall clock that decides the Beijing day and month of spend caps (default: the
    /// system's).
    #[must_use]
    pub fn wall_clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.wall_clock = clock;
        self
    }

    /// Adds a provider.
    #[must_use]
    pub fn provider(mut self, entry: ProviderEntry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Sets how the first provider of each message is picked (default [`Strategy::Priority`]).
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets what to do when an attempt's outcome is unknown (default [`AmbiguityPolicy::AtMostOnce`]);
    /// a message's own [`sms_core::Message::with_ambiguity_policy`] overrides it.
    #[must_use]
    pub fn ambiguity_policy(mut self, policy: AmbiguityPolicy) -> Self {
        self.ambiguity = policy;
        self
    }

    /// Sets the retry policy and per-message deadline.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the circuit breaker configuration (one breaker per provider).
    #[must_use]
    pub fn circuit_breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = config;
        self
    }

    /// Sets the per-recipient limits (default 1 per second and 5 per day per number).
    #[must_use]
    pub fn recipient_limits(mut self, limits: RecipientLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the opt-out list (default: an empty [`InMemorySuppressionList`]).
    #[must_use]
    pub fn suppression_list(mut self, list: Arc<dyn SuppressionList>) -> Self {
        self.suppression = Some(list);
        self.shared = None;
        self
    }

    /// Sets where the per-recipient limits are counted (default: an [`InMemoryRecipientLimiter`] on
    /// the chain's clock). A shared backend makes the limits hold across every instance using it.
    #[must_use]
    pub fn recipient_limiter(mut self, limiter: Arc<dyn RecipientLimiter>) -> Self {
        self.limiter = Some(limiter);
        self.shared = None;
        self
    }

    /// Sets where client references are remembered (default: an [`InMemoryIdempotencyStore`] on the
    /// chain's clock). A message whose reference ([`sms_core::Message::with_reference`]) was sent
    /// within the retention gets the first send's outcome without any request; one whose first send
    /// is in flight or never completed fails as ambiguous and is never sent again. A send that ended
    /// in an error saying nothing went out ([`Error::is_ambiguous`] false) is forgotten, so that it
    /// can be retried.
    #[must_use]
    pub fn idempotency_store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.idempotency = IdempotencyChoice::Store(store);
        self.shared = None;
        self
    }

    /// Turns idempotency by client reference off: every send is sent (a chain nested in another that
    /// already checks references, say).
    #[must_use]
    pub fn without_idempotency(mut self) -> Self {
        self.idempotency = IdempotencyChoice::Off;
        self
    }

    /// Sets how long a client reference and its outcome are remembered (default
    /// [`DEFAULT_IDEMPOTENCY_RETENTION`], a day; at least a second).
    #[must_use]
    pub fn idempotency_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Shares breaker trips with other chains (default: none, each chain's own breakers only): a
    /// provider one of them finds failing is skipped by all, and after the cool-down exactly one of
    /// them probes it.
    #[must_use]
    pub fn breaker_sharing(mut self, sharing: Arc<dyn BreakerSharing>) -> Self {
        self.breaker_sharing = Some(sharing);
        self.shared = None;
        self
    }

    /// Puts all of the chain's state on one backend that implements every state trait (opt-outs,
    /// limits, idempotency, breaker sharing, spending), such as a Redis backend shared by several
    /// instances. The checks of a message's start then go to it in one step ([`ChainState::start`]),
    /// as long as no part of the state is set elsewhere afterwards.
    #[must_use]
    pub fn shared_state<S>(self, state: Arc<S>) -> Self
    where
        S: ChainState + SpendLedger + 'static,
    {
        self.shared_backend(state)
    }

    /// [`Self::shared_state`] for a backend known only as a trait object (one opened from a
    /// configuration file, say).
    #[must_use]
    pub fn shared_backend(self, state: Arc<dyn SharedBackend>) -> Self {
        let mut builder = self
            .suppression_list(state.clone())
            .spend_ledger(state.clone())
            .recipient_limiter(state.clone())
            .idempotency_store(state.clone())
            .breaker_sharing(state.clone());
        builder.shared = Some(state);
        builder
    }

    /// Sets the clock of breakers and limiters (default [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seeds the random choices (weighted picks, jitter) so that a test can repeat them.
    #[must_use]
    pub fn random_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets how many recent requests per provider [`crate::ProviderHealth`] summarises (default 100).
    #[must_use]
    pub fn health_window(mut self, requests: usize) -> Self {
        self.health_window = requests;
        self
    }

    /// Sets how many requests of one message may be in flight at once to one provider, when the
    /// message has more recipients than the provider takes per request (its
    /// [`sms_core::Capabilities::max_batch`]) and is sent in several parts (default
    /// [`DEFAULT_PART_CONCURRENCY`], 8; at least 1). Limits, breakers, the deadline and the ambiguity
    /// rules apply to every part as when they are sent one after another; a part refused by the
    /// per-recipient limits, or pausing before a retry, holds no slot.
    #[must_use]
    pub fn part_concurrency(mut self, requests: usize) -> Self {
        self.part_concurrency = requests;
        self
    }

    /// Sets how [`Strategy::Adaptive`] judges providers and moves weight (default
    /// [`AdaptiveSettings::default`]); ignored by the other strategies.
    #[must_use]
    pub fn adaptive(mut self, settings: AdaptiveSettings) -> Self {
        self.adaptive = settings;
        self
    }

    /// Sets where [`Strategy::Adaptive`] reads delivery receipts (default: none, so that only send
    /// errors move weight), such as the message store.
    #[must_use]
    pub fn receipt_evidence(mut self, source: Arc<dyn ReceiptEvidence>) -> Self {
        self.receipts = Some(source);
        self
    }

    /// Builds the chain.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] when there is no provider, two providers share a name, a policy
    /// value is out of range (zero attempts, deadline, failure threshold, limit count or period, or
    /// health window, part concurrency or slow-call threshold; a zero attempt timeout; a deadline or attempt timeout longer than a day), or
    /// [`Strategy::WeightedRandom`] is chosen with every weight 0, or [`Strategy::Adaptive`]'s settings
    /// are out of range ([`AdaptiveSettings`]).
    pub fn build(self) -> Result<FailoverSender, Error> {
        self.check()?;
        let limiter = self
            .limiter
            .unwrap_or_else(|| Arc::new(InMemoryRecipientLimiter::new(self.clock.clone())));
        let idempotency = match self.idempotency {
            IdempotencyChoice::InMemory => {
                Some(Arc::new(InMemoryIdempotencyStore::new(self.clock.clone())) as Arc<dyn IdempotencyStore>)
            }
            IdempotencyChoice::Store(store) => Some(store),
            IdempotencyChoice::Off => None,
        };
        let mut windows = self.limits.windows().to_vec();
        windows.sort_by_key(|w| w.period);
        let mut entries = self.entries;
        // Stable: equal priorities keep the order they were added in.
        entries.sort_by_key(|e| e.priority);
        let adaptive = if self.strategy == Strategy::Adaptive {
            let weights: Vec<(String, u32)> = entries
                .iter()
                .map(|e| (e.provider_name().to_owned(), e.weight))
                .collect();
            let mut router = AdaptiveRouter::new(&weights, self.adaptive, self.clock.clone(), self.receipts)?;
            for entry in entries.iter().filter(|e| !e.sender.capabilities().receipt_push) {
                router = router.without_receipts_from(entry.provider_name());
            }
            Some(Arc::new(router))
        } else {
            None
        };
        let providers: Vec<Provider> = entries
            .into_iter()
            .map(|entry| Provider {
                name: entry.provider_name().to_owned(),
                weight: entry.weight,
                breaker: CircuitBreaker::new(self.breaker, self.clock.clone()),
                health: HealthRecorder::new(self.health_window),
                balance: entry.balance,
                sender: entry.sender,
            })
            .collect();
        let capabilities = union_of(providers.iter().map(Provider::capabilities));
        let suppression = self
            .suppression
            .unwrap_or_else(|| Arc::new(InMemorySuppressionList::new()));
        Ok(FailoverSender::from_chain(Chain {
            providers,
            router: Router::new(self.strategy, self.seed),
            ambiguity: self.ambiguity,
            retry: self.retry,
            windows,
            limit_scope: self.limits.limit_scope(),
            limiter,
            suppression,
            idempotency: idempotency.map(|store| Idempotency {
                store,
                retention: self.retention,
            }),
            breaker_sharing: self.breaker_sharing,
            shared: self.shared,
            capabilities,
            part_concurrency: self.part_concurrency,
            adaptive,
            spend: self.spend.map(|policy| crate::sender::Spend {
                policy,
                ledger: self
                    .spend_ledger
                    .unwrap_or_else(|| Arc::new(InMemorySpendLedger::new())),
                wall: self.wall_clock,
            }),
        }))
    }

    fn check(&self) -> Result<(), Error> {
        let invalid = |message: String| {
            Err(Error::new(ErrorKind::Configuration, Operation::Configure)
                .with_provider(crate::CHAIN_NAME)
                .with_message(message))
        };
        if self.entries.is_empty() {
            return invalid("a failover chain needs at least one provider".to_owned());
        }
        let mut names = HashSet::new();
        for entry in &self.entries {
            if !names.insert(entry.provider_name()) {
                return invalid(format!(
                    "two providers are named {:?}; give one another name with ProviderEntry::name",
                    entry.provider_name()
                ));
            }
        }
        if self.retry.max_attempts_per_provider == 0 {
            return invalid("max_attempts_per_provider must be at least 1".to_owned());
        }
        if self.retry.deadline.is_zero() {
            return invalid("the per-message deadline must be positive".to_owned());
        }
        if self.retry.deadline > LONGEST_WAIT {
            return invalid(format!(
                "the per-message deadline of {:?} is longer than the {LONGEST_WAIT:?} allowed",
                self.retry.deadline
            ));
        }
        match self.retry.attempt_timeout {
            Some(timeout) if timeout.is_zero() => {
                return invalid("the attempt timeout must be positive".to_owned());
            }
            Some(timeout) if timeout > LONGEST_WAIT => {
                return invalid(format!(
                    "the attempt timeout of {timeout:?} is longer than the {LONGEST_WAIT:?} allowed"
                ));
            }
            _ => {}
        }
        if let Some(bad) = self
            .limits
            .windows()
            .iter()
            .find(|w| w.count == 0 || w.period.is_zero())
        {
            return invalid(format!(
                "a recipient limit needs a positive count and period, got {} per {:?}",
                bad.count, bad.period
            ));
        }
        if let Some(velocity) = self.spend.as_ref().and_then(|policy| policy.velocity.as_ref()) {
            if velocity.prefix_digits == 0 {
                return invalid("a velocity range needs at least one digit".to_owned());
            }
            if let Some(bad) = velocity
                .per_prefix
                .iter()
                .chain(&velocity.per_country)
                .find(|w| w.count == 0 || w.period.is_zero())
            {
                return invalid(format!(
                    "a velocity window needs a positive count and period, got {} per {:?}",
                    bad.count, bad.period
                ));
            }
        }
        if self.retention < Duration::from_secs(1) {
            return invalid(format!(
                "the idempotency retention of {:?} is shorter than a second",
                self.retention
            ));
        }
        if self.breaker.failure_threshold == 0 {
            return invalid("the breaker's failure_threshold must be at least 1".to_owned());
        }
        if self.part_concurrency == 0 {
            return invalid("part_concurrency must be at least 1".to_owned());
        }
        if self.breaker.slow_call_threshold.is_some_and(|t| t.is_zero()) {
            return invalid("the breaker's slow_call_threshold must be positive (or None)".to_owned());
        }
        if self.health_window == 0 {
            return invalid("the health window must hold at least one request".to_owned());
        }
        if self.strategy == Strategy::WeightedRandom && self.entries.iter().all(|e| e.weight == 0) {
            return invalid(
                "weighted random routing needs at least one provider with a positive weight".to_owned(),
            );
        }
        Ok(())
    }
}

/// What a chain can do: every kind any provider sends, the largest batch, international numbers or
/// schedules if any provider supports them, the most generous text limit, receipt pushes if any. It has
/// no inbound of its own (pull replies from the providers).
fn union_of<'a>(all: impl Iterator<Item = &'a Capabilities> + Clone) -> Capabilities {
    let mut kinds = Vec::new();
    for kind in all.clone().flat_map(|c| c.kinds.iter().copied()) {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let mut union =
        Capabilities::new(&kinds).with_max_batch(all.clone().map(|c| c.max_batch).max().unwrap_or(1));
    union.scheduled = all.clone().any(|c| c.scheduled);
    union.international = all.clone().any(|c| c.international);
    union.receipt_push = all.clone().any(|c| c.receipt_push);
    union.inbound = InboundMode::None;
    // No limit if any provider has none; otherwise the largest limit.
    union.max_text_chars = all
        .map(|c| c.max_text_chars)
        .try_fold(0usize, |max, limit| limit.map(|l| max.max(l)));
    union
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_core::MessageKind;

    #[test]
    fn capabilities_are_the_union() {
        let a = Capabilities::new(&[MessageKind::Text])
            .with_max_batch(1)
            .with_max_text_chars(300);
        let b = Capabilities::new(&[MessageKind::Text, MessageKind::VoiceCode])
            .with_max_batch(99)
            .with_scheduling()
            .with_max_text_chars(500);
        let c = Capabilities::new(&[MessageKind::Mms]).with_international();
        let ab = union_of([&a, &b].into_iter());
        assert_eq!(ab.kinds, [MessageKind::Text, MessageKind::VoiceCode]);
        assert_eq!((ab.max_batch, ab.scheduled, ab.international), (99, true, false));
        assert_eq!(ab.max_text_chars, Some(500));
        let abc = union_of([&a, &b, &c].into_iter());
        assert!(abc.international && abc.supports(MessageKind::Mms));
        assert_eq!(abc.max_text_chars, None);
    }
}
