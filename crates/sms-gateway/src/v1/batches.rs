//! `POST /v1/batches` (many recipients or rows, queued in one transaction) and
//! `GET /v1/batches/{id}` (progress: recipients per status, parts billed and their estimated cost).

use axum::Router;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::json;
use sms_core::MessageSender as _;
use sms_store::{NewMessage, Status};

use crate::app::AppState;
use crate::auth::Need;
use crate::error::{ApiError, ErrorCode, body_rejection, json_body};
use crate::service::{self, Answer};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/batches", post(create))
        .route("/batches/{id}", get(progress))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = state.inner.keys.check(&headers, Need::Send)?.to_owned();
    let body = body.map_err(body_rejection)?;
    let key = super::idempotency_key(&headers)?;
    let json = super::json_body(&headers, &body)?;
    let print = service::fingerprint(&json);
    let messages = crate::bulk::messages_of(json)?;
    let capabilities = state.chain().capabilities();
    if let Some(m) = messages.iter().find(|m| !capabilities.supports(m.kind())) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedKind,
            format!("no provider of the chain sends {} messages", m.kind()),
        ));
    }
    let store_key = key.map(|k| service::idempotency_store_key("batch", &caller, k));
    if let Some(store_key) = &store_key
        && let Some(answer) = service::reserve(&state, store_key, &print).await?
    {
        let mut response = (answer.status(), json_body(&answer.body)).into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(response);
    }
    let id = sms_store::new_id();
    let recipients: usize = messages.iter().map(|m| m.recipients().len()).sum();
    let records: Vec<NewMessage> = messages
        .into_iter()
        .map(|m| NewMessage::new(m).in_batch(&id))
        .collect();
    let answer = match state.store().enqueue(&records, None).await {
        Ok(()) => Ok(Answer {
            status: StatusCode::ACCEPTED.as_u16(),
            body: json!({
                "id": id,
                "status": "queued",
                "messages": records.len(),
                "recipients": recipients,
            }),
        }),
        Err(e) if e.kind() == sms_store::StoreErrorKind::DuplicateReference => Err(ApiError::new(
            ErrorCode::DuplicateReference,
            "a message of the batch has a reference that is already recorded (or used twice)",
        )),
        Err(e) => Err(ApiError::store(&e)),
    };
    if answer.is_ok() {
        state.inner.outbox_hint.notify_waiters();
    }
    if let Some(store_key) = &store_key {
        let retention = state.config().state().idempotency_retention;
        service::record(&state, store_key, &answer, retention).await;
    }
    let answer = answer?;
    Ok((answer.status(), json_body(&answer.body)).into_response())
}

async fn progress(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    state.inner.keys.check(&headers, Need::Read)?;
    let Path(id) = id.map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "invalid batch id"))?;
    let counts = state
        .store()
        .status_counts(&id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let recipients: u64 = counts.values().sum();
    if recipients == 0 {
        return Err(ApiError::new(ErrorCode::NotFound, "no such batch"));
    }
    let billed = state
        .store()
        .billed_parts(&id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let by_status: serde_json::Map<String, serde_json::Value> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), json!(counts.get(s).copied().unwrap_or(0))))
        .collect();
    let pending = [Status::Queued, Status::Sending]
        .iter()
        .map(|s| counts.get(s).copied().unwrap_or(0))
        .sum::<u64>();
    let mut total_cost = Some(0.0);
    let billed_items: Vec<_> = billed
        .iter()
        .map(|(provider, parts)| {
            // `[spend.prices]` (integer thousandths; a provider's deprecated `price_per_part` is its
            // mainland price there) is the price; a provider outside the chain has only the old key.
            // Batches record no destination country: priced at mainland rates.
            #[allow(clippy::cast_precision_loss)] // a display amount; thousandths are the truth
            let cost = match state
                .config()
                .spend()
                .prices
                .price(provider, sms_failover::MAINLAND)
            {
                Some(per_part) => Some(per_part.saturating_mul(*parts) as f64 / 1000.0),
                None => state
                    .config()
                    .provider(provider)
                    .and_then(|p| p.estimated_cost(*parts)),
            };
            total_cost = total_cost.zip(cost).map(|(a, b)| a + b);
            json!({"provider": provider, "parts": parts, "estimated_cost": cost})
        })
        .collect();
    Ok(json_body(&json!({
        "id": id,
        "recipients": recipients,
        "counts": by_status,
        "done": pending == 0,
        "billed_parts": billed.iter().map(|(_, p)| p).sum::<u64>(),
        "billed": billed_items,
        // Null when a provider has no `price_per_part`.
        "estimated_cost": total_cost,
    })))
}
