//! Sending through the gateway: validate, reserve the `Idempotency-Key` (or, without one, the client
//! reference the request names), send through the recording chain within the sync timeout, answer
//! from the store. Handlers only parse and call this.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sms_core::{ErrorKind, Message, MessageSender};
use sms_store::Reservation;
use tracing::Instrument;

use crate::app::AppState;
use crate::compose::{KEY_PREFIX, REFERENCE_KEY_PREFIX};
use crate::error::{ApiError, ErrorCode};
use crate::view;

/// An answer to a send, as kept for `Idempotency-Key` replays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK)
    }
}

/// What happened to a send request.
pub(crate) enum SendOutcome {
    /// Sent now (or timed out and still going on).
    Fresh(Answer),
    /// The first answer for this `Idempotency-Key`, nothing sent.
    Replayed(Answer),
}

/// Where an `Idempotency-Key` of the API key named `caller` is kept, for `what` (`send`, `batch`):
/// each API key has keys of its own, so two applications never meet in each other's keys (nor
/// see each other's answers). The caller's name is length-prefixed: no name and key can make
/// another's.
pub(crate) fn idempotency_store_key(what: &str, caller: &str, key: &str) -> String {
    format!("{KEY_PREFIX}{what}:{}:{caller}:{key}", caller.len())
}

/// The fingerprint of a request: SHA-256 of its canonical JSON (keys sorted), hex.
pub(crate) fn fingerprint(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// Validates and sends. `body` is the parsed JSON; `key` the `Idempotency-Key`, if any, of the
/// API key named `caller`.
///
/// Without a key, a request that names its client reference is keyed by it: the same reference
/// with the same body answers what the first did and sends nothing, with another body it is
/// refused (422), and while the first is in flight 409; as with a key.
pub(crate) async fn send(
    state: &AppState,
    caller: &str,
    body: Value,
    key: Option<&str>,
) -> Result<SendOutcome, ApiError> {
    let names_reference = body.get("reference").is_some_and(|r| !r.is_null());
    // Only a request with a key (or a reference of its own) is compared with an earlier one.
    let print = if key.is_some() || names_reference {
        fingerprint(&body)
    } else {
        String::new()
    };
    let request: crate::compose::SendRequest = serde_json::from_value(body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("the body is not a send request: {e}"),
        )
    })?;
    let queue = request.queued();
    let message = request.into_message()?;
    if !state.chain().capabilities().supports(message.kind()) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedKind,
            format!("no provider of the chain sends {} messages", message.kind()),
        ));
    }
    let retention = state.config().state().idempotency_retention;
    let store_key = match key {
        Some(key) => Some(idempotency_store_key("send", caller, key)),
        None if names_reference => Some(format!("{REFERENCE_KEY_PREFIX}{}", message.reference().as_str())),
        None => None,
    };
    if let Some(store_key) = &store_key
        && let Some(answer) = reserve(state, store_key, &print).await?
    {
        return Ok(SendOutcome::Replayed(answer));
    }
    if queue {
        let answer = enqueue(state, &message).await;
        if let Some(store_key) = &store_key {
            record_send(state, store_key, &answer, retention, message.reference().as_str()).await;
        }
        return answer.map(SendOutcome::Fresh).map_err(|refused| refused.error);
    }
    // The send runs in its own task: a client that disconnects or a sync timeout never cuts a send
    // in half, and shutdown waits for it.
    let reference = message.reference().as_str().to_owned();
    let task_state = state.clone();
    let guard = state.inner.in_flight.clone();
    // In the request's span, so that what the chain and the store log carries its request id.
    let task = tokio::spawn(
        async move {
            let _guard = guard;
            let answer = send_now(&task_state, &message).await;
            if let Some(store_key) = &store_key {
                record_send(
                    &task_state,
                    store_key,
                    &answer,
                    retention,
                    message.reference().as_str(),
                )
                .await;
            }
            answer.map_err(|refused| refused.error)
        }
        .instrument(tracing::Span::current()),
    );
    match tokio::time::timeout(state.sync_timeout(), task).await {
        Ok(Ok(answer)) => answer.map(SendOutcome::Fresh),
        Ok(Err(join)) => {
            tracing::error!(error = %join, "a send task failed");
            Err(ApiError::new(
                ErrorCode::Internal,
                "the send failed inside the gateway",
            ))
        }
        Err(_) => Ok(SendOutcome::Fresh(read_by_reference(
            &reference,
            "sending",
            "the providers have not answered within the sync timeout; read the message by reference",
        ))),
    }
}

/// Reserves an `Idempotency-Key` (`store_key`, prefixed) for a request with fingerprint `print`:
/// `None` when the caller may go on, the first answer when it was given before for the same
/// request.
///
/// # Errors
/// `idempotency_in_flight` while the first is running, `idempotency_key_reused` for another
/// request, `store_unavailable`.
pub(crate) async fn reserve(
    state: &AppState,
    store_key: &str,
    print: &str,
) -> Result<Option<Answer>, ApiError> {
    let retention = state.config().state().idempotency_retention;
    match state.store().reserve(store_key, print, retention).await {
        Ok(Reservation::Reserved) => Ok(None),
        Ok(Reservation::Pending { fingerprint }) if fingerprint == print => Err(ApiError::new(
            ErrorCode::IdempotencyInFlight,
            "a request with this Idempotency-Key (or client reference) is still in flight",
        )),
        Ok(Reservation::Completed { fingerprint, outcome }) if fingerprint == print => {
            let answer: Answer = serde_json::from_str(&outcome).map_err(|_| {
                ApiError::new(
                    ErrorCode::Internal,
                    "the recorded answer for this Idempotency-Key is unreadable",
                )
            })?;
            Ok(Some(answer))
        }
        Ok(_) => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key (or client reference) was used with a different request",
        )),
        Err(e) => Err(ApiError::store(&e)),
    }
}

/// A send without an answer to give: the error for the client, and whether nothing can have been
/// sent or queued (its key may then be used again; otherwise the key keeps an answer that says to
/// read the message by its reference, so a retry never sends it again).
pub(crate) struct Refused {
    pub(crate) error: ApiError,
    pub(crate) nothing_sent: bool,
}

impl Refused {
    fn nothing_sent(error: ApiError) -> Self {
        Self {
            error,
            nothing_sent: true,
        }
    }

    fn maybe_sent(error: ApiError) -> Self {
        Self {
            error,
            nothing_sent: false,
        }
    }
}

/// Puts the message in the outbox; a worker sends it. Answers 202 with the queued record.
async fn enqueue(state: &AppState, message: &Message) -> Result<Answer, Refused> {
    let record = sms_store::NewMessage::new(message.clone());
    let id = record.id.clone();
    match state.store().enqueue(&[record], None).await {
        Ok(()) => {}
        Err(e) if e.kind() == sms_store::StoreErrorKind::DuplicateReference => {
            return Err(Refused::nothing_sent(ApiError::new(
                ErrorCode::DuplicateReference,
                "a message with this reference is already recorded",
            )));
        }
        // All or nothing: a failed enqueue queued nothing.
        Err(e) => return Err(Refused::nothing_sent(ApiError::store(&e))),
    }
    // Read the record before waking the workers: the answer shows it as queued, not as whatever a
    // worker that claimed it at once has made of it since. It is queued from here on.
    let stored = state
        .store()
        .message(&id)
        .await
        .map_err(|e| Refused::maybe_sent(ApiError::store(&e)))?
        .ok_or_else(|| {
            Refused::maybe_sent(ApiError::new(
                ErrorCode::Internal,
                "the queued message's record is gone",
            ))
        })?;
    state.inner.outbox_hint.notify_waiters();
    Ok(Answer {
        status: StatusCode::ACCEPTED.as_u16(),
        body: view::message(&stored, &[]),
    })
}

/// Stores the answer of a send for its key: the answer; or, when it failed, frees the key if nothing
/// can have gone out, else keeps an answer that says to read the message by `reference`.
async fn record_send(
    state: &AppState,
    store_key: &str,
    answer: &Result<Answer, Refused>,
    retention: std::time::Duration,
    reference: &str,
) {
    let kept = match answer {
        Ok(answer) => Ok(answer.clone()),
        Err(refused) if refused.nothing_sent => Err(refused.error.clone()),
        Err(_) => Ok(read_by_reference(
            reference,
            "unknown",
            "the first request's outcome could not be read back; read the message by reference",
        )),
    };
    record(state, store_key, &kept, retention).await;
}

/// A 202 for a send whose outcome is not known yet: its reference, to read it by later.
fn read_by_reference(reference: &str, status: &str, message: &str) -> Answer {
    Answer {
        status: StatusCode::ACCEPTED.as_u16(),
        body: serde_json::json!({"reference": reference, "status": status, "message": message}),
    }
}

/// Stores the answer for the key, or frees the key when nothing was sent.
pub(crate) async fn record(
    state: &AppState,
    store_key: &str,
    answer: &Result<Answer, ApiError>,
    retention: std::time::Duration,
) {
    let result = match answer {
        Ok(answer) => match serde_json::to_string(answer) {
            Ok(text) => state
                .store()
                .complete(store_key, &text, retention)
                .await
                .map(drop),
            Err(_) => Ok(()),
        },
        // Nothing was recorded, so nothing was sent: the key may be used again.
        Err(_) => state.store().release_reservation(store_key).await.map(drop),
    };
    if let Err(error) = result {
        tracing::warn!(%error, "the Idempotency-Key outcome could not be stored; it stays in flight");
    }
}

/// Sends through the recording chain and answers from the store's record: the one the recording
/// wrote, read back only when it cannot be known otherwise (a replayed reference, a receipt that came
/// before the send).
async fn send_now(state: &AppState, message: &Message) -> Result<Answer, Refused> {
    let sent = state.inner.sender.send_recorded(message).await;
    state.inner.callback_hint.notify_waiters();
    let result = sent.result;
    let stored = match sent.record {
        Some(record) => Some(record),
        None => {
            let found = state
                .store()
                .message_by_reference(message.reference().as_str())
                .await
                .map_err(|e| Refused::maybe_sent(ApiError::store(&e)))?;
            // A reference recorded before (by this gateway, a batch or the CLI) is answered from its
            // record and not sent again, but only for the same message: another one under it is
            // refused, not passed off as the first.
            if let Some(first) = &found
                && !is_same_message(first, message)
            {
                return Err(Refused::nothing_sent(ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "this client reference was used with a different message",
                )));
            }
            found
        }
    };
    match (stored, result) {
        (Some(stored), _) => {
            let kind = stored.kind.to_string();
            for r in &stored.recipients {
                let provider = r.provider.as_deref().unwrap_or("none");
                state.inner.metrics.count(
                    "sms_messages_total",
                    &[
                        ("provider", provider),
                        ("kind", &kind),
                        ("outcome", r.status.as_str()),
                    ],
                );
            }
            Ok(Answer {
                status: StatusCode::OK.as_u16(),
                body: view::message(&stored, &[]),
            })
        }
        (None, Err(error)) => Err(Refused::nothing_sent(match error.kind() {
            ErrorKind::InvalidRequest | ErrorKind::Unsupported => {
                ApiError::new(ErrorCode::InvalidRequest, error.message().to_owned())
            }
            _ if error.provider() == Some(sms_store::STORE_NAME) => {
                tracing::warn!(%error, "the send could not be recorded; nothing was sent");
                ApiError::new(
                    ErrorCode::StoreUnavailable,
                    "the message store is unavailable; nothing was sent",
                )
            }
            // The recording writes before any request, so without a record nothing was sent.
            _ => ApiError::new(ErrorCode::ProviderUnavailable, error.message().to_owned()),
        })),
        (None, Ok(_)) => Err(Refused::maybe_sent(ApiError::new(
            ErrorCode::Internal,
            "the message was sent but its record is gone",
        ))),
    }
}

/// Whether `stored` records `message`: the same content (by digest) to the same numbers.
fn is_same_message(stored: &sms_store::StoredMessage, message: &Message) -> bool {
    let mut numbers: Vec<String> = message.recipients().iter().map(|n| n.e164()).collect();
    let mut recorded: Vec<String> = stored.recipients.iter().map(|r| r.number.clone()).collect();
    numbers.sort();
    recorded.sort();
    stored.content_digest == sms_store::content_digest(message) && numbers == recorded
}
