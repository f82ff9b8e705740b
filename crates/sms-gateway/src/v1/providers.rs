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
            })
        })
        .collect();
    Ok(json_body(&serde_json::json!({"providers": items})))
}
