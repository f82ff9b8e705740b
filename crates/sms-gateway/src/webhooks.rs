//! Provider pushes: `/webhooks/{token}/{provider}/receipt` and `/webhooks/{token}/{provider}/reply`,
//! where `{provider}` is the provider's name in the config and its vendor picks the parser.
//!
//! Each push is stored before it is acknowledged (a store failure answers 503, so the vendor tries
//! again); duplicates and receipts for unknown ids are stored and acknowledged like any other, so a
//! vendor never retries forever. The answer body is exactly what the vendor expects: `ok` for
//! ihuyi, `0` for Juxiang.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use sms_config::Vendor;
use sms_core::{DeliveryReport, InboundMessage};

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode, body_rejection};

/// Which push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    /// A delivery receipt.
    Receipt,
    /// A handset reply.
    Reply,
}

impl PushKind {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::Reply => "reply",
        }
    }
}

/// The pushes a vendor makes to the gateway.
pub fn pushes_of(vendor: Vendor) -> &'static [PushKind] {
    match vendor {
        Vendor::Ihuyi => &[PushKind::Receipt, PushKind::Reply],
        Vendor::IhuyiVoice => &[PushKind::Receipt],
        Vendor::Juxiang => &[PushKind::Reply],
        _ => &[],
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/{token}/{provider}/receipt", post(receipt))
        // Juxiang calls with GET (query string) or POST (form).
        .route("/{token}/{provider}/reply", any(reply))
}

/// Refuses callers outside `gateway.allowed_sources` (when it is set).
fn check_source(state: &AppState, peer: Option<SocketAddr>) -> Result<(), ApiError> {
    let allowed = &state.config().gateway().allowed_sources;
    if allowed.is_empty() {
        return Ok(());
    }
    match peer {
        Some(peer) if allowed.iter().any(|net| net.contains(peer.ip())) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::SourceNotAllowed,
            "this address may not call the webhooks",
        )),
    }
}

/// The provider's vendor when the token is right and the provider is configured.
fn target(state: &AppState, token: &str, provider: &str, kind: PushKind) -> Result<Vendor, ApiError> {
    // Comparing digests: the time taken says nothing about the token.
    let expected = Sha256::digest(state.inner.webhook_token.expose().as_bytes());
    let given = Sha256::digest(token.as_bytes());
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such webhook");
    if expected != given {
        return Err(not_found());
    }
    let vendor = state.config().provider(provider).ok_or_else(not_found)?.vendor;
    if !pushes_of(vendor).contains(&kind) {
        return Err(not_found());
    }
    Ok(vendor)
}

/// `(token, provider)` of the path. A segment that is not UTF-8 once percent-decoded is the
/// gateway's JSON 400 (as for a bad path segment of `/v1`), naming neither segment: one is the token.
fn path_of(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    path.map(|Path(segments)| segments)
        .map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "invalid webhook path"))
}

fn peer_of(request_peer: Option<&ConnectInfo<SocketAddr>>) -> Option<SocketAddr> {
    request_peer.map(|c| c.0)
}

fn ack(body: &'static str) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn malformed(error: &sms_core::Error) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedPush,
        format!("the push cannot be read: {}", error.message()),
    )
}

async fn receipt(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    check_source(&state, peer_of(request.extensions().get()))?;
    let (token, provider) = path_of(path)?;
    let vendor = target(&state, &token, &provider, PushKind::Receipt)?;
    let body = read_body(&state, request).await?;
    let report: DeliveryReport = match vendor {
        Vendor::IhuyiVoice => sms_ihuyi_voice::push::parse_delivery_report(&body).map(|mut r| {
            r.provider = provider.clone();
            r
        }),
        _ => sms_ihuyi::push::parse_delivery_report_for(&provider, &body),
    }
    .map_err(|e| malformed(&e))?;
    let delivered = report.is_delivered();
    let correlated = (delivered && !report.message_id.is_empty())
        .then(|| (report.message_id.clone(), report.recipient.clone()));
    let filed = state.inner.receipts.file(state.store(), report).await?;
    state.inner.callback_hint.notify_waiters();
    if let (sms_store::ReceiptDisposition::Applied, Some((id, number))) = (&filed, correlated) {
        // Read after the acknowledgement is on its way: the vendor never waits for a metric.
        tokio::spawn(observe_delivery_latency(
            state.clone(),
            provider.clone(),
            id,
            number,
        ));
    }
    tracing::info!(provider = %provider, disposition = ?filed, "receipt stored");
    let disposition = match filed {
        sms_store::ReceiptDisposition::Applied => "applied",
        sms_store::ReceiptDisposition::Ignored => "ignored",
        _ => "unmatched",
    };
    let status = if delivered { "delivered" } else { "undelivered" };
    state.inner.metrics.count(
        "sms_receipts_total",
        &[
            ("provider", &provider),
            ("status", status),
            ("disposition", disposition),
        ],
    );
    Ok(ack(sms_ihuyi::push::RECEIPT_ACK))
}

/// `sms_delivery_latency_seconds`: from the provider's acceptance to its delivery receipt, both
/// on the store's clock, for a receipt just applied (receipts without a provider id, Juxiang's, are
/// matched by number and left out).
async fn observe_delivery_latency(state: AppState, provider: String, id: String, number: String) {
    let recipients = match state.store().by_provider_id(&provider, &id).await {
        Ok(recipients) => recipients,
        Err(error) => {
            tracing::debug!(%error, "delivery latency not read");
            return;
        }
    };
    // As the store correlates: one recipient under the id is it; of several, the one whose number
    // the report names, in the store's form.
    let recipient = match recipients.as_slice() {
        [only] => Some(only),
        many => {
            let number = sms_store::normalise::number(&number);
            many.iter().find(|r| r.number == number)
        }
    };
    if let Some(r) = recipient
        && let (Some(accepted), Some(delivered)) = (r.outcome_at, r.final_at)
        && delivered >= accepted
    {
        state.inner.metrics.observe(
            "sms_delivery_latency_seconds",
            crate::metrics::DELIVERY_BUCKETS,
            &[("provider", provider.as_str())],
            (delivered - accepted) as f64 / 1000.0,
        );
    }
}

async fn reply(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    check_source(&state, peer_of(request.extensions().get()))?;
    let (token, provider) = path_of(path)?;
    let vendor = target(&state, &token, &provider, PushKind::Reply)?;
    let method = request.method().clone();
    let query = request.uri().query().map(|q| q.as_bytes().to_vec());
    if vendor != Vendor::Juxiang && method != Method::POST {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this webhook takes POST",
        ));
    }
    if method != Method::POST && method != Method::GET {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this webhook takes GET or POST",
        ));
    }
    let body = read_body(&state, request).await?;
    let (message, ack_body): (InboundMessage, &'static str) = match vendor {
        Vendor::Juxiang => {
            let raw = if method == Method::GET {
                query.unwrap_or_default()
            } else {
                body.to_vec()
            };
            let push = sms_juxiang::push::parse_reply(&raw).map_err(|e| malformed(&e))?;
            let mut message = push.message;
            message.provider = provider.clone();
            (message, sms_juxiang::push::ACK_OK)
        }
        _ => (
            sms_ihuyi::push::parse_reply_for(&provider, &body).map_err(|e| malformed(&e))?,
            sms_ihuyi::push::RECEIPT_ACK,
        ),
    };
    // One transaction: the reply and, for an opt-out, the suppression every instance honours.
    let stored = state
        .store()
        .record_inbound(&message)
        .await
        .map_err(|e| ApiError::store(&e))?;
    state.inner.callback_hint.notify_waiters();
    if stored.opt_out {
        crate::state::share_opt_out(&state, &message.sender).await;
    }
    tracing::info!(provider = %provider, opt_out = stored.opt_out, "reply stored");
    let opt_out = if stored.opt_out { "true" } else { "false" };
    state.inner.metrics.count(
        "sms_replies_total",
        &[("provider", &provider), ("opt_out", opt_out)],
    );
    Ok(ack(ack_body))
}

async fn read_body(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
    use axum::extract::FromRequest;
    let body: Result<Bytes, BytesRejection> = Bytes::from_request(request, state).await;
    body.map_err(body_rejection)
}
