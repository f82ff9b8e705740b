//! Chain state given to the gateway instead of its defaults, so that several instances share it
//! (e.g. one `sms_redis::RedisState` for all four traits): the opt-out list, the per-recipient
//! limiter, the idempotency store and breaker sharing.
//!
//! The store stays the durable truth for opt-outs: with a given opt-out list the chain refuses a
//! number either of them lists, and every opt-out the gateway learns (a `0000` reply,
//! `POST /v1/suppressions`) goes to both; a `DELETE` removes it from both.

use std::sync::Arc;

use async_trait::async_trait;
use sms_core::{Error, PhoneNumber};
use sms_failover::state::{BreakerSharing, IdempotencyStore, RecipientLimiter, SpendLedger, SuppressionList};
use sms_store::StoreState;

/// The state backends given to [`crate::GatewayBuilder`]; each one left out keeps the default (the
/// store for opt-outs, the chain's in-memory limiter and idempotency, no breaker sharing).
#[derive(Clone, Default)]
pub struct SharedState {
    pub(crate) suppression: Option<Arc<dyn SuppressionList>>,
    pub(crate) limiter: Option<Arc<dyn RecipientLimiter>>,
    pub(crate) idempotency: Option<Arc<dyn IdempotencyStore>>,
    pub(crate) breaker: Option<Arc<dyn BreakerSharing>>,
    /// Where `[spend]` caps are counted (default: the store).
    pub(crate) spend: Option<Arc<dyn SpendLedger>>,
    /// How `[state]` named the backend, when it came from the config.
    pub(crate) description: Option<String>,
}

impl std::fmt::Debug for SharedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState")
            .field("suppression", &self.suppression.is_some())
            .field("limiter", &self.limiter.is_some())
            .field("idempotency", &self.idempotency.is_some())
            .field("breaker", &self.breaker.is_some())
            .field("spend", &self.spend.is_some())
            .field("description", &self.description)
            .finish()
    }
}

impl SharedState {
    /// One backend for all four (a Redis state shared by every instance).
    pub fn all<S>(state: Arc<S>) -> Self
    where
        S: SuppressionList + RecipientLimiter + IdempotencyStore + BreakerSharing + 'static,
    {
        Self {
            suppression: Some(state.clone()),
            limiter: Some(state.clone()),
            idempotency: Some(state.clone()),
            breaker: Some(state),
            spend: None,
            description: None,
        }
    }

    /// The state `[state]` names, as opened by `sms_config::Config::open_state` (Redis for every
    /// trait, or nothing for memory).
    pub fn from_config(state: sms_config::ChainState) -> Self {
        // Nothing opened (memory): the gateway's own defaults, described as such.
        let opened = state.suppression.is_some()
            || state.limiter.is_some()
            || state.idempotency.is_some()
            || state.breaker_sharing.is_some();
        let description = opened.then(|| state.description.clone());
        Self {
            suppression: state.suppression,
            limiter: state.limiter,
            idempotency: state.idempotency,
            breaker: state.breaker_sharing,
            // With Redis, spend caps count there too, as the CLI's sends on the same config do.
            spend: state.spend_ledger,
            description,
        }
    }

    /// Where the state lives, for people: `given` when built in code, else as `[state]` names it.
    pub(crate) fn describe(&self) -> String {
        match (&self.description, self.is_empty()) {
            (Some(d), _) => d.clone(),
            (None, true) => "in memory and in the store (this instance)".into(),
            (None, false) => "given".into(),
        }
    }

    /// Counts `[spend]` caps in `ledger` (a Redis state shared by every instance) instead of the
    /// store.
    #[must_use]
    pub fn with_spend_ledger(mut self, ledger: Arc<dyn SpendLedger>) -> Self {
        self.spend = Some(ledger);
        self
    }

    /// True when nothing is given.
    pub fn is_empty(&self) -> bool {
        self.suppression.is_none()
            && self.limiter.is_none()
            && self.idempotency.is_none()
            && self.breaker.is_none()
            && self.spend.is_none()
    }
}

/// The store's opt-out list and a given one, as one list: a number either lists is refused, and
/// changes go to both (the store first: it is the durable record).
#[derive(Debug, Clone)]
pub(crate) struct BothLists {
    pub(crate) store: StoreState,
    pub(crate) shared: Arc<dyn SuppressionList>,
}

#[async_trait]
impl SuppressionList for BothLists {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        let (store, shared) =
            futures_util::future::join(self.store.suppressed(numbers), self.shared.suppressed(numbers)).await;
        Ok(store?.into_iter().zip(shared?).map(|(a, b)| a || b).collect())
    }

    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        self.store.suppress(number).await?;
        self.shared.suppress(number).await
    }

    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        let store = self.store.unsuppress(number).await?;
        let shared = self.shared.unsuppress(number).await?;
        Ok(store || shared)
    }
}

/// Gives an opt-out the store has recorded to the shared list too (when there is one). A failure is
/// logged only: the store has it, and the chain consults the store as well.
pub(crate) async fn share_opt_out(state: &crate::app::AppState, sender: &str) {
    let Some(shared) = &state.inner.shared_suppression else {
        return;
    };
    match sender.trim().parse::<PhoneNumber>() {
        Ok(number) => {
            if let Err(error) = shared.suppress(&number).await {
                tracing::warn!(%error, "the opt-out is stored but not in the shared list");
            }
        }
        Err(_) => tracing::warn!("an opt-out reply's sender is not a number; kept in the store only"),
    }
}

/// A round trip to the shared opt-out list (`/readyz`): a check of a fixed number. `Ok` when nothing
/// is shared (the state is the store's, or this process's).
pub(crate) async fn probe(state: &crate::app::AppState) -> Result<(), String> {
    let Some(list) = &state.inner.shared_suppression else {
        return Ok(());
    };
    let probe: PhoneNumber = "+8613800000000"
        .parse()
        .map_err(|_| "the readiness probe number does not parse".to_owned())?;
    list.suppressed(&[probe])
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
