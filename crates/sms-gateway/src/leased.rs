//! Work done by one instance at a time: before each round the instance takes or renews a store
//! lease, and works only while it holds it; another instance takes over within the lease's time
//! to live after a crash, at once after a clean stop (the lease is given back).
//!
//! ```text
//! while !*stop.borrow() {
//!     if let Some(taken) = lease.hold(&state).await { /* a round */ }
//!     lease.pause(&mut stop).await;
//! }
//! lease.release(&state).await;
//! ```

use std::time::Duration;

use tokio::sync::watch;

use crate::app::AppState;

/// A lease and how often its holder works.
pub(crate) struct Lease {
    /// The store lease's name.
    name: String,
    /// This instance, as the lease's holder.
    holder: String,
    /// How long a taken lease lasts: longer than a round and the pause after it.
    ttl: Duration,
    /// The pause between rounds.
    interval: Duration,
    /// What works under it, for log lines.
    what: &'static str,
    held: bool,
}

impl Lease {
    pub(crate) fn new(
        name: String,
        holder: String,
        ttl: Duration,
        interval: Duration,
        what: &'static str,
    ) -> Self {
        Self {
            name,
            holder,
            ttl,
            interval,
            what,
            held: false,
        }
    }

    /// Takes or renews the lease: `Some(true)` when taken just now, `Some(false)` when renewed,
    /// `None` when another instance holds it or the store cannot be reached (logged).
    pub(crate) async fn hold(&mut self, state: &AppState) -> Option<bool> {
        match state
            .store()
            .acquire_lease(&self.name, &self.holder, self.ttl)
            .await
        {
            Ok(true) => {
                let taken = !self.held;
                self.held = true;
                Some(taken)
            }
            Ok(false) => {
                self.held = false;
                None
            }
            Err(error) => {
                tracing::warn!(%error, lease = %self.name, "cannot take the lease of the {}", self.what);
                None
            }
        }
    }

    /// Waits the interval, or until the gateway stops.
    pub(crate) async fn pause(&self, stop: &mut watch::Receiver<bool>) {
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(self.interval) => {}
        }
    }

    /// Gives the lease back when this instance holds it.
    pub(crate) async fn release(self, state: &AppState) {
        if self.held {
            let _ = state.store().release_lease(&self.name, &self.holder).await;
        }
    }
}
