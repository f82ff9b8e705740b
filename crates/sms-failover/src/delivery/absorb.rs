//! A provider's receipt taken in: accepted and unknown numbers are done; refused ones follow the
//! verdict of their error.

use std::time::Duration;

use sms_core::{Error, Receipt, RecipientOutcome, RecipientStatus};

use super::verdict::{Verdict, repeats_for_every_number, reveal, verdict};
use super::{Delivery, Turn, named};

impl Delivery<'_> {
    /// Takes a provider's receipt for `recipients`. Returns the numbers refused for a passing reason
    /// (rate limited, unavailable), which may be retried here, and the longest retry-after among them.
    /// A refusal that would repeat for every number (credentials, account, balance, configuration)
    /// leaves the provider for the rest of the message.
    pub(super) fn absorb(
        &self,
        turn: &Turn<'_>,
        recipients: &[usize],
        receipt: Receipt,
        elapsed: Duration,
    ) -> (Vec<usize>, Option<Duration>) {
        let provider = turn.provider;
        let mut ledger = self.ledger();
        ledger.receipts += 1;
        ledger.billed = match (ledger.billed, receipt.billed_parts) {
            (Some(sum), Some(parts)) => Some(sum.saturating_add(parts)),
            _ => None,
        };
        // A nested chain's own failed attempts came before this one.
        ledger.attempts.extend(receipt.attempts.iter().cloned());
        let mut refusals: Vec<(Error, usize)> = Vec::new();
        let mut retryable = Vec::new();
        let mut retry_after: Option<Duration> = None;
        for (position, &index) in recipients.iter().enumerate() {
            let recipient = self.recipient(index);
            // Receipts list their numbers in request order: look there first.
            let outcome = receipt
                .outcomes
                .get(position)
                .filter(|o| &o.recipient == recipient)
                .or_else(|| receipt.outcome_for(recipient));
            let Some(outcome) = outcome else {
                // Not mentioned: it may have gone out.
                ledger.finalize(
                    index,
                    RecipientOutcome::unknown(recipient.clone(), provider.name.clone()),
                );
                continue;
            };
            let error = match &outcome.status {
                RecipientStatus::Failed(error) => reveal(named(error.clone(), provider), &provider.name),
                _ => {
                    let mut outcome = outcome.clone();
                    outcome.provider = provider.name.clone();
                    ledger.finalize(index, outcome);
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
            match verdict(&error, self.policy) {
                Verdict::RetryHere => {
                    retryable.push(index);
                    retry_after = retry_after.max(error.retry_after());
                    ledger.note_failure(index, &provider.name, error);
                }
                Verdict::NextProvider | Verdict::LeaveProvider => {
                    if repeats_for_every_number(error.kind()) {
                        turn.leave(error.clone());
                    }
                    ledger.note_failure(index, &provider.name, error);
                }
                Verdict::Unknown | Verdict::StopRecipients | Verdict::StopMessage => {
                    ledger.finalize(
                        index,
                        RecipientOutcome::failed(recipient.clone(), provider.name.clone(), error.clone()),
                    );
                    ledger.stop_cause.get_or_insert(error);
                }
            }
        }
        for (error, count) in refusals {
            ledger.attempt(&provider.name, count, error, elapsed);
        }
        (retryable, retry_after)
    }
}
