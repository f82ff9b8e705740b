//! `GET /v1/usage`: spending against every cap of the chain's spend policy, in its current Beijing day
//! or month.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use sms_failover::{CapScope, CapUsage, beijing_minute};

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, ErrorCode, json_body};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/usage", get(usage))
}

async fn usage(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let caps = state.chain().spend_usage().await.map_err(|e| {
        // The backend's name and what failed: state backends never put secrets in their errors.
        ApiError::new(
            ErrorCode::StoreUnavailable,
            format!("the spend ledger cannot be read: {}", e.message()),
        )
    })?;
    let spend = state.config().spend();
    Ok(json_body(&serde_json::json!({
        "enabled": spend.enabled,
        "currency": spend.currency,
        "money_unit": "thousandths of the currency unit",
        "caps": caps.iter().map(cap_json).collect::<Vec<_>>(),
    })))
}

/// One cap as the API shows it (and `sms usage` prints it).
pub(crate) fn cap_json(usage: &CapUsage) -> serde_json::Value {
    let scope = match &usage.cap.scope {
        CapScope::Overall => "overall".to_owned(),
        CapScope::Account(name) => format!("account:{name}"),
        CapScope::Country(code) => format!("country:{code}"),
    };
    serde_json::json!({
        "scope": scope,
        "period": usage.cap.period.as_str(),
        "unit": usage.cap.unit.as_str(),
        "limit": usage.cap.limit,
        "used": usage.used,
        "remaining": usage.remaining(),
        "current_period": usage.period,
        "resets_at": format!("{} +08:00", beijing_minute(usage.resets_at)),
        "resets_at_unix": usage.resets_at,
    })
}
