//! `GET /v1/inbound?cursor=&limit=`: stored handset replies, oldest first, from a cursor.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, ErrorCode, json_body};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/inbound", get(inbound))
}

async fn inbound(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let pairs = super::query_pairs(uri.query())?;
    let limit = super::limit(&pairs)?;
    let cursor = match pairs.iter().find(|(k, _)| k == "cursor") {
        None => 0,
        Some((_, v)) => v.parse::<i64>().ok().filter(|c| *c >= 0).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidParameter,
                "`cursor` must be a number from a previous answer",
            )
        })?,
    };
    let rows = state
        .store()
        .inbound_since(cursor, limit)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let next = rows.last().map_or(cursor, |r| r.id);
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "provider": r.provider,
                "sender": r.sender,
                "service_number": r.service_number,
                "text": r.text,
                "opt_out": r.opt_out,
                "received_ms": r.received_at,
                "stored_ms": r.stored_at,
            })
        })
        .collect();
    Ok(json_body(&serde_json::json!({"inbound": items, "cursor": next})))
}
