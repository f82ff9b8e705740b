//! The store as the chain's durable state: its opt-out list, its idempotency store and its spend
//! ledger (`sms_failover::state`), so opt-outs and spend caps survive restarts and a reference is never
//! sent twice, even across a crash.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sms_core::{ClientReference, Error, InboundMessage, PhoneNumber};
use sms_failover::state::{
    self, Adjustment, Charge, IdempotencyStore, RecordedOutcome, SpendAdmission, SpendLedger, SuppressionList,
};

use crate::error::StoreError;
use crate::model;
use crate::store::MessageStore;

/// A [`MessageStore`] seen through the chain's state traits: give it to
/// `FailoverSenderBuilder::suppression_list`, `::idempotency_store` and `::spend_ledger`.
///
/// Idempotency is write-ahead: `reserve` commits the reservation before the chain's first request, so
/// a crash mid-send leaves it pending (unknown), and the chain never sends that reference again by
/// itself. Suppressions added through [`SuppressionList::suppress`] are recorded with reason `manual`
/// and source `chain`; those learnt from replies with reason `opt_out` and the provider as source.
///
/// Store failures become the chain's retryable `Unavailable` error naming the backend (`sqlite` or
/// `postgres`), and nothing is sent.
#[derive(Debug, Clone)]
pub struct StoreState {
    store: Arc<dyn MessageStore>,
}

impl StoreState {
    /// The chain's state on `store`.
    pub fn new(store: Arc<dyn MessageStore>) -> Self {
        Self { store }
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<dyn MessageStore> {
        &self.store
    }

    pub(crate) fn unavailable(&self, check: &str, error: StoreError) -> Error {
        let backend = match self.store.backend() {
            crate::Backend::Sqlite => "sqlite",
            crate::Backend::Postgres => "postgres",
        };
        state::backend_unavailable(backend, check, error)
    }
}

#[async_trait]
impl SuppressionList for StoreState {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        self.store
            .suppressed(numbers)
            .await
            .map_err(|e| self.unavailable("opt-out list", e))
    }

    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        self.store
            .suppress(number, "manual", "chain")
            .await
            .map(drop)
            .map_err(|e| self.unavailable("opt-out list", e))
    }

    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        self.store
            .unsuppress(number)
            .await
            .map_err(|e| self.unavailable("opt-out list", e))
    }

    async fn observe_inbound(&self, message: &InboundMessage) -> Result<bool, Error> {
        match (message.opt_out, message.sender_number()) {
            (true, Some(number)) => {
                self.store
                    .suppress(&number, "opt_out", &message.provider)
                    .await
                    .map_err(|e| self.unavailable("opt-out list", e))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl IdempotencyStore for StoreState {
    async fn reserve(
        &self,
        reference: &ClientReference,
        retention: Duration,
    ) -> Result<state::Reservation, Error> {
        let found = self
            .store
            .reserve(reference.as_str(), "", retention)
            .await
            .map_err(|e| self.unavailable("idempotency", e))?;
        Ok(match found {
            model::Reservation::Reserved => state::Reservation::Reserved,
            model::Reservation::Pending { .. } => state::Reservation::Pending,
            model::Reservation::Completed { outcome, .. } => {
                state::Reservation::Completed(RecordedOutcome::from_json(&outcome)?)
            }
        })
    }

    async fn complete(
        &self,
        reference: &ClientReference,
        outcome: &RecordedOutcome,
        retention: Duration,
    ) -> Result<(), Error> {
        self.store
            .complete(reference.as_str(), &outcome.to_json(), retention)
            .await
            .map(drop)
            .map_err(|e| self.unavailable("idempotency", e))
    }

    async fn release(&self, reference: &ClientReference) -> Result<(), Error> {
        self.store
            .release_reservation(reference.as_str())
            .await
            .map(drop)
            .map_err(|e| self.unavailable("idempotency", e))
    }
}

#[async_trait]
impl SpendLedger for StoreState {
    async fn charge(&self, charges: &[Charge], now: u64) -> Result<SpendAdmission, Error> {
        if charges.is_empty() {
            return Ok(SpendAdmission::Reserved { used: Vec::new() });
        }
        self.store
            .spend_charge(charges, now)
            .await
            .map_err(|e| self.unavailable("spend caps", e))
    }

    async fn settle(&self, adjustments: &[Adjustment], now: u64) -> Result<(), Error> {
        if adjustments.is_empty() {
            return Ok(());
        }
        self.store
            .spend_settle(adjustments, now)
            .await
            .map_err(|e| self.unavailable("spend caps", e))
    }

    async fn usage(&self, counters: &[String]) -> Result<Vec<u64>, Error> {
        self.store
            .spend_usage(counters)
            .await
            .map_err(|e| self.unavailable("spend caps", e))
    }
}
