//! `GET /v1/balances`: every configured provider's balance, queried concurrently.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, json_body};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/balances", get(balances))
}

async fn balances(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let queries = state.config().providers().iter().map(|p| async move {
        let result = p.client.balance_query().balance().await;
        match result {
            Ok(b) => serde_json::json!({
                "provider": p.name,
                "amount": b.amount,
                "unit": format!("{:?}", b.unit).to_lowercase(),
                "low": p.low_balance.map(|threshold| b.amount < threshold as i64),
            }),
            // The error's kind and scrubbed message: provider crates never put secrets in them.
            Err(e) => serde_json::json!({
                "provider": p.name,
                "error": {"kind": e.kind().as_str(), "code": e.code(), "message": e.message()},
            }),
        }
    });
    let items = futures_util::future::join_all(queries).await;
    Ok(json_body(&serde_json::json!({"balances": items})))
}
