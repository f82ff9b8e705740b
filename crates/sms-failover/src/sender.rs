//! The chain itself: a [`MessageSender`] over several providers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;
use sms_core::{
    AmbiguityPolicy, Balance, Capabilities, Error, ErrorKind, InboundMessage, Message, MessageSender,
    Operation, Receipt,
};
use tracing::Instrument;

use crate::adaptive::AdaptiveRouter;
use crate::builder::FailoverSenderBuilder;
use crate::delivery::Delivery;
use crate::health::ProviderHealth;
use crate::limits::{LimitScope, LimitWindow};
use crate::provider::Provider;
use crate::retry::RetryPolicy;
use crate::state::{BreakerSharing, ChainState, IdempotencyStore, RecipientLimiter, SuppressionList};
use crate::strategy::Router;

/// A chain's idempotency store and how long it remembers a reference.
#[derive(Debug)]
pub(crate) struct Idempotency {
    pub(crate) store: Arc<dyn IdempotencyStore>,
    pub(crate) retention: Duration,
}

/// Everything a chain holds, shared by its clones.
#[derive(Debug)]
pub(crate) struct Chain {
    /// In priority order.
    pub(crate) providers: Vec<Provider>,
    pub(crate) router: Router,
    pub(crate) ambiguity: AmbiguityPolicy,
    pub(crate) retry: RetryPolicy,
    /// The per-recipient limits, shortest period first (none: no limit).
    pub(crate) windows: Vec<LimitWindow>,
    pub(crate) limit_scope: LimitScope,
    pub(crate) limiter: Arc<dyn RecipientLimiter>,
    pub(crate) suppression: Arc<dyn SuppressionList>,
    pub(crate) idempotency: Option<Idempotency>,
    pub(crate) breaker_sharing: Option<Arc<dyn BreakerSharing>>,
    /// The backend that holds every part of the state above, when there is one: it answers a
    /// message's start in one step.
    pub(crate) shared: Option<Arc<dyn ChainState>>,
    pub(crate) capabilities: Capabilities,
    /// Requests in flight at once to one provider for one message's batch parts.
    pub(crate) part_concurrency: usize,
    /// The learned weights under [`crate::Strategy::Adaptive`].
    pub(crate) adaptive: Option<Arc<AdaptiveRouter>>,
    /// Cost and abuse protection, when set.
    pub(crate) spend: Option<Spend>,
}

/// A chain's spend policy with its ledger and wall clock.
#[derive(Debug)]
pub(crate) struct Spend {
    pub(crate) policy: crate::spend::SpendPolicy,
    pub(crate) ledger: Arc<dyn crate::state::SpendLedger>,
    pub(crate) wall: Arc<dyn crate::spend::WallClock>,
}

/// A [`MessageSender`] that sends each message once, through the first provider that takes it.
///
/// Per message: local checks first (validation, opt-outs, per-recipient limits; a blocked recipient
/// costs no request), then providers in [`crate::Strategy`] order, skipping those that cannot send the
/// message (capabilities) and those whose circuit breaker is open. A retryable error is retried on the
/// same provider ([`RetryPolicy`]); an error another provider may fix moves on to the next; an error no
/// provider can fix stops at once. An ambiguous outcome stops (or, under
/// [`AmbiguityPolicy::AtLeastOnce`], moves on). In a batch only the numbers a provider refused move on;
/// an accepted number is never sent again, nor is one the provider left unknown (it answered without
/// saying, so it may have gone out). Under at-most-once, a number whose request ended ambiguously gets
/// a failed outcome whose error [`is_ambiguous`](Error::is_ambiguous): it may have gone out. Under
/// either policy, a number whose outcome was once unknown and that no provider accepted afterwards
/// ends ambiguous, whatever failed after. A provider's batch parts go out concurrently (at most
/// [`crate::FailoverSenderBuilder::part_concurrency`] at once), under the same rules.
///
/// The receipt names the provider of each number and lists in [`Receipt::attempts`] the failed
/// attempts that came first. When nothing was accepted the error is ambiguous if any number's outcome
/// is (whatever happened to the others), else [`ErrorKind::AllProvidersFailed`] or the one cause that
/// stopped the send, each with every attempt in [`Error::attempts`].
///
/// Cloning is cheap and clones share breakers, limits and health.
#[derive(Debug, Clone)]
pub struct FailoverSender {
    chain: Arc<Chain>,
}

impl FailoverSender {
    /// Starts a builder.
    pub fn builder() -> FailoverSenderBuilder {
        FailoverSenderBuilder::default()
    }

    pub(crate) fn from_chain(chain: Chain) -> Self {
        Self {
            chain: Arc::new(chain),
        }
    }

    /// A health snapshot per provider, in priority order.
    pub fn health(&self) -> Vec<ProviderHealth> {
        self.chain
            .providers
            .iter()
            .map(Provider::health_snapshot)
            .collect()
    }

    /// The adaptive router whose weights pick the first provider, under [`crate::Strategy::Adaptive`]:
    /// spawn its [`AdaptiveRouter::run`], read its weights, pin or drain a provider.
    pub fn adaptive_router(&self) -> Option<&Arc<AdaptiveRouter>> {
        self.chain.adaptive.as_ref()
    }

    /// The providers' names, in priority order.
    pub fn provider_names(&self) -> Vec<&str> {
        self.chain.providers.iter().map(|p| p.name.as_str()).collect()
    }

    /// Every provider's balance, in priority order, queried concurrently. A provider without a balance
    /// query ([`crate::ProviderEntry::balance`]) answers [`ErrorKind::Unsupported`].
    pub async fn balances(&self) -> Vec<(String, Result<Balance, Error>)> {
        let queries = self.chain.providers.iter().map(|provider| async move {
            let result = match &provider.balance {
                Some(query) => query.balance().await,
                None => Err(Error::new(ErrorKind::Unsupported, Operation::Balance)
                    .with_provider(provider.name.clone())
                    .with_message("no balance query configured for this provider")),
            };
            (provider.name.clone(), result)
        });
        join_all(queries).await
    }

    /// The opt-out list the chain honours.
    pub fn suppression_list(&self) -> &Arc<dyn SuppressionList> {
        &self.chain.suppression
    }

    /// Feeds a handset reply to the opt-out list ([`SuppressionList::observe_inbound`]); true when it
    /// unsubscribed its sender.
    ///
    /// # Errors
    /// When the opt-out list's backend cannot record it.
    pub async fn observe_inbound(&self, message: &InboundMessage) -> Result<bool, Error> {
        self.chain.suppression.observe_inbound(message).await
    }

    /// The spend policy, when the chain has one.
    pub fn spend_policy(&self) -> Option<&crate::spend::SpendPolicy> {
        self.chain.spend.as_ref().map(|spend| &spend.policy)
    }

    /// Every spend cap's use in its current Beijing day or month, in the policy's order (empty without
    /// a spend policy): what `GET /v1/usage` and `sms usage` show.
    ///
    /// # Errors
    /// When the spend ledger cannot answer.
    pub async fn spend_usage(&self) -> Result<Vec<crate::spend::CapUsage>, Error> {
        let Some(spend) = &self.chain.spend else {
            return Ok(Vec::new());
        };
        let now = spend.wall.unix_seconds();
        let periods: Vec<(String, u64)> = spend.policy.caps.iter().map(|cap| cap.period.at(now)).collect();
        let counters: Vec<String> = spend
            .policy
            .caps
            .iter()
            .zip(&periods)
            .map(|(cap, (period, _))| cap.counter(period))
            .collect();
        let used = spend.ledger.usage(&counters).await?;
        Ok(spend
            .policy
            .caps
            .iter()
            .zip(periods)
            .zip(used)
            .map(|((cap, (period, resets_at)), used)| crate::spend::CapUsage {
                cap: cap.clone(),
                period,
                used,
                resets_at,
            })
            .collect())
    }
}

#[async_trait]
impl MessageSender for FailoverSender {
    fn name(&self) -> &str {
        crate::CHAIN_NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.chain.capabilities
    }

    /// Sends through the chain; see [`FailoverSender`].
    ///
    /// # Errors
    /// When no recipient was accepted: [`ErrorKind::InvalidRequest`] for an invalid message; an
    /// error that [`is_ambiguous`](Error::is_ambiguous) whenever some recipient's outcome is unknown
    /// (under [`AmbiguityPolicy::AtMostOnce`], whenever the message may have reached one), ahead of
    /// any other cause; otherwise [`ErrorKind::RecipientOptedOut`] /
    /// [`ErrorKind::RecipientThrottled`] when every recipient is blocked locally,
    /// [`ErrorKind::Unsupported`] when no provider can send the message,
    /// [`ErrorKind::AllProvidersFailed`], or the error that stopped the send (a caller mistake); each
    /// lists the attempts made in [`Error::attempts`].
    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let span = tracing::info_span!(
            "sms.failover.send",
            reference = %message.reference(),
            kind = %message.kind(),
            recipients = message.recipients().len(),
        );
        Delivery::new(&self.chain, message).run().instrument(span).await
    }
}
