//! Adaptive routing's shared weights: the log of the decider's changes and the decider's lease, for
//! `sms_failover::WeightLog`.

use std::time::Duration;

use async_trait::async_trait;
use sms_core::Error;
use sms_failover::adaptive::{DECIDER_LEASE, NamedOverrides, WeightChange, WeightLog};

use crate::model::Millis;
use crate::state::StoreState;

/// One stored change of the adaptive weights ([`crate::MessageStore::weight_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredWeightChange {
    /// Its sequence number, increasing.
    pub seq: i64,
    /// When it was stored (the store's clock).
    pub recorded_at: Millis,
    /// Why (`demoted` or `drifted`).
    pub reason: String,
    /// The change with its evidence, as `sms_failover::adaptive::WeightChange::to_json` wrote it.
    pub body: String,
}

/// Give a [`StoreState`] to `AdaptiveRouter::share`: instances on one database then take turns
/// through the lease [`DECIDER_LEASE`] ([`crate::MessageStore::acquire_lease`]) and follow the
/// changes stored in `weight_changes`. A store failure is the chain's retryable `Unavailable` error;
/// the router changes nothing then.
#[async_trait]
impl WeightLog for StoreState {
    async fn lead(&self, holder: &str, ttl: Duration) -> Result<bool, Error> {
        self.store()
            .acquire_lease(DECIDER_LEASE, holder, ttl)
            .await
            .map_err(|e| self.unavailable("adaptive decider lease", e))
    }

    async fn append(&self, change: &WeightChange) -> Result<i64, Error> {
        self.store()
            .record_weight_change(&change.reason, &change.to_json())
            .await
            .map_err(|e| self.unavailable("adaptive weights", e))
    }

    async fn latest(&self, limit: u32) -> Result<Vec<(i64, WeightChange)>, Error> {
        let stored = self
            .store()
            .weight_changes(limit)
            .await
            .map_err(|e| self.unavailable("adaptive weights", e))?;
        stored
            .into_iter()
            .map(|s| WeightChange::from_json(&s.body).map(|change| (s.seq, change)))
            .collect()
    }

    async fn set_overrides(&self, overrides: &NamedOverrides) -> Result<(), Error> {
        self.store()
            .set_weight_overrides(&overrides.to_json())
            .await
            .map_err(|e| self.unavailable("routing overrides", e))
    }

    async fn overrides(&self) -> Result<Option<NamedOverrides>, Error> {
        self.store()
            .weight_overrides()
            .await
            .map_err(|e| self.unavailable("routing overrides", e))?
            .map(|text| NamedOverrides::from_json(&text))
            .transpose()
    }
}
