//! `GET /v1/suppressions`, `POST /v1/suppressions`, `DELETE /v1/suppressions/{number}`: the durable
//! opt-out list the chain honours.

use axum::Router;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use bytes::Bytes;
use serde::Deserialize;
use sms_core::PhoneNumber;

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, ErrorCode, body_rejection, json_body};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/suppressions", get(list).post(add))
        .route("/suppressions/{number}", delete(remove))
}

fn number(text: &str) -> Result<PhoneNumber, ApiError> {
    text.trim()
        .parse()
        .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("not a valid number: {e}")))
}

async fn list(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let pairs = super::query_pairs(uri.query())?;
    let limit = super::limit(&pairs)?;
    let after = pairs.iter().find(|(k, _)| k == "after").map(|(_, v)| v.as_str());
    let rows = state
        .store()
        .suppressions(after, limit)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.number.clone()))
        .flatten();
    let items: Vec<_> = rows
        .iter()
        .map(|s| serde_json::json!({"number": s.number, "reason": s.reason, "source": s.source, "created_ms": s.created_at}))
        .collect();
    Ok(json_body(
        &serde_json::json!({"suppressions": items, "next_after": next}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    number: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = state.inner.keys.check(&headers, Need::Admin)?.to_owned();
    let body = body.map_err(body_rejection)?;
    let json = super::json_body(&headers, &body)?;
    let request: AddRequest = serde_json::from_value(json).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("the body is not a suppression: {e}"),
        )
    })?;
    let number = number(&request.number)?;
    let reason = request.reason.unwrap_or_else(|| "manual".to_owned());
    if reason.is_empty() || reason.len() > 64 || reason.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "`reason` must be 1 to 64 characters",
        ));
    }
    let created = state
        .store()
        .suppress(&number, &reason, &format!("api:{caller}"))
        .await
        .map_err(|e| ApiError::store(&e))?;
    crate::state::share_opt_out(&state, &number.e164()).await;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        json_body(&serde_json::json!({"number": number.e164(), "created": created})),
    )
        .into_response())
}

async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Admin)?;
    let Path(text) = path.map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "invalid number"))?;
    let number = number(&text)?;
    let mut removed = state
        .store()
        .unsuppress(&number)
        .await
        .map_err(|e| ApiError::store(&e))?;
    if let Some(shared) = &state.inner.shared_suppression {
        // Left in the shared list, the number would stay refused: the caller must hear of it.
        removed |= shared.unsuppress(&number).await.map_err(|error| {
            tracing::warn!(%error, "the shared opt-out list cannot be reached");
            ApiError::new(
                ErrorCode::StoreUnavailable,
                "the shared opt-out list is unavailable; try again later",
            )
        })?;
    }
    if !removed {
        return Err(ApiError::new(ErrorCode::NotFound, "the number is not suppressed"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
