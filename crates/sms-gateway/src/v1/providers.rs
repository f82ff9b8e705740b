//! `GET /v1/providers`: each provider's place in the chain, breaker and recent health.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, json_body};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/providers", get(providers))
}

async fn providers(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let health = state.chain().health();
    let adaptive = state.chain().adaptive_router();
    let weights = adaptive.map(|router| router.snapshot()).unwrap_or_default();
    let items: Vec<_> = state
        .config()
        .providers()
        .iter()
        .map(|p| {
            let h = health.iter().find(|h| h.name == p.name);
            serde_json::json!({
                "name": p.name,
                "vendor": p.vendor.type_name(),
                "in_chain": p.in_chain,
                "priority": p.priority,
                "weight": p.weight,
                "breaker": h.map(|h| format!("{:?}", h.breaker).to_lowercase()),
                "success_rate": h.map(|h| h.success_rate),
                "average_latency_ms": h.and_then(|h| h.average_latency).map(|d| d.as_millis() as u64),
                "requests": h.map(|h| h.requests),
                "consecutive_failures": h.map(|h| h.consecutive_failures),
                "adaptive": weights.iter().find(|w| w.name == p.name).map(provider_weight),
            })
        })
        .collect();
    let mut body = serde_json::json!({"providers": items});
    if let Some(router) = adaptive {
        body["weight_changes"] = router.history().iter().map(weight_change).collect();
    }
    Ok(json_body(&body))
}

/// A provider's adaptive weights (points of 100) and the evidence of the last evaluation.
fn provider_weight(w: &sms_failover::adaptive::ProviderWeight) -> serde_json::Value {
    let receipts = w.evidence.receipts;
    serde_json::json!({
        "weight": w.after,
        "learned_weight": w.before,
        "resting_weight": w.resting,
        "send_errors": w.evidence.send_errors,
        "judged": receipts.map(|r| r.judged),
        "late": receipts.map(|r| r.late),
    })
}

/// One stored change of the adaptive weights: when, why, and each provider before and after with
/// the evidence that moved it.
fn weight_change(change: &sms_failover::adaptive::WeightChange) -> serde_json::Value {
    let at_ms = change
        .at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    serde_json::json!({
        "at_ms": at_ms,
        "reason": change.reason,
        "providers": change.providers.iter().map(|w| serde_json::json!({
            "name": w.name,
            "before": w.before,
            "after": w.after,
            "send_errors": w.evidence.send_errors,
            "judged": w.evidence.receipts.map(|r| r.judged),
            "late": w.evidence.receipts.map(|r| r.late),
        })).collect::<Vec<_>>(),
    })
}
