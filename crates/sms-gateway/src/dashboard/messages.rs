//! `GET /dashboard/messages[?q=TOKEN]`: the latest recipients, newest first, 50 a page; `POST` the
//! search form (number, client reference, status, provider) to get a token for it. The number
//! never goes into the URL: the token stands for the search inside the session.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use maud::{Markup, html};
use sms_core::PhoneNumber;
use sms_store::{RecipientCursor, RecipientQuery, RecipientRecord, Status};

use super::data;
use super::layout::{self, csrf_field};
use super::session::{self, BASE, Form, Opaque, Session, SharedSessions};
use super::{error_page, html_page, redirect, signed_in, unavailable};
use crate::app::AppState;

/// Rows per page.
pub(crate) const PAGE: u32 = 50;
/// The longest client reference the search takes.
const MAX_REFERENCE: usize = 128;

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let params = Form::parse(uri.query().unwrap_or("").as_bytes());
    let token = params.get("q").map(str::to_owned);
    let (query, expired) = match token.as_deref().map(|t| sessions.resolve(&headers, t)) {
        None => (RecipientQuery::default(), false),
        Some(Some(Opaque::Search(q))) => (q, false),
        Some(_) => (RecipientQuery::default(), true),
    };
    let mut rows = match data::recipients(&state, &query, PAGE).await {
        Ok(rows) => rows,
        Err(e) => return unavailable(&session, &e),
    };
    let next = if rows.len() > PAGE as usize {
        rows.truncate(PAGE as usize);
        rows.last().and_then(|last| {
            let mut q = query.clone();
            q.after = Some(RecipientCursor::after(last));
            sessions.token(&headers, Opaque::Search(q))
        })
    } else {
        None
    };
    let providers: Vec<String> = state
        .config()
        .providers()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    html_page(
        StatusCode::OK,
        render(&session, &query, expired, &rows, next.as_deref(), &providers),
    )
}

/// Describes the active filters (the number masked).
fn filters(query: &RecipientQuery) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = &query.number {
        out.push(format!("number {}", layout::mask(n)));
    }
    if let Some(r) = &query.reference {
        out.push(format!("reference {r}"));
    }
    if let Some(s) = query.status {
        out.push(format!("status {}", s.as_str()));
    }
    if let Some(p) = &query.provider {
        out.push(format!("provider {p}"));
    }
    out
}

pub(super) fn render(
    session: &Session,
    query: &RecipientQuery,
    expired: bool,
    rows: &[RecipientRecord],
    next: Option<&str>,
    providers: &[String],
) -> Markup {
    let active = filters(query);
    let body = html! {
        form id="search" method="post" action={ (BASE) "/messages" } {
            fieldset {
                legend { "Search" }
                (csrf_field(session))
                label { "Number " input name="number" type="search" autocomplete="off" size="16"; }
                label { "Client reference " input name="reference" type="search" size="20" value=[query.reference.as_deref()]; }
                label { "Status "
                    select name="status" {
                        option value="" { "any" }
                        @for s in Status::ALL {
                            option value=(s.as_str()) selected[query.status == Some(s)] { (s.as_str()) }
                        }
                    }
                }
                label { "Provider "
                    select name="provider" {
                        option value="" { "any" }
                        @for p in providers {
                            option value=(p) selected[query.provider.as_deref() == Some(p.as_str())] { (p) }
                        }
                    }
                }
                button type="submit" { "Search" }
                " "
                a href={ (BASE) "/messages" } { "Clear" }
            }
        }
        @if expired { p class="note" { "That search is no longer known to this session; showing the latest messages." } }
        @if !active.is_empty() { p id="filters" { "Filtered by " (active.join(", ")) @if query.after.is_some() { " (older page)" } } }
        @if rows.is_empty() {
            p { "No messages match." }
        } @else {
            table id="messages" {
                thead { tr { th { "Recorded (UTC)" } th { "Number" } th { "Status" } th { "Provider" } th { "Error" } th { "Message" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td { (layout::time(r.created_at)) }
                            td { (layout::mask(&r.number)) }
                            td { (r.status.as_str()) }
                            td { (r.provider.as_deref().unwrap_or("–")) }
                            td { @if let Some(kind) = &r.error_kind { (kind) @if let Some(code) = &r.error_code { " (" (code) ")" } } }
                            td { a href={ (BASE) "/messages/" (r.message_id) } { "timeline" } }
                        }
                    }
                }
            }
        }
        @if let Some(token) = next {
            p { a id="older" href={ (BASE) "/messages?q=" (token) } { "Older →" } }
        }
    };
    layout::page("Messages", session, "/messages", None, body)
}

/// Reads the search form into a query, or says which field is wrong (never echoing a number).
fn parse_search(form: &Form, providers: &[String]) -> Result<RecipientQuery, String> {
    let mut query = RecipientQuery::default();
    if let Some(number) = form.get("number") {
        let number: PhoneNumber = number
            .parse()
            .map_err(|_| "The number is not a valid phone number.".to_owned())?;
        query.number = Some(number.e164());
    }
    if let Some(reference) = form.get("reference") {
        if reference.len() > MAX_REFERENCE || reference.chars().any(char::is_control) {
            return Err(format!(
                "A client reference has at most {MAX_REFERENCE} characters."
            ));
        }
        query.reference = Some(reference.to_owned());
    }
    if let Some(status) = form.get("status") {
        query.status = Some(status.parse().map_err(|_| "Unknown status.".to_owned())?);
    }
    if let Some(provider) = form.get("provider") {
        if !providers.iter().any(|p| p == provider) {
            return Err("Unknown provider.".to_owned());
        }
        query.provider = Some(provider.to_owned());
    }
    Ok(query)
}

pub(super) async fn search(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = Form::parse(&body);
    if let Err(why) = session::check_post(&headers, &session, &form) {
        return super::refused(&session, why);
    }
    let providers: Vec<String> = state
        .config()
        .providers()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let query = match parse_search(&form, &providers) {
        Ok(q) => q,
        Err(e) => return error_page(&session, StatusCode::BAD_REQUEST, "Search", &e),
    };
    if query == RecipientQuery::default() {
        return redirect(&format!("{BASE}/messages"));
    }
    match sessions.token(&headers, Opaque::Search(query)) {
        Some(token) => redirect(&format!("{BASE}/messages?q={token}")),
        None => super::to_login(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_checked_field_by_field() {
        let providers = vec!["sandbox".to_owned()];
        let q = parse_search(
            &Form::parse(b"number=13800138000&status=delivered&provider=sandbox&reference=r-1"),
            &providers,
        )
        .unwrap();
        assert_eq!(q.number.as_deref(), Some("+8613800138000"));
        assert_eq!(q.status, Some(Status::Delivered));
        assert_eq!(q.provider.as_deref(), Some("sandbox"));
        assert_eq!(q.reference.as_deref(), Some("r-1"));
        let bad = parse_search(&Form::parse(b"number=12x"), &providers).unwrap_err();
        assert!(!bad.contains("12x"));
        assert!(parse_search(&Form::parse(b"status=lost"), &providers).is_err());
        assert!(parse_search(&Form::parse(b"provider=other"), &providers).is_err());
        assert_eq!(
            parse_search(&Form::parse(b"number=&csrf=x"), &providers).unwrap(),
            RecipientQuery::default()
        );
    }
}
