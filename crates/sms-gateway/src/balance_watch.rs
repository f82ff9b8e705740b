//! The balance watcher (`gateway.balance_interval`, 5 minutes by default): one instance at a time,
//! the one holding the store's lease `balances`, reads every provider's balance and stores it
//! ([`MessageStore::record_balance`]). The store keeps whether each is below its `low_balance`: a
//! drop below is one `balance.low` callback event (recorded in the same transaction), one `WARN`
//! line and one `sms_balance_low_total`; reading it low again, on this instance, another or after a
//! restart, is nothing until it has been back up. `/metrics` shows what the store holds
//! (`sms_provider_balance`, `sms_provider_balance_low`), so every instance reports the same figures.

use std::fmt::Write as _;
use std::time::Duration;

use sms_store::{BalanceChange, BalanceReading, MessageStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::leased::Lease;

/// The store lease that makes one instance the watcher.
const LEASE: &str = "balances";

/// Starts the watcher. `holder` names this instance in the lease.
pub(crate) fn spawn(
    state: &AppState,
    interval: Duration,
    holder: &str,
    stop: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(watch(state.clone(), interval, holder.to_owned(), stop.clone()))
}

async fn watch(state: AppState, interval: Duration, holder: String, mut stop: watch::Receiver<bool>) {
    // It must outlive the pause and a slow round (every provider is asked at once, each within its
    // HTTP timeout).
    let ttl = interval * 3 + Duration::from_secs(30);
    let mut lease = Lease::new(LEASE.to_owned(), holder, ttl, interval, "balance watcher");
    while !*stop.borrow() {
        if let Some(taken) = lease.hold(&state).await {
            if taken {
                tracing::info!("watching provider balances (this instance holds the lease)");
            }
            check_all(&state).await;
        }
        lease.pause(&mut stop).await;
    }
    lease.release(&state).await;
}

/// Reads and stores every provider's balance, concurrently.
async fn check_all(state: &AppState) {
    let checks = state.config().providers().iter().map(|p| async move {
        let started = std::time::Instant::now();
        let read = p.client.balance_query().balance().await;
        state.inner.metrics.provider_request(
            &p.name,
            "balance",
            crate::timing::outcome_of(&read),
            started.elapsed(),
        );
        let outcome = match read {
            Ok(balance) => {
                // A threshold beyond i64 is never reached by an i64 balance: every balance is low.
                let threshold = p.low_balance.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
                let reading = BalanceReading::new(&p.name, balance.amount, unit_name(balance.unit), threshold);
                record(state, &reading).await
            }
            Err(error) => {
                // The kind and the scrubbed message only: provider errors never hold secrets.
                tracing::warn!(provider = %p.name, kind = error.kind().as_str(), error = %error.message(), "cannot read the balance");
                "error"
            }
        };
        state.inner.metrics.count(
            "sms_balance_checks_total",
            &[("provider", p.name.as_str()), ("outcome", outcome)],
        );
    });
    futures_util::future::join_all(checks).await;
}

/// Stores one reading and acts on what it changed; returns the check's outcome label.
async fn record(state: &AppState, reading: &BalanceReading) -> &'static str {
    let provider = reading.provider.as_str();
    match state.store().record_balance(reading).await {
        Ok(BalanceChange::WentLow) => {
            tracing::warn!(
                provider,
                amount = reading.amount,
                threshold = reading.threshold,
                unit = %reading.unit,
                "provider balance is low"
            );
            state
                .inner
                .metrics
                .count("sms_balance_low_total", &[("provider", provider)]);
            // The event is stored: deliver it now rather than at the dispatcher's next poll.
            state.inner.callback_hint.notify_waiters();
            "ok"
        }
        Ok(BalanceChange::Recovered) => {
            tracing::info!(
                provider,
                amount = reading.amount,
                "provider balance is no longer low"
            );
            "ok"
        }
        Ok(_) => "ok",
        Err(error) => {
            tracing::warn!(provider, %error, "cannot store the balance");
            "error"
        }
    }
}

/// `parts`, `fen`, … as `GET /v1/balances` names them.
fn unit_name(unit: sms_core::BalanceUnit) -> String {
    format!("{unit:?}").to_lowercase()
}

/// The stored balances as gauges: `sms_provider_balance{provider,unit}` and
/// `sms_provider_balance_low{provider}` (1 below the threshold).
pub(crate) async fn render(store: &dyn MessageStore, out: &mut String) {
    let balances = match store.balances().await {
        Ok(b) => b,
        Err(error) => {
            tracing::warn!(%error, "balances unavailable for /metrics");
            return;
        }
    };
    if balances.is_empty() {
        return;
    }
    let _ = writeln!(out, "# TYPE sms_provider_balance gauge");
    for b in &balances {
        let _ = writeln!(
            out,
            "sms_provider_balance{{provider=\"{}\",unit=\"{}\"}} {}",
            crate::metrics::escape(&b.provider),
            crate::metrics::escape(&b.unit),
            b.amount
        );
    }
    let _ = writeln!(out, "# TYPE sms_provider_balance_low gauge");
    for b in &balances {
        let _ = writeln!(
            out,
            "sms_provider_balance_low{{provider=\"{}\"}} {}",
            crate::metrics::escape(&b.provider),
            u8::from(b.low)
        );
    }
}
