//! What a send or balance query returns.

use crate::error::{Attempt, Error};
use crate::message::ClientReference;
use crate::phone::PhoneNumber;

/// The outcome for one recipient of a send.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RecipientStatus {
    /// The provider accepted the message for this number.
    Accepted,
    /// The provider refused this number.
    Failed(Error),
    /// The provider answered without saying whether it took this number (a batch answer that lists it
    /// as neither accepted nor failed). Treat it as possibly sent.
    Unknown,
}

/// One recipient's result.
#[derive(Debug, Clone)]
pub struct RecipientOutcome {
    /// The recipient.
    pub recipient: PhoneNumber,
    /// The provider that handled it.
    pub provider: String,
    /// The provider's message id, when it gives one (kept as a string: ids exceed 64 bits).
    pub message_id: Option<String>,
    /// What happened.
    pub status: RecipientStatus,
}

impl RecipientOutcome {
    /// An accepted recipient.
    pub fn accepted(recipient: PhoneNumber, provider: impl Into<String>, message_id: Option<String>) -> Self {
        Self {
            recipient,
            provider: provider.into(),
            message_id,
            status: RecipientStatus::Accepted,
        }
    }

    /// A refused recipient.
    pub fn failed(recipient: PhoneNumber, provider: impl Into<String>, error: Error) -> Self {
        Self {
            recipient,
            provider: provider.into(),
            message_id: None,
            status: RecipientStatus::Failed(error),
        }
    }

    /// A recipient whose outcome the provider did not report.
    pub fn unknown(recipient: PhoneNumber, provider: impl Into<String>) -> Self {
        Self {
            recipient,
            provider: provider.into(),
            message_id: None,
            status: RecipientStatus::Unknown,
        }
    }

    /// True when accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self.status, RecipientStatus::Accepted)
    }

    /// The error, when refused.
    pub fn error(&self) -> Option<&Error> {
        match &self.status {
            RecipientStatus::Failed(error) => Some(error),
            _ => None,
        }
    }
}

/// The result of a send: one outcome per recipient, in the order of the message's recipients.
///
/// A send returns `Ok(Receipt)` when at least one recipient was accepted or left unknown; the receipt
/// then says which recipients failed. It returns `Err` when nothing was accepted.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The message's client reference.
    pub reference: ClientReference,
    /// Per-recipient outcomes.
    pub outcomes: Vec<RecipientOutcome>,
    /// Billed parts over all accepted recipients, when known.
    pub billed_parts: Option<u32>,
    /// Failed attempts that came before this result (a failover chain fills it in, so that a caller
    /// can see why the message went out through a later provider).
    pub attempts: Vec<Attempt>,
}

impl Receipt {
    /// A receipt for a message reference.
    pub fn new(reference: ClientReference, outcomes: Vec<RecipientOutcome>) -> Self {
        Self {
            reference,
            outcomes,
            billed_parts: None,
            attempts: Vec::new(),
        }
    }

    /// Sets the billed parts.
    #[must_use]
    pub fn with_billed_parts(mut self, parts: u32) -> Self {
        self.billed_parts = Some(parts);
        self
    }

    /// True when every recipient was accepted.
    pub fn all_accepted(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(RecipientOutcome::is_accepted)
    }

    /// The accepted outcomes.
    pub fn accepted(&self) -> impl Iterator<Item = &RecipientOutcome> {
        self.outcomes.iter().filter(|o| o.is_accepted())
    }

    /// The refused outcomes.
    pub fn failed(&self) -> impl Iterator<Item = &RecipientOutcome> {
        self.outcomes.iter().filter(|o| o.error().is_some())
    }

    /// The outcomes the provider did not report.
    pub fn unknown(&self) -> impl Iterator<Item = &RecipientOutcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, RecipientStatus::Unknown))
    }

    /// Provider message ids of the accepted recipients.
    pub fn message_ids(&self) -> impl Iterator<Item = &str> {
        self.outcomes.iter().filter_map(|o| o.message_id.as_deref())
    }

    /// The providers that handled the message, in order of first appearance.
    pub fn providers(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for outcome in &self.outcomes {
            if !names.contains(&outcome.provider.as_str()) {
                names.push(&outcome.provider);
            }
        }
        names
    }

    /// The outcome for one recipient.
    pub fn outcome_for(&self, recipient: &PhoneNumber) -> Option<&RecipientOutcome> {
        self.outcomes.iter().find(|o| &o.recipient == recipient)
    }
}

/// What a balance figure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BalanceUnit {
    /// Messages (or message parts) left.
    Messages,
    /// Money or credits in the provider's own unit.
    Credits,
}

/// A provider's remaining credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The provider.
    pub provider: String,
    /// The figure the provider gave.
    pub amount: i64,
    /// What it counts.
    pub unit: BalanceUnit,
}
