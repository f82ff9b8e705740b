//! Events for the application's callbacks: every status change of a recipient and every reply,
//! recorded by the database itself (triggers) in the same transaction as the change once
//! [`crate::MessageStore::enable_events`] has been called, and handed out in order, one at a time
//! per message, to whoever delivers them.

use crate::model::Millis;
use crate::status::Status;

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventBody {
    /// A recipient of a message moved to a new status.
    Status {
        /// The message's store id.
        message_id: String,
        /// The message's client reference.
        reference: Option<String>,
        /// The recipient (E.164).
        number: String,
        /// Its new status.
        status: Status,
        /// The provider's id for it.
        provider_message_id: Option<String>,
        /// Parts billed.
        billed_parts: Option<i64>,
        /// The error's kind, code and message, for a failure.
        error_kind: Option<String>,
        /// The error's code.
        error_code: Option<String>,
        /// The error's message.
        error_message: Option<String>,
        /// The receipt's code, for a delivered or undelivered status.
        receipt_code: Option<String>,
    },
    /// A handset replied.
    Reply {
        /// The reply's id (the `GET /v1/inbound` cursor).
        inbound_id: i64,
        /// Who replied.
        sender: String,
        /// The number replied to.
        service_number: Option<String>,
        /// The text (none once redacted).
        text: Option<String>,
        /// The reply opted out.
        opt_out: bool,
    },
}

/// An event claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its place in the order of events; stable, so it names the event for receivers that dedupe.
    pub seq: i64,
    /// The provider concerned (that took or refused the message, or received the reply).
    pub provider: Option<String>,
    /// When the change happened (store clock).
    pub occurred_at: Millis,
    /// Delivery attempts made before this one.
    pub attempts: u32,
    /// The worker holding it.
    pub worker: String,
    /// What happened.
    pub body: EventBody,
}

impl Event {
    /// The stable event id: `evt_` and the sequence number.
    pub fn id(&self) -> String {
        format!("evt_{}", self.seq)
    }
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventOutcome {
    /// The receiver took it (2xx).
    Delivered {
        /// The HTTP status.
        status: u16,
    },
    /// Try again at `at` (a network error, 5xx, 429).
    Retry {
        /// When it is next due (store clock).
        at: Millis,
        /// The HTTP status, if there was an answer.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
    /// Never again: another 4xx, or the retry schedule is used up.
    GaveUp {
        /// The HTTP status, if there was an answer.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}
