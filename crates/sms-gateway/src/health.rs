//! `/healthz` (the process answers) and `/readyz` (the store answers).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::app::AppState;
use crate::error::{ApiError, json_body};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    json_body(&serde_json::json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state
        .store()
        .outbox_depth()
        .await
        .map_err(|e| ApiError::store(&e))?;
    // The chain's state lives in the store (opt-outs, idempotency) or in process memory: reaching the
    // store is reaching the state.
    Ok(json_body(
        &serde_json::json!({"status": "ready", "store": "ok", "state": "ok"}),
    ))
}
