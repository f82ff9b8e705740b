//! The start and the end of a message's state: the idempotency reservation, the opt-out lookup and
//! the first provider's shared breaker, asked at once (one round trip of waiting on a shared
//! backend); and the outcome recorded under the reference when the message is done.

use sms_core::{Error, ErrorKind, Message, Operation, Receipt};

use super::Delivery;
use super::part::SharedReport;
use crate::CHAIN_NAME;
use crate::provider::Provider;
use crate::sender::Chain;
use crate::state::{RecordedOutcome, Reservation, SharedBreaker};

/// What the start decided.
pub(super) enum Start {
    /// Send; `reserved` when the reference was reserved and its outcome must be recorded.
    Go { reserved: bool },
    /// Send nothing: this is the answer (the first send's outcome, an unknown one, or why the state
    /// could not be read).
    Answer(Result<Receipt, Error>),
}

impl Delivery<'_> {
    /// Reserves the reference, looks up opt-outs and asks the shared breaker of `first` (the first
    /// provider in routing order), all at once. Opted-out recipients end here.
    pub(super) async fn start(&self, first: Option<&Provider>) -> Start {
        let chain = self.chain;
        let reference = self.message.reference();
        let reserve = async {
            match &chain.idempotency {
                Some(idempotency) => idempotency
                    .store
                    .reserve(reference, idempotency.retention)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        };
        let listed = chain.suppression.suppressed(self.message.recipients());
        let breaker = async {
            match first {
                // A provider its own breaker refuses needs no answer from the others.
                Some(provider) if chain.breaker_sharing.is_some() && !provider.breaker.refuses() => {
                    Some((provider, self.shared_admit(provider).await))
                }
                _ => None,
            }
        };
        let (reservation, listed, early) = futures_util::future::join3(reserve, listed, breaker).await;
        let mut failure = None;
        match early {
            Some((provider, Ok(answer))) => {
                *self
                    .prefetched
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((provider.name.clone(), answer));
            }
            Some((_, Err(error))) => failure = Some(error),
            None => {}
        }
        let reserved = match reservation {
            Ok(Some(Reservation::Reserved)) => true,
            Ok(None) => false,
            answer => {
                self.release_unused_probe().await;
                return Start::Answer(match answer {
                    Ok(Some(Reservation::Completed(outcome))) => {
                        tracing::info!(
                            "reference already sent: its first outcome is returned, nothing is sent"
                        );
                        outcome.replay(reference)
                    }
                    Err(error) => Err(error),
                    _ => Err(Error::new(ErrorKind::Ambiguous, Operation::Send)
                        .with_provider(CHAIN_NAME)
                        .with_message(format!(
                            "a send with reference {reference} started before and has no outcome (it is \
                             in flight, or it never completed): it may have gone out, and it is not sent \
                             again"
                        ))),
                });
            }
        };
        let failure = match (failure, listed) {
            (Some(error), _) | (None, Err(error)) => Some(error),
            (None, Ok(listed)) => self.drop_opted_out(&listed).err(),
        };
        if let Some(error) = failure {
            // Nothing was sent: the reference is free again, and so is a probe.
            self.release_unused_probe().await;
            if reserved {
                release(chain, self.message).await;
            }
            return Start::Answer(Err(error));
        }
        Start::Go { reserved }
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
