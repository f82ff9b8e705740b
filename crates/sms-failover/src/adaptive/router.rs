//! The adaptive router: the learned weights of a chain, the evidence fed to them, and the operator's
//! overrides.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use sms_core::{Error, ErrorKind, Operation};

use super::decide::{
    Decision, DecisionInput, Evidence, Overrides, SentMessage, Verdict, decide, effective_weights,
    judge_receipts, lift_to_floor, resting_points,
};
use super::settings::AdaptiveSettings;
use super::shared::{NamedOverrides, Override, Period, WeightLog};
use crate::clock::Clock;

/// Where the decider reads receipts: messages each provider accepted recently and what their receipts
/// say. Implemented by the message store (`sms-store`); any source that knows receipts will do.
#[async_trait]
pub trait ReceiptEvidence: Send + Sync + fmt::Debug {
    /// Messages accepted within `window` before now, each with its provider, age and receipt state.
    ///
    /// # Errors
    /// When the source cannot answer; the decider then changes nothing.
    async fn sent_within(&self, window: Duration) -> Result<Vec<SentMessage>, Error>;
}

/// One change of the learned weights, kept by the router ([`AdaptiveRouter::history`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WeightChange {
    /// When it was decided (wall clock).
    pub at: SystemTime,
    /// Why ([`super::Reason::name`]: `demoted` or `drifted`).
    pub reason: String,
    /// Per provider, in priority order: name, weight before, weight after, the evidence.
    pub providers: Vec<ProviderWeight>,
}

/// One provider in a [`WeightChange`] or a [`AdaptiveRouter::snapshot`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProviderWeight {
    /// The provider's name.
    pub name: String,
    /// Its resting weight, in points of [`super::TOTAL_POINTS`].
    pub resting: u32,
    /// Its learned weight before the change (in a snapshot: the learned weight now).
    pub before: u32,
    /// Its learned weight after the change (in a snapshot: the weight routing uses now, overrides
    /// applied).
    pub after: u32,
    /// The evidence the decision saw.
    pub evidence: Evidence,
}

/// The changes kept in [`AdaptiveRouter::history`].
const HISTORY: usize = 100;

#[derive(Debug)]
struct State {
    learned: Vec<u32>,
    effective: Vec<u32>,
    overrides: Overrides,
    last_change: Option<Instant>,
    last_sick: Option<Instant>,
    last_evidence: Vec<Evidence>,
    history: VecDeque<WeightChange>,
    /// The sequence number of the latest logged change seen (decided or adopted).
    seen: Option<i64>,
}

/// The shared log and this instance's name in its lease.
#[derive(Debug)]
struct Shared {
    log: Arc<dyn WeightLog>,
    holder: String,
}

/// The name of the decider's lease in a [`WeightLog`].
pub const DECIDER_LEASE: &str = "adaptive-decider";

/// The weights of a [`crate::Strategy::Adaptive`] chain and the decider that moves them.
///
/// The chain picks each message's first provider at random in proportion to [`Self::weights`] and
/// reports every provider-side send error here ([`Self::record_send`]). [`Self::evaluate`] (every
/// [`AdaptiveSettings::interval`] under [`Self::run`]) reads the receipts, calls [`decide`] and keeps
/// the result; [`Self::pin`] and [`Self::drain`] override it.
pub struct AdaptiveRouter {
    names: Vec<String>,
    resting: Vec<u32>,
    settings: AdaptiveSettings,
    clock: Arc<dyn Clock>,
    receipts: Option<Arc<dyn ReceiptEvidence>>,
    /// Per provider: false when it sends no receipts, so that its receipts say nothing.
    has_receipts: Vec<bool>,
    errors: Vec<Mutex<VecDeque<Instant>>>,
    state: Mutex<State>,
    shared: OnceLock<Shared>,
}

impl fmt::Debug for AdaptiveRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveRouter")
            .field("providers", &self.names)
            .field("resting", &self.resting)
            .field("settings", &self.settings)
            .field("receipts", &self.receipts.is_some())
            .field("shared", &self.shared.get().map(|s| &s.holder))
            .finish_non_exhaustive()
    }
}

fn configuration(message: String) -> Error {
    Error::new(ErrorKind::Configuration, Operation::Configure)
        .with_provider(crate::CHAIN_NAME)
        .with_message(message)
}

impl AdaptiveRouter {
    /// A router for `providers` (name and configured weight, in priority order). The configured
    /// weights are scaled to [`super::TOTAL_POINTS`] and lifted to the floor: those are the resting
    /// weights, and the weights at start.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] when there is no provider or a setting is out of range (see
    /// [`AdaptiveSettings`]).
    pub fn new(
        providers: &[(String, u32)],
        settings: AdaptiveSettings,
        clock: Arc<dyn Clock>,
        receipts: Option<Arc<dyn ReceiptEvidence>>,
    ) -> Result<Self, Error> {
        if providers.is_empty() {
            return Err(configuration(
                "adaptive routing needs at least one provider".to_owned(),
            ));
        }
        settings.check(providers.len()).map_err(configuration)?;
        let configured: Vec<u32> = providers.iter().map(|(_, w)| *w).collect();
        let resting = lift_to_floor(resting_points(&configured), settings.floor);
        let names: Vec<String> = providers.iter().map(|(n, _)| n.clone()).collect();
        Ok(Self {
            has_receipts: vec![true; names.len()],
            errors: names.iter().map(|_| Mutex::new(VecDeque::new())).collect(),
            state: Mutex::new(State {
                learned: resting.clone(),
                effective: resting.clone(),
                overrides: Overrides::default(),
                last_change: None,
                last_sick: None,
                last_evidence: vec![Evidence::default(); names.len()],
                history: VecDeque::new(),
                seen: None,
            }),
            shared: OnceLock::new(),
            names,
            resting,
            settings,
            clock,
            receipts,
        })
    }

    /// Judges `provider` on its send errors alone: it sends no delivery receipts (its messages would
    /// otherwise all look undelivered). The chain does this for every provider whose capabilities
    /// have no [`sms_core::Capabilities::receipt_push`].
    #[must_use]
    pub fn without_receipts_from(mut self, provider: &str) -> Self {
        if let Some(index) = self.names.iter().position(|n| n == provider) {
            self.has_receipts[index] = false;
        }
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings.
    pub fn settings(&self) -> &AdaptiveSettings {
        &self.settings
    }

    /// The providers' names, in priority order.
    pub fn provider_names(&self) -> &[String] {
        &self.names
    }

    /// The weights routing uses now (learned, overrides applied), in priority order.
    pub fn weights(&self) -> Vec<u32> {
        self.state().effective.clone()
    }

    /// The learned weights, without overrides.
    pub fn learned_weights(&self) -> Vec<u32> {
        self.state().learned.clone()
    }

    /// The resting weights.
    pub fn resting_weights(&self) -> &[u32] {
        &self.resting
    }

    /// Per provider: resting, learned and routing weight, and the evidence of the last evaluation.
    pub fn snapshot(&self) -> Vec<ProviderWeight> {
        let state = self.state();
        (0..self.names.len())
            .map(|i| ProviderWeight {
                name: self.names[i].clone(),
                resting: self.resting[i],
                before: state.learned[i],
                after: state.effective[i],
                evidence: state.last_evidence[i],
            })
            .collect()
    }

    /// The latest changes of the learned weights, oldest first (at most 100).
    pub fn history(&self) -> Vec<WeightChange> {
        self.state().history.iter().cloned().collect()
    }

    /// The operator's overrides in force.
    pub fn overrides(&self) -> Overrides {
        self.state().overrides.clone()
    }

    fn index(&self, provider: &str) -> Result<usize, Error> {
        self.names.iter().position(|n| n == provider).ok_or_else(|| {
            Error::new(ErrorKind::InvalidRequest, Operation::Configure)
                .with_provider(crate::CHAIN_NAME)
                .with_message(format!(
                    "no provider named {provider:?} in the chain (known: {})",
                    self.names.join(", ")
                ))
        })
    }

    fn set_overrides(&self, overrides: Overrides) {
        let mut state = self.state();
        state.effective = effective_weights(&state.learned, &overrides);
        state.overrides = overrides;
    }

    /// The overrides after `action`, checked against the chain.
    fn overridden(&self, action: &Override) -> Result<Overrides, Error> {
        let mut overrides = self.state().overrides.clone();
        match action {
            Override::Pin(provider) => overrides.pin = Some(self.index(provider)?),
            Override::Drain(provider) => {
                let index = self.index(provider)?;
                if !overrides.drained.contains(&index) {
                    if overrides.drained.len() + 1 >= self.names.len() {
                        return Err(Error::new(ErrorKind::InvalidRequest, Operation::Configure)
                            .with_provider(crate::CHAIN_NAME)
                            .with_message(format!(
                                "draining {provider:?} would leave no provider to route to"
                            )));
                    }
                    overrides.drained.push(index);
                }
            }
            Override::Release(provider) => {
                let index = self.index(provider)?;
                if overrides.pin == Some(index) {
                    overrides.pin = None;
                }
                overrides.drained.retain(|&d| d != index);
            }
            Override::Clear => overrides = Overrides::default(),
        }
        Ok(overrides)
    }

    /// Sends every first attempt to `provider` until [`Self::clear_overrides`], whatever the evidence
    /// (this instance only; [`Self::apply_override`] for every instance).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] when the chain has no such provider.
    pub fn pin(&self, provider: &str) -> Result<(), Error> {
        let overrides = self.overridden(&Override::Pin(provider.to_owned()))?;
        self.set_overrides(overrides);
        Ok(())
    }

    /// Gives `provider` no first attempts until [`Self::clear_overrides`]; its weight goes to the
    /// others (this instance only; [`Self::apply_override`] for every instance).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] when the chain has no such provider, or it is the last one not
    /// drained.
    pub fn drain(&self, provider: &str) -> Result<(), Error> {
        let overrides = self.overridden(&Override::Drain(provider.to_owned()))?;
        self.set_overrides(overrides);
        Ok(())
    }

    /// Removes every override: the learned weights route again (this instance only).
    pub fn clear_overrides(&self) {
        self.set_overrides(Overrides::default());
    }

    /// Applies an operator's `action` for every instance: with a shared log ([`Self::share`]) the
    /// new overrides are stored first (the other instances take them at their next
    /// [`Self::period`]), then applied here. Returns the overrides in force.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] as [`Self::pin`] and [`Self::drain`]; the log's error (nothing
    /// changes then).
    pub async fn apply_override(&self, action: &Override) -> Result<Overrides, Error> {
        let overrides = self.overridden(action)?;
        if let Some(shared) = self.shared.get() {
            shared.log.set_overrides(&self.named(&overrides)).await?;
        }
        self.set_overrides(overrides.clone());
        Ok(overrides)
    }

    /// The overrides by provider name.
    pub fn named(&self, overrides: &Overrides) -> NamedOverrides {
        NamedOverrides {
            pin: overrides.pin.and_then(|i| self.names.get(i).cloned()),
            drained: overrides
                .drained
                .iter()
                .filter_map(|&i| self.names.get(i).cloned())
                .collect(),
        }
    }

    /// Takes the stored overrides, ignoring names not in this chain.
    fn adopt_overrides(&self, named: &NamedOverrides) {
        let position = |name: &String| {
            let found = self.names.iter().position(|n| n == name);
            if found.is_none() {
                tracing::warn!(provider = %name, "stored routing override names no provider of this chain; ignored");
            }
            found
        };
        let mut overrides = Overrides {
            pin: named.pin.as_ref().and_then(position),
            drained: named.drained.iter().filter_map(position).collect(),
        };
        if overrides.drained.len() >= self.names.len() {
            overrides.drained.clear();
        }
        if overrides != self.state().overrides {
            self.set_overrides(overrides);
        }
    }

    /// Reports one request's answer: `provider_fault` when it failed on the provider's side (caller
    /// mistakes are not the provider's fault and do not count). Unknown names are ignored.
    pub fn record_send(&self, provider: &str, provider_fault: bool) {
        if !provider_fault {
            return;
        }
        let Some(index) = self.names.iter().position(|n| n == provider) else {
            return;
        };
        let now = self.clock.now();
        let mut errors = self.errors[index].lock().unwrap_or_else(PoisonError::into_inner);
        prune(&mut errors, now, self.settings.error_window);
        // More than the threshold changes no verdict.
        if errors.len() >= self.settings.error_threshold as usize {
            errors.pop_front();
        }
        errors.push_back(now);
    }

    fn send_errors(&self, now: Instant) -> Vec<u32> {
        self.errors
            .iter()
            .map(|e| {
                let mut errors = e.lock().unwrap_or_else(PoisonError::into_inner);
                prune(&mut errors, now, self.settings.error_window);
                u32::try_from(errors.len()).unwrap_or(u32::MAX)
            })
            .collect()
    }

    /// Looks at the evidence now and moves the learned weights if [`decide`] says so.
    ///
    /// # Errors
    /// The receipt source's error; nothing changes then.
    pub async fn evaluate(&self) -> Result<Decision, Error> {
        let receipts = match &self.receipts {
            Some(source) => {
                let messages = source.sent_within(self.settings.receipt_window).await?;
                Some(judge_receipts(&messages, &self.names, &self.settings))
            }
            None => None,
        };
        let now = self.clock.now();
        let errors = self.send_errors(now);
        let evidence: Vec<Evidence> = (0..self.names.len())
            .map(|i| Evidence {
                send_errors: errors[i],
                receipts: receipts.as_ref().filter(|_| self.has_receipts[i]).map(|r| r[i]),
            })
            .collect();
        let (decision, change) = self.apply(&evidence, now);
        if let (Some(change), Some(shared)) = (change, self.shared.get()) {
            let seq = shared.log.append(&change).await?;
            let mut state = self.state();
            state.seen = Some(state.seen.map_or(seq, |seen| seen.max(seq)));
        }
        Ok(decision)
    }

    /// Shares this router's weights with the other instances of the chain through `log`: from now
    /// on [`Self::period`] (and so [`Self::run`]) decides only while `holder` (this instance's
    /// unique name) holds the decider's lease ([`DECIDER_LEASE`], for twice the interval, renewed
    /// every period), stores every change in `log`, and otherwise adopts the latest stored change.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] when the router already shares through a log.
    pub fn share(&self, log: Arc<dyn WeightLog>, holder: impl Into<String>) -> Result<(), Error> {
        self.shared
            .set(Shared {
                log,
                holder: holder.into(),
            })
            .map_err(|_| configuration("the adaptive router already shares its weights".to_owned()))
    }

    /// One period: without a shared log, [`Self::evaluate`]. With one ([`Self::share`]): first
    /// adopts the latest stored change if it is new and the stored overrides, then decides (and stores the change) if this
    /// instance holds the decider's lease, else only follows.
    ///
    /// An adopted change starts the cooldown anew from the moment it is adopted, and a `demoted`
    /// one counts as a sick verdict for the drift back: a follower that becomes the decider never
    /// moves weight sooner than the one before it would have.
    ///
    /// # Errors
    /// The log's or the receipt source's error; the weights stay as they were then.
    pub async fn period(&self) -> Result<Period, Error> {
        let Some(shared) = self.shared.get() else {
            return self.evaluate().await.map(Period::Decided);
        };
        let adopted = self.sync().await?;
        let ttl = self.settings.interval.saturating_mul(2);
        if shared.log.lead(&shared.holder, ttl).await? {
            self.evaluate().await.map(Period::Decided)
        } else {
            Ok(Period::Followed { adopted })
        }
    }

    /// Adopts the latest stored change (when new) and the stored overrides, without deciding:
    /// what [`Self::period`] does first, and all that a reader (`sms providers`) needs. True when a
    /// change was adopted; false, and nothing read, without a shared log.
    ///
    /// # Errors
    /// The log's error; nothing changes then.
    pub async fn sync(&self) -> Result<bool, Error> {
        let Some(shared) = self.shared.get() else {
            return Ok(false);
        };
        let adopted = self.follow(shared.log.as_ref()).await?;
        if let Some(named) = shared.log.overrides().await? {
            self.adopt_overrides(&named);
        }
        Ok(adopted)
    }

    /// Adopts the latest change in `log` when it is newer than the last one seen and is about this
    /// chain's providers (same names, same order); true when adopted.
    async fn follow(&self, log: &dyn WeightLog) -> Result<bool, Error> {
        let Some((seq, change)) = log.latest(1).await?.into_iter().next() else {
            return Ok(false);
        };
        let now = self.clock.now();
        let mut state = self.state();
        if state.seen.is_some_and(|seen| seen >= seq) {
            return Ok(false);
        }
        state.seen = Some(seq);
        let names: Vec<&str> = change.providers.iter().map(|p| p.name.as_str()).collect();
        let weights: Vec<u32> = change.providers.iter().map(|p| p.after).collect();
        if names != self.names.iter().map(String::as_str).collect::<Vec<_>>()
            || weights.iter().sum::<u32>() != super::TOTAL_POINTS
        {
            tracing::warn!(
                seq,
                stored = ?names,
                "stored weight change is about other providers; not adopted"
            );
            return Ok(false);
        }
        if change.reason == "demoted" {
            state.last_sick = Some(now);
        }
        state.last_change = Some(now);
        state.last_evidence = change.providers.iter().map(|p| p.evidence).collect();
        state.learned = weights;
        state.effective = effective_weights(&state.learned, &state.overrides);
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(change);
        Ok(true)
    }

    /// Decides on `evidence` at `now` and keeps the result; the change, when there is one.
    fn apply(&self, evidence: &[Evidence], now: Instant) -> (Decision, Option<WeightChange>) {
        let mut state = self.state();
        let decision = decide(
            &DecisionInput {
                current: &state.learned,
                resting: &self.resting,
                evidence,
                now,
                last_change: state.last_change,
                last_sick: state.last_sick,
            },
            &self.settings,
        );
        state.last_evidence = evidence.to_vec();
        if decision.verdicts.contains(&Verdict::Sick) {
            state.last_sick = Some(now);
        }
        if decision.reason.changed() {
            let change = WeightChange {
                at: SystemTime::now(),
                reason: decision.reason.name().to_owned(),
                providers: (0..self.names.len())
                    .map(|i| ProviderWeight {
                        name: self.names[i].clone(),
                        resting: self.resting[i],
                        before: state.learned[i],
                        after: decision.weights[i],
                        evidence: evidence[i],
                    })
                    .collect(),
            };
            tracing::info!(
                reason = %decision.reason,
                weights = ?decision.weights,
                "adaptive routing moved weight"
            );
            state.last_change = Some(now);
            state.learned = decision.weights.clone();
            state.effective = effective_weights(&state.learned, &state.overrides);
            if state.history.len() == HISTORY {
                state.history.pop_front();
            }
            state.history.push_back(change.clone());
            return (decision, Some(change));
        }
        (decision, None)
    }

    /// Runs a [`Self::period`] every [`AdaptiveSettings::interval`] (on tokio time) until dropped; a
    /// failed one is logged and changes nothing. Spawn it next to the chain.
    pub async fn run(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(self.settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.period().await {
                tracing::warn!(error = %error, "adaptive routing could not read its evidence; weights unchanged");
            }
        }
    }
}

fn prune(errors: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while errors
        .front()
        .is_some_and(|&t| now.saturating_duration_since(t) >= window)
    {
        errors.pop_front();
    }
}
