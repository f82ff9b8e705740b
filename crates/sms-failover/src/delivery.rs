//! One message through the chain: local checks, providers in order, retries, and the final result.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sms_core::{
    AmbiguityPolicy, Attempt, Error, ErrorKind, Message, MessageSenderExt, Operation, PhoneNumber, Receipt,
    RecipientOutcome, RecipientStatus,
};
use tokio::time::Instant;
use tracing::Instrument;

use crate::CHAIN_NAME;
use crate::provider::Provider;
use crate::retry::Backoff;
use crate::sender::Chain;

/// What the chain does after a batch part (or, for [`Delivery::try_provider`], after a provider).
enum Flow {
    /// Go on: with this provider's next batch part (or with the next provider).
    Continue,
    /// Leave this provider because of this error: the recipients still pending go to the next one.
    Leave(Error),
    /// Stop the whole message.
    Stop,
}

/// One request's answer, as the chain saw it.
struct Answer {
    result: Result<Receipt, Error>,
    elapsed: Duration,
    /// True when the chain's own deadline, not the provider, ended the wait.
    cut_by_deadline: bool,
}

/// The state of one message.
pub(crate) struct Delivery<'a> {
    chain: &'a Chain,
    message: &'a Message,
    policy: AmbiguityPolicy,
    deadline: Instant,
    /// The least time left for which a request is started (see `RetryPolicy::min_request_budget`).
    min_budget: Duration,
    /// Recipients still to send, in message order.
    pending: Vec<PhoneNumber>,
    /// Final outcomes.
    done: HashMap<PhoneNumber, RecipientOutcome>,
    /// The latest failure of each pending recipient, and the provider it came from.
    last_failure: HashMap<PhoneNumber, (String, Error)>,
    /// Recipients already counted by the per-recipient limiter (once per message).
    counted: HashSet<PhoneNumber>,
    attempts: Vec<Attempt>,
    /// The first error that ended recipients for good (a caller mistake, an ambiguity).
    stop_cause: Option<Error>,
    deadline_passed: bool,
    /// Sum of billed parts over receipts; `None` once one receipt does not say.
    billed: Option<u32>,
    receipts: usize,
    requests: u32,
}

impl<'a> Delivery<'a> {
    pub(crate) fn new(chain: &'a Chain, message: &'a Message) -> Self {
        let now = Instant::now();
        Self {
            chain,
            message,
            policy: message.ambiguity_policy().unwrap_or(chain.ambiguity),
            // The builder keeps the deadline within a day; were the clock still too close to its end,
            // the message would fail at once as past its deadline rather than panic.
            deadline: now.checked_add(chain.retry.deadline).unwrap_or(now),
            min_budget: chain.retry.min_request_budget(),
            pending: message.recipients().to_vec(),
            done: HashMap::new(),
            last_failure: HashMap::new(),
            counted: HashSet::new(),
            attempts: Vec::new(),
            stop_cause: None,
            deadline_passed: false,
            billed: Some(0),
            receipts: 0,
            requests: 0,
        }
    }

    pub(crate) async fn run(mut self) -> Result<Receipt, Error> {
        if let Err(error) = self.message.validate() {
            return Err(error.with_provider(CHAIN_NAME));
        }
        self.drop_opted_out();
        let chain = self.chain;
        let kind = self.message.kind();
        let candidates: Vec<usize> = (0..chain.providers.len())
            .filter(|&i| chain.providers[i].capabilities().supports(kind))
            .collect();
        for index in chain.router.order(&candidates, |i| chain.providers[i].weight) {
            if self.pending.is_empty() {
                break;
            }
            if let Flow::Stop = self.try_provider(&chain.providers[index]).await {
                break;
            }
        }
        self.finish()
    }

    /// Opted-out recipients fail before anything else and are never counted or sent.
    fn drop_opted_out(&mut self) {
        let suppression = &self.chain.suppression;
        let blocked: Vec<PhoneNumber> = self
            .pending
            .iter()
            .filter(|r| suppression.is_suppressed(r))
            .cloned()
            .collect();
        for recipient in blocked {
            let error = Error::new(ErrorKind::RecipientOptedOut, Operation::Send)
                .with_provider(CHAIN_NAME)
                .with_message(format!("{} opted out; nothing is sent to it", recipient.masked()));
            tracing::info!(recipient = %recipient.masked(), "recipient opted out: not sent");
            self.finalize(RecipientOutcome::failed(recipient, CHAIN_NAME, error));
        }
    }

    /// Sends what this provider can take, batch part by batch part.
    async fn try_provider(&mut self, provider: &Provider) -> Flow {
        let takes = self.takes(provider);
        let batch = provider.capabilities().max_batch.max(1);
        let parts: Vec<&[PhoneNumber]> = takes.chunks(batch).collect();
        for (index, part) in parts.iter().enumerate() {
            match self.send_part(provider, part).await {
                Flow::Continue => {}
                Flow::Leave(cause) => {
                    self.left_unsent(provider, &cause, &parts[index + 1..]);
                    return Flow::Continue;
                }
                Flow::Stop => return Flow::Stop,
            }
        }
        Flow::Continue
    }

    /// The numbers of the parts a provider never got because the chain left it (no credit, an open
    /// breaker, retries spent, an unknown outcome) keep the reason: should no later provider take them,
    /// their outcome says why they were not sent. It is an error another provider may fix, and never an
    /// ambiguous one: nothing was sent.
    fn left_unsent(&mut self, provider: &Provider, cause: &Error, parts: &[&[PhoneNumber]]) {
        let mut error: Option<Error> = None;
        for recipient in parts.iter().flat_map(|part| part.iter()) {
            if self.done.contains_key(recipient) || self.last_failure.contains_key(recipient) {
                continue;
            }
            let error = error
                .get_or_insert_with(|| {
                    let kind = if cause.can_failover() {
                        cause.kind()
                    } else {
                        ErrorKind::Unavailable
                    };
                    Error::new(kind, Operation::Send)
                        .with_provider(provider.name.clone())
                        .with_message(format!(
                            "not sent to {}: the chain left it after another part of the message failed ({})",
                            provider.name,
                            brief(cause)
                        ))
                })
                .clone();
            self.last_failure
                .insert(recipient.clone(), (provider.name.clone(), error));
        }
    }

    /// The pending recipients this provider's capabilities allow.
    fn takes(&self, provider: &Provider) -> Vec<PhoneNumber> {
        let caps = provider.capabilities();
        if caps
            .check(&provider.name, &self.message.for_recipients(self.pending.clone()))
            .is_ok()
        {
            return self.pending.clone();
        }
        // Mixed batches (say, one international number): route each number where it fits.
        self.pending
            .iter()
            .filter(|r| {
                caps.check(&provider.name, &self.message.for_recipients((*r).clone()))
                    .is_ok()
            })
            .cloned()
            .collect()
    }

    /// Time left before the deadline.
    fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// True when a retry after `pause` still leaves time for a request.
    fn retry_fits(&self, pause: Duration) -> bool {
        pause
            .checked_add(self.min_budget)
            .is_some_and(|needed| needed <= self.time_left())
    }

    /// One batch part on one provider, with retries.
    async fn send_part(&mut self, provider: &Provider, part: &[PhoneNumber]) -> Flow {
        let retry = self.chain.retry;
        let mut backoff: Option<Backoff> = None;
        let mut admitted: Option<Vec<PhoneNumber>> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // A retry was only paused for if it fitted; a fresh request needs the minimum budget.
            let left = self.time_left();
            if left.is_zero() || (admitted.is_none() && left < self.min_budget) {
                self.deadline_passed = true;
                return Flow::Stop;
            }
            let Some(permit) = provider.breaker.try_acquire() else {
                let error = self.skip_open(provider, admitted.as_deref().unwrap_or(part));
                return Flow::Leave(error);
            };
            let recipients = match admitted.take() {
                Some(recipients) => recipients,
                None => self.admit(part),
            };
            if recipients.is_empty() {
                return Flow::Continue;
            }
            let answer = self.request(provider, &recipients, attempt).await;
            if answer.cut_by_deadline {
                // The chain gave up, not the provider: no verdict on its health.
                permit.release();
            } else {
                permit.record(&answer.result);
            }
            provider.health.record(answer.result.is_ok(), answer.elapsed);
            let error = match answer.result {
                Ok(receipt) => {
                    let (again, retry_after) = self.absorb(provider, &recipients, receipt, answer.elapsed);
                    if again.is_empty() || attempt >= retry.max_attempts_per_provider {
                        return Flow::Continue;
                    }
                    // Some numbers were refused for a passing reason: retry just them, here.
                    let pause = backoff
                        .get_or_insert_with(|| retry.backoff(self.chain.router.seed()))
                        .next_pause(retry_after);
                    if !self.retry_fits(pause) {
                        return Flow::Continue;
                    }
                    tracing::debug!(
                        provider = %provider.name,
                        pause = ?pause,
                        recipients = again.len(),
                        "retrying refused numbers"
                    );
                    tokio::time::sleep(pause).await;
                    admitted = Some(again);
                    continue;
                }
                Err(error) => reveal(named(error, provider), provider),
            };
            self.attempts.push(Attempt {
                provider: provider.name.clone(),
                recipients: recipients.len(),
                error: error.clone(),
                elapsed: answer.elapsed,
            });
            for recipient in &recipients {
                self.last_failure
                    .insert(recipient.clone(), (provider.name.clone(), error.clone()));
            }
            if error.is_ambiguous() {
                if self.policy == AmbiguityPolicy::AtMostOnce {
                    // It may have gone out: these numbers are never sent again.
                    self.finalize_all(&recipients, &provider.name, &error);
                    self.stop_cause.get_or_insert(error.clone());
                }
                return Flow::Leave(error);
            }
            if error.is_retryable() && attempt < retry.max_attempts_per_provider {
                let pause = backoff
                    .get_or_insert_with(|| retry.backoff(self.chain.router.seed()))
                    .next_pause(error.retry_after());
                if self.retry_fits(pause) {
                    tracing::debug!(provider = %provider.name, pause = ?pause, "retrying");
                    tokio::time::sleep(pause).await;
                    admitted = Some(recipients);
                    continue;
                }
            }
            if may_help_elsewhere(&error, self.policy) {
                // A refusal of these numbers only: the provider may still take the other parts.
                return if error.kind() == ErrorKind::RecipientRejected {
                    Flow::Continue
                } else {
                    Flow::Leave(error)
                };
            }
            return if stops_only_its_recipients(error.kind()) {
                self.finalize_all(&recipients, &provider.name, &error);
                self.stop_cause.get_or_insert(error);
                Flow::Continue
            } else {
                // Nobody can send this message: stop everything.
                let pending = self.pending.clone();
                self.finalize_all(&pending, &provider.name, &error);
                self.stop_cause.get_or_insert(error);
                Flow::Stop
            };
        }
    }

    /// Counts each recipient once per message against the per-recipient limits; those over a limit fail
    /// here and are not sent.
    fn admit(&mut self, part: &[PhoneNumber]) -> Vec<PhoneNumber> {
        let mut admitted = Vec::with_capacity(part.len());
        for recipient in part {
            if self.counted.contains(recipient) {
                admitted.push(recipient.clone());
                continue;
            }
            match self.chain.limiter.admit(recipient) {
                Ok(()) => {
                    self.counted.insert(recipient.clone());
                    admitted.push(recipient.clone());
                }
                Err(error) => {
                    tracing::info!(recipient = %recipient.masked(), "recipient over its local limit: not sent");
                    self.finalize(RecipientOutcome::failed(recipient.clone(), CHAIN_NAME, error));
                }
            }
        }
        admitted
    }

    /// Records a skip of a provider whose breaker is open: an attempt without a request.
    fn skip_open(&mut self, provider: &Provider, recipients: &[PhoneNumber]) -> Error {
        let error = Error::new(ErrorKind::CircuitOpen, Operation::Send)
            .with_provider(provider.name.clone())
            .with_message("circuit breaker open after repeated provider failures; skipped without a request");
        tracing::info!(provider = %provider.name, outcome = "skipped", "circuit open");
        for recipient in recipients {
            // A real failure seen earlier says more about the number than this skip.
            self.last_failure
                .entry(recipient.clone())
                .or_insert_with(|| (provider.name.clone(), error.clone()));
        }
        self.attempts.push(Attempt {
            provider: provider.name.clone(),
            recipients: recipients.len(),
            error: error.clone(),
            elapsed: Duration::ZERO,
        });
        error
    }

    /// Sends one request, bounded by the deadline and the attempt timeout, inside an attempt span.
    async fn request(&mut self, provider: &Provider, recipients: &[PhoneNumber], attempt: u32) -> Answer {
        self.requests += 1;
        let span = tracing::info_span!(
            "sms.failover.attempt",
            provider = %provider.name,
            attempt,
            recipients = %masked_list(recipients),
            outcome = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            error = tracing::field::Empty,
            code = tracing::field::Empty,
        );
        // The provider sees the policy in force, so that a nested chain honours this chain's.
        let message = self
            .message
            .for_recipients(recipients.to_vec())
            .with_ambiguity_policy(self.policy);
        let started = Instant::now();
        // The attempt timeout, when it ends first; otherwise the deadline.
        let attempt_end = self
            .chain
            .retry
            .attempt_timeout
            .and_then(|timeout| started.checked_add(timeout))
            .filter(|end| *end <= self.deadline);
        let sent = tokio::time::timeout_at(
            attempt_end.unwrap_or(self.deadline),
            provider.sender.send(&message),
        )
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

    /// Takes a provider's receipt: accepted and unknown numbers are done; refused ones move on when
    /// another provider may take them. Returns the numbers refused for a passing reason (rate limited,
    /// unavailable), which may be retried here, and the longest retry-after among them.
    fn absorb(
        &mut self,
        provider: &Provider,
        recipients: &[PhoneNumber],
        receipt: Receipt,
        elapsed: Duration,
    ) -> (Vec<PhoneNumber>, Option<Duration>) {
        self.receipts += 1;
        self.billed = match (self.billed, receipt.billed_parts) {
            (Some(sum), Some(parts)) => Some(sum.saturating_add(parts)),
            _ => None,
        };
        // A nested chain's own failed attempts came before this one.
        self.attempts.extend(receipt.attempts.iter().cloned());
        let mut refusals: Vec<(Error, usize)> = Vec::new();
        let mut retryable = Vec::new();
        let mut retry_after: Option<Duration> = None;
        for recipient in recipients {
            let Some(outcome) = receipt.outcome_for(recipient) else {
                // Not mentioned: it may have gone out.
                self.finalize(RecipientOutcome::unknown(
                    recipient.clone(),
                    provider.name.clone(),
                ));
                continue;
            };
            let error = match &outcome.status {
                RecipientStatus::Failed(error) => reveal(named(error.clone(), provider), provider),
                _ => {
                    let mut outcome = outcome.clone();
                    outcome.provider = provider.name.clone();
                    self.finalize(outcome);
                    continue;
                }
            };
            match refusals
                .iter_mut()
                .find(|(e, _)| e.kind() == error.kind() && e.code() == error.code())
            {
                Some((_, count)) => *count += 1,
                None => refusals.push((error.clone(), 1)),
            }
            let moves_on = if error.is_ambiguous() {
                self.policy == AmbiguityPolicy::AtLeastOnce
            } else {
                may_help_elsewhere(&error, self.policy)
            };
            if moves_on {
                if error.is_retryable() {
                    retryable.push(recipient.clone());
                    retry_after = retry_after.max(error.retry_after());
                }
                self.last_failure
                    .insert(recipient.clone(), (provider.name.clone(), error));
            } else {
                self.finalize(RecipientOutcome::failed(
                    recipient.clone(),
                    provider.name.clone(),
                    error.clone(),
                ));
                self.stop_cause.get_or_insert(error);
            }
        }
        for (error, recipients) in refusals {
            self.attempts.push(Attempt {
                provider: provider.name.clone(),
                recipients,
                error,
                elapsed,
            });
        }
        (retryable, retry_after)
    }

    fn finalize(&mut self, outcome: RecipientOutcome) {
        self.pending.retain(|r| r != &outcome.recipient);
        self.last_failure.remove(&outcome.recipient);
        self.done.insert(outcome.recipient.clone(), outcome);
    }

    fn finalize_all(&mut self, recipients: &[PhoneNumber], provider: &str, error: &Error) {
        for recipient in recipients {
            self.finalize(RecipientOutcome::failed(
                recipient.clone(),
                provider,
                error.clone(),
            ));
        }
    }

    /// The error of a recipient that no provider ever tried.
    fn untried_error(&self, recipient: &PhoneNumber) -> Error {
        if self.deadline_passed {
            return Error::new(ErrorKind::Unavailable, Operation::Send)
                .with_provider(CHAIN_NAME)
                .with_message(format!(
                    "not sent: too little of the chain's deadline of {:?} was left to try a provider",
                    self.chain.retry.deadline
                ));
        }
        let single = self.message.for_recipients(recipient.clone());
        let reasons: Vec<String> = self
            .chain
            .providers
            .iter()
            .filter_map(|p| p.sender.preflight(&single).err())
            .map(|e| e.message().to_owned())
            .collect();
        let reasons = if reasons.is_empty() {
            "none of them took it".to_owned()
        } else {
            reasons.join("; ")
        };
        Error::new(ErrorKind::Unsupported, Operation::Send)
            .with_provider(CHAIN_NAME)
            .with_message(format!("no provider of the chain can send this: {reasons}"))
    }

    fn finish(mut self) -> Result<Receipt, Error> {
        let exhausted = !self.pending.is_empty()
            && (self.deadline_passed || self.pending.iter().any(|r| self.last_failure.contains_key(r)));
        let recipients = self.message.recipients().to_vec();
        let mut outcomes = Vec::with_capacity(recipients.len());
        for recipient in &recipients {
            let outcome = match self.done.remove(recipient) {
                Some(outcome) => outcome,
                None => match self.last_failure.remove(recipient) {
                    Some((provider, error)) => RecipientOutcome::failed(recipient.clone(), provider, error),
                    None => {
                        RecipientOutcome::failed(recipient.clone(), CHAIN_NAME, self.untried_error(recipient))
                    }
                },
            };
            outcomes.push(outcome);
        }
        let taken = outcomes.iter().filter(|o| o.error().is_none()).count();
        tracing::info!(
            accepted = taken,
            failed = outcomes.len() - taken,
            attempts = self.attempts.len(),
            requests = self.requests,
            "message done"
        );
        if taken > 0 {
            let mut receipt = Receipt::new(self.message.reference().clone(), outcomes);
            receipt.billed_parts = self.billed.filter(|_| self.receipts > 0);
            receipt.attempts = self.attempts;
            return Ok(receipt);
        }
        let error = if let Some(uncertain) = self.ambiguity(&outcomes) {
            uncertain
        } else if exhausted {
            let tried: Vec<&str> = {
                let mut names: Vec<&str> = Vec::new();
                for attempt in &self.attempts {
                    if !names.contains(&attempt.provider.as_str()) {
                        names.push(&attempt.provider);
                    }
                }
                names
            };
            let message = if self.deadline_passed {
                format!(
                    "the deadline of {:?} passed after {} attempt(s) ({})",
                    self.chain.retry.deadline,
                    self.attempts.len(),
                    tried.join(", ")
                )
            } else {
                format!("every provider failed: {}", tried.join(", "))
            };
            Error::new(ErrorKind::AllProvidersFailed, Operation::Send)
                .with_provider(CHAIN_NAME)
                .with_message(message)
        } else if let Some(cause) = self.stop_cause.take() {
            cause
        } else {
            // Only local refusals (opt-outs, limits, capabilities): report the first recipient's.
            outcomes
                .iter()
                .find_map(|o| o.error().cloned())
                .unwrap_or_else(|| {
                    Error::new(ErrorKind::InvalidRequest, Operation::Send).with_provider(CHAIN_NAME)
                })
        };
        Err(error.with_attempts(self.attempts))
    }

    /// When nothing was accepted but some number may have received the message, the error must say so
    /// ([`Error::is_ambiguous`]) whatever else failed: any other error would invite the caller, or an
    /// outer chain, to send that number again.
    fn ambiguity(&mut self, outcomes: &[RecipientOutcome]) -> Option<Error> {
        let uncertain: Vec<&RecipientOutcome> = outcomes
            .iter()
            .filter(|o| o.error().is_some_and(Error::is_ambiguous))
            .collect();
        let first = uncertain.first()?.error()?.clone();
        if uncertain.len() == outcomes.len() {
            // Every number is uncertain: the cause that stopped the send says it best.
            return Some(
                self.stop_cause
                    .take()
                    .filter(Error::is_ambiguous)
                    .unwrap_or(first),
            );
        }
        let numbers: Vec<PhoneNumber> = uncertain.iter().map(|o| o.recipient.clone()).collect();
        Some(
            Error::new(ErrorKind::Ambiguous, Operation::Send)
                .with_provider(CHAIN_NAME)
                .with_message(format!(
                    "{} of {} recipient(s) may have received the message ({}; do not send it to them \
                     again): {}; the other {} failed (see the attempts)",
                    uncertain.len(),
                    outcomes.len(),
                    masked_list(&numbers),
                    brief(&first),
                    outcomes.len() - uncertain.len()
                )),
        )
    }
}

/// True when another provider may succeed: the core's answer, plus a nested chain whose providers all
/// failed (its own error kind says nothing about the providers after it) — unless one of its attempts
/// may have delivered the message and the policy is at most once.
fn may_help_elsewhere(error: &Error, policy: AmbiguityPolicy) -> bool {
    if error.kind() == ErrorKind::AllProvidersFailed {
        return policy == AmbiguityPolicy::AtLeastOnce || !hides_ambiguity(error);
    }
    error.can_failover()
}

/// True for an `AllProvidersFailed` (of a nested chain, at any depth) one of whose attempts may have
/// delivered the message.
fn hides_ambiguity(error: &Error) -> bool {
    error.kind() == ErrorKind::AllProvidersFailed
        && error
            .attempts()
            .iter()
            .any(|a| a.error.is_ambiguous() || hides_ambiguity(&a.error))
}

/// A nested chain's `AllProvidersFailed` after an attempt that may have delivered the message is, to this
/// chain, an unknown outcome: it becomes an ambiguous error (keeping the nested attempts), so that the
/// ambiguity policy decides, and the final error says so.
fn reveal(error: Error, provider: &Provider) -> Error {
    if !hides_ambiguity(&error) {
        return error;
    }
    Error::new(ErrorKind::Ambiguous, error.operation())
        .with_provider(provider.name.clone())
        .with_message(format!(
            "{}; one of its attempts may have delivered the message",
            error.message()
        ))
        .with_attempts(error.attempts().to_vec())
}

/// An error on one line, without its attempts: provider, kind, code and message.
fn brief(error: &Error) -> String {
    let mut text = match error.provider() {
        Some(provider) => format!("{provider}: {}", error.kind()),
        None => error.kind().to_string(),
    };
    if let Some(code) = error.code() {
        text.push_str(&format!(" (code {code})"));
    }
    if !error.message().is_empty() {
        text.push_str(&format!(": {}", error.message()));
    }
    text
}

/// Errors that concern the numbers of a request, not the message: other parts of a batch may still go.
fn stops_only_its_recipients(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidRecipient | ErrorKind::RecipientThrottled | ErrorKind::RecipientOptedOut
    )
}

/// Names the provider on errors that do not say.
fn named(error: Error, provider: &Provider) -> Error {
    if error.provider().is_some() {
        error
    } else {
        error.with_provider(provider.name.clone())
    }
}

/// Up to three masked numbers, for logs.
fn masked_list(recipients: &[PhoneNumber]) -> String {
    const SHOWN: usize = 3;
    let mut text = recipients
        .iter()
        .take(SHOWN)
        .map(PhoneNumber::masked)
        .collect::<Vec<_>>()
        .join(",");
    if recipients.len() > SHOWN {
        text.push_str(&format!(" and {} more", recipients.len() - SHOWN));
    }
    text
}
