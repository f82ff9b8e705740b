//! `GET /dashboard/providers`: health, breaker, weights, balance, the last hour's error and delivery
//! rates, and a 24 h chart of delivery rate per provider.

use std::collections::BTreeMap;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use sms_failover::BreakerState;
use sms_store::ProviderActivity;

use super::chart::{self, Series};
use super::data::{self, CHART_SLOT, CHART_SPAN, ProvidersView};
use super::layout::{self, percent};
use super::session::{Session, SharedSessions};
use super::{html_page, signed_in, unavailable};
use crate::app::AppState;

/// The page refreshes itself this often (a meta refresh: no JavaScript).
const REFRESH_SECONDS: u32 = 30;

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(sessions): Extension<SharedSessions>,
    headers: HeaderMap,
) -> Response {
    let session = match signed_in(&sessions, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match data::providers(&state, data::now()).await {
        Ok(view) => html_page(StatusCode::OK, render(&session, &view)),
        Err(e) => unavailable(&session, &e),
    }
}

/// Totals per provider: (outcomes, errors, accepted, delivered, undelivered).
fn totals(activity: &ProviderActivity) -> BTreeMap<&str, [u64; 5]> {
    let mut out: BTreeMap<&str, [u64; 5]> = BTreeMap::new();
    for b in &activity.buckets {
        let t = out.entry(b.provider.as_str()).or_default();
        for (slot, v) in t
            .iter_mut()
            .zip([b.outcomes, b.errors, b.accepted, b.delivered, b.undelivered])
        {
            *slot += v;
        }
    }
    out
}

fn breaker(state: BreakerState) -> Markup {
    match state {
        BreakerState::Closed => html! { span class="good" { "closed" } },
        BreakerState::Open => html! { span class="bad" { "open" } },
        BreakerState::HalfOpen => html! { span class="bad" { "half-open" } },
        #[allow(unreachable_patterns)]
        _ => html! { "?" },
    }
}

pub(super) fn render(session: &Session, view: &ProvidersView) -> Markup {
    let hour = totals(&view.last_hour);
    let attempts: BTreeMap<&str, u64> = view
        .last_hour
        .failed_attempts
        .iter()
        .map(|(p, n)| (p.as_str(), *n))
        .collect();
    let weight_total: u32 = view.rows.iter().filter(|r| r.in_chain).map(|r| r.weight).sum();
    let body = html! {
        table id="providers" {
            thead {
                tr {
                    th { "Provider" } th { "Vendor" } th { "In chain" } th { "Priority" }
                    th { "Weight (configured)" } th { "Resting weight" } th { "Breaker" }
                    th { "Recent success" } th { "Avg latency" } th { "Requests" }
                    th { "Balance" } th { "Low-balance threshold" } th { "Price per part" }
                    th { "Sends, last hour" } th { "Request error rate, last hour" } th { "Delivery rate, last hour" }
                }
            }
            tbody {
                @for row in &view.rows {
                    @let t = hour.get(row.name.as_str()).copied().unwrap_or_default();
                    @let failed = attempts.get(row.name.as_str()).copied().unwrap_or(0);
                    tr data-provider=(row.name) {
                        td { strong { (row.name) } }
                        td { (row.vendor) }
                        td { @if row.in_chain { "yes" } @else { "no" } }
                        td class="num" { (row.priority) }
                        td class="num" { (row.weight) }
                        td class="slot" title="adaptive routing has no resting weight to report in this build" { "n/a" }
                        td { @match &row.health { Some(h) => (breaker(h.breaker)), None => span class="note" { "not in chain" } } }
                        td class="num" { @if let Some(h) = &row.health { (format!("{:.0}%", h.success_rate * 100.0)) } }
                        td class="num" { @if let Some(ms) = row.health.as_ref().and_then(|h| h.average_latency) { (ms.as_millis()) " ms" } }
                        td class="num" { @if let Some(h) = &row.health { (h.requests) } }
                        td class="num" {
                            @match &row.balance {
                                Ok((amount, unit)) => {
                                    @let low = row.low_balance.is_some_and(|t| *amount < i64::try_from(t).unwrap_or(i64::MAX));
                                    span class=[low.then_some("bad")] { (amount) " " (unit) }
                                    @if low { " (low)" }
                                }
                                Err(e) => span class="bad" title=(e) { "unknown" },
                            }
                        }
                        td class="num" { @match row.low_balance { Some(t) => (t), None => span class="note" { "not set" } } }
                        td class="num" { @match row.price_per_part { Some(p) => (p), None => span class="note" { "not set" } } }
                        td class="num" { (t[0]) }
                        td class="num" { (percent(t[1] + failed, t[0] + failed)) }
                        td class="num" { (percent(t[3], t[2])) }
                    }
                }
            }
        }
        p class="note" {
            "Recent success, latency and requests are the chain's in-memory window since this instance started. "
            "Request error rate = (failed or unknown outcomes + failed attempts before a failover) ÷ (outcomes + failed attempts); "
            "delivery rate = delivered ÷ accepted, by the time of acceptance (receipts still due count as not delivered)."
            @if let Some(depth) = view.outbox_depth { " Outbox: " (depth) " queued." }
        }
        p id="adaptive-slot" class="slot" {
            "Adaptive routing: no weight changes or reasons are recorded in this build, so the current weights are the configured ones."
        }
        h2 { "Delivery rate, last 24 h" }
        (delivery_chart(view, weight_total))
    };
    layout::page("Providers", session, "/providers", Some(REFRESH_SECONDS), body)
}

fn delivery_chart(view: &ProvidersView, weight_total: u32) -> Markup {
    let slots = usize::try_from(CHART_SPAN / CHART_SLOT).unwrap_or(48);
    let mut series = Vec::new();
    for (colour, row) in view.rows.iter().enumerate() {
        let mut values = vec![None; slots];
        for b in view.chart.buckets.iter().filter(|b| b.provider == row.name) {
            let slot = usize::try_from((b.start - view.chart_since) / CHART_SLOT).unwrap_or(usize::MAX);
            if let Some(v) = values.get_mut(slot)
                && b.accepted > 0
            {
                #[allow(clippy::cast_precision_loss)]
                let rate = b.delivered as f64 / b.accepted as f64;
                *v = Some(rate);
            }
        }
        series.push(Series {
            label: format!("{} delivery", row.name),
            values,
            dashed: false,
            colour,
        });
    }
    // The weights as they are now (shares of the chain's total), dashed; a history of weights
    // takes their place once routing records one.
    if weight_total > 0 {
        for (colour, row) in view.rows.iter().enumerate().filter(|(_, r)| r.in_chain) {
            let share = f64::from(row.weight) / f64::from(weight_total);
            series.push(Series {
                label: format!("{} weight share (now)", row.name),
                values: vec![Some(share); slots],
                dashed: true,
                colour,
            });
        }
    }
    let labels: Vec<(usize, String)> = (0..slots)
        .step_by(8)
        .map(|slot| {
            let start = view.chart_since + CHART_SLOT * i64::try_from(slot).unwrap_or(0);
            (slot, layout::time(start)[11..16].to_owned())
        })
        .collect();
    let any = view.chart.buckets.iter().any(|b| b.accepted > 0);
    html! {
        (chart::lines("Delivery rate per provider, last 24 h (UTC)", slots, &labels, &series))
        @if !any { p class="note" { "No message was accepted in the last 24 hours." } }
    }
}
