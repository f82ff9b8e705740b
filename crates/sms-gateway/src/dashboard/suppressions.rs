//! `GET /dashboard/suppressions`: the opt-out list, numbers masked; `POST …/add` and `POST
//! …/remove` (admin, CSRF-checked). A removal names its number by an opaque token of the session,
//! so the page holds no number in the clear.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use maud::{Markup, html};
use sms_core::PhoneNumber;
use sms_store::Suppression;

use super::data;
use super::layout::{self, csrf_field};
use super::session::{self, BASE, Form, Opaque, Session, SharedSessions};
use super::{admin_only, error_page, html_page, redirect, signed_in, unavailable};
use crate::app::AppState;

/// Entries shown.
pub(crate) const LIMIT: u32 = 500;

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rows = match data::suppressions(&state, LIMIT).await {
        Ok(rows) => rows,
        Err(e) => return unavailable(&session, &e),
    };
    let tokens: Vec<Option<String>> = if session.admin {
        rows.iter()
            .map(|r| sessions.token(&headers, Opaque::Number(r.number.clone())))
            .collect()
    } else {
        vec![None; rows.len()]
    };
    html_page(StatusCode::OK, render(&session, &rows, &tokens))
}

pub(super) fn render(session: &Session, rows: &[Suppression], tokens: &[Option<String>]) -> Markup {
    let body = html! {
        @if session.admin {
            form id="add" method="post" action={ (BASE) "/suppressions/add" } {
                fieldset {
                    legend { "Add a number" }
                    (csrf_field(session))
                    label { "Number " input name="number" type="text" autocomplete="off" required size="16"; }
                    label { "Reason " input name="reason" type="text" size="20" maxlength="64" placeholder="manual"; }
                    button type="submit" { "Suppress" }
                }
            }
        } @else {
            p class="note" { "Read-only session: only a key with the admin scope can add or remove numbers." }
        }
        @if rows.is_empty() {
            p { "No number is suppressed." }
        } @else {
            table id="suppressions" {
                thead { tr { th { "Number" } th { "Reason" } th { "Source" } th { "Since (UTC)" } @if session.admin { th {} } } }
                tbody {
                    @for (r, token) in rows.iter().zip(tokens) {
                        tr {
                            td { (layout::mask(&r.number)) }
                            td { (r.reason) }
                            td { (r.source) }
                            td { (layout::time(r.created_at)) }
                            @if let Some(token) = token {
                                td {
                                    form class="inline" method="post" action={ (BASE) "/suppressions/remove" } {
                                        (csrf_field(session))
                                        input type="hidden" name="token" value=(token);
                                        button type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if rows.len() == LIMIT as usize { p class="note" { "Showing the first " (LIMIT) " numbers." } }
        }
    };
    layout::page("Suppressions", session, "/suppressions", None, body)
}

/// The session of an allowed change, or the answer that refuses it.
#[allow(clippy::result_large_err)]
fn change(sessions: &SharedSessions, headers: &HeaderMap, form: &Form) -> Result<Session, Response> {
    let session = signed_in(sessions, headers)?;
    session::check_post(headers, &session, form).map_err(|why| super::refused(&session, why))?;
    if !session.admin {
        return Err(admin_only(&session));
    }
    Ok(session)
}

pub(super) async fn add(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let session = match change(&sessions, &headers, &form) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(Ok(number)) = form.get("number").map(str::parse::<PhoneNumber>) else {
        return error_page(
            &session,
            StatusCode::BAD_REQUEST,
            "Suppressions",
            "The number is not a valid phone number.",
        );
    };
    let reason = form.get("reason").unwrap_or("manual");
    if reason.chars().count() > 64 || reason.chars().any(char::is_control) {
        return error_page(
            &session,
            StatusCode::BAD_REQUEST,
            "Suppressions",
            "A reason has at most 64 characters.",
        );
    }
    match data::suppress(&state, &number, reason, &session.key_name).await {
        Ok(_) => {
            tracing::info!(key = %session.key_name, "dashboard: number suppressed");
            redirect(&format!("{BASE}/suppressions"))
        }
        Err(e) => super::unavailable(&session, &e),
    }
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let session = match change(&sessions, &headers, &form) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let number = match form.get("token").and_then(|t| sessions.resolve(&headers, t)) {
        Some(Opaque::Number(n)) => n.parse::<PhoneNumber>().ok(),
        _ => None,
    };
    let Some(number) = number else {
        return error_page(
            &session,
            StatusCode::BAD_REQUEST,
            "Suppressions",
            "That entry is no longer known to this session; reload the list.",
        );
    };
    match data::unsuppress(&state, &number).await {
        Ok(_) => {
            tracing::info!(key = %session.key_name, "dashboard: suppression removed");
            redirect(&format!("{BASE}/suppressions"))
        }
        Err(e) => super::unavailable(&session, &e),
    }
}
