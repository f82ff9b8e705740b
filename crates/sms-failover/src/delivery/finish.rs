//! The final result of a message: a receipt when some number was accepted, otherwise the one error
//! that tells the caller what to do (an ambiguous one whenever some number may have got it).

use sms_core::{Error, ErrorKind, MessageSenderExt, Operation, PhoneNumber, Receipt, RecipientOutcome};

use super::ledger::Ledger;
use super::{Delivery, brief, masked_list};
use crate::CHAIN_NAME;
use std::sync::atomic::Ordering;

impl Delivery<'_> {
    pub(super) fn finish(self) -> Result<Receipt, Error> {
        let deadline_passed = self.deadline_passed.load(Ordering::Relaxed);
        let mut ledger = std::mem::replace(&mut *self.ledger(), Ledger::new(0));
        let exhausted = ledger.open_count() > 0 && (deadline_passed || ledger.any_open_failure());
        let message_stop = ledger.message_stop.take();
        let recipients = self.message.recipients();
        let mut outcomes = Vec::with_capacity(recipients.len());
        for (index, recipient) in recipients.iter().enumerate() {
            let outcome = match ledger.take(index) {
                (Some(outcome), _) => outcome,
                // An unknown outcome stays unknown, whatever stopped the message after it.
                (None, Some((provider, error))) if error.is_ambiguous() => {
                    RecipientOutcome::failed(recipient.clone(), provider, error)
                }
                (None, failure) => match (&message_stop, failure) {
                    (Some((provider, error)), _) => {
                        RecipientOutcome::failed(recipient.clone(), provider.clone(), error.clone())
                    }
                    (None, Some((provider, error))) => {
                        RecipientOutcome::failed(recipient.clone(), provider, error)
                    }
                    (None, None) => RecipientOutcome::failed(
                        recipient.clone(),
                        CHAIN_NAME,
                        self.untried_error(recipient, deadline_passed),
                    ),
                },
            };
            outcomes.push(outcome);
        }
        let taken = outcomes.iter().filter(|o| o.error().is_none()).count();
        tracing::info!(
            accepted = taken,
            failed = outcomes.len() - taken,
            attempts = ledger.attempts.len(),
            requests = ledger.requests,
            "message done"
        );
        if taken > 0 {
            let mut receipt = Receipt::new(self.message.reference().clone(), outcomes);
            receipt.billed_parts = ledger.billed.filter(|_| ledger.receipts > 0);
            receipt.attempts = ledger.attempts;
            return Ok(receipt);
        }
        let mut stop_cause = ledger.stop_cause.take();
        let exhausted = exhausted && message_stop.is_none();
        let error = if let Some(uncertain) = ambiguity(&outcomes, &mut stop_cause) {
            uncertain
        } else if exhausted {
            let mut tried: Vec<&str> = Vec::new();
            for attempt in &ledger.attempts {
                if !tried.contains(&attempt.provider.as_str()) {
                    tried.push(&attempt.provider);
                }
            }
            let message = if deadline_passed {
                format!(
                    "the deadline of {:?} passed after {} attempt(s) ({})",
                    self.chain.retry.deadline,
                    ledger.attempts.len(),
                    tried.join(", ")
                )
            } else {
                format!("every provider failed: {}", tried.join(", "))
            };
            Error::new(ErrorKind::AllProvidersFailed, Operation::Send)
                .with_provider(CHAIN_NAME)
                .with_message(message)
        } else if let Some(cause) = stop_cause {
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
        Err(error.with_attempts(ledger.attempts))
    }

    /// The error of a recipient that no provider ever tried.
    fn untried_error(&self, recipient: &PhoneNumber, deadline_passed: bool) -> Error {
        if deadline_passed {
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
}

/// When nothing was accepted but some number may have received the message, the error must say so
/// ([`Error::is_ambiguous`]) whatever else failed, under either policy: any other error would invite
/// the caller, or an outer chain, to send that number again.
fn ambiguity(outcomes: &[RecipientOutcome], stop_cause: &mut Option<Error>) -> Option<Error> {
    let uncertain: Vec<&RecipientOutcome> = outcomes
        .iter()
        .filter(|o| o.error().is_some_and(Error::is_ambiguous))
        .collect();
    let first = uncertain.first()?.error()?.clone();
    if uncertain.len() == outcomes.len() {
        // Every number is uncertain: the cause that stopped the send says it best, if it says so.
        return Some(stop_cause.take().filter(Error::is_ambiguous).unwrap_or(first));
    }
    Some(
        Error::new(ErrorKind::Ambiguous, Operation::Send)
            .with_provider(CHAIN_NAME)
            .with_message(format!(
                "{} of {} recipient(s) may have received the message ({}; do not send it to them \
                 again): {}; the other {} failed (see the attempts)",
                uncertain.len(),
                outcomes.len(),
                masked_list(uncertain.iter().map(|o| &o.recipient)),
                brief(&first),
                outcomes.len() - uncertain.len()
            )),
    )
}
