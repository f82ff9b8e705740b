//! `GET /dashboard/batches`: each bulk run's progress, counts by status and cost so far, and the
//! outbox depth.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use sms_store::{BatchSummary, Status};

use super::data;
use super::layout::{self, percent};
use super::session::{Session, SharedSessions};
use super::{html_page, signed_in, unavailable};
use crate::app::AppState;

/// Bulks shown.
const LIMIT: u32 = 50;

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match data::batches(&state, LIMIT).await {
        Ok((batches, depth)) => {
            let costs: Vec<Option<f64>> = batches
                .iter()
                .map(|b| data::cost(&state, &b.billed_parts))
                .collect();
            html_page(StatusCode::OK, render(&session, &batches, &costs, depth))
        }
        Err(e) => unavailable(&session, &e),
    }
}

pub(super) fn render(
    session: &Session,
    batches: &[BatchSummary],
    costs: &[Option<f64>],
    depth: u64,
) -> Markup {
    let body = html! {
        p { "Queued in the outbox now: " strong id="outbox" { (depth) } }
        @if batches.is_empty() {
            p id="no-batches" class="note" {
                "No bulk run is recorded yet: bulk runs are messages stored with a bulk id, and none are in the store. "
                "Queued single messages show in the outbox count above."
            }
        } @else {
            table id="batches" {
                thead {
                    tr {
                        th { "Bulk" } th { "First (UTC)" } th { "Last (UTC)" } th { "Messages" }
                        @for s in Status::ALL { th { (s.as_str()) } }
                        th { "Done" } th { "Billed parts" } th { "Cost so far" }
                    }
                }
                tbody {
                    @for (b, cost) in batches.iter().zip(costs) {
                        @let total: u64 = b.counts.values().sum();
                        @let pending = b.counts.get(&Status::Queued).copied().unwrap_or(0) + b.counts.get(&Status::Sending).copied().unwrap_or(0);
                        tr {
                            td { (b.batch_id) }
                            td { (layout::time(b.first_created)) }
                            td { (layout::time(b.last_created)) }
                            td class="num" { (b.messages) }
                            @for s in Status::ALL { td class="num" { (b.counts.get(&s).copied().unwrap_or(0)) } }
                            td class="num" { (percent(total - pending, total)) }
                            td class="num" { (b.billed_parts.iter().map(|(_, n)| n).sum::<u64>()) }
                            td class="num" { @match cost { Some(c) => (format!("{c:.2}")), None => span class="note" { "no price set" } } }
                        }
                    }
                }
            }
            p class="note" { "Cost so far = billed parts × each provider's configured price_per_part." }
        }
    };
    layout::page("Bulk runs", session, "/batches", None, body)
}
