//! `sms usage`: spending against every cap of `[spend]`, as `GET /v1/usage` shows it. The counts are
//! where `sms send` and `sms bulk` count them: Redis with `[state] backend = "redis"`, else the store
//! (`[store]`, where the gateway keeps them across restarts); without either they are this process's
//! own, which start at zero.

use std::sync::Arc;

use serde_json::json;
use sms::config::{StoreBackend, StoreConfig};
use sms::failover::{CapScope, CapUsage, beijing_minute};
use sms::store::{StoreOptions, StoreState};

use crate::backend::Backend;
use crate::exit::{Exit, Failure, Outcome};

/// Every cap's use in its current Beijing day or month, read from the store when one is configured.
///
/// # Errors
/// The store cannot be opened or read (exit 1).
pub async fn spend_usage(backend: &Backend) -> Result<(Vec<CapUsage>, bool), Failure> {
    if backend.spend_durable {
        let usage = backend
            .chain
            .spend_usage()
            .await
            .map_err(|e| Failure::error(format!("cannot read the spend caps: {e}")))?;
        return Ok((usage, true));
    }
    let Some(location) = store_location(backend.config.store()) else {
        let usage = backend
            .chain
            .spend_usage()
            .await
            .map_err(|e| Failure::error(format!("cannot read the spend caps: {e}")))?;
        return Ok((usage, false));
    };
    let store = sms::store::open(&location, StoreOptions::default())
        .await
        .map_err(|e| Failure::error(format!("cannot open the store for the spend caps: {e}")))?;
    let chain = backend
        .config
        .chain_builder()
        .without_idempotency()
        .spend_ledger(Arc::new(StoreState::new(store)))
        .build()
        .map_err(|e| Failure::config(e.to_string()))?;
    let usage = chain
        .spend_usage()
        .await
        .map_err(|e| Failure::error(format!("cannot read the spend caps: {e}")))?;
    Ok((usage, true))
}

/// Where the store is, when `[store]` names one.
fn store_location(store: &StoreConfig) -> Option<String> {
    match &store.backend {
        StoreBackend::Sqlite { path, .. } => Some(path.to_string_lossy().into_owned()),
        StoreBackend::Postgres { url, .. } => Some(url.expose().to_owned()),
        _ => None,
    }
}

/// A cap's scope as the config writes it.
pub fn scope_name(scope: &CapScope) -> String {
    match scope {
        CapScope::Overall => "overall".to_owned(),
        CapScope::Account(name) => format!("account:{name}"),
        CapScope::Country(code) => format!("country:{code}"),
    }
}

/// Runs `sms usage`.
///
/// # Errors
/// As [`spend_usage`].
pub async fn run(backend: &Backend, json: bool) -> Outcome {
    let (usage, durable) = spend_usage(backend).await?;
    let spend = backend.config.spend();
    if json {
        let caps: Vec<_> = usage
            .iter()
            .map(|u| {
                json!({"scope": scope_name(&u.cap.scope), "period": u.cap.period.as_str(),
                       "unit": u.cap.unit.as_str(), "limit": u.cap.limit, "used": u.used,
                       "remaining": u.remaining(), "current_period": u.period,
                       "resets_at": format!("{} +08:00", beijing_minute(u.resets_at))})
            })
            .collect();
        println!(
            "{}",
            json!({"enabled": spend.enabled, "currency": spend.currency, "durable": durable, "caps": caps})
        );
        return Ok(Exit::Ok);
    }
    if !spend.enabled {
        println!("spend caps are off ([spend] enabled = false)");
        return Ok(Exit::Ok);
    }
    println!(
        "{:<24} {:<6} {:<6} {:>12} {:>12} {:>12}  resets (Beijing)",
        "cap", "period", "unit", "used", "limit", "remaining"
    );
    for u in &usage {
        println!(
            "{:<24} {:<6} {:<6} {:>12} {:>12} {:>12}  {}",
            scope_name(&u.cap.scope),
            u.cap.period.as_str(),
            u.cap.unit.as_str(),
            u.used,
            u.cap.limit,
            u.remaining(),
            beijing_minute(u.resets_at)
        );
    }
    println!(
        "money in thousandths of {} (35 = 0.035){}",
        spend.currency,
        if durable {
            ""
        } else {
            "; no [store] configured: counted by this process only"
        }
    );
    Ok(Exit::Ok)
}
