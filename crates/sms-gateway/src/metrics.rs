//! `/metrics` in the Prometheus text format, written by hand (a few counters and histograms do not
//! need a metrics stack). Labels carry provider names, kinds, statuses and route patterns only:
//! never a number, a text or a path (webhook paths hold the token).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

/// Upper bounds of the buckets of request durations (the gateway's and the providers'), in seconds.
pub(crate) const REQUEST_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Upper bounds of the buckets of delivery latency (receipt minus acceptance), in seconds.
pub(crate) const DELIVERY_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21_600.0, 86_400.0];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Observations at or below each bound (cumulative, as the text format shows them).
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

/// The gateway's counters and histograms.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    histograms: Mutex<BTreeMap<(&'static str, Labels), Histogram>>,
}

impl Metrics {
    /// Adds one to counter `name` with `labels`.
    pub(crate) fn count(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *counters.entry((name, labels)).or_default() += 1;
    }

    /// Records one observation of histogram `name` (buckets `bounds`, the same for every
    /// observation of a name) with `labels`.
    pub(crate) fn observe(
        &self,
        name: &'static str,
        bounds: &'static [f64],
        labels: &[(&'static str, &str)],
        seconds: f64,
    ) {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let mut histograms = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        let h = histograms.entry((name, labels)).or_insert_with(|| Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            count: 0,
            sum: 0.0,
        });
        for (count, bound) in h.counts.iter_mut().zip(h.bounds) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Records one HTTP request.
    pub(crate) fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        self.count(
            "sms_gateway_http_requests_total",
            &[("route", route), ("method", method), ("status", &status)],
        );
        self.observe(
            "sms_gateway_http_request_duration_seconds",
            REQUEST_BUCKETS,
            &[("route", route), ("method", method)],
            elapsed.as_secs_f64(),
        );
    }

    /// Records one request to a provider: `operation` (`send`, `balance`) and `outcome` (`ok` or
    /// the error's kind).
    pub(crate) fn provider_request(&self, provider: &str, operation: &str, outcome: &str, elapsed: Duration) {
        self.observe(
            "sms_provider_request_duration_seconds",
            REQUEST_BUCKETS,
            &[
                ("provider", provider),
                ("operation", operation),
                ("outcome", outcome),
            ],
            elapsed.as_secs_f64(),
        );
    }

    pub(crate) fn render_into(&self, out: &mut String) {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = "";
        for ((name, labels), value) in counters.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
        }
        drop(counters);
        let histograms = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = "";
        for ((name, labels), h) in histograms.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} histogram");
                last = name;
            }
            for (bound, count) in h.bounds.iter().zip(&h.counts) {
                let le = bound.to_string();
                let _ = writeln!(out, "{name}_bucket{} {count}", render_labels(labels, Some(&le)));
            }
            let _ = writeln!(
                out,
                "{name}_bucket{} {}",
                render_labels(labels, Some("+Inf")),
                h.count
            );
            let _ = writeln!(out, "{name}_sum{} {}", render_labels(labels, None), h.sum);
            let _ = writeln!(out, "{name}_count{} {}", render_labels(labels, None), h.count);
        }
    }
}

fn render_labels(labels: &[(&'static str, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Label values escape backslash, double quote and newline.
pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    state.inner.metrics.render_into(&mut out);
    let _ = writeln!(out, "# TYPE sms_provider_breaker_state gauge");
    let health = state.chain().health();
    for h in &health {
        // 0 closed, 1 half-open, 2 open.
        let value = match h.breaker {
            sms_failover::BreakerState::Closed => 0,
            sms_failover::BreakerState::HalfOpen => 1,
            _ => 2,
        };
        let _ = writeln!(
            out,
            "sms_provider_breaker_state{{provider=\"{}\"}} {value}",
            escape(&h.name)
        );
    }
    let _ = writeln!(out, "# TYPE sms_provider_requests_total counter");
    for h in &health {
        let _ = writeln!(
            out,
            "sms_provider_requests_total{{provider=\"{}\"}} {}",
            escape(&h.name),
            h.requests
        );
    }
    let _ = writeln!(out, "# TYPE sms_provider_success_rate gauge");
    for h in &health {
        let _ = writeln!(
            out,
            "sms_provider_success_rate{{provider=\"{}\"}} {}",
            escape(&h.name),
            h.success_rate
        );
    }
    if let Some(router) = state.chain().adaptive_router() {
        let _ = writeln!(out, "# TYPE sms_provider_weight gauge");
        for w in router.snapshot() {
            // The routing weight (points of 100, overrides applied) and the resting one.
            let _ = writeln!(
                out,
                "sms_provider_weight{{provider=\"{}\"}} {}",
                escape(&w.name),
                w.after
            );
        }
        let _ = writeln!(out, "# TYPE sms_provider_resting_weight gauge");
        for w in router.snapshot() {
            let _ = writeln!(
                out,
                "sms_provider_resting_weight{{provider=\"{}\"}} {}",
                escape(&w.name),
                w.resting
            );
        }
    }
    if state.config().gateway().callbacks.is_some() {
        match state.store().pending_events().await {
            Ok(n) => {
                let _ = writeln!(
                    out,
                    "# TYPE sms_callbacks_pending gauge\nsms_callbacks_pending {n}"
                );
            }
            Err(error) => tracing::warn!(%error, "callback backlog unavailable for /metrics"),
        }
    }
    match state.chain().spend_usage().await {
        Ok(usage) => state.inner.spend_warnings.render(&usage, &mut out),
        Err(error) => tracing::warn!(%error, "spend caps unavailable for /metrics"),
    }
    crate::balance_watch::render(state.store().as_ref(), &mut out).await;
    match state.store().outbox_depth().await {
        Ok(depth) => {
            let _ = writeln!(out, "# TYPE sms_outbox_depth gauge\nsms_outbox_depth {depth}");
        }
        Err(error) => tracing::warn!(%error, "outbox depth unavailable for /metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let m = Metrics::default();
        m.count("sms_x_total", &[("provider", "a\"b")]);
        m.count("sms_x_total", &[("provider", "a\"b")]);
        m.request("/v1/messages", "POST", 200, Duration::from_millis(30));
        let mut out = String::new();
        m.render_into(&mut out);
        assert!(
            out.contains("# TYPE sms_x_total counter\nsms_x_total{provider=\"a\\\"b\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("sms_gateway_http_request_duration_seconds_bucket{route=\"/v1/messages\",method=\"POST\",le=\"0.025\"} 0"), "{out}");
        assert!(out.contains("sms_gateway_http_request_duration_seconds_bucket{route=\"/v1/messages\",method=\"POST\",le=\"0.05\"} 1"), "{out}");
        assert!(
            out.contains(
                "sms_gateway_http_request_duration_seconds_count{route=\"/v1/messages\",method=\"POST\"} 1"
            ),
            "{out}"
        );
    }
}
