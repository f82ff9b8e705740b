//! `POST /v1/messages`, `GET /v1/messages/{id}`, `GET /v1/messages?reference=`.

use axum::Router;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, ErrorCode, body_rejection, json_body};
use crate::service::{self, SendOutcome};
use crate::view;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/messages", get(by_reference).post(send))
        .route("/messages/{id}", get(by_id))
}

async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = state.inner.keys.check(&headers, Need::Send)?.to_owned();
    let body = body.map_err(body_rejection)?;
    let key = super::idempotency_key(&headers)?;
    let json = super::json_body(&headers, &body)?;
    let held = match crate::keyspend::reserve(&state, &caller, &json).await {
        Ok(held) => held,
        Err(refused) => return Ok(refused),
    };
    let result = service::send(&state, &caller, json, key).await;
    // A replayed answer or a refusal sent nothing new: the key's parts go back.
    crate::keyspend::settle(&state, held, matches!(result, Ok(SendOutcome::Fresh(_)))).await;
    let (answer, replayed) = match result? {
        SendOutcome::Fresh(answer) => (answer, false),
        SendOutcome::Replayed(answer) => (answer, true),
    };
    let mut response = (answer.status(), json_body(&answer.body)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

async fn by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let Path(id) = id.map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "invalid message id"))?;
    let stored = state
        .store()
        .message(&id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    found(&state, stored).await
}

async fn by_reference(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let pairs = super::query_pairs(uri.query())?;
    let reference = pairs
        .iter()
        .find(|(k, _)| k == "reference")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidParameter, "give `?reference=`"))?;
    let stored = state
        .store()
        .message_by_reference(reference)
        .await
        .map_err(|e| ApiError::store(&e))?;
    found(&state, stored).await
}

async fn found(state: &AppState, stored: Option<sms_store::StoredMessage>) -> Result<Response, ApiError> {
    let stored = stored.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such message"))?;
    let receipts = state
        .store()
        .receipts_for(&stored.id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(json_body(&view::message(&stored, &receipts)))
}
