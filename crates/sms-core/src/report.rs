//! What providers push or return about messages after the send: delivery reports and handset replies.

use std::collections::BTreeMap;

use crate::time::BeijingTime;

/// Whether a message reached the handset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Delivered to the handset.
    Delivered,
    /// Not delivered; see the report's code and text.
    Undelivered,
}

/// A delivery report (回执) for one message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The provider.
    pub provider: String,
    /// The provider's message id (matches [`crate::RecipientOutcome::message_id`]).
    pub message_id: String,
    /// The recipient as the provider wrote it.
    pub recipient: String,
    /// Delivered or not.
    pub status: DeliveryStatus,
    /// The provider's status code, verbatim.
    pub code: String,
    /// The provider's status text, verbatim.
    pub description: String,
    /// When the provider says it happened, if it gave a readable time.
    pub reported_at: Option<BeijingTime>,
    /// Every field as received.
    pub raw: BTreeMap<String, String>,
}

impl DeliveryReport {
    /// True when delivered.
    pub fn is_delivered(&self) -> bool {
        self.status == DeliveryStatus::Delivered
    }
}

/// A reply sent by a handset user (上行).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The provider.
    pub provider: String,
    /// The sender's number as the provider wrote it (it may be masked or not a valid number).
    pub sender: String,
    /// The service number the reply was sent to, when known.
    pub service_number: Option<String>,
    /// The reply text.
    pub text: String,
    /// When it was received, if the provider gave a readable time.
    pub received_at: Option<BeijingTime>,
    /// True when, by the provider's rules, this reply unsubscribes the sender (Juxiang: the text
    /// `0000`). The sender must then get no reply and no further messages; a failover chain's
    /// suppression list records it.
    pub opt_out: bool,
    /// Every field as received.
    pub raw: BTreeMap<String, String>,
}

impl InboundMessage {
    /// The sender as a validated number, when it is one.
    pub fn sender_number(&self) -> Option<crate::PhoneNumber> {
        self.sender.parse().ok()
    }
}
