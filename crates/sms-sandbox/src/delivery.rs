//! Slow and failing delivery: per product, when receipts come, and whether they say delivered,
//! undelivered, or never come at all, while the provider keeps accepting every message.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How one product's receipts behave, set with [`crate::Sandbox::set_delivery`] or
/// `POST /_sandbox/delivery`. Without a profile a product follows the sandbox's configured
/// `receipt_delay_ms` and `undelivered_ratio`.
///
/// Each accepted message draws its fate: with probability [`Self::lost`] no receipt ever comes; else
/// with probability [`Self::failed`] (of all messages) an undelivered receipt; else a delivered one.
/// The receipt's delay is drawn from the bands: a band is picked in proportion to its weight, then a
/// delay uniformly within it (no band: no delay). So `40 %` of messages late by 8 to 10 minutes is
/// `[{weight: 60, min_ms: 100, max_ms: 2000}, {weight: 40, min_ms: 480000, max_ms: 600000}]`.
///
/// JSON (`product` added for the control API):
/// `{"delays": [{"weight": 60, "min_ms": 100, "max_ms": 2000}], "failed": 0.05, "lost": 0.01}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryProfile {
    /// The receipt delay distribution.
    #[serde(default)]
    pub delays: Vec<DelayBand>,
    /// Share of all messages, 0 to 1, whose receipt says undelivered.
    #[serde(default)]
    pub failed: f64,
    /// Share of all messages, 0 to 1, whose receipt never comes.
    #[serde(default)]
    pub lost: f64,
}

/// One band of a receipt delay distribution: delays uniform in `min..=max`, picked in proportion to
/// `weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayBand {
    /// Relative weight of the band.
    pub weight: u32,
    /// Shortest delay (JSON: milliseconds).
    #[serde(rename = "min_ms", with = "duration_ms")]
    pub min: Duration,
    /// Longest delay (JSON: milliseconds).
    #[serde(rename = "max_ms", with = "duration_ms")]
    pub max: Duration,
}

/// What happens to one accepted message's receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiptFate {
    /// A delivered receipt after this delay.
    Delivered(Duration),
    /// An undelivered receipt after this delay.
    Undelivered(Duration),
    /// No receipt, ever.
    Lost,
}

impl DeliveryProfile {
    /// Every receipt delivered at once: add bands and shares to it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a delay band: `weight` parts of the messages get a delay uniform in `min..=max`.
    #[must_use]
    pub fn delay(mut self, weight: u32, min: Duration, max: Duration) -> Self {
        self.delays.push(DelayBand { weight, min, max });
        self
    }

    /// Sets the share (0 to 1) of messages whose receipt says undelivered.
    #[must_use]
    pub fn failed(mut self, share: f64) -> Self {
        self.failed = share;
        self
    }

    /// Sets the share (0 to 1) of messages whose receipt never comes.
    #[must_use]
    pub fn lost(mut self, share: f64) -> Self {
        self.lost = share;
        self
    }

    /// Checks the values; the message names the bad one.
    ///
    /// # Errors
    /// A share outside 0..=1 (or not a number), shares adding up to more than 1, a band whose
    /// `min_ms` exceeds its `max_ms`, or bands whose weights are all 0.
    pub fn check(&self) -> Result<(), String> {
        for (name, share) in [("failed", self.failed), ("lost", self.lost)] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("`{name}` must be a share from 0 to 1, got {share}"));
            }
        }
        if self.failed + self.lost > 1.0 {
            return Err(format!(
                "`failed` ({}) and `lost` ({}) add up to more than 1",
                self.failed, self.lost
            ));
        }
        for (i, band) in self.delays.iter().enumerate() {
            if band.min > band.max {
                return Err(format!("`delays[{i}]`: min_ms is greater than max_ms"));
            }
        }
        if !self.delays.is_empty() && self.delays.iter().all(|b| b.weight == 0) {
            return Err("`delays`: every band has weight 0".to_owned());
        }
        Ok(())
    }

    /// Draws one message's fate.
    pub(crate) fn roll(&self, rng: &mut fastrand::Rng) -> ReceiptFate {
        let fate = rng.f64();
        if fate < self.lost {
            return ReceiptFate::Lost;
        }
        let delay = self.draw_delay(rng);
        if fate < self.lost + self.failed {
            ReceiptFate::Undelivered(delay)
        } else {
            ReceiptFate::Delivered(delay)
        }
    }

    fn draw_delay(&self, rng: &mut fastrand::Rng) -> Duration {
        let total: u64 = self.delays.iter().map(|b| u64::from(b.weight)).sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let mut ticket = rng.u64(0..total);
        for band in &self.delays {
            let weight = u64::from(band.weight);
            if ticket < weight {
                let span = u64::try_from((band.max - band.min).as_millis()).unwrap_or(u64::MAX);
                return band.min + Duration::from_millis(rng.u64(0..=span));
            }
            ticket -= weight;
        }
        Duration::ZERO
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn fates_follow_the_shares_and_delays_the_bands() {
        let profile = DeliveryProfile::new()
            .delay(60, 100 * MS, 200 * MS)
            .delay(40, 8000 * MS, 9000 * MS)
            .failed(0.1)
            .lost(0.05);
        profile.check().expect("valid");
        let mut rng = fastrand::Rng::with_seed(14);
        let (mut lost, mut failed, mut slow, mut fast) = (0, 0, 0, 0);
        for _ in 0..10_000 {
            let delay = match profile.roll(&mut rng) {
                ReceiptFate::Lost => {
                    lost += 1;
                    continue;
                }
                ReceiptFate::Undelivered(delay) => {
                    failed += 1;
                    delay
                }
                ReceiptFate::Delivered(delay) => delay,
            };
            if (100 * MS..=200 * MS).contains(&delay) {
                fast += 1;
            } else {
                assert!(
                    (8000 * MS..=9000 * MS).contains(&delay),
                    "{delay:?} outside every band"
                );
                slow += 1;
            }
        }
        assert!((400..600).contains(&lost), "lost {lost}");
        assert!((850..1150).contains(&failed), "failed {failed}");
        let share = f64::from(slow) / f64::from(slow + fast);
        assert!((0.37..0.43).contains(&share), "slow share {share}");
    }

    #[test]
    fn certain_fates_are_certain() {
        let mut rng = fastrand::Rng::with_seed(1);
        let lost = DeliveryProfile::new().lost(1.0);
        let failed = DeliveryProfile::new().failed(1.0).delay(1, 5 * MS, 5 * MS);
        for _ in 0..100 {
            assert_eq!(lost.roll(&mut rng), ReceiptFate::Lost);
            assert_eq!(failed.roll(&mut rng), ReceiptFate::Undelivered(5 * MS));
            assert_eq!(
                DeliveryProfile::new().roll(&mut rng),
                ReceiptFate::Delivered(Duration::ZERO)
            );
        }
    }

    #[test]
    fn bad_profiles_name_the_bad_value() {
        let check = |p: DeliveryProfile| p.check().expect_err("invalid");
        assert!(check(DeliveryProfile::new().failed(1.5)).contains("`failed`"));
        assert!(check(DeliveryProfile::new().lost(f64::NAN)).contains("`lost`"));
        assert!(check(DeliveryProfile::new().failed(0.6).lost(0.6)).contains("add up to more than 1"));
        assert!(check(DeliveryProfile::new().delay(1, 2 * MS, MS)).contains("delays[0]"));
        assert!(check(DeliveryProfile::new().delay(0, MS, MS)).contains("weight 0"));
        let parsed: Result<DeliveryProfile, _> = serde_json::from_str(r#"{"failed": 0.1, "slow": 1}"#);
        assert!(parsed.expect_err("unknown field").to_string().contains("slow"));
    }
}
