//! Injected faults: what can go wrong, where, and how often.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Product;

/// What goes wrong.
///
/// `HttpStatus`, `Hang`, `CloseWithoutResponse` and `ProviderCode` stop the request before it is
/// handled: nothing is sent or billed. `ResetMidBody`, `GarbledBody`, `TruncatedBody` and
/// `OversizedBody` damage the answer *after* the request was handled, so the message was accepted
/// and recorded: the ambiguous case a client must not blindly retry. `Latency` delays the request
/// and combines with the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// Wait a random time in `min..=max` before answering (`min == max` for a fixed delay).
    Latency {
        /// Shortest delay (JSON: milliseconds).
        #[serde(rename = "min_ms", with = "duration_ms")]
        min: Duration,
        /// Longest delay (JSON: milliseconds).
        #[serde(rename = "max_ms", with = "duration_ms")]
        max: Duration,
    },
    /// Answer with this HTTP status (e.g. 500, 502, 503) and a short HTML body.
    HttpStatus(u16),
    /// Read the request and never answer (until the sandbox shuts down).
    Hang,
    /// Read the request and close the connection without any answer.
    CloseWithoutResponse,
    /// Send the status line, headers and half of the body, then break the connection.
    ResetMidBody,
    /// Answer HTTP 200 with bytes that are neither XML, JSON nor a key-value list.
    GarbledBody,
    /// Answer HTTP 200 with only the first half of the real body (a consistent Content-Length).
    TruncatedBody,
    /// Answer HTTP 200 with a 10 MiB body.
    OversizedBody,
    /// Answer a well-formed provider error with this code (ihuyi/MMS `code`, Juxiang `errid`).
    ProviderCode(String),
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    /// Every provider request (the control API is never faulted).
    #[default]
    All,
    /// Requests to one product's endpoints.
    Product(Product),
    /// Requests whose path is exactly this (e.g. `/send/gsend.asp`).
    Path(String),
}

/// A fault to inject: a kind, a target, and how often it fires.
///
/// Without [`Fault::next`] or [`Fault::probability`] it fires on every matching request until
/// cleared. With both, it fires with that probability until it has fired `n` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    kind: FaultKind,
    #[serde(default)]
    target: FaultTarget,
    #[serde(default)]
    next: Option<u64>,
    #[serde(default)]
    probability: Option<f64>,
}

impl Fault {
    /// A fault of `kind` on every provider request.
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            target: FaultTarget::All,
            next: None,
            probability: None,
        }
    }

    /// Every request waits exactly `delay` before it is handled, as a provider with a steady
    /// latency: `Fault::new(FaultKind::Latency { min: delay, max: delay })`.
    pub fn latency(delay: Duration) -> Self {
        Fault::new(FaultKind::Latency {
            min: delay,
            max: delay,
        })
    }

    /// Restricts the fault to `target`.
    pub fn target(mut self, target: FaultTarget) -> Self {
        self.target = target;
        self
    }

    /// Fires on the next `n` matching requests only, then disappears.
    pub fn next(mut self, n: u64) -> Self {
        self.next = Some(n);
        self
    }

    /// Fires on each matching request with probability `p` (clamped to 0..=1).
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) });
        self
    }

    /// The fault's kind.
    pub fn kind(&self) -> &FaultKind {
        &self.kind
    }

    fn matches(&self, product: Product, path: &str) -> bool {
        match &self.target {
            FaultTarget::All => true,
            FaultTarget::Product(p) => *p == product,
            FaultTarget::Path(p) => p.eq_ignore_ascii_case(path),
        }
    }
}

/// What the active faults decided for one request.
#[derive(Debug, Default)]
pub(crate) struct FaultDecision {
    pub(crate) delay: Option<Duration>,
    pub(crate) action: Option<FaultKind>,
}

/// The active faults, in injection order.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    faults: Vec<Fault>,
}

impl FaultSet {
    pub(crate) fn push(&mut self, fault: Fault) {
        // Faults from the control API skip the builder's clamping.
        let fault = match fault.probability {
            Some(p) => fault.probability(p),
            None => fault,
        };
        if fault.next != Some(0) {
            self.faults.push(fault);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// Rolls every matching fault: all firing latencies add up, and the first firing non-latency
    /// fault decides the outcome. Faults with a count lose one each time they fire.
    pub(crate) fn decide(&mut self, product: Product, path: &str) -> FaultDecision {
        let mut decision = FaultDecision::default();
        for fault in &mut self.faults {
            if !fault.matches(product, path) {
                continue;
            }
            let is_latency = matches!(fault.kind, FaultKind::Latency { .. });
            if !is_latency && decision.action.is_some() {
                continue;
            }
            if let Some(p) = fault.probability
                && fastrand::f64() >= p
            {
                continue;
            }
            if let Some(n) = fault.next.as_mut() {
                *n = n.saturating_sub(1);
            }
            match &fault.kind {
                FaultKind::Latency { min, max } => {
                    let delay = random_between(*min, *max);
                    decision.delay = Some(decision.delay.unwrap_or_default().saturating_add(delay));
                }
                other => decision.action = Some(other.clone()),
            }
        }
        self.faults.retain(|f| f.next != Some(0));
        decision
    }
}

fn random_between(min: Duration, max: Duration) -> Duration {
    if max <= min {
        return min;
    }
    let span = max - min;
    let nanos = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
    min.saturating_add(Duration::from_nanos(fastrand::u64(0..=nanos)))
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
