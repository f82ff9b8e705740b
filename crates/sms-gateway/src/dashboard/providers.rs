//! `GET /dashboard/providers`: health, breaker, weights, balance, the last hour's error and delivery
//! rates, adaptive routing's latest weight changes with their reasons, and a 24 h chart of delivery
//! rate and routing weight per provider.

use std::collections::BTreeMap;

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use sms_failover::BreakerState;
use sms_failover::adaptive::Evidence;
use sms_store::ProviderActivity;

use super::chart::{self, Mark, Series};
use super::data::{self, AdaptiveView, CHART_SLOT, CHART_SPAN, ProvidersView, WeightChangeView, Weights};
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
    let adaptive = match &view.weights {
        Weights::Adaptive(a) => Some(a),
        Weights::Fixed { .. } => None,
    };
    let body = html! {
        table id="providers" {
            thead {
                tr {
                    th { "Provider" } th { "Vendor" } th { "In chain" } th { "Priority" }
                    th { "Weight (configured)" } th { "Current weight" } th { "Resting weight" } th { "Breaker" }
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
                        @match adaptive.and_then(|a| a.now.iter().find(|w| w.name == row.name)) {
                            Some(w) => {
                                td class="num current-weight" title={ "learned " (w.learned) " of 100; evidence: " (evidence(&w.evidence)) } { (w.current) }
                                td class="num resting-weight" { (w.resting) }
                            }
                            None => {
                                td class="num current-weight" { @if row.in_chain { (row.weight) } @else { "0" } }
                                td class="note resting-weight" { "fixed" }
                            }
                        }
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
        (routing(view))
        h2 { "Delivery rate and routing weight, last 24 h" }
        (delivery_chart(view))
    };
    layout::page("Providers", session, "/providers", Some(REFRESH_SECONDS), body)
}

/// The evidence a decision saw, in words.
fn evidence(e: &Evidence) -> String {
    let receipts = match e.receipts {
        Some(r) => format!("{} late of {} judged receipts", r.late, r.judged),
        None => "no receipts".to_owned(),
    };
    format!("{} send errors, {receipts}", e.send_errors)
}

/// One change in words: its reason and each provider's move with its evidence.
fn change_label(change: &WeightChangeView) -> String {
    let moves: Vec<String> = change
        .providers
        .iter()
        .filter(|(_, before, after, _)| before != after)
        .map(|(name, before, after, e)| format!("{name} {before} → {after} ({})", evidence(e)))
        .collect();
    format!(
        "{} at {}: {}",
        change.reason,
        layout::time(change.at),
        moves.join("; ")
    )
}

/// How many of the latest changes the table shows.
const CHANGES_SHOWN: usize = 10;

/// The routing section: the strategy, and under adaptive routing the latest weight changes.
fn routing(view: &ProvidersView) -> Markup {
    html! {
        section id="routing" {
            @match &view.weights {
                Weights::Fixed { strategy } => p class="note" {
                    "Routing: fixed weights (strategy " (strategy) "); the current weights are the configured ones."
                },
                Weights::Adaptive(a) => {
                    p class="note" {
                        "Routing: adaptive. Weights are points of 100; the resting weights are the configured ones scaled to 100, "
                        "where routing returns when all is well."
                    }
                    (changes_table(a))
                }
            }
        }
    }
}

fn changes_table(a: &AdaptiveView) -> Markup {
    html! {
        h2 { "Latest weight changes" }
        @if a.changes.is_empty() {
            p class="note" { "No weight change stored." }
        } @else {
            table id="weight-changes" {
                thead { tr { th { "When (UTC)" } th { "Reason" } th { "Provider" } th { "Weight" } th { "Evidence" } } }
                tbody {
                    @for change in a.changes.iter().rev().take(CHANGES_SHOWN) {
                        @for (i, (name, before, after, e)) in change.providers.iter().enumerate() {
                            tr class=[(i == 0).then_some("change")] {
                                td { @if i == 0 { (layout::time(change.at)) } }
                                td class="reason" { @if i == 0 { (change.reason) } }
                                td { (name) }
                                td class="num" { (before) " → " (after) }
                                td { (evidence(e)) }
                            }
                        }
                    }
                }
            }
            p class="note" { "Changes are read from the message store, shared by every instance on it and kept across restarts until purged." }
        }
    }
}

/// Each provider's weight per chart slot, from the changes: the weight after the last change
/// before the slot's end, or before the first change after it (the learned weight now when there
/// is none).
fn weight_series(a: &AdaptiveView, since: i64, slots: usize) -> Vec<(String, Vec<Option<f64>>)> {
    a.now
        .iter()
        .map(|w| {
            let values = (0..slots)
                .map(|slot| {
                    let end = since + CHART_SLOT * (i64::try_from(slot).unwrap_or(0) + 1);
                    let last_before = a.changes.iter().rev().find(|c| c.at < end);
                    let first_after = a.changes.iter().find(|c| c.at >= end);
                    let of = |c: &WeightChangeView, after: bool| {
                        c.providers
                            .iter()
                            .find(|p| p.0 == w.name)
                            .map(|p| if after { p.2 } else { p.1 })
                    };
                    let points = match (last_before, first_after) {
                        (Some(c), _) => of(c, true),
                        (None, Some(c)) => of(c, false),
                        (None, None) => Some(w.learned),
                    };
                    points.map(|p| f64::from(p) / f64::from(sms_failover::adaptive::TOTAL_POINTS))
                })
                .collect();
            (w.name.clone(), values)
        })
        .collect()
}

fn delivery_chart(view: &ProvidersView) -> Markup {
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
            step: false,
        });
    }
    // Adaptive routing's weights as steps (dashed), with each change marked and its reason in the
    // mark's tooltip. Fixed weights do not move, so they are not drawn.
    let mut marks = Vec::new();
    if let Weights::Adaptive(a) = &view.weights {
        for (name, values) in weight_series(a, view.chart_since, slots) {
            let colour = view.rows.iter().position(|r| r.name == name).unwrap_or(0);
            series.push(Series {
                label: format!("{name} weight"),
                values,
                dashed: true,
                colour,
                step: true,
            });
        }
        #[allow(clippy::cast_precision_loss)]
        for change in a.changes.iter().filter(|c| c.at >= view.chart_since) {
            marks.push(Mark {
                at: (change.at - view.chart_since) as f64 / CHART_SLOT as f64,
                label: change_label(change),
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
        (chart::lines("Delivery rate and routing weight per provider, last 24 h (UTC)", slots, &labels, &series, &marks))
        @if !any { p class="note" { "No message was accepted in the last 24 hours." } }
    }
}
