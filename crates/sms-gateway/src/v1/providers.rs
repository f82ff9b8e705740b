//! `GET /v1/providers`: each provider's place in the chain, breaker and recent health; the
//! operator's overrides of adaptive routing (`POST /v1/providers/{name}/pin`, `.../drain`,
//! `DELETE .../override`), stored so that every instance honours them.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{delete, get, post};
use sms_failover::adaptive::Override;

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, ErrorCode, json_body};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/providers", get(providers))
        .route("/providers/{name}/pin", post(pin))
        .route("/providers/{name}/drain", post(drain))
        .route("/providers/{name}/override", delete(release))
}

async fn pin(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    set_override(&state, &headers, path, Override::Pin).await
}

async fn drain(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    set_override(&state, &headers, path, Override::Drain).await
}

async fn release(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    set_override(&state, &headers, path, Override::Release).await
}

/// Applies an override through the adaptive router (stored first, for every instance); answers
/// with the overrides in force.
async fn set_override(
    state: &AppState,
    headers: &HeaderMap,
    path: Result<Path<String>, PathRejection>,
    action: fn(String) -> Override,
) -> Result<Response, ApiError> {
    state.inner.keys.check(headers, Need::Admin)?;
    let Path(name) = path.map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "invalid provider name"))?;
    let Some(router) = state.chain().adaptive_router() else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "overrides need `strategy = \"adaptive\"` in [chain]",
        ));
    };
    if !router.provider_names().contains(&name) {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no provider named {name:?} in the chain"),
        ));
    }
    let overrides = router.apply_override(&action(name)).await.map_err(|error| {
        if error.kind() == sms_core::ErrorKind::InvalidRequest {
            ApiError::new(ErrorCode::InvalidRequest, error.message().to_owned())
        } else {
            tracing::warn!(%error, "routing overrides could not be stored");
            ApiError::new(
                ErrorCode::StoreUnavailable,
                "the routing overrides could not be stored; nothing changed",
            )
        }
    })?;
    Ok(json_body(
        &serde_json::json!({"overrides": overrides_json(&router.named(&overrides))}),
    ))
}

fn overrides_json(named: &sms_failover::adaptive::NamedOverrides) -> serde_json::Value {
    serde_json::json!({"pin": named.pin, "drained": named.drained})
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
        body["overrides"] = overrides_json(&router.named(&router.overrides()));
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
