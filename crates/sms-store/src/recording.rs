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
use crate::model::{AttemptRecord, Claim, Millis, NewMessage, OutcomeUpdate, RecipientRecord, StoredMessage};
use crate::options::ContentMode;
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
    /// Sends as [`MessageSender::send`] does, and hands back the record the send left in the store,
    /// built from what was written (no read-back) when that is exactly what the store holds.
    pub async fn send_recorded(&self, message: &Message) -> RecordedSend {
        self.record_and_send(message, true).await
    }

    /// Writes the message ahead, sends, writes the outcome; with `keep`, builds the record too.
    async fn record_and_send(&self, message: &Message, keep: bool) -> RecordedSend {
        let record = NewMessage::new(message.clone());
        let message_id = record.id.clone();
        let sent_at = match self.writer().insert(record).await {
            Ok(at) => at,
            Err(error) if error.kind() == StoreErrorKind::DuplicateReference => {
                return RecordedSend {
                    result: self.replay(message).await,
                    record: None,
                };
            }
            Err(error) => {
                return RecordedSend {
                    result: Err(error.into()),
                    record: None,
                };
            }
        };
        let result = self.inner.send(message).await;
        let outcomes = outcomes_of(&message_id, message, &result);
        let attempts: Vec<AttemptRecord> = match &result {
            Ok(receipt) => &receipt.attempts[..],
            Err(error) => error.attempts(),
        }
        .iter()
        .map(AttemptRecord::from_attempt)
        .collect();
        let kept = keep.then(|| (outcomes.clone(), attempts.clone()));
        let attempts = (!attempts.is_empty()).then(|| (message_id.clone(), attempts));
        let outcome_at = match self.writer().outcomes(outcomes, attempts).await {
            Ok(at) => at,
            Err(error) => {
                tracing::warn!(%message_id, %error, "the send's outcome could not be recorded; the sweeper will mark it unknown");
                None
            }
        };
        let record = match (kept, sent_at, outcome_at) {
            (Some((outcomes, attempts)), Some(sent_at), Some(outcome_at)) => Some(written_record(
                Written {
                    id: message_id,
                    message,
                    content: self.store.content_mode(),
                    sent_at,
                    outcome_at,
                },
                outcomes,
                attempts,
            )),
            _ => None,
        };
        RecordedSend { result, record }
    }

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
        self.record_and_send(message, false).await.result
    }
}

/// A send through [`RecordingSender::send_recorded`]: its result and the record it left.
#[derive(Debug)]
pub struct RecordedSend {
    /// What [`MessageSender::send`] returns for it.
    pub result: Result<Receipt, Error>,
    /// The message as the store now holds it (as [`MessageStore::message`] would read it), built
    /// from what was written. `None` when it cannot be known without reading: the send replayed an
    /// earlier one under the same reference, a write failed or was done apart from its group, or
    /// the store did more than this send's writes (a receipt that had come before the send moved a
    /// recipient on, or the status machine refused an outcome).
    pub record: Option<StoredMessage>,
}

/// What the group writer stamped on a send's rows.
struct Written<'a> {
    id: String,
    message: &'a Message,
    content: ContentMode,
    sent_at: Millis,
    outcome_at: Millis,
}

/// The stored form of a message written ahead at `sent_at` and given `outcomes` at `outcome_at`:
/// the columns as the store's statements set them, recipients in number order.
fn written_record(
    w: Written<'_>,
    outcomes: Vec<OutcomeUpdate>,
    attempts: Vec<AttemptRecord>,
) -> StoredMessage {
    let message = w.message;
    let (content, content_digest) = crate::common::content_columns(message, w.content);
    let mut recipients: Vec<RecipientRecord> = outcomes
        .into_iter()
        .map(|o| RecipientRecord {
            provider_message_id: o
                .provider_message_id
                .as_deref()
                .map(|id| crate::normalise::provider_message_id(o.provider.as_deref().unwrap_or(""), id)),
            message_id: o.message_id,
            number: o.number,
            status: o.status,
            provider: o.provider,
            billed_parts: o.billed_parts,
            error_kind: o.error_kind,
            error_code: o.error_code,
            error_message: o.error_message,
            receipt_code: None,
            created_at: w.sent_at,
            queued_at: None,
            sending_at: Some(w.sent_at),
            outcome_at: Some(w.outcome_at),
            final_at: None,
        })
        .collect();
    recipients.sort_by(|a, b| a.number.cmp(&b.number));
    StoredMessage {
        id: w.id,
        reference: message.reference().as_str().to_owned(),
        batch_id: None,
        kind: message.kind(),
        content,
        content_digest,
        schedule: crate::common::schedule_column(message),
        policy: crate::model::policy_name(message.ambiguity_policy()),
        created_at: w.sent_at,
        recipients,
        attempts,
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
