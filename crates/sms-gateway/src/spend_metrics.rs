//! Spend caps on `/metrics`: `sms_spend_warning_total` counts the warnings of `[spend]`
//! (`warn_at_percent`, 80 % by default) by cap, and `sms_spend_used_ratio` is each cap's use of its
//! current Beijing day or month (0 to 1). Labels name the cap (`overall`, `account:NAME`,
//! `country:CODE`), its period and unit, never an amount or a phone number.
//!
//! A warning is also a `WARN` log line (written by the chain); it is not a callback event: events are
//! written by the store's triggers for status changes and replies, and a spend event would need a
//! schema change.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use sms_failover::{CapScope, SpendCap, SpendWarning, WarningHook};

/// The labels of a cap: scope, period, unit.
type CapLabels = (String, &'static str, &'static str);

/// Warnings counted by cap.
#[derive(Debug, Default)]
pub(crate) struct SpendWarnings {
    counts: Mutex<BTreeMap<CapLabels, u64>>,
}

impl SpendWarnings {
    /// A hook for [`sms_failover::SpendPolicy::on_warning`] that counts into `this`.
    pub(crate) fn hook(this: &Arc<Self>) -> WarningHook {
        let this = this.clone();
        Arc::new(move |warning: &SpendWarning| this.count(&warning.cap))
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
