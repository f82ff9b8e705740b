//! What the store records and returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sms_core::{AmbiguityPolicy, ClientReference, Message, MessageBody, MessageKind, PhoneNumber};

use crate::status::Status;

/// Milliseconds since the Unix epoch, UTC: the store's one time unit.
pub type Millis = i64;

/// A message as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The store's id.
    pub id: String,
    /// The application's client reference (unique).
    pub reference: String,
    /// The bulk it belongs to, if any.
    pub batch_id: Option<String>,
    /// Text, template, voice code or MMS.
    pub kind: MessageKind,
    /// The content (text, template id and text, code, MMS ids), unless redacted or kept as a digest.
    pub content: Option<String>,
    /// SHA-256 of the content, hex: kept even when the content is not.
    pub content_digest: String,
    /// The requested send time, if scheduled.
    pub schedule: Option<Millis>,
    /// The ambiguity policy it was sent under, if one was set.
    pub policy: Option<String>,
    /// When it was recorded.
    pub created_at: Millis,
    /// One entry per recipient, in number order.
    pub recipients: Vec<RecipientRecord>,
    /// Failed attempts before the outcome, in order.
    pub attempts: Vec<AttemptRecord>,
}

/// One recipient of a message, with its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRecord {
    /// The message.
    pub message_id: String,
    /// The number, E.164.
    pub number: String,
    /// Where it stands.
    pub status: Status,
    /// The provider that handled it.
    pub provider: Option<String>,
    /// The provider's message id, normalised ([`crate::normalise::provider_message_id`]).
    pub provider_message_id: Option<String>,
    /// Billed parts, when accepted and known.
    pub billed_parts: Option<i64>,
    /// The error kind (`sms_core::ErrorKind` name) when failed or unknown.
    pub error_kind: Option<String>,
    /// The provider's error code.
    pub error_code: Option<String>,
    /// The error text (already scrubbed of secrets by the provider crates).
    pub error_message: Option<String>,
    /// The code of the receipt that finished it.
    pub receipt_code: Option<String>,
    /// When recorded.
    pub created_at: Millis,
    /// When queued.
    pub queued_at: Option<Millis>,
    /// When the request was about to start.
    pub sending_at: Option<Millis>,
    /// When accepted, failed or unknown was recorded.
    pub outcome_at: Option<Millis>,
    /// When delivered, undelivered or expired was recorded.
    pub final_at: Option<Millis>,
}

/// A failed attempt as the chain reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The provider tried.
    pub provider: String,
    /// How many recipients the attempt carried.
    pub recipients: i64,
    /// `sms_core::ErrorKind` name.
    pub error_kind: String,
    /// The provider's code.
    pub error_code: Option<String>,
    /// The error text.
    pub error_message: Option<String>,
    /// How long it took.
    pub elapsed_ms: i64,
}

impl AttemptRecord {
    /// From the chain's attempt.
    pub fn from_attempt(attempt: &sms_core::Attempt) -> Self {
        Self {
            provider: attempt.provider.clone(),
            recipients: attempt.recipients as i64,
            error_kind: attempt.error.kind().as_str().to_owned(),
            error_code: attempt.error.code().map(str::to_owned),
            error_message: Some(attempt.error.message().to_owned()).filter(|m| !m.is_empty()),
            elapsed_ms: attempt.elapsed.as_millis().min(i64::MAX as u128) as i64,
        }
    }
}

/// The outcome of one recipient's send, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeUpdate {
    /// The message.
    pub message_id: String,
    /// The number, E.164.
    pub number: String,
    /// `Accepted`, `Failed` or `Unknown`; anything else is refused by the store.
    pub status: Status,
    /// The provider that handled it.
    pub provider: Option<String>,
    /// The provider's message id as the provider gave it (normalised by the store).
    pub provider_message_id: Option<String>,
    /// Billed parts, when known.
    pub billed_parts: Option<i64>,
    /// The error kind name, for failed and unknown.
    pub error_kind: Option<String>,
    /// The provider's code.
    pub error_code: Option<String>,
    /// The error text.
    pub error_message: Option<String>,
}

impl OutcomeUpdate {
    /// An outcome for `number` of `message_id` with nothing else known yet.
    pub fn new(message_id: impl Into<String>, number: impl Into<String>, status: Status) -> Self {
        Self {
            message_id: message_id.into(),
            number: number.into(),
            status,
            provider: None,
            provider_message_id: None,
            billed_parts: None,
            error_kind: None,
            error_code: None,
            error_message: None,
        }
    }

    /// With the error's kind, code and text, and its provider when the outcome names none.
    #[must_use]
    pub fn with_error(mut self, error: &sms_core::Error) -> Self {
        self.error_kind = Some(error.kind().as_str().to_owned());
        self.error_code = error.code().map(str::to_owned);
        self.error_message = Some(error.message().to_owned()).filter(|m| !m.is_empty());
        if self.provider.is_none() {
            self.provider = error.provider().map(str::to_owned);
        }
        self
    }
}

/// A message to record, derived from an [`sms_core::Message`].
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The store's id (generated).
    pub id: String,
    /// The message itself.
    pub message: Message,
    /// The bulk it belongs to.
    pub batch_id: Option<String>,
}

impl NewMessage {
    /// A new record for `message` with a fresh id.
    pub fn new(message: Message) -> Self {
        Self {
            id: new_id(),
            message,
            batch_id: None,
        }
    }

    /// Part of bulk `batch_id`.
    #[must_use]
    pub fn in_batch(mut self, batch_id: impl Into<String>) -> Self {
        self.batch_id = Some(batch_id.into());
        self
    }
}

/// A fresh id: 32 hex digits, time-ordered in the first 12 so that ids sort roughly by creation.
pub fn new_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    format!(
        "{:012x}{:020x}",
        millis & 0xffff_ffff_ffff,
        fastrand::u128(..) >> 48
    )
}

/// The content of a message as one string (what the store keeps unless told to keep the digest only).
pub(crate) fn content_of(body: &MessageBody) -> String {
    match body {
        MessageBody::Text(text) => text.clone(),
        MessageBody::Template(t) => format!("template {}: {}", t.id(), t.rendered()),
        MessageBody::VoiceCode(code) => code.as_str().to_owned(),
        MessageBody::Mms(mms) => format!("mms package {} product {}", mms.package_id, mms.product_id),
        _ => String::new(),
    }
}

pub(crate) fn policy_name(policy: Option<AmbiguityPolicy>) -> Option<String> {
    policy.map(|p| match p {
        AmbiguityPolicy::AtMostOnce => "at_most_once".to_owned(),
        AmbiguityPolicy::AtLeastOnce => "at_least_once".to_owned(),
    })
}

pub(crate) fn kind_name(kind: MessageKind) -> String {
    kind.to_string()
}

pub(crate) fn kind_from(name: &str) -> Option<MessageKind> {
    [
        MessageKind::Text,
        MessageKind::Template,
        MessageKind::VoiceCode,
        MessageKind::Mms,
    ]
    .into_iter()
    .find(|k| k.to_string() == name)
}

/// What a worker needs to send a queued message: enough to rebuild the [`Message`], kept in the
/// outbox row only until the message leaves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Payload {
    pub reference: ClientReference,
    pub to: Vec<String>,
    pub body: PayloadBody,
    pub schedule: Option<i64>,
    pub policy: Option<AmbiguityPolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum PayloadBody {
    Text {
        text: String,
    },
    Template {
        id: String,
        rendered: String,
        variables: Vec<(String, String)>,
    },
    VoiceCode {
        code: String,
    },
    Mms {
        package_id: String,
        product_id: String,
    },
}

impl Payload {
    pub(crate) fn of(message: &Message) -> Option<Self> {
        let body = match message.body() {
            MessageBody::Text(text) => PayloadBody::Text { text: text.clone() },
            MessageBody::Template(t) => PayloadBody::Template {
                id: t.id().to_owned(),
                rendered: t.rendered().to_owned(),
                variables: t.variables().to_vec(),
            },
            MessageBody::VoiceCode(code) => PayloadBody::VoiceCode {
                code: code.as_str().to_owned(),
            },
            MessageBody::Mms(mms) => PayloadBody::Mms {
                package_id: mms.package_id.clone(),
                product_id: mms.product_id.clone(),
            },
            _ => return None,
        };
        Some(Self {
            reference: message.reference().clone(),
            to: message.recipients().iter().map(PhoneNumber::e164).collect(),
            body,
            schedule: message.schedule().map(|t| t.unix_seconds()),
            policy: message.ambiguity_policy(),
        })
    }

    pub(crate) fn into_message(self) -> Result<Message, String> {
        let to: Vec<PhoneNumber> = self
            .to
            .iter()
            .map(|n| n.parse().map_err(|e| format!("stored number {n}: {e}")))
            .collect::<Result<_, _>>()?;
        let mut recipients = to.into_iter();
        let first = recipients.next().ok_or("a stored message without recipients")?;
        let mut message = match self.body {
            PayloadBody::Text { text } => Message::text(first, text),
            PayloadBody::Template {
                id,
                rendered,
                variables,
            } => {
                let mut template = sms_core::TemplateText::new(id, rendered);
                for (name, value) in variables {
                    template = template.variable(name, value);
                }
                Message::template(first, template)
            }
            PayloadBody::VoiceCode { code } => Message::voice_code(first, code).map_err(|e| e.to_string())?,
            PayloadBody::Mms {
                package_id,
                product_id,
            } => Message::mms(first, sms_core::MmsContent::new(package_id, product_id)),
        };
        for recipient in recipients {
            message = message.with_recipient(recipient);
        }
        message = message.with_reference(self.reference.as_str());
        if let Some(at) = self.schedule {
            message = message.scheduled_at(sms_core::BeijingTime::from_unix_seconds(at));
        }
        if let Some(policy) = self.policy {
            message = message.with_ambiguity_policy(policy);
        }
        Ok(message)
    }
}

/// How a delivery report was filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReceiptDisposition {
    /// It moved its recipient to delivered or undelivered.
    Applied,
    /// Its recipient was already final (a duplicate, or a late receipt after another): kept, ignored.
    Ignored,
    /// No recorded send has its id (yet): kept, and matched when a send with that id is recorded.
    Unmatched,
}

impl ReceiptDisposition {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Ignored => "ignored",
            Self::Unmatched => "unmatched",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Applied, Self::Ignored, Self::Unmatched]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A stored delivery report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRecord {
    /// The store's id.
    pub id: i64,
    /// The provider.
    pub provider: String,
    /// The provider's message id, normalised.
    pub provider_message_id: String,
    /// The number, normalised when it parses.
    pub number: String,
    /// `delivered` or `undelivered`.
    pub status: Status,
    /// The provider's code, verbatim.
    pub code: String,
    /// The provider's text, verbatim.
    pub description: String,
    /// When the provider says it happened.
    pub reported_at: Option<Millis>,
    /// When the store got it.
    pub received_at: Millis,
    /// The message it was matched to.
    pub message_id: Option<String>,
    /// How it was filed.
    pub disposition: ReceiptDisposition,
}

/// A stored handset reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    /// The store's id: the cursor for [`crate::MessageStore::inbound_since`].
    pub id: i64,
    /// The provider.
    pub provider: String,
    /// The sender as the provider wrote it.
    pub sender: String,
    /// The service number, when known.
    pub service_number: Option<String>,
    /// The text, unless redacted.
    pub text: Option<String>,
    /// True when the reply unsubscribed the sender (it is then a suppression too).
    pub opt_out: bool,
    /// When the provider says it was received.
    pub received_at: Option<Millis>,
    /// When the store got it.
    pub stored_at: Millis,
    /// The send it answers, when one was found: the latest message to the sender through the same
    /// provider within the receipt window (replies carry no message id).
    pub message_id: Option<String>,
}

/// A number that must get no messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The number, E.164.
    pub number: String,
    /// Why (`opt_out`, `manual`, …).
    pub reason: String,
    /// Who said so (a provider name, `api`, `cli`).
    pub source: String,
    /// When.
    pub created_at: Millis,
}

/// A message claimed from the outbox by one worker until `lease_until`.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The message's store id.
    pub message_id: String,
    /// The message to send.
    pub message: Message,
    /// The worker holding it.
    pub worker: String,
    /// When the lease runs out.
    pub lease_until: Millis,
}

/// What [`crate::MessageStore::reserve`] found for a client reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Nothing before: the reference is now reserved and the caller may send.
    Reserved,
    /// Reserved before with no outcome: in flight, or its process died mid-send (unknown). Never
    /// send again automatically.
    Pending {
        /// The fingerprint given at reservation.
        fingerprint: String,
    },
    /// Completed before with this outcome (as the caller encoded it).
    Completed {
        /// The fingerprint given at reservation.
        fingerprint: String,
        /// The outcome as given to [`crate::MessageStore::complete`].
        outcome: String,
    },
}

/// Recipients per status, for a bulk.
pub type StatusCounts = BTreeMap<Status, u64>;

/// What [`crate::MessageStore::sweep`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Expired leases of claims that had not started: claimable again.
    pub released: u64,
    /// Recipients whose request had started under an expired lease, or whose direct send stayed in
    /// `sending` past the grace time: now `unknown`.
    pub unknown: u64,
    /// Accepted recipients with no receipt past the expiry time: now `expired`.
    pub expired: u64,
}
