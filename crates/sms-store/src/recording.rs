//! Recording what a chain sends, without application code: a `MessageSender` around any sender
//! (a `FailoverSender` usually) that writes each message before its request and its outcome after.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use sms_core::{
    Capabilities, Error, ErrorKind, Message, MessageSender, Receipt, RecipientOutcome, RecipientStatus,
};
use sms_failover::state::RecordedError;

use crate::batch::GroupWriter;
use crate::error::StoreErrorKind;
use crate::model::{AttemptRecord, Claim, NewMessage, OutcomeUpdate};
use crate::status::Status;
use crate::store::MessageStore;

/// Wraps a sender so that every message it sends is recorded in a [`MessageStore`].
///
/// Before the request: the message and its recipients are written as `sending` (if that write fails,
/// nothing is sent and the error is [`ErrorKind::Unavailable`] from provider [`crate::STORE_NAME`]).
/// After: each recipient's outcome and the failed attempts. If the process dies in between, the
/// sweeper turns the `sending` recipients into `unknown`: never lost, never re-sent. If only the
/// outcome write fails, the send's own result is still returned (it is the truth) and the failure is
/// logged; the recipients stay `sending` until the sweeper marks them `unknown`.
///
/// A message whose client reference is already recorded is not sent again: the answer is the recorded
/// outcome (accepted recipients with their provider ids, failed ones with their errors, and those
/// still `sending` or `unknown` as unknown), the same replay a chain's idempotency store gives.
///
/// Records of concurrent sends are written together (group commit: one transaction for all the
/// messages waiting, one for all the outcomes), and each send still waits until its own rows are
/// committed.
#[derive(Debug)]
pub struct RecordingSender<S> {
    inner: S,
    store: Arc<dyn MessageStore>,
    writer: OnceLock<GroupWriter>,
}

impl<S: MessageSender> RecordingSender<S> {
    /// Records everything `inner` sends into `store`.
    pub fn new(inner: S, store: Arc<dyn MessageStore>) -> Self {
        Self {
            inner,
            store,
            writer: OnceLock::new(),
        }
    }

    /// The writer task, started on the runtime of the first send.
    fn writer(&self) -> &GroupWriter {
        self.writer.get_or_init(|| GroupWriter::spawn(self.store.clone()))
    }

    /// The wrapped sender.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MessageStore> {
        &self.store
    }
}

impl<S: MessageSender> RecordingSender<S> {
    /// The recorded outcome of a message sent before under the same reference.
    async fn replay(&self, message: &Message) -> Result<Receipt, Error> {
        let reference = message.reference();
        let stored = self
            .store
            .message_by_reference(reference.as_str())
            .await?
            .ok_or_else(|| {
                // Recorded a moment ago and purged since: say so rather than send.
                Error::new(ErrorKind::Ambiguous, sms_core::Operation::Send)
                    .with_provider(crate::STORE_NAME)
                    .with_message("the reference was recorded but its record is gone; not sent again")
            })?;
        let mut outcomes = Vec::with_capacity(stored.recipients.len());
        let mut last_error = None;
        for r in &stored.recipients {
            let number: sms_core::PhoneNumber =
                r.number.parse().map_err(|e: sms_core::PhoneNumberError| {
                    Error::new(ErrorKind::Protocol, sms_core::Operation::Send)
                        .with_provider(crate::STORE_NAME)
                        .with_message(format!("stored number {}: {e}", r.number))
                })?;
            let provider = r.provider.clone().unwrap_or_else(|| crate::STORE_NAME.to_owned());
            let outcome = match r.status {
                Status::Accepted | Status::Delivered | Status::Undelivered | Status::Expired => {
                    RecipientOutcome::accepted(number, provider, r.provider_message_id.clone())
                }
                Status::Failed => {
                    let error = RecordedError {
                        kind: r.error_kind.clone().unwrap_or_default(),
                        provider: r.provider.clone(),
                        code: r.error_code.clone(),
                        message: r.error_message.clone().unwrap_or_default(),
                        retry_after_ms: None,
                    }
                    .to_error();
                    last_error = Some(error.clone());
                    RecipientOutcome::failed(number, provider, error)
                }
                _ => RecipientOutcome::unknown(number, provider),
            };
            outcomes.push(outcome);
        }
        if outcomes.iter().all(|o| o.error().is_some())
            && let Some(error) = last_error
        {
            return Err(error);
        }
        Ok(Receipt::new(reference.clone(), outcomes))
    }
}

#[async_trait]
impl<S: MessageSender> MessageSender for RecordingSender<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let record = NewMessage::new(message.clone());
        let message_id = record.id.clone();
        if let Err(error) = self.writer().insert(record).await {
            if error.kind() == StoreErrorKind::DuplicateReference {
                return self.replay(message).await;
            }
            return Err(error.into());
        }
        let result = self.inner.send(message).await;
        let outcomes = outcomes_of(&message_id, message, &result);
        let attempts = match &result {
            Ok(receipt) => &receipt.attempts[..],
            Err(error) => error.attempts(),
        };
        let attempts = (!attempts.is_empty()).then(|| {
            (
                message_id.clone(),
                attempts.iter().map(AttemptRecord::from_attempt).collect(),
            )
        });
        if let Err(error) = self.writer().outcomes(outcomes, attempts).await {
            tracing::warn!(%message_id, %error, "the send's outcome could not be recorded; the sweeper will mark it unknown");
        }
        result
    }
}

/// Each recipient's outcome from a send's result, as the store records it: accepted with the
/// provider's id and billed parts, failed with the error, or unknown (an ambiguous error, a recipient
/// the provider left unreported or missing from the receipt).
pub fn outcomes_of(
    message_id: &str,
    message: &Message,
    result: &Result<Receipt, Error>,
) -> Vec<OutcomeUpdate> {
    message
        .recipients()
        .iter()
        .map(|recipient| {
            let number = recipient.e164();
            match result {
                Ok(receipt) => match receipt.outcome_for(recipient) {
                    Some(outcome) => {
                        let mut update = OutcomeUpdate::new(message_id, number, Status::Unknown);
                        update.provider = Some(outcome.provider.clone());
                        match &outcome.status {
                            RecipientStatus::Accepted => {
                                update.status = Status::Accepted;
                                update.provider_message_id = outcome.message_id.clone();
                                update.billed_parts = message.parts_for(recipient).ok().map(|p| p as i64);
                            }
                            RecipientStatus::Failed(error) => {
                                update.status = Status::Failed;
                                update = update.with_error(error);
                            }
                            _ => {}
                        }
                        update
                    }
                    None => OutcomeUpdate::new(message_id, number, Status::Unknown),
                },
                Err(error) => {
                    let status = if error.is_ambiguous() {
                        Status::Unknown
                    } else {
                        Status::Failed
                    };
                    OutcomeUpdate::new(message_id, number, status).with_error(error)
                }
            }
        })
        .collect()
}

/// Sends claimed outbox messages through `sender`, `concurrency` at a time, and records them:
/// one `start` for the batch (write-ahead) before any request, one `finish` after. Claims whose lease
/// was lost are not sent and come back with `None`.
///
/// # Errors
/// A store error from `start` (nothing was sent) or from `finish` (they were sent; the sweeper will
/// mark them unknown when their leases run out).
pub async fn deliver_claims(
    store: &dyn MessageStore,
    sender: &dyn MessageSender,
    claims: Vec<Claim>,
    concurrency: usize,
) -> crate::Result<Vec<(Claim, Option<Result<Receipt, Error>>)>> {
    use futures_util::StreamExt;
    let held = store.start(&claims).await?;
    let (go, lost): (Vec<_>, Vec<_>) = claims.into_iter().zip(held).partition(|(_, held)| *held);
    let sent: Vec<(Claim, Result<Receipt, Error>)> = futures_util::stream::iter(go)
        .map(|(claim, _)| async move {
            let result = sender.send(&claim.message).await;
            (claim, result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut outcomes = Vec::new();
    for (claim, result) in &sent {
        outcomes.extend(outcomes_of(&claim.message_id, &claim.message, result));
    }
    let done: Vec<Claim> = sent.iter().map(|(claim, _)| claim.clone()).collect();
    store.finish(&done, &outcomes).await?;
    // Each message's attempts are its own transaction: written side by side, not one after the
    // other, so that the worker is back claiming after about one commit, not one per message.
    let attempts: Vec<(&str, Vec<AttemptRecord>)> = sent
        .iter()
        .filter_map(|(claim, result)| {
            let attempts = match result {
                Ok(receipt) => &receipt.attempts[..],
                Err(error) => error.attempts(),
            };
            (!attempts.is_empty()).then(|| {
                (
                    claim.message_id.as_str(),
                    attempts.iter().map(AttemptRecord::from_attempt).collect(),
                )
            })
        })
        .collect();
    for chunk in attempts.chunks(concurrency.max(1)) {
        let writes: Vec<_> = chunk
            .iter()
            .map(|(id, attempts)| store.record_attempts(id, attempts))
            .collect();
        for result in futures_util::future::join_all(writes).await {
            result?;
        }
    }
    Ok(sent
        .into_iter()
        .map(|(claim, result)| (claim, Some(result)))
        .chain(lost.into_iter().map(|(claim, _)| (claim, None)))
        .collect())
}
