//! Spend caps' state: counters of billed parts and money, reserved all-or-nothing before a request and
//! settled after it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use sms_core::Error;

/// One amount to reserve on one counter, under its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The counter's name: the cap and its period (e.g. `overall:parts:day:2026-11-28`). A counter
    /// never seen before (or expired) stands at zero.
    pub counter: String,
    /// What this send adds.
    pub amount: u64,
    /// The most the counter may reach.
    pub limit: u64,
    /// When the counter may be forgotten: seconds since the Unix epoch (after its period ends).
    pub expires_at: u64,
}

/// A change to a counter after a request: negative gives back (a definite failure, fewer parts
/// billed than reserved), positive adds (more parts billed). A counter never goes below zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// The counter's name.
    pub counter: String,
    /// The change.
    pub delta: i64,
    /// When the counter may be forgotten (as in [`Charge::expires_at`]).
    pub expires_at: u64,
}

/// A ledger's answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendAdmission {
    /// Every charge fitted and was added: the counters' values after it, in order.
    Reserved {
        /// Each counter after the charge.
        used: Vec<u64>,
    },
    /// Charge `index` would cross its limit: nothing was added anywhere.
    Refused {
        /// The first charge that did not fit.
        index: usize,
        /// Its counter's value (without the charge).
        used: u64,
    },
}

/// The state behind spend caps: named counters, reserved all-or-nothing.
///
/// [`SpendLedger::charge`] adds every charge when each counter plus its amount stays within its
/// limit, and adds none otherwise, in one atomic step (exact under concurrency, and across instances
/// for a shared backend). [`SpendLedger::settle`] settles a reservation after the request.
///
/// # Errors
/// When the backend cannot answer; the chain then sends nothing. A reservation that may or may not
/// have been applied (a timed-out command) fails too: its amounts may be held until the period ends,
/// which errs towards spending less.
#[async_trait]
pub trait SpendLedger: Send + Sync {
    /// Reserves every charge, or none (see [`SpendAdmission`]). `now` is the wall time in seconds
    /// since the Unix epoch, for forgetting expired counters.
    async fn charge(&self, charges: &[Charge], now: u64) -> Result<SpendAdmission, Error>;

    /// Applies adjustments (each clamped so that its counter stays at or above zero). `now` is as in
    /// [`SpendLedger::charge`].
    async fn settle(&self, adjustments: &[Adjustment], now: u64) -> Result<(), Error>;

    /// The counters' values (zero for unknown ones), in order.
    async fn usage(&self, counters: &[String]) -> Result<Vec<u64>, Error>;
}

impl fmt::Debug for dyn SpendLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpendLedger")
    }
}

/// A [`SpendLedger`] in this process's memory: exact within the process, forgotten on restart (use a
/// store's or Redis's to keep caps across restarts and instances). It never fails.
#[derive(Debug, Default)]
pub struct InMemorySpendLedger {
    /// Counter, then (value, expiry).
    counters: Mutex<HashMap<String, (u64, u64)>>,
}

impl InMemorySpendLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SpendLedger for InMemorySpendLedger {
    async fn charge(&self, charges: &[Charge], now: u64) -> Result<SpendAdmission, Error> {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        counters.retain(|_, (_, expires_at)| *expires_at > now);
        let current = |name: &str| counters.get(name).map_or(0, |(value, _)| *value);
        for (index, charge) in charges.iter().enumerate() {
            let used = current(&charge.counter);
            if used.saturating_add(charge.amount) > charge.limit {
                return Ok(SpendAdmission::Refused { index, used });
            }
        }
        let used = charges
            .iter()
            .map(|charge| {
                let entry = counters
                    .entry(charge.counter.clone())
                    .or_insert((0, charge.expires_at));
                entry.0 = entry.0.saturating_add(charge.amount);
                entry.1 = entry.1.max(charge.expires_at);
                entry.0
            })
            .collect();
        Ok(SpendAdmission::Reserved { used })
    }

    async fn settle(&self, adjustments: &[Adjustment], _now: u64) -> Result<(), Error> {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        for adjustment in adjustments {
            let entry = counters
                .entry(adjustment.counter.clone())
                .or_insert((0, adjustment.expires_at));
            entry.0 = entry.0.saturating_add_signed(adjustment.delta);
            entry.1 = entry.1.max(adjustment.expires_at);
        }
        Ok(())
    }

    async fn usage(&self, counters: &[String]) -> Result<Vec<u64>, Error> {
        let map = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(counters
            .iter()
            .map(|name| map.get(name).map_or(0, |(value, _)| *value))
            .collect())
    }
}
