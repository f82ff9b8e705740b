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
use sms_failover::state::{
    Admission, BreakerSharing, ChainState, IdempotencyStore, RecipientLimiter, SpendLedger, StartAnswer,
    StartRequest, SuppressionList,
};
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
    /// The backend of the limiter, idempotency, breaker and opt-outs above, when they are one: a
    /// message's start then asks it everything in one step (see [`StartWithStore`]).
    pub(crate) start: Option<Arc<dyn ChainState>>,
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
            .field("start", &self.start.is_some())
            .finish()
    }
}

impl SharedState {
    /// One backend for all four (a Redis state shared by every instance). A message's start asks
    /// it the four checks in one step ([`ChainState::start`]), and the store's opt-outs beside.
    pub fn all<S>(state: Arc<S>) -> Self
    where
        S: ChainState + 'static,
    {
        Self {
            suppression: Some(state.clone()),
            limiter: Some(state.clone()),
            idempotency: Some(state.clone()),
            breaker: Some(state.clone()),
            spend: None,
            description: None,
            start: Some(state),
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
            start: state.shared.map(|shared| shared as Arc<dyn ChainState>),
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

/// A shared backend's one-step start with the store's opt-outs beside it: the chain's state when
/// every part but the durable opt-outs is on one backend (Redis). The store is asked first (when it
/// cannot answer, nothing is taken), then the backend answers the reservation, its own opt-outs,
/// the breaker and the limits in one step; a number the store lists is then refused as opted out
/// too (its limit slot, counted by the backend, stays used: the safe side).
pub(crate) struct StartWithStore {
    /// The store's opt-outs and the backend's, as one list.
    pub(crate) lists: BothLists,
    pub(crate) shared: Arc<dyn ChainState>,
    /// Where spending is counted (the backend given for it, or the store).
    pub(crate) ledger: Arc<dyn SpendLedger>,
}

impl std::fmt::Debug for StartWithStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartWithStore").finish_non_exhaustive()
    }
}

#[async_trait]
impl ChainState for StartWithStore {
    async fn start(&self, request: &StartRequest<'_>) -> Result<StartAnswer, Error> {
        let listed = if request.numbers.is_empty() {
            Vec::new()
        } else {
            self.lists.store.suppressed(request.numbers).await?
        };
        let mut answer = self.shared.start(request).await?;
        with_store_opt_outs(&mut answer, &listed);
        Ok(answer)
    }
}

/// Marks the numbers the store lists (`listed`, one flag per number) as opted out in `answer`, and
/// drops their admissions (one per number the backend did not list).
fn with_store_opt_outs(answer: &mut StartAnswer, listed: &[bool]) {
    if answer.suppressed.len() != listed.len() || !listed.iter().any(|l| *l) {
        // Stopped before the opt-outs (the reference was not free), or nothing more to refuse.
        return;
    }
    let mut kept = answer.admissions.take().map(|admissions| {
        let mut admissions = admissions.into_iter();
        let mut kept: Vec<Admission> = Vec::new();
        for (by_backend, by_store) in answer.suppressed.iter().zip(listed) {
            if *by_backend {
                continue;
            }
            if let Some(admission) = admissions.next()
                && !*by_store
            {
                kept.push(admission);
            }
        }
        kept
    });
    for (flag, by_store) in answer.suppressed.iter_mut().zip(listed) {
        *flag |= *by_store;
    }
    answer.admissions = kept.take();
}

#[async_trait]
impl SuppressionList for StartWithStore {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        self.lists.suppressed(numbers).await
    }

    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        self.lists.suppress(number).await
    }

    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        self.lists.unsuppress(number).await
    }
}

#[async_trait]
impl RecipientLimiter for StartWithStore {
    async fn admit(
        &self,
        scope: &str,
        numbers: &[PhoneNumber],
        windows: &[sms_failover::LimitWindow],
    ) -> Result<Vec<Admission>, Error> {
        RecipientLimiter::admit(self.shared.as_ref(), scope, numbers, windows).await
    }
}

#[async_trait]
impl IdempotencyStore for StartWithStore {
    async fn reserve(
        &self,
        reference: &sms_core::ClientReference,
        retention: std::time::Duration,
    ) -> Result<sms_failover::state::Reservation, Error> {
        self.shared.reserve(reference, retention).await
    }

    async fn complete(
        &self,
        reference: &sms_core::ClientReference,
        outcome: &sms_failover::state::RecordedOutcome,
        retention: std::time::Duration,
    ) -> Result<(), Error> {
        self.shared.complete(reference, outcome, retention).await
    }

    async fn release(&self, reference: &sms_core::ClientReference) -> Result<(), Error> {
        self.shared.release(reference).await
    }
}

#[async_trait]
impl BreakerSharing for StartWithStore {
    async fn admit(
        &self,
        provider: &str,
        probe_lease: std::time::Duration,
    ) -> Result<sms_failover::state::SharedBreaker, Error> {
        BreakerSharing::admit(self.shared.as_ref(), provider, probe_lease).await
    }

    async fn trip(&self, provider: &str, cool_down: std::time::Duration) -> Result<(), Error> {
        self.shared.trip(provider, cool_down).await
    }

    async fn close(&self, provider: &str) -> Result<(), Error> {
        self.shared.close(provider).await
    }

    async fn release_probe(&self, provider: &str) -> Result<(), Error> {
        self.shared.release_probe(provider).await
    }
}

#[async_trait]
impl SpendLedger for StartWithStore {
    async fn charge(
        &self,
        charges: &[sms_failover::state::Charge],
        now: u64,
    ) -> Result<sms_failover::state::SpendAdmission, Error> {
        self.ledger.charge(charges, now).await
    }

    async fn settle(&self, adjustments: &[sms_failover::state::Adjustment], now: u64) -> Result<(), Error> {
        self.ledger.settle(adjustments, now).await
    }

    async fn usage(&self, counters: &[String]) -> Result<Vec<u64>, Error> {
        self.ledger.usage(counters).await
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sms_failover::LimitWindow;
    use sms_failover::state::{Admission, Reservation, StartAnswer};

    use super::with_store_opt_outs;

    fn refused() -> Admission {
        Admission::Refused {
            window: LimitWindow {
                count: 1,
                period: Duration::from_secs(1),
            },
            wait: Duration::from_millis(300),
        }
    }

    fn answer(suppressed: Vec<bool>, admissions: Option<Vec<Admission>>) -> StartAnswer {
        StartAnswer {
            reservation: Some(Reservation::Reserved),
            suppressed,
            breaker: None,
            admissions,
        }
    }

    #[test]
    fn a_number_the_store_lists_is_opted_out_and_loses_its_admission() {
        // Four numbers: the backend lists the second; the store lists the second and the third.
        let mut start = answer(
            vec![false, true, false, false],
            Some(vec![Admission::Admitted, Admission::Admitted, refused()]),
        );
        with_store_opt_outs(&mut start, &[false, true, true, false]);
        assert_eq!(start.suppressed, vec![false, true, true, false]);
        assert_eq!(
            start.admissions,
            Some(vec![Admission::Admitted, refused()]),
            "the first and the fourth keep theirs, in order"
        );
    }

    #[test]
    fn a_start_that_stopped_early_or_without_limits_is_left_as_it_is() {
        let mut stopped = StartAnswer {
            reservation: Some(Reservation::Pending),
            suppressed: Vec::new(),
            breaker: None,
            admissions: None,
        };
        let before = stopped.clone();
        with_store_opt_outs(&mut stopped, &[true]);
        assert_eq!(stopped, before, "nothing was looked up after the reservation");
        let mut no_limits = answer(vec![false, false], None);
        with_store_opt_outs(&mut no_limits, &[true, false]);
        assert_eq!(no_limits.suppressed, vec![true, false]);
        assert_eq!(no_limits.admissions, None);
    }
}
