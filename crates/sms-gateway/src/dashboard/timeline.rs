//! `GET /dashboard/messages/{id}`: one message's timeline (recorded, queued, sending, the outcome
//! with its error, the receipt), its failed attempts and receipts. `POST …/reveal` (admin) shows
//! the same page with numbers and content in the clear, as the answer to the post (so never in a
//! URL or the history).

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use maud::{Markup, html};
use sms_store::{ReceiptRecord, RecipientRecord, Status, StoredMessage};

use super::data;
use super::layout::{self, csrf_field};
use super::session::{self, BASE, Form, Session, SharedSessions};
use super::{admin_only, error_page, html_page, signed_in, unavailable};
use crate::app::AppState;

/// A store id: 1 to 64 letters, digits, `-` or `_`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    show(&state, &session, &id, false).await
}

pub(super) async fn reveal(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(why) = session::check_post(&headers, &session, &Form::parse(&body)) {
        return super::refused(&session, why);
    }
    if !session.admin {
        return admin_only(&session);
    }
    tracing::info!(key = %session.key_name, message = %id, "dashboard: numbers revealed");
    show(&state, &session, &id, true).await
}

async fn show(state: &AppState, session: &Session, id: &str, reveal: bool) -> Response {
    if !valid_id(id) {
        return error_page(session, StatusCode::NOT_FOUND, "Message", "No such message.");
    }
    match data::message(state, id).await {
        Ok(Some((message, receipts))) => {
            html_page(StatusCode::OK, render(session, &message, &receipts, reveal))
        }
        Ok(None) => error_page(session, StatusCode::NOT_FOUND, "Message", "No such message."),
        Err(e) => unavailable(session, &e),
    }
}

/// A recipient's events in time order: (time, what, detail).
fn events(r: &RecipientRecord) -> Vec<(i64, String, String)> {
    let mut out = vec![(r.created_at, "recorded".to_owned(), String::new())];
    if let Some(t) = r.queued_at {
        out.push((t, "queued".into(), String::new()));
    }
    if let Some(t) = r.sending_at {
        out.push((t, "sending".into(), String::new()));
    }
    let error = r.error_kind.as_ref().map(|kind| {
        let mut text = kind.clone();
        if let Some(code) = &r.error_code {
            text.push_str(&format!(" ({code})"));
        }
        if let Some(message) = &r.error_message {
            text.push_str(": ");
            text.push_str(message);
        }
        text
    });
    let finished = matches!(
        r.status,
        Status::Delivered | Status::Undelivered | Status::Expired
    );
    if let Some(t) = r.outcome_at {
        let (what, detail) = if finished || r.status == Status::Accepted {
            let id = r
                .provider_message_id
                .as_deref()
                .map(|id| format!("provider id {id}"))
                .unwrap_or_default();
            ("accepted".to_owned(), id)
        } else {
            (r.status.as_str().to_owned(), error.clone().unwrap_or_default())
        };
        out.push((t, what, detail));
    }
    if let Some(t) = r.final_at {
        let detail = r
            .receipt_code
            .as_deref()
            .map(|c| format!("receipt code {c}"))
            .unwrap_or_default();
        out.push((t, r.status.as_str().to_owned(), detail));
    }
    out.sort_by_key(|(t, _, _)| *t);
    out
}

pub(super) fn render(
    session: &Session,
    m: &StoredMessage,
    receipts: &[ReceiptRecord],
    reveal: bool,
) -> Markup {
    let body = html! {
        table id="message" {
            tr { th { "Id" } td { (m.id) } }
            tr { th { "Client reference" } td { (m.reference) } }
            tr { th { "Kind" } td { (m.kind.to_string()) } }
            @if let Some(batch) = &m.batch_id { tr { th { "Bulk" } td { (batch) } } }
            tr { th { "Recorded (UTC)" } td { (layout::time(m.created_at)) } }
            @if let Some(s) = m.schedule { tr { th { "Scheduled for" } td { (layout::time(s)) } } }
            @if let Some(p) = &m.policy { tr { th { "Ambiguity policy" } td { (p) } } }
            tr { th { "Content" } td {
                @if reveal { (m.content.as_deref().unwrap_or("(redacted)")) }
                @else { span class="note" { "hidden (digest " (&m.content_digest[..m.content_digest.len().min(12)]) "…)" } }
            } }
        }
        @if session.admin && !reveal {
            form method="post" action={ (BASE) "/messages/" (m.id) "/reveal" } {
                (csrf_field(session))
                button id="reveal" type="submit" { "Show numbers and content" }
            }
        }
        @for r in &m.recipients {
            h2 { "To " span class="number" { (layout::number(&r.number, reveal)) } ": " (r.status.as_str()) }
            table class="timeline" {
                thead { tr { th { "When (UTC)" } th { "Event" } th { "Detail" } } }
                tbody {
                    @for (t, what, detail) in events(r) {
                        tr { td { (layout::time(t)) } td { (what) } td { (detail) } }
                    }
                }
            }
            p class="note" {
                "Provider: " (r.provider.as_deref().unwrap_or("none"))
                @if let Some(parts) = r.billed_parts { ", billed parts: " (parts) }
            }
        }
        h2 { "Failed attempts before the outcome" }
        @if m.attempts.is_empty() {
            p class="note" { "None: the first provider tried gave the outcome." }
        } @else {
            table id="attempts" {
                thead { tr { th { "#" } th { "Provider" } th { "Recipients" } th { "Error" } th { "Took" } } }
                tbody {
                    @for (i, a) in m.attempts.iter().enumerate() {
                        tr {
                            td class="num" { (i + 1) }
                            td { (a.provider) }
                            td class="num" { (a.recipients) }
                            td { (a.error_kind) @if let Some(c) = &a.error_code { " (" (c) ")" } @if let Some(t) = &a.error_message { ": " (t) } }
                            td class="num" { (a.elapsed_ms) " ms" }
                        }
                    }
                }
            }
        }
        h2 { "Receipts" }
        @if receipts.is_empty() {
            p class="note" { "No receipt yet." }
        } @else {
            table id="receipts" {
                thead { tr { th { "Received (UTC)" } th { "Provider" } th { "Number" } th { "Status" } th { "Code" } th { "Description" } } }
                tbody {
                    @for r in receipts {
                        tr {
                            td { (layout::time(r.received_at)) }
                            td { (r.provider) }
                            td { (layout::number(&r.number, reveal)) }
                            td { (r.status.as_str()) }
                            td { (r.code) }
                            td { (r.description) }
                        }
                    }
                }
            }
        }
        p { a href={ (BASE) "/messages" } { "← Messages" } }
    };
    layout::page("Message", session, "/messages", None, body)
}
