//! One message through the chain, in stages: validation and routing (this module), the state read
//! at its start and its outcome recorded at its end ([`start`]: reference, opt-outs, the first
//! provider's shared breaker), one provider's batch parts sent concurrently ([`part`]), a provider's
//! answer taken in ([`absorb`]), the decision after an error ([`verdict`]), and the final receipt or
//! error ([`finish`]). Per-recipient state lives in a [`Ledger`].

mod absorb;
mod finish;
mod ledger;
mod part;
mod spend;
mod start;
mod verdict;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use sms_core::{AmbiguityPolicy, Error, ErrorKind, Message, Operation, PhoneNumber, RecipientOutcome};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::CHAIN_NAME;
use crate::provider::Provider;
use crate::sender::Chain;

use ledger::Ledger;
use start::{Start, record_outcome};

/// The state of one message.
pub(crate) struct Delivery<'a> {
    chain: &'a Chain,
    message: &'a Message,
    policy: AmbiguityPolicy,
    deadline: Instant,
    /// The least time left for which a request is started (see `RetryPolicy::min_request_budget`).
    min_budget: Duration,
    /// The message as sent to providers, without recipients: what each batch part is cloned from
    /// (made on first use: a single-recipient message whose policy is set is sent as it is).
    template: OnceLock<Message>,
    ledger: Mutex<Ledger>,
    /// Set once nobody can send the message (or its deadline is too close): no new request starts.
    stopped: AtomicBool,
    deadline_passed: AtomicBool,
    /// The shared breaker's answer for the first provider, asked at the start together with the
    /// other state checks; taken by that provider's first request.
    prefetched: Mutex<Option<(String, crate::state::SharedBreaker)>>,
    /// The limits' verdicts asked at the start (in a scope: `"chain"` or the first provider's), per
    /// recipient index; taken by the first part counted in that scope.
    prefetched_limits: Mutex<Option<PrefetchedLimits>>,
}

/// The limits' scope asked at the start, and the verdict for each recipient index counted.
type PrefetchedLimits = (String, Vec<(usize, crate::state::Admission)>);

/// One provider's turn in a message: the parts in flight share it.
struct Turn<'p> {
    provider: &'p Provider,
    /// Requests in flight at once.
    slots: Semaphore,
    /// Why the chain left this provider: the parts not yet sent there go to the next provider.
    left: Mutex<Option<Error>>,
}

impl Turn<'_> {
    fn left(&self) -> Option<Error> {
        self.left.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn leave(&self, cause: Error) {
        self.left
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(cause);
    }
}

impl<'a> Delivery<'a> {
    pub(crate) fn new(chain: &'a Chain, message: &'a Message) -> Self {
        let now = Instant::now();
        let policy = message.ambiguity_policy().unwrap_or(chain.ambiguity);
        Self {
            chain,
            message,
            policy,
            // The builder keeps the deadline within a day; were the clock still too close to its end,
            // the message would fail at once as past its deadline rather than panic.
            deadline: now.checked_add(chain.retry.deadline).unwrap_or(now),
            min_budget: chain.retry.min_request_budget(),
            template: OnceLock::new(),
            ledger: Mutex::new(Ledger::new(message.recipients().len())),
            stopped: AtomicBool::new(false),
            deadline_passed: AtomicBool::new(false),
            prefetched: Mutex::new(None),
            prefetched_limits: Mutex::new(None),
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn recipient(&self, index: usize) -> &PhoneNumber {
        &self.message.recipients()[index]
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Sends the message: the state checks of its start ([`start`]), then providers in routing
    /// order, then the outcome recorded under its reference.
    pub(crate) async fn run(self) -> Result<sms_core::Receipt, Error> {
        if let Err(error) = self.message.validate() {
            return Err(error.with_provider(CHAIN_NAME));
        }
        let chain = self.chain;
        let kind = self.message.kind();
        let candidates: Vec<usize> = (0..chain.providers.len())
            .filter(|&i| chain.providers[i].capabilities().supports(kind))
            .collect();
        let learned = chain.adaptive.as_ref().map(|router| router.weights());
        let order = chain.router.order(&candidates, |i| match &learned {
            Some(weights) => weights[i],
            None => chain.providers[i].weight,
        });
        let first = order.first().map(|&i| &chain.providers[i]);
        let reserved = match self.start(first).await {
            Start::Go { reserved } => reserved,
            Start::Answer(result) => return result,
        };
        if let Err(error) = self.screen().await {
            let open = self.ledger().open_indices();
            self.state_failed(&open, error);
        }
        for index in order {
            if self.ledger().open_count() == 0 || self.stopped() {
                break;
            }
            self.take_turn(&chain.providers[index]).await;
        }
        self.release_unused_probe().await;
        let message = self.message;
        let result = self.finish();
        if reserved {
            record_outcome(chain, message, &result).await;
        }
        result
    }

    /// Opted-out recipients fail before anything else and are never counted or sent. One lookup for
    /// every recipient.
    ///
    /// # Errors
    /// The opt-out list's error when it cannot answer: nothing is sent then.
    fn drop_opted_out(&self, listed: &[bool]) -> Result<(), Error> {
        let recipients = self.message.recipients();
        if listed.len() != recipients.len() {
            return Err(crate::state::backend_unavailable(
                "opt-out list",
                "opt-outs",
                format!("{} answers for {} numbers", listed.len(), recipients.len()),
            ));
        }
        for index in (0..recipients.len()).filter(|&i| listed[i]) {
            self.opted_out(index);
        }
        Ok(())
    }

    /// Ends recipient `index`: it opted out, and nothing is sent to it.
    fn opted_out(&self, index: usize) {
        let recipient = self.recipient(index);
        let error = Error::new(ErrorKind::RecipientOptedOut, Operation::Send)
            .with_provider(CHAIN_NAME)
            .with_message(format!("{} opted out; nothing is sent to it", recipient.masked()));
        tracing::info!(recipient = %recipient.masked(), "recipient opted out: not sent");
        self.ledger().finalize(
            index,
            RecipientOutcome::failed(recipient.clone(), CHAIN_NAME, error),
        );
    }

    /// Ends `recipients` with a state backend's error and stops the message: without its state the
    /// chain sends nothing more.
    fn state_failed(&self, recipients: &[usize], error: Error) {
        tracing::warn!(error = %error, "state backend failed: not sent");
        let mut ledger = self.ledger();
        for &index in recipients {
            let outcome = RecipientOutcome::failed(self.recipient(index).clone(), CHAIN_NAME, error.clone());
            ledger.finalize(index, outcome);
        }
        ledger.stop_cause.get_or_insert_with(|| error.clone());
        ledger.message_stop.get_or_insert((CHAIN_NAME.to_owned(), error));
        drop(ledger);
        self.stop();
    }

    /// Sends what this provider can take: the first batch part alone, then the others concurrently
    /// (at most `part_concurrency` requests in flight).
    async fn take_turn(&self, provider: &Provider) {
        let takes = self.takes(provider);
        if takes.is_empty() {
            return;
        }
        let batch = provider.capabilities().max_batch.max(1);
        let turn = Turn {
            provider,
            slots: Semaphore::new(self.chain.part_concurrency),
            left: Mutex::new(None),
        };
        if takes.len() <= batch {
            self.send_part(&turn, &takes).await;
            return;
        }
        // Slow start: the first part goes alone. A failure that would repeat for every number (a
        // wrong key, no balance left) then costs one request instead of one per slot, and a healthy
        // provider pays one round trip before the rest go out concurrently.
        let mut chunks = takes.chunks(batch);
        if let Some(first) = chunks.next() {
            self.send_part(&turn, first).await;
        }
        let mut parts: FuturesUnordered<_> = chunks.map(|part| self.send_part(&turn, part)).collect();
        while parts.next().await.is_some() {}
    }

    /// The open recipients this provider's capabilities allow.
    fn takes(&self, provider: &Provider) -> Vec<usize> {
        let open = self.ledger().open_indices();
        let caps = provider.capabilities();
        let whole: Cow<'_, Message> = if open.len() == self.message.recipients().len() {
            Cow::Borrowed(self.message)
        } else {
            Cow::Owned(self.part_message(&open))
        };
        if caps.check(&provider.name, &whole).is_ok() {
            return open;
        }
        // Mixed batches (say, one international number): route each number where it fits.
        open.into_iter()
            .filter(|&i| caps.check(&provider.name, &self.part_message(&[i])).is_ok())
            .collect()
    }

    /// The message for some recipients, as a provider gets it.
    fn part_message(&self, indices: &[usize]) -> Message {
        let recipients: Vec<PhoneNumber> = indices.iter().map(|&i| self.recipient(i).clone()).collect();
        self.template
            .get_or_init(|| {
                // The provider sees the policy in force, so that a nested chain honours this chain's.
                self.message
                    .for_recipients(Vec::new())
                    .with_ambiguity_policy(self.policy)
            })
            .for_recipients(recipients)
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

/// Names the provider on errors that do not say.
fn named(error: Error, provider: &Provider) -> Error {
    if error.provider().is_some() {
        error
    } else {
        error.with_provider(provider.name.clone())
    }
}

/// Up to three masked numbers, for logs.
fn masked_list<'n>(recipients: impl ExactSizeIterator<Item = &'n PhoneNumber>) -> String {
    const SHOWN: usize = 3;
    let total = recipients.len();
    let mut text = recipients
        .take(SHOWN)
        .map(PhoneNumber::masked)
        .collect::<Vec<_>>()
        .join(",");
    if total > SHOWN {
        text.push_str(&format!(" and {} more", total - SHOWN));
    }
    text
}
