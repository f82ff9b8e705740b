//! Outbox workers: claim queued messages under a lease, send them through the chain, record the
//! outcomes (`sms_store::deliver_claims`); and the sweeper that releases expired leases and marks
//! abandoned sends unknown. The store is the truth: a queued message is found by polling even when
//! the wake-up hint is missed.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;

/// Messages claimed at once by one worker.
const CLAIM_BATCH: u32 = 16;
/// Sends in flight per worker: the whole claim at once, so a claim costs one provider round trip
/// (and its `start` / `finish` writes), not several.
const CONCURRENCY: usize = CLAIM_BATCH as usize;
/// How often an idle worker looks at the outbox without a hint.
const POLL: Duration = Duration::from_secs(1);
/// How often the sweeper runs at most; with a short `gateway.outbox_lease` it runs every half
/// lease, so a stopped instance's claims come back soon after their lease ends.
const SWEEP: Duration = Duration::from_secs(30);

/// Starts `count` workers and the sweeper; they stop when `stop` turns true, after the batch in
/// hand.
pub(crate) fn spawn(state: &AppState, count: usize, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let instance = crate::auth::random_secret("").unwrap_or_else(|_| sms_store::new_id());
    let mut tasks: Vec<JoinHandle<()>> = (0..count.max(1))
        .map(|i| {
            let worker = format!("gw-{}-{i}", &instance[..12]);
            tokio::spawn(work(state.clone(), worker, stop.clone()))
        })
        .collect();
    tasks.push(tokio::spawn(sweep(state.clone(), stop.clone())));
    if let Some(router) = state.chain().adaptive_router() {
        // Instances on one database take turns deciding and follow the stored weights.
        let log = std::sync::Arc::new(sms_store::StoreState::new(state.store().clone()));
        if let Err(error) = router.share(log, format!("gw-{}", &instance[..12])) {
            tracing::debug!(%error, "adaptive router already shared");
        }
        tasks.push(tokio::spawn(adapt(router.clone(), stop.clone())));
    }
    tasks
}

/// Counts each recipient of a sent outbox message in `sms_messages_total` by provider, kind and
/// outcome, as synchronous sends are counted.
fn count_messages(
    state: &AppState,
    message: &sms_core::Message,
    kind: &str,
    result: &Result<sms_core::Receipt, sms_core::Error>,
) {
    use sms_core::RecipientStatus;
    for recipient in message.recipients() {
        let (provider, outcome) = match result {
            Ok(receipt) => match receipt.outcome_for(recipient) {
                Some(o) => (
                    o.provider.as_str(),
                    match o.status {
                        RecipientStatus::Accepted => "accepted",
                        RecipientStatus::Failed(_) => "failed",
                        _ => "unknown",
                    },
                ),
                None => ("none", "unknown"),
            },
            // The provider that failed last, when the error names one of the chain's.
            Err(error) => (
                error.provider().unwrap_or("none"),
                if error.is_ambiguous() { "unknown" } else { "failed" },
            ),
        };
        state.inner.metrics.count(
            "sms_messages_total",
            &[("provider", provider), ("kind", kind), ("outcome", outcome)],
        );
    }
}

/// Adaptive routing's decider: judges the evidence every interval until the gateway stops.
async fn adapt(router: std::sync::Arc<sms_failover::AdaptiveRouter>, mut stop: watch::Receiver<bool>) {
    tokio::select! {
        () = router.run() => {}
        _ = stop.wait_for(|stop| *stop) => {}
    }
}

async fn work(state: AppState, worker: String, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        // Register for the hint before looking, so a message queued in between is not missed.
        let hint = state.inner.outbox_hint.notified();
        let mut hint = std::pin::pin!(hint);
        hint.as_mut().enable();
        let lease = state.config().gateway().outbox_lease;
        match state.store().claim(&worker, CLAIM_BATCH, lease).await {
            Ok(claims) if !claims.is_empty() => {
                match sms_store::deliver_claims(state.store().as_ref(), state.chain(), claims, CONCURRENCY)
                    .await
                {
                    Ok(results) => {
                        state.inner.callback_hint.notify_waiters();
                        for (claim, result) in &results {
                            let outcome = match result {
                                None => "lease_lost",
                                Some(Ok(receipt)) if receipt.all_accepted() => "accepted",
                                Some(Ok(_)) => "partial",
                                Some(Err(e)) if e.is_ambiguous() => "unknown",
                                Some(Err(_)) => "failed",
                            };
                            let kind = claim.message.kind().to_string();
                            state
                                .inner
                                .metrics
                                .count("sms_outbox_sends_total", &[("kind", &kind), ("outcome", outcome)]);
                            if let Some(result) = result {
                                count_messages(&state, &claim.message, &kind, result);
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "outbox delivery could not be recorded"),
                }
                continue;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot claim from the outbox"),
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = hint => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn sweep(state: AppState, mut stop: watch::Receiver<bool>) {
    let every = SWEEP.min(state.config().gateway().outbox_lease / 2);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match state.store().sweep().await {
            Ok(report) if report != sms_store::SweepReport::default() => {
                tracing::info!(?report, "outbox swept");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "the sweeper cannot reach the store"),
        }
    }
}
