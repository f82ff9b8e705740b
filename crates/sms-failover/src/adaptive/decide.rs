//! The decision: a pure function of (current weights, resting weights, evidence, now, settings).

use std::fmt;
use std::time::{Duration, Instant};

use super::settings::{AdaptiveSettings, TOTAL_POINTS};

/// How one message sent through a provider has fared so far, as a receipt source reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The provider that accepted it.
    pub provider: String,
    /// Time since the provider accepted it.
    pub age: Duration,
    /// What its receipts say.
    pub receipt: ReceiptState,
}

impl SentMessage {
    /// A message accepted by `provider` `age` ago.
    pub fn new(provider: impl Into<String>, age: Duration, receipt: ReceiptState) -> Self {
        Self {
            provider: provider.into(),
            age,
            receipt,
        }
    }
}

/// A sent message's receipt, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptState {
    /// No final receipt yet.
    Pending,
    /// Delivered, this long after the provider accepted it.
    Delivered(Duration),
    /// A failure receipt: not delivered.
    Failed,
}

/// Receipt counts of one provider: messages old enough to judge, and those of them late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiptCounts {
    /// Messages accepted at least [`AdaptiveSettings::late_after`] ago, within the receipt window.
    pub judged: u32,
    /// Of those, not delivered within `late_after`: still pending, delivered later, or failed.
    pub late: u32,
}

/// What the decider knows about one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Evidence {
    /// Provider-side send errors within [`AdaptiveSettings::error_window`].
    pub send_errors: u32,
    /// Its receipts; `None` when the chain has no receipt source (send errors alone then decide).
    pub receipts: Option<ReceiptCounts>,
}

/// A provider's state as the evidence shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Too many send errors, or too many late messages among enough judged ones.
    Sick,
    /// Enough evidence, and all of it good.
    Healthy,
    /// Too few judged messages to say.
    Unknown,
}

/// Counts the receipts of `messages` per provider of `names` (others are ignored). Only messages old
/// enough to judge (accepted at least `late_after` ago) and within the receipt window count; a
/// pending or failed message among them, or one delivered after `late_after`, is late.
pub fn judge_receipts(
    messages: &[SentMessage],
    names: &[String],
    settings: &AdaptiveSettings,
) -> Vec<ReceiptCounts> {
    let mut counts = vec![ReceiptCounts::default(); names.len()];
    for message in messages {
        if message.age < settings.late_after || message.age > settings.receipt_window {
            continue;
        }
        let Some(index) = names.iter().position(|n| *n == message.provider) else {
            continue;
        };
        let late = match message.receipt {
            ReceiptState::Pending | ReceiptState::Failed => true,
            ReceiptState::Delivered(after) => after > settings.late_after,
        };
        counts[index].judged += 1;
        counts[index].late += u32::from(late);
    }
    counts
}

/// The verdict on one provider's evidence.
pub fn verdict(evidence: &Evidence, settings: &AdaptiveSettings) -> Verdict {
    if evidence.send_errors >= settings.error_threshold {
        return Verdict::Sick;
    }
    match evidence.receipts {
        None => Verdict::Healthy,
        Some(counts) if counts.judged < settings.min_sample => Verdict::Unknown,
        Some(counts)
            if u64::from(counts.late) * 100
                >= u64::from(settings.late_percent) * u64::from(counts.judged) =>
        {
            Verdict::Sick
        }
        Some(_) => Verdict::Healthy,
    }
}

/// An operator's override of the learned weights; overrides decide the first provider whatever the
/// evidence (failover still tries the others in priority order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overrides {
    /// Every first attempt goes to this provider (by index); wins over drains.
    pub pin: Option<usize>,
    /// These providers (by index) get no first attempts; their weight is spread over the others.
    pub drained: Vec<usize>,
}

impl Overrides {
    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.pin.is_none() && self.drained.is_empty()
    }
}

/// The inputs of one decision.
#[derive(Debug, Clone)]
pub struct DecisionInput<'a> {
    /// The learned weights now, one per provider, summing to [`TOTAL_POINTS`].
    pub current: &'a [u32],
    /// The weights to return to when all is well, summing to [`TOTAL_POINTS`].
    pub resting: &'a [u32],
    /// The evidence per provider.
    pub evidence: &'a [Evidence],
    /// Now.
    pub now: Instant,
    /// When the learned weights last changed (demotion or drift).
    pub last_change: Option<Instant>,
    /// When some provider was last judged sick.
    pub last_sick: Option<Instant>,
}

/// Why the weights did or did not change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Weight moved from the sick providers (indices) to the healthy ones.
    Demoted {
        /// Providers that lost weight.
        sick: Vec<usize>,
        /// Providers that gained it.
        healthy: Vec<usize>,
    },
    /// No provider sick for the quiet period: weights moved a step back toward resting.
    Drifted,
    /// Within the cooldown of the last change.
    Cooldown,
    /// Some provider is sick but none is known healthy to take its traffic (providers agree, or too
    /// little evidence).
    NoHealthyProvider,
    /// The sick providers are already at the floor.
    AtFloor,
    /// Nothing sick now, but something was within the quiet period.
    Quiet,
    /// Nothing sick, weights at rest.
    AtRest,
}

impl Reason {
    /// True when the weights changed.
    pub fn changed(&self) -> bool {
        matches!(self, Self::Demoted { .. } | Self::Drifted)
    }

    /// A stable one-word name for logs, metrics and stored changes.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Demoted { .. } => "demoted",
            Self::Drifted => "drifted",
            Self::Cooldown => "cooldown",
            Self::NoHealthyProvider => "no_healthy_provider",
            Self::AtFloor => "at_floor",
            Self::Quiet => "quiet",
            Self::AtRest => "at_rest",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The new learned weights and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The learned weights after the decision (equal to the input when nothing changed).
    pub weights: Vec<u32>,
    /// The verdict on each provider.
    pub verdicts: Vec<Verdict>,
    /// Why.
    pub reason: Reason,
}

/// Decides the next learned weights.
///
/// 1. Each provider gets a [`verdict`]: sick on [`AdaptiveSettings::error_threshold`] send errors in
///    the error window, or when at least [`AdaptiveSettings::late_percent`] of its judged messages
///    (at least [`AdaptiveSettings::min_sample`] of them) are late; healthy on enough good evidence;
///    unknown otherwise.
/// 2. Within [`AdaptiveSettings::cooldown`] of the last change, nothing changes.
/// 3. When some provider is sick and some other healthy (they disagree), each sick provider gives up
///    [`AdaptiveSettings::step`] points (never going below [`AdaptiveSettings::floor`]), spread evenly
///    over the healthy ones (the remainder to the first of them in priority order).
/// 4. When none is sick, and none has been for [`AdaptiveSettings::quiet_period`],
///    every weight above its resting weight gives up to `step` points back to those below theirs.
///
/// The sum of the weights never changes and no weight that was at or above the floor goes below it.
pub fn decide(input: &DecisionInput<'_>, settings: &AdaptiveSettings) -> Decision {
    let verdicts: Vec<Verdict> = input.evidence.iter().map(|e| verdict(e, settings)).collect();
    let unchanged = |reason| Decision {
        weights: input.current.to_vec(),
        verdicts: verdicts.clone(),
        reason,
    };
    if input
        .last_change
        .is_some_and(|last| input.now.saturating_duration_since(last) < settings.cooldown)
    {
        return unchanged(Reason::Cooldown);
    }
    let sick: Vec<usize> = (0..verdicts.len())
        .filter(|&i| verdicts[i] == Verdict::Sick)
        .collect();
    let healthy: Vec<usize> = (0..verdicts.len())
        .filter(|&i| verdicts[i] == Verdict::Healthy)
        .collect();
    if !sick.is_empty() {
        if healthy.is_empty() {
            return unchanged(Reason::NoHealthyProvider);
        }
        let mut weights = input.current.to_vec();
        let mut taken = 0u32;
        let mut losers = Vec::new();
        for &i in &sick {
            let give = settings.step.min(weights[i].saturating_sub(settings.floor));
            if give > 0 {
                weights[i] -= give;
                taken += give;
                losers.push(i);
            }
        }
        if taken == 0 {
            return unchanged(Reason::AtFloor);
        }
        let count = u32::try_from(healthy.len()).unwrap_or(u32::MAX);
        let (share, mut extra) = (taken / count, taken % count);
        for &i in &healthy {
            weights[i] += share + u32::from(extra > 0);
            extra = extra.saturating_sub(1);
        }
        return Decision {
            weights,
            verdicts,
            reason: Reason::Demoted {
                sick: losers,
                healthy,
            },
        };
    }
    if input.current == input.resting {
        return unchanged(Reason::AtRest);
    }
    if input
        .last_sick
        .is_some_and(|last| input.now.saturating_duration_since(last) < settings.quiet_period)
    {
        return unchanged(Reason::Quiet);
    }
    let mut weights = input.current.to_vec();
    let mut pool = 0u32;
    for (i, w) in weights.iter_mut().enumerate() {
        let resting = input.resting.get(i).copied().unwrap_or(*w);
        if *w > resting {
            let give = settings.step.min(*w - resting);
            *w -= give;
            pool += give;
        }
    }
    for (i, w) in weights.iter_mut().enumerate() {
        let resting = input.resting.get(i).copied().unwrap_or(*w);
        if *w < resting {
            let take = pool.min(resting - *w);
            *w += take;
            pool -= take;
        }
    }
    // Equal sums make the deficits at least the pool; were they not, the rest goes back unmoved.
    if pool > 0 {
        return unchanged(Reason::AtRest);
    }
    Decision {
        weights,
        verdicts,
        reason: Reason::Drifted,
    }
}

/// The weights routing uses: the learned ones with the operator's overrides applied. A pin gives
/// the pinned provider every point; drained providers get none, their points spread evenly over the
/// others (the remainder to the first in priority order). Draining every provider drains none.
pub fn effective_weights(learned: &[u32], overrides: &Overrides) -> Vec<u32> {
    let total: u32 = learned.iter().sum();
    if let Some(pin) = overrides.pin.filter(|&p| p < learned.len()) {
        return (0..learned.len())
            .map(|i| if i == pin { total.max(1) } else { 0 })
            .collect();
    }
    let kept: Vec<usize> = (0..learned.len())
        .filter(|i| !overrides.drained.contains(i))
        .collect();
    if kept.is_empty() || kept.len() == learned.len() {
        return learned.to_vec();
    }
    let freed: u32 = (0..learned.len())
        .filter(|i| overrides.drained.contains(i))
        .map(|i| learned[i])
        .sum();
    let count = u32::try_from(kept.len()).unwrap_or(u32::MAX);
    let (share, mut extra) = (freed / count, freed % count);
    let mut weights = vec![0; learned.len()];
    for &i in &kept {
        weights[i] = learned[i] + share + u32::from(extra > 0);
        extra = extra.saturating_sub(1);
    }
    weights
}

/// Scales configured weights to [`TOTAL_POINTS`] (largest remainders; ties to the first), so that
/// `[1, 1, 1]` rests at `[34, 33, 33]`. All zero counts as all equal.
pub fn resting_points(configured: &[u32]) -> Vec<u32> {
    let n = configured.len();
    if n == 0 {
        return Vec::new();
    }
    let sum: u64 = configured.iter().map(|&w| u64::from(w)).sum();
    let raw: Vec<u64> = if sum == 0 {
        vec![1; n]
    } else {
        configured.iter().map(|&w| u64::from(w)).collect()
    };
    let sum: u64 = raw.iter().sum();
    let total = u64::from(TOTAL_POINTS);
    let mut points: Vec<u64> = raw.iter().map(|&w| w * total / sum).collect();
    let mut order: Vec<usize> = (0..n).collect();
    // Largest remainder first; the sort is stable, so ties go to the first provider.
    order.sort_by_key(|&i| std::cmp::Reverse(raw[i] * total % sum));
    let mut left = total - points.iter().sum::<u64>();
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        points[i] += 1;
        left -= 1;
    }
    points
        .into_iter()
        .map(|p| u32::try_from(p).unwrap_or(TOTAL_POINTS))
        .collect()
}

/// Raises every weight to at least `floor`, taking the points from the largest (the floor must fit:
/// `floor × n ≤ TOTAL_POINTS`, which [`AdaptiveSettings`] checks).
pub(crate) fn lift_to_floor(mut weights: Vec<u32>, floor: u32) -> Vec<u32> {
    loop {
        let Some(low) = weights.iter().position(|&w| w < floor) else {
            return weights;
        };
        let Some(high) = (0..weights.len())
            .filter(|&i| weights[i] > floor)
            .max_by_key(|&i| (weights[i], std::cmp::Reverse(i)))
        else {
            return weights;
        };
        weights[low] += 1;
        weights[high] -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN: Duration = Duration::from_secs(60);

    fn settings() -> AdaptiveSettings {
        AdaptiveSettings::default()
    }

    fn healthy() -> Evidence {
        Evidence {
            send_errors: 0,
            receipts: Some(ReceiptCounts { judged: 100, late: 2 }),
        }
    }

    fn slow() -> Evidence {
        Evidence {
            send_errors: 0,
            receipts: Some(ReceiptCounts {
                judged: 100,
                late: 40,
            }),
        }
    }

    fn input<'a>(
        current: &'a [u32],
        resting: &'a [u32],
        evidence: &'a [Evidence],
        now: Instant,
    ) -> DecisionInput<'a> {
        DecisionInput {
            current,
            resting,
            evidence,
            now,
            last_change: None,
            last_sick: None,
        }
    }

    #[test]
    fn a_slow_provider_gives_a_step_spread_over_the_healthy_ones() {
        let now = Instant::now();
        let evidence = [slow(), healthy(), healthy()];
        let d = decide(&input(&[34, 33, 33], &[34, 33, 33], &evidence, now), &settings());
        assert_eq!(d.weights, [24, 38, 38]);
        assert_eq!(
            d.reason,
            Reason::Demoted {
                sick: vec![0],
                healthy: vec![1, 2]
            }
        );
        assert_eq!(d.verdicts, [Verdict::Sick, Verdict::Healthy, Verdict::Healthy]);
    }

    #[test]
    fn the_remainder_goes_to_the_first_healthy_provider() {
        let now = Instant::now();
        let evidence = [healthy(), slow(), healthy(), healthy()];
        let d = decide(&input(&[25, 25, 25, 25], &[25; 4], &evidence, now), &settings());
        assert_eq!(d.weights, [29, 15, 28, 28]);
    }

    #[test]
    fn the_floor_is_kept() {
        let now = Instant::now();
        let evidence = [slow(), healthy()];
        let d = decide(&input(&[12, 88], &[50, 50], &evidence, now), &settings());
        assert_eq!(d.weights, [5, 95], "only 7 points above the floor of 5");
        let d = decide(&input(&[5, 95], &[50, 50], &evidence, now), &settings());
        assert_eq!(d.weights, [5, 95]);
        assert_eq!(d.reason, Reason::AtFloor);
    }

    #[test]
    fn nothing_moves_inside_the_cooldown() {
        let now = Instant::now();
        let evidence = [slow(), healthy()];
        let mut i = input(&[50, 50], &[50, 50], &evidence, now);
        i.last_change = Some(now - 4 * MIN);
        let d = decide(&i, &settings());
        assert_eq!(
            (d.weights.as_slice(), d.reason),
            (&[50, 50][..], Reason::Cooldown)
        );
        i.last_change = Some(now - 5 * MIN);
        assert_eq!(
            decide(&i, &settings()).weights,
            [40, 60],
            "the cooldown has passed"
        );
    }

    #[test]
    fn nothing_moves_when_all_providers_are_sick() {
        let now = Instant::now();
        let evidence = [slow(), slow(), slow()];
        let d = decide(&input(&[34, 33, 33], &[34, 33, 33], &evidence, now), &settings());
        assert_eq!(d.weights, [34, 33, 33]);
        assert_eq!(d.reason, Reason::NoHealthyProvider);
    }

    #[test]
    fn a_provider_without_enough_judged_messages_takes_no_weight() {
        let now = Instant::now();
        let unknown = Evidence {
            send_errors: 0,
            receipts: Some(ReceiptCounts { judged: 19, late: 0 }),
        };
        let d = decide(&input(&[50, 50], &[50, 50], &[slow(), unknown], now), &settings());
        assert_eq!(d.verdicts, [Verdict::Sick, Verdict::Unknown]);
        assert_eq!((d.weights, d.reason), (vec![50, 50], Reason::NoHealthyProvider));
        // Nor is a provider with few but all late messages sick.
        let few_late = Evidence {
            send_errors: 0,
            receipts: Some(ReceiptCounts { judged: 19, late: 19 }),
        };
        assert_eq!(verdict(&few_late, &settings()), Verdict::Unknown);
    }

    #[test]
    fn send_errors_alone_make_a_provider_sick() {
        let now = Instant::now();
        let erring = Evidence {
            send_errors: 50,
            receipts: Some(ReceiptCounts { judged: 100, late: 0 }),
        };
        let d = decide(
            &input(&[50, 50], &[50, 50], &[healthy(), erring], now),
            &settings(),
        );
        assert_eq!(d.weights, [60, 40]);
        let almost = Evidence {
            send_errors: 49,
            ..erring
        };
        assert_eq!(verdict(&almost, &settings()), Verdict::Healthy);
        // Without a receipt source, errors alone decide.
        let no_receipts = Evidence {
            send_errors: 0,
            receipts: None,
        };
        let errors_only = Evidence {
            send_errors: 50,
            receipts: None,
        };
        let d = decide(
            &input(&[50, 50], &[50, 50], &[no_receipts, errors_only], now),
            &settings(),
        );
        assert_eq!(d.weights, [60, 40]);
    }

    #[test]
    fn the_late_percent_threshold_is_inclusive() {
        let at = Evidence {
            send_errors: 0,
            receipts: Some(ReceiptCounts {
                judged: 100,
                late: 15,
            }),
        };
        let below = Evidence {
            send_errors: 0,
            receipts: Some(ReceiptCounts {
                judged: 100,
                late: 14,
            }),
        };
        assert_eq!(verdict(&at, &settings()), Verdict::Sick);
        assert_eq!(verdict(&below, &settings()), Verdict::Healthy);
    }

    #[test]
    fn weights_drift_back_after_the_quiet_period() {
        let now = Instant::now();
        let evidence = [healthy(), healthy(), healthy()];
        let mut i = input(&[5, 48, 47], &[34, 33, 33], &evidence, now);
        i.last_change = Some(now - 14 * MIN);
        i.last_sick = Some(now - 14 * MIN);
        let d = decide(&i, &settings());
        assert_eq!(
            (d.weights.as_slice(), d.reason),
            (&[5, 48, 47][..], Reason::Quiet)
        );
        i.last_sick = Some(now - 15 * MIN);
        let d = decide(&i, &settings());
        assert_eq!(
            (d.weights.as_slice(), d.reason),
            (&[25, 38, 37][..], Reason::Drifted)
        );
        let i = input(&[32, 34, 34], &[34, 33, 33], &evidence, now);
        assert_eq!(
            decide(&i, &settings()).weights,
            [34, 33, 33],
            "never past resting"
        );
        let d = decide(&input(&[34, 33, 33], &[34, 33, 33], &evidence, now), &settings());
        assert_eq!(d.reason, Reason::AtRest);
    }

    #[test]
    fn too_young_messages_are_not_judged() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let s = settings();
        let messages = vec![
            // Younger than late_after: not judged, whatever their state (even a failure).
            SentMessage::new("a", Duration::from_secs(299), ReceiptState::Pending),
            SentMessage::new("a", Duration::from_secs(10), ReceiptState::Failed),
            // Old enough: pending is late, failed is late, delivered late is late.
            SentMessage::new("a", Duration::from_secs(300), ReceiptState::Pending),
            SentMessage::new("a", Duration::from_secs(400), ReceiptState::Failed),
            SentMessage::new(
                "a",
                Duration::from_secs(600),
                ReceiptState::Delivered(Duration::from_secs(301)),
            ),
            SentMessage::new(
                "a",
                Duration::from_secs(600),
                ReceiptState::Delivered(Duration::from_secs(300)),
            ),
            // Outside the window, or another chain's provider: ignored.
            SentMessage::new("a", Duration::from_secs(901), ReceiptState::Pending),
            SentMessage::new("z", Duration::from_secs(600), ReceiptState::Pending),
            SentMessage::new(
                "b",
                Duration::from_secs(600),
                ReceiptState::Delivered(Duration::from_secs(5)),
            ),
        ];
        assert_eq!(
            judge_receipts(&messages, &names, &s),
            [
                ReceiptCounts { judged: 4, late: 3 },
                ReceiptCounts { judged: 1, late: 0 }
            ]
        );
        // A burst of fresh sends that have not had time to deliver makes nobody sick.
        let fresh: Vec<SentMessage> = (0..100)
            .map(|i| SentMessage::new("a", Duration::from_secs(i), ReceiptState::Pending))
            .collect();
        let counts = judge_receipts(&fresh, &names, &s);
        let evidence = Evidence {
            send_errors: 0,
            receipts: Some(counts[0]),
        };
        assert_eq!(verdict(&evidence, &s), Verdict::Unknown);
    }

    #[test]
    fn overrides_win() {
        let learned = [24, 38, 38];
        let pinned = Overrides {
            pin: Some(0),
            drained: vec![0],
        };
        assert_eq!(effective_weights(&learned, &pinned), [100, 0, 0]);
        let drained = Overrides {
            pin: None,
            drained: vec![1],
        };
        assert_eq!(effective_weights(&learned, &drained), [43, 0, 57]);
        let all = Overrides {
            pin: None,
            drained: vec![0, 1, 2],
        };
        assert_eq!(
            effective_weights(&learned, &all),
            learned,
            "draining all drains none"
        );
        assert_eq!(effective_weights(&learned, &Overrides::default()), learned);
    }

    #[test]
    fn resting_points_scale_to_a_hundred() {
        assert_eq!(resting_points(&[1, 1, 1]), [34, 33, 33]);
        assert_eq!(resting_points(&[3, 1]), [75, 25]);
        assert_eq!(resting_points(&[0, 0]), [50, 50]);
        assert_eq!(resting_points(&[2, 1, 0]), [67, 33, 0]);
        assert_eq!(lift_to_floor(vec![67, 33, 0], 5), [62, 33, 5]);
    }

    fn evidence_strategy() -> impl Strategy<Value = Evidence> {
        (0u32..80, prop::option::of((0u32..60, 0u32..60))).prop_map(|(send_errors, receipts)| Evidence {
            send_errors,
            receipts: receipts.map(|(judged, late)| ReceiptCounts {
                judged,
                late: late.min(judged),
            }),
        })
    }

    /// Weights at or above the floor of 5 summing to 100, for `n` providers.
    fn weights_strategy(n: usize) -> impl Strategy<Value = Vec<u32>> {
        prop::collection::vec(0u32..100, n).prop_map(move |raw| lift_to_floor(resting_points(&raw), 5))
    }

    /// Current and resting weights, evidence, seconds since the last change and since something was sick.
    type Case = (Vec<u32>, Vec<u32>, Vec<Evidence>, Option<u64>, Option<u64>);

    fn case() -> impl Strategy<Value = Case> {
        (1usize..8).prop_flat_map(|n| {
            (
                weights_strategy(n),
                weights_strategy(n),
                prop::collection::vec(evidence_strategy(), n),
                prop::option::of(0u64..3600),
                prop::option::of(0u64..3600),
            )
        })
    }

    proptest! {
        #[test]
        fn invariants_hold((current, resting, evidence, since_change, since_demotion) in case()) {
            let s = settings();
            let now = Instant::now() + Duration::from_secs(7200);
            let mut i = input(&current, &resting, &evidence, now);
            i.last_change = since_change.map(|secs| now - Duration::from_secs(secs));
            i.last_sick = since_demotion.map(|secs| now - Duration::from_secs(secs));
            let d = decide(&i, &s);
            // The sum stays, the floor holds.
            prop_assert_eq!(d.weights.iter().sum::<u32>(), current.iter().sum::<u32>());
            prop_assert!(d.weights.iter().all(|&w| w >= s.floor), "{:?}", d.weights);
            // Changed exactly when the reason says so.
            prop_assert_eq!(d.weights != current, d.reason.changed());
            // Nothing moves inside the cooldown.
            if since_change.is_some_and(|secs| Duration::from_secs(secs) < s.cooldown) {
                prop_assert_eq!(&d.weights, &current);
            }
            // When providers agree (all sick, or none sick), no evidence moves weight: at most a
            // drift, and a drift only brings every weight closer to its resting weight.
            let all_sick = d.verdicts.iter().all(|v| *v == Verdict::Sick);
            let none_sick = d.verdicts.iter().all(|v| *v != Verdict::Sick);
            if all_sick {
                prop_assert_eq!(&d.weights, &current);
            }
            if none_sick {
                prop_assert!(!matches!(d.reason, Reason::Demoted { .. }), "demoted while none is sick");
                for ((after, before), rest) in d.weights.iter().zip(&current).zip(&resting) {
                    prop_assert!(after.abs_diff(*rest) <= before.abs_diff(*rest));
                }
            }
            // A demotion lowers only sick providers and raises only healthy ones.
            if let Reason::Demoted { sick, healthy } = &d.reason {
                for (k, (after, before)) in d.weights.iter().zip(&current).enumerate() {
                    if after < before { prop_assert!(sick.contains(&k)); }
                    if after > before { prop_assert!(healthy.contains(&k)); }
                }
            }
        }

        #[test]
        fn overrides_are_respected(
            learned in (2usize..8).prop_flat_map(weights_strategy),
            pin in prop::option::of(0usize..8),
            drained in prop::collection::vec(0usize..8, 0..4),
        ) {
            let n = learned.len();
            let overrides = Overrides { pin: pin.filter(|&p| p < n), drained: drained.into_iter().filter(|&d| d < n).collect() };
            let weights = effective_weights(&learned, &overrides);
            prop_assert_eq!(weights.iter().sum::<u32>(), learned.iter().sum::<u32>());
            if let Some(p) = overrides.pin {
                prop_assert!(weights.iter().enumerate().all(|(i, &w)| (i == p) == (w > 0)));
            } else if (0..n).any(|i| !overrides.drained.contains(&i)) {
                for &d in &overrides.drained { prop_assert_eq!(weights[d], 0); }
                for i in (0..n).filter(|i| !overrides.drained.contains(i)) { prop_assert!(weights[i] >= learned[i]); }
            }
        }
    }
}
