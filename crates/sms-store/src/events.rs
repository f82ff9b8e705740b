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
    /// A provider's balance went below its `low_balance` threshold (once per crossing: see
    /// [`crate::MessageStore::record_balance`]). The provider is [`Event::provider`].
    BalanceLow {
        /// The balance read.
        amount: i64,
        /// The threshold it went below.
        threshold: i64,
        /// What the amount counts (`parts`, `fen`, …), as the provider reports it.
        unit: String,
    },
    /// A spend cap crossed its warning threshold (once per cap and period: see
    /// [`crate::MessageStore::record_spend_warning`]).
    SpendWarning(SpendNotice),
}

/// A spend cap's warning, as the gateway records it for the application's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpendNotice {
    /// The cap's scope: `overall`, `account:NAME` or `country:CODE`.
    pub cap: String,
    /// `day` or `month`.
    pub period_kind: String,
    /// The period's name (`2026-11-28`, `2026-11`), in Beijing time.
    pub period: String,
    /// `parts` or `money` (fen).
    pub unit: String,
    /// Used in the period, with the reservation that crossed the threshold.
    pub used: u64,
    /// The cap.
    pub limit: u64,
}

impl SpendNotice {
    /// A notice of a cap's warning.
    pub fn new(
        cap: impl Into<String>,
        period_kind: impl Into<String>,
        period: impl Into<String>,
        unit: impl Into<String>,
        used: u64,
        limit: u64,
    ) -> Self {
        Self {
            cap: cap.into(),
            period_kind: period_kind.into(),
            period: period.into(),
            unit: unit.into(),
            used,
            limit,
        }
    }

    /// What records it at most once: the cap, its period kind and the period.
    pub(crate) fn dedupe_key(&self) -> String {
        format!(
            "spend:{}:{}:{}:{}",
            self.cap, self.period_kind, self.unit, self.period
        )
    }
}

/// A provider's balance as read by the gateway's balance watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BalanceReading {
    /// The provider's name in the config.
    pub provider: String,
    /// The balance.
    pub amount: i64,
    /// What it counts (`parts`, `fen`, …).
    pub unit: String,
    /// Its `low_balance` threshold, if it has one: below it the balance is low.
    pub threshold: Option<i64>,
}

impl BalanceReading {
    /// A reading of `provider`'s balance.
    pub fn new(
        provider: impl Into<String>,
        amount: i64,
        unit: impl Into<String>,
        threshold: Option<i64>,
    ) -> Self {
        Self {
            provider: provider.into(),
            amount,
            unit: unit.into(),
            threshold,
        }
    }

    /// Below its threshold.
    pub fn is_low(&self) -> bool {
        self.threshold.is_some_and(|t| self.amount < t)
    }
}

/// What a balance reading changed in the stored flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BalanceChange {
    /// Low as before, or not low as before.
    Unchanged,
    /// It went below its threshold: a [`EventBody::BalanceLow`] event was recorded (when events are
    /// enabled) in the same transaction.
    WentLow,
    /// It is back at or above its threshold (or has none any more).
    Recovered,
}

/// A provider's balance as last stored ([`crate::MessageStore::balances`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredBalance {
    /// The provider's name.
    pub provider: String,
    /// The balance last read.
    pub amount: i64,
    /// What it counts.
    pub unit: String,
    /// Its threshold then.
    pub threshold: Option<i64>,
    /// Below the threshold.
    pub low: bool,
    /// When it was read (store clock).
    pub checked_at: Millis,
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
