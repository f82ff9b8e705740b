//! `sms providers`: each provider of the chain with its breaker, health and adaptive weights, and
//! the latest weight changes with their reasons. With `[store]` the weights, overrides and changes
//! are the ones the gateways on that store share; without, those of a chain built from the config
//! (resting weights, no changes). Breakers and health are always this process's own.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde_json::{Value, json};
use sms::failover::adaptive::{NamedOverrides, WeightChange};
use sms::store::StoreState;

use crate::backend::Backend;
use crate::exit::{Exit, Failure, Outcome};

/// The changes shown.
const CHANGES: u32 = 10;

/// Runs `sms providers`.
///
/// # Errors
/// The store cannot be read (exit 1).
pub async fn run(backend: &Backend, json: bool) -> Outcome {
    let router = backend.chain.adaptive_router();
    let mut changes: Vec<WeightChange> = Vec::new();
    if let (Some(router), Some(store)) = (router, &backend.store) {
        let state = Arc::new(StoreState::new(store.clone()));
        // A reader: it follows the stored weights and never takes the decider's lease.
        router
            .share(state, format!("cli-{}", std::process::id()))
            .map_err(|e| Failure::error(e.to_string()))?;
        router
            .sync()
            .await
            .map_err(|e| Failure::error(format!("cannot read the adaptive weights: {e}")))?;
        for stored in store
            .weight_changes(CHANGES)
            .await
            .map_err(|e| Failure::error(format!("cannot read the weight changes: {e}")))?
        {
            changes.push(
                WeightChange::from_json(&stored.body)
                    .map_err(|e| Failure::error(format!("weight change {}: {e}", stored.seq)))?,
            );
        }
    }
    let weights = router.map(|r| r.snapshot()).unwrap_or_default();
    let overrides = router.map(|r| r.named(&r.overrides())).unwrap_or_default();
    let rows: Vec<Value> = backend
        .chain
        .health()
        .iter()
        .map(|h| {
            let w = weights.iter().find(|w| w.name == h.name);
            json!({
                "name": h.name,
                "breaker": format!("{:?}", h.breaker).to_lowercase(),
                "success_rate": h.success_rate,
                "requests": h.requests,
                "weight": w.map(|w| w.after),
                "learned_weight": w.map(|w| w.before),
                "resting_weight": w.map(|w| w.resting),
                "pinned": overrides.pin.as_deref() == Some(h.name.as_str()),
                "drained": overrides.drained.contains(&h.name),
            })
        })
        .collect();
    if json {
        println!(
            "{}",
            json!({
                "adaptive": router.is_some(),
                "shared": router.is_some() && backend.store.is_some(),
                "providers": rows,
                "overrides": {"pin": overrides.pin, "drained": overrides.drained},
                "weight_changes": changes.iter().map(change_json).collect::<Vec<_>>(),
            })
        );
        return Ok(Exit::Ok);
    }
    print_table(&rows, &overrides);
    if router.is_none() {
        println!("weights: the chain's strategy is not \"adaptive\"");
    } else if backend.store.is_none() {
        println!("weights: no [store] configured: resting weights of a chain built from the config");
    } else if changes.is_empty() {
        println!("no weight changes stored");
    } else {
        println!("latest weight changes (newest first):");
        for change in &changes {
            let moves: Vec<String> = change
                .providers
                .iter()
                .map(|p| {
                    let receipts = p
                        .evidence
                        .receipts
                        .map_or(String::new(), |r| format!(", {}/{} late", r.late, r.judged));
                    format!(
                        "{} {}->{} ({} errors{receipts})",
                        p.name, p.before, p.after, p.evidence.send_errors
                    )
                })
                .collect();
            println!("  {} {:<8} {}", at_ms(change), change.reason, moves.join("; "));
        }
    }
    Ok(Exit::Ok)
}

fn print_table(rows: &[Value], overrides: &NamedOverrides) {
    println!(
        "{:<16} {:<10} {:>8} {:>8} {:>7} {:>7} {:>7}  override",
        "provider", "breaker", "success", "requests", "weight", "learned", "resting"
    );
    let number = |v: &Value| v.as_u64().map_or_else(|| "-".to_owned(), |n| n.to_string());
    for row in rows {
        let name = row["name"].as_str().unwrap_or("");
        let mark = if overrides.pin.as_deref() == Some(name) {
            "pinned"
        } else if overrides.drained.iter().any(|d| d == name) {
            "drained"
        } else {
            ""
        };
        println!(
            "{:<16} {:<10} {:>7.0}% {:>8} {:>7} {:>7} {:>7}  {mark}",
            name,
            row["breaker"].as_str().unwrap_or(""),
            row["success_rate"].as_f64().unwrap_or(0.0) * 100.0,
            number(&row["requests"]),
            number(&row["weight"]),
            number(&row["learned_weight"]),
            number(&row["resting_weight"]),
        );
    }
}

fn at_ms(change: &WeightChange) -> u64 {
    change
        .at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn change_json(change: &WeightChange) -> Value {
    json!({
        "at_ms": at_ms(change),
        "reason": change.reason,
        "providers": change.providers.iter().map(|p| json!({
            "name": p.name,
            "before": p.before,
            "after": p.after,
            "send_errors": p.evidence.send_errors,
            "judged": p.evidence.receipts.map(|r| r.judged),
            "late": p.evidence.receipts.map(|r| r.late),
        })).collect::<Vec<_>>(),
    })
}
