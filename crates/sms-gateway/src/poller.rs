//! The reply poller (`gateway.poll_replies`): providers whose replies are pulled (Juxiang
//! `readsms`) are polled at their interval by exactly one instance at a time, the one holding the
//! lease `readsms:{provider}` in the store; it renews the lease on every poll and releases it on
//! shutdown, so another instance takes over within one interval (or one lease term after a crash).
//! A reply is stored like a pushed one (an opt-out becomes a suppression at once); one that
//! cannot be stored is kept and stored before the next poll, since `readsms` hands each reply out
//! once.

use std::sync::Arc;
use std::time::Duration;

use sms_core::{InboundMessage, InboundSource};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::leased::Lease;

/// Starts one poller per provider that can be pulled. `holder` names this instance in the leases.
pub(crate) fn spawn(
    state: &AppState,
    interval: Duration,
    holder: &str,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    state
        .config()
        .providers()
        .iter()
        .filter_map(|p| p.client.inbound().map(|source| (p.name.clone(), source)))
        .map(|(name, source)| {
            tokio::spawn(poll(
                state.clone(),
                name,
                source,
                interval,
                holder.to_owned(),
                stop.clone(),
            ))
        })
        .collect()
}

async fn poll(
    state: AppState,
    provider: String,
    source: Arc<dyn InboundSource>,
    interval: Duration,
    holder: String,
    mut stop: watch::Receiver<bool>,
) {
    // Long enough to survive a slow poll; short enough for another instance to take over soon.
    let ttl = (interval * 3).max(Duration::from_secs(1));
    let mut lease = Lease::new(
        format!("readsms:{provider}"),
        holder,
        ttl,
        interval,
        "reply poller",
    );
    let mut unsaved: Option<InboundMessage> = None;
    while !*stop.borrow() {
        if let Some(taken) = lease.hold(&state).await {
            if taken {
                tracing::info!(provider = %provider, "polling replies (this instance holds the lease)");
            }
            if unsaved.is_none() {
                match source.next_inbound().await {
                    Ok(Some(mut reply)) => {
                        reply.provider = provider.clone();
                        unsaved = Some(reply);
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(provider = %provider, %error, "cannot poll replies"),
                }
            }
            if let Some(reply) = unsaved.take() {
                unsaved = store(&state, &provider, reply).await;
            }
        }
        lease.pause(&mut stop).await;
    }
    if let Some(reply) = unsaved {
        // A last try: the provider will not hand this reply out again.
        if store(&state, &provider, reply).await.is_some() {
            tracing::error!(provider = %provider, "a polled reply could not be stored before shutdown");
        }
    }
    lease.release(&state).await;
}

/// Stores a polled reply; gives it back when the store failed.
async fn store(state: &AppState, provider: &str, reply: InboundMessage) -> Option<InboundMessage> {
    match state.store().record_inbound(&reply).await {
        Ok(stored) => {
            state.inner.callback_hint.notify_waiters();
            if stored.opt_out {
                crate::state::share_opt_out(state, &reply.sender).await;
            }
            let opt_out = if stored.opt_out { "true" } else { "false" };
            state.inner.metrics.count(
                "sms_replies_total",
                &[("provider", provider), ("opt_out", opt_out)],
            );
            None
        }
        Err(error) => {
            tracing::warn!(provider = %provider, %error, "a polled reply is not stored yet; trying again");
            Some(reply)
        }
    }
}
