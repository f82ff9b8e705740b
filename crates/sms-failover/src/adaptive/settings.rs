//! The knobs of adaptive routing, with their defaults.

use std::time::Duration;

/// Weight points shared by all providers of an adaptive chain: weights are percentage points of the
/// first attempts, so they always sum to 100.
pub const TOTAL_POINTS: u32 = 100;

/// How [`crate::Strategy::Adaptive`] judges providers and moves weight between them.
///
/// The defaults follow GOV.UK Notify's rules (15 minutes of receipts, late after 5 minutes, slow at
/// 15 %, 10 points per move, 50 send errors in 60 s), with the fixes of issue #14: only messages old
/// enough to judge are judged, failure receipts count as not delivered, a floor keeps probe traffic
/// on every provider, and any number of providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveSettings {
    /// How often the decider looks at the evidence ([`crate::AdaptiveRouter::run`]). Default 60 s.
    pub interval: Duration,
    /// How far back receipts are looked at: messages accepted at most this long ago. Default 15 min.
    pub receipt_window: Duration,
    /// A message not delivered within this time of its acceptance is late; messages younger than
    /// this are too young to judge and not counted. Default 5 min.
    pub late_after: Duration,
    /// A provider whose judged messages are late (or failed) at least this percentage, 1 to 100,
    /// is sick. Default 15.
    pub late_percent: u32,
    /// Judged messages a provider needs before its receipts say anything. Default 20.
    pub min_sample: u32,
    /// The sliding window of send errors. Default 60 s.
    pub error_window: Duration,
    /// Provider-side send errors within [`Self::error_window`] that make a provider sick. Default 50.
    pub error_threshold: u32,
    /// Weight points (of [`TOTAL_POINTS`]) taken from each sick provider per move. Default 10.
    pub step: u32,
    /// The least weight any provider keeps, in points: its probe traffic. Default 5.
    pub floor: u32,
    /// The least time between two changes of weights. Default 5 min.
    pub cooldown: Duration,
    /// Time without any sick provider after which weights drift back toward the resting weights,
    /// [`Self::step`] points per move (one move per [`Self::cooldown`]). Default 15 min.
    pub quiet_period: Duration,
}

impl Default for AdaptiveSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            receipt_window: Duration::from_secs(15 * 60),
            late_after: Duration::from_secs(5 * 60),
            late_percent: 15,
            min_sample: 20,
            error_window: Duration::from_secs(60),
            error_threshold: 50,
            step: 10,
            floor: 5,
            cooldown: Duration::from_secs(5 * 60),
            quiet_period: Duration::from_secs(15 * 60),
        }
    }
}

impl AdaptiveSettings {
    /// Checks the values for `providers` providers; the message names the bad value.
    pub(crate) fn check(&self, providers: usize) -> Result<(), String> {
        if self.interval.is_zero() || self.error_window.is_zero() || self.late_after.is_zero() {
            return Err("adaptive interval, error_window and late_after must be positive".to_owned());
        }
        if self.receipt_window <= self.late_after {
            return Err(format!(
                "the adaptive receipt_window ({:?}) must be longer than late_after ({:?}): no message in it would be old enough to judge",
                self.receipt_window, self.late_after
            ));
        }
        if !(1..=100).contains(&self.late_percent) {
            return Err(format!(
                "adaptive late_percent must be 1 to 100, got {}",
                self.late_percent
            ));
        }
        if self.min_sample == 0 || self.error_threshold == 0 || self.step == 0 {
            return Err("adaptive min_sample, error_threshold and step must be at least 1".to_owned());
        }
        if self.floor == 0 {
            return Err(
                "the adaptive floor must be at least 1 point: every provider keeps probe traffic".to_owned(),
            );
        }
        let needed = u64::from(self.floor) * providers as u64;
        if needed > u64::from(TOTAL_POINTS) {
            return Err(format!(
                "an adaptive floor of {} points for {providers} providers exceeds the {TOTAL_POINTS} points there are",
                self.floor
            ));
        }
        Ok(())
    }
}
