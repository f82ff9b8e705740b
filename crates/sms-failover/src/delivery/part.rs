//! One batch part on one provider: slot, breaker, limits, the request, and retries.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sms_core::{Error, ErrorKind, Message, Operation, Receipt, RecipientOutcome};
use tokio::time::Instant;
use tracing::Instrument;

use super::verdict::{Verdict, reveal, verdict};
use super::{Delivery, Turn, brief, masked_list, named};
use crate::CHAIN_NAME;
use crate::breaker::Permit;
use crate::limits::LimitScope;
use crate::provider::Provider;
use crate::retry::Backoff;
use crate::state::{Admission, SharedBreaker, StartRequest};

/// What the shared breaker is told after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SharedReport {
    Nothing,
    Trip,
    Close,
    Release,
}

/// One request's answer, as the chain saw it.
pub(super) struct Answer {
    pub(super) result: Result<Receipt, Error>,
    pub(super) elapsed: Duration,
    /// True when the chain's own deadline, not the provider, ended the wait.
    cut_by_deadline: bool,
    /// True when the request was reported to the shared breaker already (a slow call that tripped).
    shared_reported: bool,
}

impl Delivery<'_> {
    /// Sends one batch part (recipient indices) to the turn's provider, with retries. A request holds
    /// one of the turn's slots only while it is in flight: a part refused by the limits, or pausing
    /// before a retry, holds none.
    pub(super) async fn send_part(&self, turn: &Turn<'_>, part: &[usize]) {
        let provider = turn.provider;
        let retry = self.chain.retry;
        let mut backoff: Option<Backoff> = None;
        let mut retrying: Option<Vec<usize>> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The semaphore is never closed.
            let Ok(slot) = turn.slots.acquire().await else {
                return;
            };
            if self.stopped() {
                return;
            }
            if let Some(cause) = turn.left() {
                self.left_unsent(provider, &cause, retrying.as_deref().unwrap_or(part));
                return;
            }
            // A retry was only paused for if it fitted; a fresh request needs the minimum budget.
            let left = self.time_left();
            if left.is_zero() || (retrying.is_none() && left < self.min_budget) {
                self.deadline_passed.store(true, Ordering::Relaxed);
                self.stop();
                return;
            }
            let Some(mut permit) = provider.breaker.try_acquire() else {
                turn.leave(self.skip_open(provider, retrying.as_deref().unwrap_or(part)));
                return;
            };
            // Other instances' view of the provider: tripped elsewhere, or probed by another (asked
            // at the message's start for its first request to the first provider).
            // A first request on a backend that answers in one step asks the limits with it.
            let mut counted = None;
            let shared = match self.take_prefetched(provider) {
                Some(answer) => Ok(answer),
                None if retrying.is_none() => {
                    self.shared_admit_and_count(provider, part)
                        .await
                        .map(|(answer, verdicts)| {
                            counted = verdicts;
                            answer
                        })
                }
                None => self.shared_admit(provider).await,
            };
            let shared_probe = match shared {
                Ok(SharedBreaker::Closed) => false,
                Ok(SharedBreaker::Probe) => true,
                Ok(SharedBreaker::Open { .. }) => {
                    // A local probe given back unused: the next request may probe.
                    drop(permit);
                    turn.leave(self.skip_open(provider, retrying.as_deref().unwrap_or(part)));
                    return;
                }
                Err(error) => {
                    drop(permit);
                    self.state_failed(retrying.as_deref().unwrap_or(part), error);
                    return;
                }
            };
            let recipients = match retrying.take() {
                Some(recipients) => recipients,
                None => match self.admit(provider, part, counted).await {
                    Ok(admitted) => admitted,
                    Err(error) => {
                        self.shared_report(provider, shared_probe, SharedReport::Release)
                            .await;
                        self.state_failed(part, error);
                        return;
                    }
                },
            };
            if recipients.is_empty() {
                self.shared_report(provider, shared_probe, SharedReport::Release)
                    .await;
                return;
            }
            // The caps' parts and money, reserved before the request (nothing is sent over a cap).
            let held = match self.reserve_spend(provider, &recipients).await {
                Ok(held) => held,
                Err(()) => {
                    self.shared_report(provider, shared_probe, SharedReport::Release)
                        .await;
                    return;
                }
            };
            let answer = self
                .request(provider, &recipients, attempt, &mut permit, shared_probe)
                .await;
            self.settle_spend(held, &recipients, &answer.result).await;
            drop(slot);
            let report = if answer.cut_by_deadline {
                // The chain gave up, not the provider: no verdict on its health.
                permit.release();
                SharedReport::Release
            } else {
                let failed = answer
                    .result
                    .as_ref()
                    .err()
                    .is_some_and(crate::breaker::counts_as_failure);
                let opened = permit.record(&answer.result);
                if answer.shared_reported {
                    SharedReport::Nothing
                } else if failed && (opened || shared_probe) {
                    SharedReport::Trip
                } else if shared_probe {
                    SharedReport::Close
                } else {
                    SharedReport::Nothing
                }
            };
            self.shared_report(provider, shared_probe || report == SharedReport::Trip, report)
                .await;
            provider.health.record(answer.result.is_ok(), answer.elapsed);
            if let Some(router) = &self.chain.adaptive {
                let fault = answer
                    .result
                    .as_ref()
                    .err()
                    .is_some_and(crate::breaker::counts_as_failure);
                router.record_send(&provider.name, fault);
            }
            let error = match answer.result {
                Ok(receipt) => {
                    let (again, retry_after) = self.absorb(turn, &recipients, receipt, answer.elapsed);
                    if again.is_empty() || attempt >= retry.max_attempts_per_provider {
                        return;
                    }
                    // Some numbers were refused for a passing reason: retry just them, here.
                    match self.pause_before_retry(turn, &again, &mut backoff, retry_after) {
                        Some(pause) => {
                            tracing::debug!(
                                provider = %provider.name,
                                pause = ?pause,
                                recipients = again.len(),
                                "retrying refused numbers"
                            );
                            tokio::time::sleep(pause).await;
                            retrying = Some(again);
                            continue;
                        }
                        None => return,
                    }
                }
                Err(error) => reveal(named(error, provider), &provider.name),
            };
            {
                let mut ledger = self.ledger();
                ledger.attempt(&provider.name, recipients.len(), error.clone(), answer.elapsed);
                for &index in &recipients {
                    ledger.note_failure(index, &provider.name, error.clone());
                }
            }
            match verdict(&error, self.policy) {
                Verdict::RetryHere if attempt < retry.max_attempts_per_provider => {
                    if let Some(pause) =
                        self.pause_before_retry(turn, &recipients, &mut backoff, error.retry_after())
                    {
                        tracing::debug!(provider = %provider.name, pause = ?pause, "retrying");
                        tokio::time::sleep(pause).await;
                        retrying = Some(recipients);
                        continue;
                    }
                    // No retry fits (or the breaker opened): leave, as with retries spent.
                    turn.leave(error);
                }
                Verdict::RetryHere | Verdict::LeaveProvider => turn.leave(error),
                // A refusal of these numbers only: the provider may still take the other parts.
                Verdict::NextProvider => {}
                Verdict::Unknown => {
                    // It may have gone out: these numbers are never sent again.
                    self.fail_for_good(&recipients, &provider.name, &error);
                    turn.leave(error);
                }
                Verdict::StopRecipients => self.fail_for_good(&recipients, &provider.name, &error),
                Verdict::StopMessage => {
                    // Nobody can send this message: stop everything.
                    self.fail_for_good(&recipients, &provider.name, &error);
                    self.ledger()
                        .message_stop
                        .get_or_insert((provider.name.clone(), error));
                    self.stop();
                }
            }
            return;
        }
    }

    /// The pause before retrying `recipients` here, or `None` when no retry is made: the pause would
    /// not leave time for a request, or the provider's breaker is open (then the provider is left at
    /// once, without a pause: a retry would only find it open).
    fn pause_before_retry(
        &self,
        turn: &Turn<'_>,
        recipients: &[usize],
        backoff: &mut Option<Backoff>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let provider = turn.provider;
        if provider.breaker.refuses() {
            turn.leave(self.skip_open(provider, recipients));
            return None;
        }
        let retry = self.chain.retry;
        let pause = backoff
            .get_or_insert_with(|| retry.backoff(self.chain.router.seed()))
            .next_pause(retry_after);
        self.retry_fits(pause).then_some(pause)
    }

    /// Ends recipients with an error no provider can fix (or an unknown outcome).
    fn fail_for_good(&self, recipients: &[usize], provider: &str, error: &Error) {
        let mut ledger = self.ledger();
        for &index in recipients {
            let outcome = RecipientOutcome::failed(self.recipient(index).clone(), provider, error.clone());
            ledger.finalize(index, outcome);
        }
        ledger.stop_cause.get_or_insert_with(|| error.clone());
    }

    /// Asks the shared breaker, when the chain shares its breakers, whether `provider` may be sent to.
    pub(super) async fn shared_admit(&self, provider: &Provider) -> Result<SharedBreaker, Error> {
        let Some(sharing) = &self.chain.breaker_sharing else {
            return Ok(SharedBreaker::Closed);
        };
        sharing.admit(&provider.name, self.probe_lease()).await
    }

    /// [`Self::shared_admit`], and, on a backend that answers both in one step
    /// ([`crate::state::ChainState`]), the part's numbers counted against the limits with it (nothing
    /// is counted when the breaker is open). A number found opted out meanwhile ends here. The
    /// verdicts, by recipient index, are for [`Self::admit`].
    async fn shared_admit_and_count(
        &self,
        provider: &Provider,
        part: &[usize],
    ) -> Result<(SharedBreaker, Option<Vec<(usize, Admission)>>), Error> {
        let chain = self.chain;
        let scope = chain.limit_scope.key(&provider.name);
        let to_count = self.to_count(part);
        let state = match &chain.shared {
            Some(state)
                if chain.breaker_sharing.is_some()
                    && !chain.windows.is_empty()
                    && !to_count.is_empty()
                    && !self.has_prefetched_limits(scope, &to_count) =>
            {
                state
            }
            _ => return self.shared_admit(provider).await.map(|answer| (answer, None)),
        };
        let numbers: Vec<_> = to_count.iter().map(|&i| self.recipient(i).clone()).collect();
        let answer = state
            .start(&StartRequest {
                numbers: &numbers,
                reservation: None,
                breaker: Some((provider.name.as_str(), self.probe_lease())),
                limits: Some((scope, chain.windows.as_slice())),
            })
            .await?;
        let Some(breaker) = answer.breaker else {
            return Err(crate::state::backend_unavailable(
                "shared state",
                "breaker sharing",
                "no answer from the shared breaker",
            ));
        };
        if answer.suppressed.len() != to_count.len() {
            return Err(crate::state::backend_unavailable(
                "shared state",
                "opt-outs",
                format!(
                    "{} answers for {} numbers",
                    answer.suppressed.len(),
                    to_count.len()
                ),
            ));
        }
        let open: Vec<usize> = to_count
            .iter()
            .zip(&answer.suppressed)
            .filter(|(_, listed)| !**listed)
            .map(|(&index, _)| index)
            .collect();
        let verdicts = match answer.admissions {
            Some(admissions) if admissions.len() == open.len() => {
                Some(open.into_iter().zip(admissions).collect())
            }
            Some(admissions) => {
                return Err(crate::state::backend_unavailable(
                    "shared state",
                    "recipient limits",
                    format!("{} answers for {} numbers", admissions.len(), open.len()),
                ));
            }
            None => None,
        };
        for (&index, _) in to_count
            .iter()
            .zip(&answer.suppressed)
            .filter(|(_, listed)| **listed)
        {
            self.opted_out(index);
        }
        Ok((breaker, verdicts))
    }

    /// How long a probe is held: at most as long as a request can last.
    pub(super) fn probe_lease(&self) -> Duration {
        let retry = self.chain.retry;
        retry
            .attempt_timeout
            .unwrap_or(retry.deadline)
            .min(retry.deadline)
    }

    /// Tells the shared breaker what a request found, when it needs to know: a trip (the local breaker
    /// opened, or the probe failed), the probe's success, or a probe given back. A failure to tell it
    /// is logged only: the request is over.
    pub(super) async fn shared_report(&self, provider: &Provider, needed: bool, report: SharedReport) {
        let Some(sharing) = self.chain.breaker_sharing.as_ref().filter(|_| needed) else {
            return;
        };
        let result = match report {
            SharedReport::Nothing => return,
            SharedReport::Trip => sharing.trip(&provider.name, provider.breaker.cool_down()).await,
            SharedReport::Close => sharing.close(&provider.name).await,
            SharedReport::Release => sharing.release_probe(&provider.name).await,
        };
        if let Err(error) = result {
            tracing::warn!(provider = %provider.name, error = %error, "could not share the breaker's state");
        }
    }

    /// Counts the part's recipients against the per-recipient limits (once per message, or once per
    /// provider account: [`LimitScope`]) in one call to the limiter, or takes the verdicts asked at the
    /// message's start; those over a limit fail here and are not sent.
    ///
    /// # Errors
    /// The limiter's error when it cannot answer: nothing is sent to the part.
    async fn admit(
        &self,
        provider: &Provider,
        part: &[usize],
        counted: Option<Vec<(usize, Admission)>>,
    ) -> Result<Vec<usize>, Error> {
        let chain = self.chain;
        if chain.windows.is_empty() {
            return Ok(part.to_vec());
        }
        let per_message = chain.limit_scope == LimitScope::Chain;
        let to_count = self.to_count(part);
        let scope = chain.limit_scope.key(&provider.name);
        let given = counted.and_then(|counted| {
            to_count
                .iter()
                .map(|index| {
                    counted
                        .iter()
                        .find(|(i, _)| i == index)
                        .map(|(_, verdict)| *verdict)
                })
                .collect::<Option<Vec<Admission>>>()
        });
        let verdicts = if to_count.is_empty() {
            Vec::new()
        } else if let Some(verdicts) = given {
            verdicts
        } else if let Some(verdicts) = self.take_prefetched_limits(scope, &to_count) {
            verdicts
        } else {
            let numbers: Vec<_> = to_count.iter().map(|&i| self.recipient(i).clone()).collect();
            let verdicts = chain.limiter.admit(scope, &numbers, &chain.windows).await?;
            if verdicts.len() != numbers.len() {
                return Err(crate::state::backend_unavailable(
                    "recipient limiter",
                    "recipient limits",
                    format!("{} answers for {} numbers", verdicts.len(), numbers.len()),
                ));
            }
            verdicts
        };
        let mut ledger = self.ledger();
        let mut held_back = Vec::new();
        for (&index, verdict) in to_count.iter().zip(verdicts) {
            let recipient = self.recipient(index);
            match verdict {
                Admission::Admitted => ledger.mark_counted(index),
                Admission::Refused { window, wait } if !per_message => {
                    // This account's budget for the number is spent; another account's may not be.
                    tracing::info!(recipient = %recipient.masked(), provider = %provider.name, "recipient over this account's local limit");
                    let error = throttled(recipient, window, wait, Some(&provider.name));
                    ledger.note_failure(index, &provider.name, error);
                    held_back.push(index);
                }
                Admission::Refused { window, wait } => {
                    tracing::info!(recipient = %recipient.masked(), "recipient over its local limit: not sent");
                    let error = throttled(recipient, window, wait, None);
                    ledger.finalize(
                        index,
                        RecipientOutcome::failed(recipient.clone(), CHAIN_NAME, error),
                    );
                }
            }
        }
        if let Some(error) = held_back.first().and_then(|&i| ledger.failure_of(i)) {
            // An attempt without a request, so that the message's error lists why this provider
            // did not take them.
            ledger.attempt(&provider.name, held_back.len(), error, Duration::ZERO);
        }
        Ok(part
            .iter()
            .copied()
            .filter(|&i| !ledger.is_done(i) && !held_back.contains(&i))
            .collect())
    }

    /// The part's recipients the limits count now: those still open, and, when they count once per
    /// message, not counted yet.
    fn to_count(&self, part: &[usize]) -> Vec<usize> {
        let per_message = self.chain.limit_scope == LimitScope::Chain;
        let ledger = self.ledger();
        part.iter()
            .copied()
            .filter(|&index| !(ledger.is_done(index) || per_message && ledger.is_counted(index)))
            .collect()
    }

    /// Records a skip of a provider whose breaker is open: an attempt without a request.
    fn skip_open(&self, provider: &Provider, recipients: &[usize]) -> Error {
        let error = Error::new(ErrorKind::CircuitOpen, Operation::Send)
            .with_provider(provider.name.clone())
            .with_message("circuit breaker open after repeated provider failures; skipped without a request");
        tracing::info!(provider = %provider.name, outcome = "skipped", "circuit open");
        let mut ledger = self.ledger();
        for &index in recipients {
            // A real failure seen earlier says more about the number than this skip.
            ledger.note_if_none(index, &provider.name, || error.clone());
        }
        ledger.attempt(&provider.name, recipients.len(), error.clone(), Duration::ZERO);
        error
    }

    /// The numbers of the parts a provider never got because the chain left it (no credit, an open
    /// breaker, retries spent, an unknown outcome) keep the reason: should no later provider take them,
    /// their outcome says why they were not sent. It is an error another provider may fix, and never an
    /// ambiguous one: nothing was sent.
    fn left_unsent(&self, provider: &Provider, cause: &Error, recipients: &[usize]) {
        let kind = if cause.can_failover() {
            cause.kind()
        } else {
            ErrorKind::Unavailable
        };
        let error = Error::new(kind, Operation::Send)
            .with_provider(provider.name.clone())
            .with_message(format!(
                "not sent to {}: the chain left it after another part of the message failed ({})",
                provider.name,
                brief(cause)
            ));
        let mut ledger = self.ledger();
        for &index in recipients {
            if !ledger.is_done(index) {
                ledger.note_if_none(index, &provider.name, || error.clone());
            }
        }
    }

    /// Sends one request, bounded by the deadline and the attempt timeout, inside an attempt span. A
    /// request still unanswered after the breaker's slow-call threshold counts against the provider at
    /// that moment.
    async fn request(
        &self,
        provider: &Provider,
        recipients: &[usize],
        attempt: u32,
        permit: &mut Permit<'_>,
        shared_probe: bool,
    ) -> Answer {
        self.ledger().requests += 1;
        let span = tracing::info_span!(
            "sms.failover.attempt",
            provider = %provider.name,
            attempt,
            recipients = %masked_list(recipients.iter().map(|&i| self.recipient(i))),
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            error = tracing::field::Empty,
            code = tracing::field::Empty,
        );
        let whole = recipients.len() == self.message.recipients().len()
            && self.message.ambiguity_policy() == Some(self.policy);
        let message: Cow<'_, Message> = if whole {
            Cow::Borrowed(self.message)
        } else {
            Cow::Owned(self.part_message(recipients))
        };
        let started = Instant::now();
        // The attempt timeout, when it ends first; otherwise the deadline.
        let attempt_end = self
            .chain
            .retry
            .attempt_timeout
            .and_then(|timeout| started.checked_add(timeout))
            .filter(|end| *end <= self.deadline);
        let end = attempt_end.unwrap_or(self.deadline);
        let slow_at = provider
            .breaker
            .slow_call_threshold()
            .and_then(|threshold| started.checked_add(threshold))
            .filter(|at| *at < end);
        let mut shared_reported = false;
        let watched = async {
            let mut send = provider.sender.send(&message);
            if let Some(slow_at) = slow_at {
                match tokio::time::timeout_at(slow_at, &mut send).await {
                    Ok(result) => return result,
                    Err(_) => {
                        tracing::warn!("slow call: counted against the provider's breaker");
                        let opened = permit.record_slow();
                        if opened || shared_probe {
                            // Other instances leave a hanging provider now, not when this request ends.
                            self.shared_report(provider, true, SharedReport::Trip).await;
                            shared_reported = true;
                        }
                    }
                }
            }
            send.await
        };
        let sent = tokio::time::timeout_at(end, watched)
            .instrument(span.clone())
            .await;
        let elapsed = started.elapsed();
        let cut_by_deadline = sent.is_err() && attempt_end.is_none();
        let result = sent.unwrap_or_else(|_| {
            let limit = if cut_by_deadline {
                format!("the chain's deadline of {:?} ran out", self.chain.retry.deadline)
            } else {
                "the attempt timeout".to_owned()
            };
            Err(Error::new(ErrorKind::Ambiguous, Operation::Send)
                .with_provider(provider.name.clone())
                .with_message(format!(
                    "no answer within {elapsed:?} ({limit}); the message may have gone out"
                )))
        });
        let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let outcome = match &result {
            Ok(receipt) if receipt.all_accepted() => "accepted",
            Ok(_) => "partly accepted",
            Err(_) => "failed",
        };
        span.record("outcome", outcome).record("latency_ms", latency_ms);
        match &result {
            Ok(_) => span.in_scope(|| tracing::info!("attempt answered")),
            Err(error) => {
                span.record("error", tracing::field::display(error.kind()))
                    .record("code", error.code().unwrap_or(""));
                span.in_scope(|| tracing::warn!("attempt failed"));
            }
        }
        Answer {
            result,
            elapsed,
            cut_by_deadline,
            shared_reported,
        }
    }
}

/// A number's refusal by the per-recipient limits: by the chain's own count, or (`account`) by one
/// provider account's. Another provider may take the number in the latter case only.
fn throttled(
    recipient: &sms_core::PhoneNumber,
    window: crate::LimitWindow,
    wait: Duration,
    account: Option<&str>,
) -> Error {
    let whose = account.map_or(String::new(), |name| format!(" for {name}"));
    Error::new(ErrorKind::RecipientThrottled, Operation::Send)
        .with_provider(account.unwrap_or(CHAIN_NAME).to_owned())
        .with_message(format!(
            "{} reached the local limit{whose} of {} message(s) per {:?}; next allowed in {:?}",
            recipient.masked(),
            window.count,
            window.period,
            wait
        ))
        .with_retry_after(wait)
}
