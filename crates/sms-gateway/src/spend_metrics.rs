//! Spend caps on `/metrics`: `sms_spend_warning_total` counts the warnings of `[spend]`
//! (`warn_at_percent`, 80 % by default) by cap, and `sms_spend_used_ratio` is each cap's use of its
//! current Beijing day or month (0 to 1). Labels name the cap (`overall`, `account:NAME`,
//! `country:CODE`), its period and unit, never an amount or a phone number.
//!
//! A warning is also a `WARN` log line (written by the chain) and, with `[gateway.callbacks]`, a
//! `spend.warning` callback event ([`MessageStore::record_spend_warning`]): at most one per cap and
//! period, whichever instance's send crossed the threshold. The chain calls its hook synchronously
//! in the send, so the event is stored by a task of its own just after; a crash in between loses
//! the event (the log line was written).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use sms_failover::{CapScope, SpendCap, SpendWarning, WarningHook};
use sms_store::{MessageStore, SpendNotice};

/// The labels of a cap: scope, period, unit.
type CapLabels = (String, &'static str, &'static str);

/// Warnings counted by cap, and stored as events when a store is given.
#[derive(Debug, Default)]
pub(crate) struct SpendWarnings {
    counts: Mutex<BTreeMap<CapLabels, u64>>,
    events: Option<Arc<dyn MessageStore>>,
}

impl SpendWarnings {
    /// Counts warnings and records each as a callback event in `store`.
    pub(crate) fn recording(store: Arc<dyn MessageStore>) -> Self {
        Self {
            counts: Mutex::default(),
            events: Some(store),
        }
    }

    /// A hook for [`sms_failover::SpendPolicy::on_warning`] that counts into `this`.
    pub(crate) fn hook(this: &Arc<Self>) -> WarningHook {
        let this = this.clone();
        Arc::new(move |warning: &SpendWarning| {
            this.count(&warning.cap);
            this.record(warning);
        })
    }

    /// Stores the warning as an event, on a task of its own (the hook may not wait).
    fn record(&self, warning: &SpendWarning) {
        let Some(store) = self.events.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("a spend warning outside a Tokio runtime is not a callback event");
            return;
        };
        let (cap, period_kind, unit) = labels(&warning.cap);
        let notice = SpendNotice::new(
            cap,
            period_kind,
            warning.period.clone(),
            unit,
            warning.used,
            warning.cap.limit,
        );
        runtime.spawn(async move {
            if let Err(error) = store.record_spend_warning(&notice).await {
                tracing::warn!(%error, cap = %notice.cap, "the spend warning is not stored as a callback event");
            }
        });
    }

    fn count(&self, cap: &SpendCap) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry(labels(cap)).or_default() += 1;
    }

    /// The counter and, from `usage`, the ratio gauge, in the text format.
    pub(crate) fn render(&self, usage: &[sms_failover::CapUsage], out: &mut String) {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if !counts.is_empty() {
            let _ = writeln!(out, "# TYPE sms_spend_warning_total counter");
            for ((cap, period, unit), n) in counts.iter() {
                let _ = writeln!(
                    out,
                    "sms_spend_warning_total{{cap=\"{}\",period=\"{period}\",unit=\"{unit}\"}} {n}",
                    escape(cap)
                );
            }
        }
        drop(counts);
        if usage.is_empty() {
            return;
        }
        let _ = writeln!(out, "# TYPE sms_spend_used_ratio gauge");
        for u in usage {
            let (cap, period, unit) = labels(&u.cap);
            #[allow(clippy::cast_precision_loss)] // a ratio for a dashboard
            let ratio = if u.cap.limit == 0 {
                1.0
            } else {
                u.used as f64 / u.cap.limit as f64
            };
            let _ = writeln!(
                out,
                "sms_spend_used_ratio{{cap=\"{}\",period=\"{period}\",unit=\"{unit}\"}} {ratio}",
                escape(&cap)
            );
        }
    }
}

fn labels(cap: &SpendCap) -> CapLabels {
    let scope = match &cap.scope {
        CapScope::Overall => "overall".to_owned(),
        CapScope::Account(name) => format!("account:{name}"),
        CapScope::Country(code) => format!("country:{code}"),
    };
    (scope, cap.period.as_str(), cap.unit.as_str())
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_failover::{CapPeriod, CapUnit, CapUsage};

    #[test]
    fn warnings_and_ratios_render_by_cap() {
        let warnings = Arc::new(SpendWarnings::default());
        let cap = SpendCap::new(
            CapScope::Account("ihuyi".into()),
            CapPeriod::Day,
            CapUnit::Parts,
            10,
        );
        let hook = SpendWarnings::hook(&warnings);
        let warning = SpendWarning {
            cap: cap.clone(),
            used: 8,
            period: "2026-11-28".into(),
        };
        hook(&warning);
        hook(&warning);
        let usage = [CapUsage {
            cap,
            period: "2026-11-28".into(),
            used: 8,
            resets_at: 0,
        }];
        let mut out = String::new();
        warnings.render(&usage, &mut out);
        assert!(
            out.contains("sms_spend_warning_total{cap=\"account:ihuyi\",period=\"day\",unit=\"parts\"} 2"),
            "{out}"
        );
        assert!(
            out.contains("sms_spend_used_ratio{cap=\"account:ihuyi\",period=\"day\",unit=\"parts\"} 0.8"),
            "{out}"
        );
    }
}
