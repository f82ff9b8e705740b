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
use crate::provider::Provider;
use crate::retry::Backoff;

/// One request's answer, as the chain saw it.
pub(super) struct Answer {
    pub(super) result: Result<Receipt, Error>,
    pub(super) elapsed: Duration,
    /// True when the chain's own deadline, not the provider, ended the wait.
    cut_by_deadline: bool,
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
            let recipients = match retrying.take() {
                Some(recipients) => recipients,
                None => self.admit(part),
            };
            if recipients.is_empty() {
                return;
            }
            let answer = self.request(provider, &recipients, attempt, &mut permit).await;
            drop(slot);
            if answer.cut_by_deadline {
                // The chain gave up, not the provider: no verdict on its health.
                permit.release();
            } else {
                permit.record(&answer.result);
            }
            provider.health.record(answer.result.is_ok(), answer.elapsed);
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

    /// Counts each recipient once per message against the per-recipient limits; those over a limit fail
    /// here and are not sent.
    fn admit(&self, part: &[usize]) -> Vec<usize> {
        let mut admitted = Vec::with_capacity(part.len());
        let mut ledger = self.ledger();
        for &index in part {
            if ledger.is_counted(index) {
                admitted.push(index);
                continue;
            }
            let recipient = self.recipient(index);
            match self.chain.limiter.admit(recipient) {
                Ok(()) => {
                    ledger.mark_counted(index);
                    admitted.push(index);
                }
                Err(error) => {
                    tracing::info!(recipient = %recipient.masked(), "recipient over its local limit: not sent");
                    ledger.finalize(
                        index,
                        RecipientOutcome::failed(recipient.clone(), CHAIN_NAME, error),
                    );
                }
            }
        }
        admitted
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
        let watched = async {
            let mut send = provider.sender.send(&message);
            if let Some(slow_at) = slow_at {
                match tokio::time::timeout_at(slow_at, &mut send).await {
                    Ok(result) => return result,
                    Err(_) => {
                        tracing::warn!("slow call: counted against the provider's breaker");
                        permit.record_slow();
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
        }
    }
}
