//! `/healthz` (the process answers) and `/readyz` (the store and the shared state answer).

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
    // The chain's state lives in the store and process memory, or on a shared backend (Redis) that
    // must answer too.
    if let Err(message) = crate::state::probe(&state).await {
        tracing::warn!(error = %message, "not ready: the shared state does not answer");
        let mut response =
            json_body(&serde_json::json!({"status": "not_ready", "store": "ok", "state": "unavailable"}));
        *response.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
        return Ok(response);
    }
    Ok(json_body(
        &serde_json::json!({"status": "ready", "store": "ok", "state": "ok"}),
    ))
}
