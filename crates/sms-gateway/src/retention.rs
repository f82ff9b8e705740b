//! Retention (`[store] retention` and `redact_after`): once an interval (an hour by default), one
//! instance at a time, the one holding the store's lease `retention`, purges the records older than
//! `retention` ([`sms_store::MessageStore::purge`]) and blanks the content and reply text older than
//! `redact_after` ([`sms_store::MessageStore::redact`]). Neither set: nothing runs.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::leased::Lease;

/// The store lease that makes one instance the one that purges.
const LEASE: &str = "retention";

/// How often retention runs unless the builder says otherwise.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// Starts retention when `[store]` asks for it. `holder` names this instance in the lease.
pub(crate) fn spawn(
    state: &AppState,
    interval: Duration,
    holder: &str,
    stop: &watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let store = state.config().store();
    if store.retention.is_none() && store.redact_after.is_none() {
        return None;
    }
    Some(tokio::spawn(run(
        state.clone(),
        interval,
        holder.to_owned(),
        stop.clone(),
    )))
}

async fn run(state: AppState, interval: Duration, holder: String, mut stop: watch::Receiver<bool>) {
    // Outlives a round and the pause; another instance takes over within this of a crash.
    let ttl = interval * 2 + Duration::from_secs(60);
    let mut lease = Lease::new(LEASE.to_owned(), holder, ttl, interval, "retention");
    while !*stop.borrow() {
        if lease.hold(&state).await.is_some() {
            apply(&state).await;
        }
        lease.pause(&mut stop).await;
    }
    lease.release(&state).await;
}

/// One round: purge, then redact, each logged when it changed something.
async fn apply(state: &AppState) {
    let section = state.config().store();
    if let Some(age) = section.retention {
        match state.store().purge(age).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "retention: messages older than the retention purged"),
            Err(error) => tracing::warn!(%error, "retention: cannot purge"),
        }
    }
    if let Some(age) = section.redact_after {
        match state.store().redact(age).await {
            Ok(0) => {}
            Ok(redacted) => tracing::info!(redacted, "retention: content older than redact_after blanked"),
            Err(error) => tracing::warn!(%error, "retention: cannot redact"),
        }
    }
}
