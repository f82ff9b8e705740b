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
        Some(counts) if f64::from(counts.late) >= settings.late_share * f64::from(counts.judged) => {
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
    /// When weight was last taken from a sick provider.
    pub last_demotion: Option<Instant>,
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
    /// Nothing sick, but the quiet period since the last demotion has not passed.
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
///    the error window, or when at least [`AdaptiveSettings::late_share`] of its judged messages
///    (at least [`AdaptiveSettings::min_sample`] of them) are late; healthy on enough good evidence;
///    unknown otherwise.
/// 2. Within [`AdaptiveSettings::cooldown`] of the last change, nothing changes.
/// 3. When some provider is sick and some other healthy (they disagree), each sick provider gives up
///    [`AdaptiveSettings::step`] points (never going below [`AdaptiveSettings::floor`]), spread evenly
///    over the healthy ones (the remainder to the first of them in priority order).
/// 4. When none is sick and the last demotion is at least [`AdaptiveSettings::quiet_period`] old,
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
        .last_demotion
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
