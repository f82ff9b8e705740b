//! What one message knows about each of its recipients, indexed by position: no per-message hash map,
//! and finishing a recipient is O(1).

use std::time::Duration;

use sms_core::{Attempt, Error, RecipientOutcome};

/// One recipient's state.
#[derive(Debug, Default)]
struct Slot {
    /// Its final outcome, once known.
    outcome: Option<RecipientOutcome>,
    /// Its latest failure that another provider may still fix, and the provider it came from. An
    /// ambiguous failure is never replaced by a clean one: the message may have reached the number.
    failure: Option<(String, Error)>,
    /// Counted by the per-recipient limiter (once per message).
    counted: bool,
}

/// The state of a message's recipients, attempts and totals.
#[derive(Debug)]
pub(crate) struct Ledger {
    slots: Vec<Slot>,
    /// Recipients without a final outcome.
    open: usize,
    pub(crate) attempts: Vec<Attempt>,
    /// The first error that ended recipients for good (a caller mistake, an ambiguity).
    pub(crate) stop_cause: Option<Error>,
    /// The error that stopped the whole message, and its provider: every recipient still open ends
    /// with it (unless its outcome is already unknown).
    pub(crate) message_stop: Option<(String, Error)>,
    /// Sum of billed parts over receipts; `None` once one receipt does not say.
    pub(crate) billed: Option<u32>,
    pub(crate) receipts: usize,
    pub(crate) requests: u32,
}

impl Ledger {
    pub(crate) fn new(recipients: usize) -> Self {
        Self {
            slots: (0..recipients).map(|_| Slot::default()).collect(),
            open: recipients,
            attempts: Vec::new(),
            stop_cause: None,
            message_stop: None,
            billed: Some(0),
            receipts: 0,
            requests: 0,
        }
    }

    /// True when recipient `index` has its final outcome.
    pub(crate) fn is_done(&self, index: usize) -> bool {
        self.slots[index].outcome.is_some()
    }

    /// Recipients without a final outcome.
    pub(crate) fn open_count(&self) -> usize {
        self.open
    }

    /// The recipients without a final outcome, in message order.
    pub(crate) fn open_indices(&self) -> Vec<usize> {
        (0..self.slots.len()).filter(|&i| !self.is_done(i)).collect()
    }

    /// True when some open recipient carries a failure.
    pub(crate) fn any_open_failure(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.outcome.is_none() && s.failure.is_some())
    }

    /// True when recipient `index` was counted by the per-recipient limiter in this message.
    pub(crate) fn is_counted(&self, index: usize) -> bool {
        self.slots[index].counted
    }

    /// Marks recipient `index` as counted by the per-recipient limiter.
    pub(crate) fn mark_counted(&mut self, index: usize) {
        self.slots[index].counted = true;
    }

    /// Records a failure another provider may fix. An earlier ambiguous failure stays: whatever comes
    /// after, the message may already have reached the number.
    pub(crate) fn note_failure(&mut self, index: usize, provider: &str, error: Error) {
        let slot = &mut self.slots[index];
        if slot.outcome.is_some() || slot.failure.as_ref().is_some_and(|(_, e)| e.is_ambiguous()) {
            return;
        }
        slot.failure = Some((provider.to_owned(), error));
    }

    /// Recipient `index`'s latest failure, if any.
    pub(crate) fn failure_of(&self, index: usize) -> Option<Error> {
        self.slots[index].failure.as_ref().map(|(_, e)| e.clone())
    }

    /// Records a failure only when the recipient has none yet (a skip says less than a real failure).
    pub(crate) fn note_if_none(&mut self, index: usize, provider: &str, error: impl FnOnce() -> Error) {
        let slot = &mut self.slots[index];
        if slot.outcome.is_none() && slot.failure.is_none() {
            slot.failure = Some((provider.to_owned(), error()));
        }
    }

    /// Sets a recipient's final outcome (the first one set wins). A failure never hides an earlier
    /// ambiguous failure of the same recipient: that one becomes the outcome.
    pub(crate) fn finalize(&mut self, index: usize, outcome: RecipientOutcome) {
        let slot = &mut self.slots[index];
        if slot.outcome.is_some() {
            return;
        }
        let outcome = match (slot.failure.take(), outcome.error()) {
            (Some((provider, earlier)), Some(error)) if earlier.is_ambiguous() && !error.is_ambiguous() => {
                RecipientOutcome::failed(outcome.recipient, provider, earlier)
            }
            _ => outcome,
        };
        slot.outcome = Some(outcome);
        self.open -= 1;
    }

    /// Adds an attempt to the list.
    pub(crate) fn attempt(&mut self, provider: &str, recipients: usize, error: Error, elapsed: Duration) {
        self.attempts.push(Attempt {
            provider: provider.to_owned(),
            recipients,
            error,
            elapsed,
        });
    }

    /// Takes recipient `index`'s final outcome or latest failure.
    pub(crate) fn take(&mut self, index: usize) -> (Option<RecipientOutcome>, Option<(String, Error)>) {
        let slot = &mut self.slots[index];
        (slot.outcome.take(), slot.failure.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_core::{ErrorKind, Operation, PhoneNumber};

    fn error(kind: ErrorKind) -> Error {
        Error::new(kind, Operation::Send)
    }

    #[test]
    fn an_ambiguous_failure_is_never_replaced_by_a_clean_one() {
        let number: PhoneNumber = "13800138000".parse().expect("number");
        let mut ledger = Ledger::new(2);
        ledger.note_failure(0, "a", error(ErrorKind::Ambiguous));
        ledger.note_failure(0, "b", error(ErrorKind::Unavailable));
        ledger.note_if_none(0, "c", || error(ErrorKind::CircuitOpen));
        ledger.finalize(
            0,
            RecipientOutcome::failed(number.clone(), "d", error(ErrorKind::InvalidRecipient)),
        );
        let (outcome, _) = ledger.take(0);
        let outcome = outcome.expect("final");
        assert_eq!(
            (outcome.provider.as_str(), outcome.error().map(Error::kind)),
            ("a", Some(ErrorKind::Ambiguous))
        );
        // A clean failure is replaced by a later one.
        ledger.note_failure(1, "a", error(ErrorKind::Unavailable));
        ledger.note_failure(1, "b", error(ErrorKind::Unauthorized));
        assert_eq!(
            ledger.take(1).1.map(|(p, e)| (p, e.kind())),
            Some(("b".to_owned(), ErrorKind::Unauthorized))
        );
    }

    #[test]
    fn finishing_is_counted_once() {
        let number: PhoneNumber = "13800138000".parse().expect("number");
        let mut ledger = Ledger::new(3);
        ledger.finalize(1, RecipientOutcome::accepted(number.clone(), "a", None));
        ledger.finalize(1, RecipientOutcome::unknown(number, "b"));
        assert_eq!((ledger.open_count(), ledger.open_indices()), (2, vec![0, 2]));
        assert_eq!(ledger.take(1).0.map(|o| o.provider), Some("a".to_owned()));
    }
}
