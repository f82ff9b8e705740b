//! The `MessageStore` trait.

use std::time::Duration;

use async_trait::async_trait;
use sms_core::{DeliveryReport, InboundMessage, PhoneNumber};

use crate::error::Result;
use crate::events::{BalanceChange, BalanceReading, Event, EventOutcome, SpendNotice, StoredBalance};
use crate::model::{
    AttemptRecord, Claim, InboundRecord, Millis, NewMessage, OutcomeUpdate, ReceiptDisposition,
    ReceiptRecord, RecipientRecord, Reservation, StatusCounts, StoredMessage, Suppression, SweepReport,
};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// One SQLite file, one writer.
    Sqlite,
    /// A PostgreSQL database shared by several instances.
    Postgres,
}

/// What one [`MessageStore::record_batch`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchWritten {
    /// The time stamped on every row it wrote: `created_at` and `sending_at` of the messages,
    /// `outcome_at` of the outcomes.
    pub at: Millis,
    /// Recipients the outcomes moved (fewer than the outcomes when the status machine refused some).
    pub moved: u64,
    /// Receipts that had arrived before their send and were applied in the same transaction: their
    /// recipients are past the outcome just written.
    pub early_receipts: usize,
}

/// Every message, attempt, receipt and reply, recorded and correlated.
///
/// Object-safe: hold it as `Arc<dyn MessageStore>`. Every method is one transaction; batch methods
/// (`insert_messages`, `record_outcomes`, `record_receipts`, `enqueue`) take many rows in one. Time
/// comes from [`crate::StoreOptions::clock`].
///
/// # Errors
/// Every method returns a [`crate::StoreError`]: `Unavailable` when the database cannot be reached
/// (retrying may help), `ReadOnly`, `Corrupt`, `DuplicateReference`, `InvalidData` or `Database`.
#[async_trait]
pub trait MessageStore: Send + Sync + std::fmt::Debug {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Spend caps: adds every charge or none, in one transaction (rows locked in counter order), so
    /// that instances on one database count exactly; see `sms_failover::state::SpendLedger::charge`.
    /// `now` is Unix seconds: a counter whose expiry has passed reads zero.
    async fn spend_charge(
        &self,
        charges: &[sms_failover::state::Charge],
        now: u64,
    ) -> Result<sms_failover::state::SpendAdmission>;

    /// Spend caps: applies adjustments, each clamped at zero (`SpendLedger::settle`).
    async fn spend_settle(&self, adjustments: &[sms_failover::state::Adjustment], now: u64) -> Result<()>;

    /// Spend caps: the counters' values, zero for unknown ones (`SpendLedger::usage`).
    async fn spend_usage(&self, counters: &[String]) -> Result<Vec<u64>>;
    /// Read-only operator reports (the gateway's dashboard), when this store has them.
    fn reports(&self) -> Option<&dyn crate::reports::StoreReports> {
        None
    }

    /// Records messages about to be sent directly (not queued): every recipient `sending`, written
    /// before the request starts so a crash leaves a trace. All or nothing; a reference already
    /// recorded fails the whole call with `DuplicateReference`.
    async fn insert_sending(&self, messages: &[NewMessage]) -> Result<()>;

    /// Records the outcomes of sends. Only `queued` or `sending` recipients move; an outcome for a
    /// recipient already past them is ignored. Receipts that arrived before the send and carry the
    /// recorded provider id are applied now. Returns how many recipients moved.
    async fn record_outcomes(&self, outcomes: &[OutcomeUpdate]) -> Result<u64>;

    /// [`Self::insert_sending`], [`Self::record_outcomes`] and [`Self::record_attempts`] (per
    /// message id) in one transaction, for writers that gather many sends' records (group commit).
    /// All or nothing; says what it wrote, so that a writer can tell its callers what they now hold
    /// without reading it back.
    async fn record_batch(
        &self,
        sending: &[NewMessage],
        outcomes: &[OutcomeUpdate],
        attempts: &[(String, Vec<AttemptRecord>)],
    ) -> Result<BatchWritten>;

    /// Appends failed attempts to a message's history.
    async fn record_attempts(&self, message_id: &str, attempts: &[AttemptRecord]) -> Result<()>;

    /// Whether this store keeps message content or only its digest.
    fn content_mode(&self) -> crate::options::ContentMode {
        crate::options::ContentMode::Full
    }

    /// Files delivery reports: each is correlated by (provider, normalised provider id) and, when the
    /// id covers several recipients, by number; applied unless the recipient is already final; kept
    /// as unmatched when no send has the id (it is matched when one is recorded). Never dropped.
    async fn record_receipts(&self, reports: &[DeliveryReport]) -> Result<Vec<ReceiptDisposition>>;

    /// Stores a handset reply; an opt-out reply from a valid number becomes a suppression in the same
    /// transaction.
    async fn record_inbound(&self, reply: &InboundMessage) -> Result<InboundRecord>;

    /// Replies stored after cursor `after` (an [`InboundRecord::id`]; 0 for all), oldest first.
    async fn inbound_since(&self, after: i64, limit: u32) -> Result<Vec<InboundRecord>>;

    /// Adds a suppression. Returns false when the number was already suppressed (the first record
    /// stays).
    async fn suppress(&self, number: &PhoneNumber, reason: &str, source: &str) -> Result<bool>;

    /// Removes a suppression. Returns false when there was none.
    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool>;

    /// For each number, whether it is suppressed (one query for all).
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>>;

    /// Suppressions in number order, after `after` (exclusive) for paging.
    async fn suppressions(&self, after: Option<&str>, limit: u32) -> Result<Vec<Suppression>>;

    /// Reserves a client reference for `retention` before its first request (write-ahead: committed
    /// before this returns). Returns what was there, or [`Reservation::Reserved`] when the caller now
    /// holds it. Of concurrent calls for one reference, across every instance on the database,
    /// exactly one gets `Reserved`. A reservation or outcome older than its retention is forgotten.
    async fn reserve(&self, reference: &str, fingerprint: &str, retention: Duration) -> Result<Reservation>;

    /// Stores the outcome of a reserved reference, kept for `retention` from now. Returns false when
    /// it was not reserved or was already completed (the first outcome stays).
    async fn complete(&self, reference: &str, outcome: &str, retention: Duration) -> Result<bool>;

    /// Frees a reservation without outcome (nothing was sent). Returns false when there was none; a
    /// completed reference stays.
    async fn release_reservation(&self, reference: &str) -> Result<bool>;

    /// Records messages as `queued` and puts them in the outbox, available from `available_at`
    /// (or now). All or nothing.
    async fn enqueue(&self, messages: &[NewMessage], available_at: Option<Millis>) -> Result<()>;

    /// Claims up to `limit` ready outbox messages for `worker` for `lease`. Two workers never hold
    /// the same message (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: its single writer).
    async fn claim(&self, worker: &str, limit: u32, lease: Duration) -> Result<Vec<Claim>>;

    /// Marks claimed messages as started, just before their requests (one transaction): their
    /// recipients become `sending`. For each claim, false when its lease is no longer held (expired
    /// and taken, or swept): then do not send it.
    async fn start(&self, claims: &[Claim]) -> Result<Vec<bool>>;

    /// Records claimed messages' outcomes (for all their recipients, in any order) and removes them
    /// from the outbox, in one transaction.
    async fn finish(&self, claims: &[Claim], outcomes: &[OutcomeUpdate]) -> Result<()>;

    /// Gives back claims that were not started.
    async fn release(&self, claims: &[Claim]) -> Result<()>;

    /// Outbox messages waiting or claimed.
    async fn outbox_depth(&self) -> Result<u64>;

    /// The sweeper: leases expired before their request started are released; those whose request
    /// had started, and direct sends left `sending` past the grace time, become `unknown`; accepted
    /// recipients with no receipt past the expiry become `expired`.
    async fn sweep(&self) -> Result<SweepReport>;

    /// A message by store id.
    async fn message(&self, id: &str) -> Result<Option<StoredMessage>>;

    /// A message by client reference.
    async fn message_by_reference(&self, reference: &str) -> Result<Option<StoredMessage>>;

    /// What was sent to `number` with `from <= created < to`, newest first.
    async fn history(
        &self,
        number: &PhoneNumber,
        from: Millis,
        to: Millis,
        limit: u32,
    ) -> Result<Vec<RecipientRecord>>;

    /// Recipients recorded with this provider id (normalised before the lookup).
    async fn by_provider_id(&self, provider: &str, provider_message_id: &str)
    -> Result<Vec<RecipientRecord>>;

    /// Receipts filed for a message, oldest first.
    async fn receipts_for(&self, message_id: &str) -> Result<Vec<ReceiptRecord>>;

    /// Receipts still unmatched, oldest first.
    async fn unmatched_receipts(&self, limit: u32) -> Result<Vec<ReceiptRecord>>;

    /// Recipients per status for a bulk.
    async fn status_counts(&self, batch_id: &str) -> Result<StatusCounts>;

    /// Parts billed so far for a bulk, per provider (by name), in name order.
    async fn billed_parts(&self, batch_id: &str) -> Result<Vec<(String, u64)>>;

    /// Deletes messages (with their recipients, attempts, receipts and callback events), replies
    /// (with their events) and unmatched receipts older than `age`, adaptive weight changes older
    /// than `age` but the newest (the weights in effect), and idempotency records past their own
    /// retention. Suppressions, messages still queued and routing overrides are kept; spend
    /// counters and leases are one row per name and go by themselves. Returns messages deleted.
    async fn purge(&self, age: Duration) -> Result<u64>;

    /// Blanks the content of messages and the text of replies older than `age`; digests stay.
    /// Returns rows redacted.
    async fn redact(&self, age: Duration) -> Result<u64>;

    /// Recipients a provider accepted within `window` before now, with their age and what their
    /// receipts say (delivered and after how long, undelivered as failed, accepted or expired as
    /// pending): the evidence of adaptive routing ([`crate::StoreState`] is its
    /// `sms_failover::ReceiptEvidence`). Outcomes never accepted (failed, unknown) are left out.
    async fn sent_within(&self, window: Duration) -> Result<Vec<sms_failover::adaptive::SentMessage>>;

    /// From now on every status change of a recipient (except to `queued` and `sending`) and every
    /// reply is recorded as an [`Event`], in the same transaction as the change. For every store
    /// on this database; idempotent.
    async fn enable_events(&self) -> Result<()>;

    /// Claims up to `limit` due events for `worker` until `lease` from now, oldest first: only the
    /// oldest unsettled event of each message, so a message's events are delivered in order.
    async fn claim_events(&self, worker: &str, limit: u32, lease: Duration) -> Result<Vec<Event>>;

    /// Records how a delivery attempt of a claimed event ended. False when the claim was lost
    /// (its lease ran out and another worker holds it): nothing is changed.
    async fn settle_event(&self, event: &Event, outcome: &EventOutcome) -> Result<bool>;

    /// Events not delivered yet and not given up.
    async fn pending_events(&self) -> Result<u64>;

    /// Takes or renews the lease `name` for `holder` until `ttl` from now: true when `holder` holds
    /// it (it was free, expired, or already its own), false when another holder's lease runs.
    async fn acquire_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool>;

    /// Gives the lease up if `holder` holds it; true when it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool>;

    /// Stores one change of the adaptive weights (its reason, and the change with its evidence as
    /// JSON text), stamped with the store's clock; returns its sequence number, increasing.
    async fn record_weight_change(&self, reason: &str, body: &str) -> Result<i64>;

    /// The latest `limit` stored weight changes, newest first.
    async fn weight_changes(&self, limit: u32) -> Result<Vec<crate::StoredWeightChange>>;

    /// Stores the operator's routing overrides (JSON text), replacing the ones stored.
    async fn set_weight_overrides(&self, body: &str) -> Result<()>;

    /// The stored routing overrides; `None` when none were ever stored.
    async fn weight_overrides(&self) -> Result<Option<String>>;

    /// Stores a provider's balance and whether it is below its threshold. Going from not low (or
    /// never read) to low records one [`crate::EventBody::BalanceLow`] event (when events are
    /// enabled) in the same transaction; staying low records nothing, however often it is read, by
    /// any instance; recovering clears the flag so that the next drop is an event again.
    async fn record_balance(&self, reading: &BalanceReading) -> Result<BalanceChange>;

    /// Every provider's balance as last stored, by provider name.
    async fn balances(&self) -> Result<Vec<StoredBalance>>;

    /// Records a spend cap's warning as a [`crate::EventBody::SpendWarning`] event when events are
    /// enabled, at most once per cap and period (another instance's warning of the same crossing is
    /// dropped). True when it was recorded now.
    async fn record_spend_warning(&self, notice: &SpendNotice) -> Result<bool>;
}
