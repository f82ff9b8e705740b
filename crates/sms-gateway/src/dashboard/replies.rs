//! `GET /dashboard/replies`: the latest handset replies, newest first, senders masked.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use sms_store::InboundRecord;

use super::data;
use super::layout;
use super::session::{Session, SharedSessions};
use super::{html_page, signed_in, unavailable};
use crate::app::AppState;

/// Replies shown.
const LIMIT: u32 = 100;

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match data::replies(&state, LIMIT).await {
        Ok(rows) => html_page(StatusCode::OK, render(&session, &rows)),
        Err(e) => unavailable(&session, &e),
    }
}

pub(super) fn render(session: &Session, rows: &[InboundRecord]) -> Markup {
    let body = html! {
        @if rows.is_empty() {
            p { "No reply has been received." }
        } @else {
            table id="replies" {
                thead { tr { th { "Stored (UTC)" } th { "Provider" } th { "From" } th { "Service number" } th { "Text" } th { "Opt-out" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td { (layout::time(r.stored_at)) }
                            td { (r.provider) }
                            td { (layout::mask(&r.sender)) }
                            td { (r.service_number.as_deref().unwrap_or("")) }
                            td { (r.text.as_deref().unwrap_or("(redacted)")) }
                            td { @if r.opt_out { span class="bad" { "yes" } } @else { "no" } }
                        }
                    }
                }
            }
        }
    };
    layout::page("Replies", session, "/replies", None, body)
}
