//! Callbacks out: every status change and reply the store records as an event (in the same
//! transaction as the change) is POSTed to `gateway.callbacks.url`, signed per Standard Webhooks
//! ([`crate::signing`]). A delivery that meets a network error, a 5xx or a 429 is tried again after
//! the next pause of `retry_schedule`, kept in the store (so a restart or another instance picks it
//! up); any other answer outside 2xx gives up at once. The event id (`evt_` and its sequence
//! number) stays the same across attempts so the receiver can drop duplicates, and a message's
//! events go out one at a time in the order they happened.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sms_config::CallbackConfig;
use sms_core::Secret;
use sms_store::{Event, EventBody, EventOutcome, MessageStore, WallClock};
use tokio::sync::watch;

use crate::metrics::Metrics;

/// Events claimed at once; they belong to different messages and are delivered concurrently.
const CLAIM_BATCH: u32 = 32;
/// How long a claim is held: longer than one attempt.
const LEASE: Duration = Duration::from_secs(60);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle dispatcher looks for due events.
const POLL: Duration = Duration::from_secs(1);

/// Where and how events are delivered.
pub(crate) struct Dispatcher {
    store: Arc<dyn MessageStore>,
    /// One client for every delivery (its connection pool is shared).
    client: reqwest::Client,
    url: String,
    secret: Secret,
    schedule: Vec<Duration>,
    clock: Arc<dyn WallClock>,
    worker: String,
}

/// How one attempt ended, for the metrics.
fn outcome_label(outcome: &EventOutcome) -> &'static str {
    match outcome {
        EventOutcome::Delivered { .. } => "delivered",
        EventOutcome::Retry { .. } => "retry",
        _ => "gave_up",
    }
}

impl Dispatcher {
    /// A dispatcher for `config`.
    ///
    /// # Errors
    /// A message when the secret is not a Standard Webhooks secret or no HTTP client can be built.
    pub(crate) fn new(
        config: &CallbackConfig,
        store: Arc<dyn MessageStore>,
        clock: Arc<dyn WallClock>,
        worker: String,
    ) -> Result<Self, String> {
        crate::signing::sign(config.secret.expose(), "check", 0, b"")
            .map_err(|e| format!("gateway.callbacks.secret: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            // A redirect is an answer outside 2xx: the receiver's URL is the one configured.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the callback HTTP client: {e}"))?;
        Ok(Self {
            store,
            client,
            url: config.url.clone(),
            secret: config.secret.clone(),
            schedule: config.retry_schedule.clone(),
            clock,
            worker,
        })
    }

    /// Claims the due events and delivers them; returns how many were attempted.
    pub(crate) async fn round(&self, metrics: &Metrics) -> Result<usize, sms_store::StoreError> {
        let events = self.store.claim_events(&self.worker, CLAIM_BATCH, LEASE).await?;
        let attempts = events.iter().map(|event| async move {
            let outcome = self.attempt(event).await;
            metrics.count("sms_callbacks_total", &[("outcome", outcome_label(&outcome))]);
            match self.store.settle_event(event, &outcome).await {
                Ok(true) => {}
                Ok(false) => tracing::info!(event = event.seq, "callback claim lost; another worker has it"),
                Err(error) => tracing::warn!(%error, event = event.seq, "callback outcome not stored; it will be tried again"),
            }
        });
        futures_util::future::join_all(attempts).await;
        Ok(events.len())
    }

    /// One delivery attempt.
    async fn attempt(&self, event: &Event) -> EventOutcome {
        let id = event.id();
        let body = payload(event).to_string();
        let now_ms = self.clock.now_ms();
        let timestamp = now_ms.div_euclid(1000);
        // The secret was checked when the dispatcher was built.
        let signature = match crate::signing::sign(self.secret.expose(), &id, timestamp, body.as_bytes()) {
            Ok(s) => s,
            Err(e) => {
                return EventOutcome::GaveUp {
                    status: None,
                    error: e.to_string(),
                };
            }
        };
        let result = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let (status, error) = match result {
            Ok(response) if response.status().is_success() => {
                return EventOutcome::Delivered {
                    status: response.status().as_u16(),
                };
            }
            Ok(response) => {
                let status = response.status();
                let retry = status.is_server_error() || status.as_u16() == 429;
                let error = format!("the receiver answered {}", status.as_u16());
                if !retry {
                    tracing::warn!(event = %id, status = status.as_u16(), "callback refused; not retried");
                    return EventOutcome::GaveUp {
                        status: Some(status.as_u16()),
                        error,
                    };
                }
                (Some(status.as_u16()), error)
            }
            // Never the error's URL: it may hold a token of the receiver.
            Err(e) => (None, transport_error(&e)),
        };
        match self.schedule.get(event.attempts as usize) {
            Some(pause) => {
                let at = now_ms.saturating_add(pause.as_millis().min(i64::MAX as u128) as i64);
                tracing::info!(event = %id, attempt = event.attempts + 1, %error, "callback failed; will retry");
                EventOutcome::Retry { at, status, error }
            }
            None => {
                tracing::warn!(event = %id, attempts = event.attempts + 1, %error, "callback failed; retry schedule used up");
                EventOutcome::GaveUp { status, error }
            }
        }
    }
}

fn transport_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the receiver did not answer in time".into()
    } else if error.is_connect() {
        "cannot connect to the receiver".into()
    } else {
        "the request to the receiver failed".into()
    }
}

/// The JSON body of an event: `type`, `id`, `data`.
pub(crate) fn payload(event: &Event) -> Value {
    let id = event.id();
    match &event.body {
        EventBody::Status {
            message_id,
            reference,
            number,
            status,
            provider_message_id,
            billed_parts,
            error_kind,
            error_code,
            error_message,
            receipt_code,
            ..
        } => json!({
            "type": "message.status",
            "id": id,
            "data": {
                "message_id": message_id,
                "reference": reference,
                "number": number,
                "status": status.as_str(),
                "provider": event.provider,
                "provider_message_id": provider_message_id,
                "billed_parts": billed_parts,
                "error": error_kind.as_ref().map(|kind| json!({"kind": kind, "code": error_code, "message": error_message})),
                "receipt_code": receipt_code,
                "occurred_ms": event.occurred_at,
            },
        }),
        EventBody::Reply {
            inbound_id,
            sender,
            service_number,
            text,
            opt_out,
        } => json!({
            "type": "message.reply",
            "id": id,
            "data": {
                "inbound_id": inbound_id,
                "provider": event.provider,
                "sender": sender,
                "service_number": service_number,
                "text": text,
                "opt_out": opt_out,
                "occurred_ms": event.occurred_at,
            },
        }),
        EventBody::BalanceLow {
            amount,
            threshold,
            unit,
        } => json!({
            "type": "balance.low",
            "id": id,
            "data": {
                "provider": event.provider,
                "amount": amount,
                "threshold": threshold,
                "unit": unit,
                "occurred_ms": event.occurred_at,
            },
        }),
        EventBody::SpendWarning(notice) => json!({
            "type": "spend.warning",
            "id": id,
            "data": {
                "cap": notice.cap,
                "period_kind": notice.period_kind,
                "period": notice.period,
                "unit": notice.unit,
                "used": notice.used,
                "limit": notice.limit,
                "occurred_ms": event.occurred_at,
            },
        }),
        _ => json!({"type": "unknown", "id": id}),
    }
}

/// Runs `dispatcher` until `stop`: a round whenever woken by `hint` or every [`POLL`], and at once
/// again after a full round.
pub(crate) async fn run(
    dispatcher: Dispatcher,
    state: crate::app::AppState,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let hint = state.inner.callback_hint.notified();
        let mut hint = std::pin::pin!(hint);
        hint.as_mut().enable();
        match dispatcher.round(&state.inner.metrics).await {
            Ok(n) if n as u32 == CLAIM_BATCH => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot claim callback events"),
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = hint => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_the_event_and_never_change_between_attempts() {
        let event = Event {
            seq: 7,
            provider: Some("ihuyi".into()),
            occurred_at: 1_000,
            attempts: 0,
            worker: "w".into(),
            body: EventBody::Status {
                message_id: "m1".into(),
                reference: Some("r1".into()),
                number: "+8613800138000".into(),
                status: sms_store::Status::Failed,
                provider_message_id: None,
                billed_parts: None,
                error_kind: Some("rejected".into()),
                error_code: Some("4085".into()),
                error_message: Some("no".into()),
                receipt_code: None,
            },
        };
        let body = payload(&event);
        assert_eq!(body["id"], "evt_7");
        assert_eq!(body["type"], "message.status");
        assert_eq!(body["data"]["status"], "failed");
        assert_eq!(body["data"]["error"]["code"], "4085");
        let mut later = event.clone();
        later.attempts = 3;
        assert_eq!(payload(&later), body);
    }
}
