//! The start and the end of a message's state: the idempotency reservation, the opt-out lookup, the
//! first provider's shared breaker and the limits, asked in one step (one round trip on a backend that
//! implements [`crate::state::ChainState`]); and the outcome recorded under the reference when the
//! message is done.

use sms_core::{Error, ErrorKind, Message, Operation, Receipt};

use super::Delivery;
use super::part::SharedReport;
use crate::CHAIN_NAME;
use crate::provider::Provider;
use crate::sender::Chain;
use crate::state::{Admission, RecordedOutcome, Reservation, SharedBreaker, StartRequest, start_in_parts};

/// What the start decided.
pub(super) enum Start {
    /// Send; `reserved` when the reference was reserved and its outcome must be recorded.
    Go { reserved: bool },
    /// Send nothing: this is the answer (the first send's outcome, an unknown one, or why the state
    /// could not be read).
    Answer(Result<Receipt, Error>),
}

impl Delivery<'_> {
    /// Asks the state for the message's start in one step ([`crate::state::ChainState::start`], or
    /// the four traits in turn): the reference reserved, opt-outs looked up, the shared breaker of
    /// `first` (the first provider in routing order) asked and, when `first` takes the whole message
    /// in one request, the recipients counted against the limits for it. Opted-out recipients end
    /// here; the breaker's answer and the limits' verdicts wait for the requests that use them.
    pub(super) async fn start(&self, first: Option<&Provider>) -> Start {
        let chain = self.chain;
        let message = self.message;
        let reference = message.reference();
        let recipients = message.recipients();
        // A provider its own breaker refuses needs no answer from the others.
        let first = first.filter(|provider| !provider.breaker.refuses());
        let breaker = first
            .filter(|_| chain.breaker_sharing.is_some())
            .map(|provider| (provider.name.as_str(), self.probe_lease()));
        let limits = first
            .filter(|provider| !chain.windows.is_empty() && takes_whole(provider, message))
            .map(|provider| (chain.limit_scope.key(&provider.name), chain.windows.as_slice()));
        let request = StartRequest {
            numbers: recipients,
            reservation: chain
                .idempotency
                .as_ref()
                .map(|idempotency| (reference, idempotency.retention)),
            breaker,
            limits,
        };
        let answer = match &chain.shared {
            Some(state) => state.start(&request).await,
            None => {
                start_in_parts(
                    &*chain.suppression,
                    &*chain.limiter,
                    chain.idempotency.as_ref().map(|idempotency| &*idempotency.store),
                    chain.breaker_sharing.as_deref(),
                    &request,
                )
                .await
            }
        };
        // Nothing was sent; a failed step took nothing, or cannot tell (then what it took stays).
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return Start::Answer(Err(error)),
        };
        let reserved = match answer.reservation {
            None => false,
            Some(Reservation::Reserved) => true,
            Some(Reservation::Completed(outcome)) => {
                tracing::info!("reference already sent: its first outcome is returned, nothing is sent");
                return Start::Answer(outcome.replay(reference));
            }
            Some(Reservation::Pending) => {
                return Start::Answer(Err(Error::new(ErrorKind::Ambiguous, Operation::Send)
                    .with_provider(CHAIN_NAME)
                    .with_message(format!(
                        "a send with reference {reference} started before and has no outcome (it is \
                         in flight, or it never completed): it may have gone out, and it is not sent \
                         again"
                    ))));
            }
        };
        if let (Some((provider, _)), Some(shared)) = (breaker, answer.breaker) {
            *self
                .prefetched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((provider.to_owned(), shared));
        }
        let checked = self.drop_opted_out(&answer.suppressed).and_then(|()| {
            let (Some((scope, _)), Some(admissions)) = (limits, answer.admissions) else {
                return Ok(());
            };
            let open: Vec<usize> = (0..recipients.len()).filter(|&i| !answer.suppressed[i]).collect();
            if admissions.len() != open.len() {
                return Err(crate::state::backend_unavailable(
                    "recipient limiter",
                    "recipient limits",
                    format!("{} answers for {} numbers", admissions.len(), open.len()),
                ));
            }
            *self
                .prefetched_limits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((scope.to_owned(), open.into_iter().zip(admissions).collect()));
            Ok(())
        });
        if let Err(error) = checked {
            // Nothing was sent: the reference is free again, and so is a probe.
            self.release_unused_probe().await;
            if reserved {
                release(chain, message).await;
            }
            return Start::Answer(Err(error));
        }
        Start::Go { reserved }
    }

    /// True when limits asked at the start in `scope` wait for `indices`.
    pub(super) fn has_prefetched_limits(&self, scope: &str, indices: &[usize]) -> bool {
        let prefetched = self
            .prefetched_limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        prefetched.as_ref().is_some_and(|(asked, verdicts)| {
            asked == scope
                && indices
                    .iter()
                    .all(|index| verdicts.iter().any(|(i, _)| i == index))
        })
    }

    /// The verdicts of the limits asked at the start for `indices`, when they were asked in `scope`
    /// and cover them all; taken once.
    pub(super) fn take_prefetched_limits(&self, scope: &str, indices: &[usize]) -> Option<Vec<Admission>> {
        let mut prefetched = self
            .prefetched_limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (asked, verdicts) = prefetched.as_ref()?;
        if asked != scope {
            return None;
        }
        let found: Option<Vec<Admission>> = indices
            .iter()
            .map(|index| {
                verdicts
                    .iter()
                    .find(|(i, _)| i == index)
                    .map(|(_, verdict)| *verdict)
            })
            .collect();
        if found.is_some() {
            *prefetched = None;
        }
        found
    }

    /// The first request to `provider` takes the answer asked at the start, if it was for it.
    pub(super) fn take_prefetched(&self, provider: &Provider) -> Option<SharedBreaker> {
        let mut prefetched = self
            .prefetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match prefetched.as_ref() {
            Some((name, _)) if *name == provider.name => prefetched.take().map(|(_, answer)| answer),
            _ => None,
        }
    }

    /// Gives back a probe handed out at the start that no request used.
    pub(super) async fn release_unused_probe(&self) {
        let unused = self
            .prefetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((name, SharedBreaker::Probe)) = unused
            && let Some(provider) = self.chain.providers.iter().find(|p| p.name == name)
        {
            self.shared_report(provider, true, SharedReport::Release).await;
        }
    }
}

/// True when `provider` takes the whole message in one request: its first batch part is the message.
fn takes_whole(provider: &Provider, message: &Message) -> bool {
    let capabilities = provider.capabilities();
    message.recipients().len() <= capabilities.max_batch.max(1)
        && capabilities.check(&provider.name, message).is_ok()
}

/// Frees a reservation whose message sent nothing.
async fn release(chain: &Chain, message: &Message) {
    if let Some(idempotency) = &chain.idempotency
        && let Err(error) = idempotency.store.release(message.reference()).await
    {
        tracing::warn!(error = %error, "could not release the reference");
    }
}

/// Records the outcome under the message's reference. Only an error that says nothing went out frees
/// the reference for a retry; anything else is kept and answered to a later send of it.
pub(super) async fn record_outcome(chain: &Chain, message: &Message, result: &Result<Receipt, Error>) {
    let Some(idempotency) = &chain.idempotency else {
        return;
    };
    if matches!(result, Err(error) if !error.is_ambiguous()) {
        release(chain, message).await;
        return;
    }
    let outcome = RecordedOutcome::of(result);
    if let Err(error) = idempotency
        .store
        .complete(message.reference(), &outcome, idempotency.retention)
        .await
    {
        // The reference stays reserved: a later send with it is refused as unknown, never sent.
        tracing::warn!(error = %error, "could not record the outcome of the reference");
    }
}
