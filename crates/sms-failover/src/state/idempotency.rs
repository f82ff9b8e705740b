//! Idempotency by client reference: a message whose reference was already sent is answered with the
//! first send's outcome, without any request.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sms_core::{
    ClientReference, Error, ErrorKind, Operation, PhoneNumber, Receipt, RecipientOutcome, RecipientStatus,
};

use crate::clock::Clock;

/// What [`IdempotencyStore::reserve`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// The reference was free and is now reserved by this caller: send, then
    /// [`IdempotencyStore::complete`] (or [`IdempotencyStore::release`] when nothing went out).
    Reserved,
    /// The reference was sent before: this is its outcome. Send nothing.
    Completed(RecordedOutcome),
    /// The reference is reserved without an outcome: a send is in flight elsewhere, or one started
    /// and never completed (a crash, a timeout). Its outcome is unknown; send nothing, ever.
    Pending,
}

/// Remembers client references and their outcomes, so that a message is sent at most once per
/// reference.
///
/// A reservation has no shorter life than an outcome: it is kept for the whole retention, completed or
/// not, because an expiring "in progress" marker would let a retry send a message that may already
/// have gone out. Once the retention has passed, the reference is forgotten.
///
/// # Errors
/// When the backend cannot answer. A reservation whose command may have run although it failed (a
/// timeout) must be treated as made: the chain sends nothing, and the reference may read as pending
/// afterwards.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Reserves `reference` for `retention`, or says what became of it. Atomic: of concurrent calls
    /// for one reference, across every instance sharing the store, exactly one gets
    /// [`Reservation::Reserved`].
    async fn reserve(&self, reference: &ClientReference, retention: Duration) -> Result<Reservation, Error>;

    /// Records the outcome of a reserved reference, kept for `retention` from now.
    async fn complete(
        &self,
        reference: &ClientReference,
        outcome: &RecordedOutcome,
        retention: Duration,
    ) -> Result<(), Error>;

    /// Frees a reservation that has no outcome (nothing was sent: the reference may be sent again). A
    /// completed reference stays.
    async fn release(&self, reference: &ClientReference) -> Result<(), Error>;
}

impl fmt::Debug for dyn IdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyStore")
    }
}

/// A send's outcome as an [`IdempotencyStore`] keeps it: the receipt's recipients, or the error.
/// Attempts and error sources are not kept. Serializable (`serde`; [`Self::to_json`]), so that a
/// backend can store it as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOutcome {
    /// Each recipient's outcome, when the send returned a receipt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<RecordedRecipient>,
    /// Billed parts, when the receipt said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_parts: Option<u32>,
    /// The error, when the send failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordedError>,
}

/// One recipient of a [`RecordedOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRecipient {
    /// The number.
    pub number: PhoneNumber,
    /// The provider that handled it.
    pub provider: String,
    /// The provider's message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// What happened to it.
    pub status: RecordedStatus,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordedError>,
}

/// A recorded recipient's status (as text: `accepted`, `unknown`, `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedStatus {
    /// The provider accepted it.
    Accepted,
    /// The provider did not say: it may have gone out.
    Unknown,
    /// It failed (see [`RecordedRecipient::error`]).
    Failed,
}

/// An [`Error`] as recorded: kind, provider, code, message and retry-after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedError {
    /// [`ErrorKind::as_str`].
    pub kind: String,
    /// The provider named on the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The provider's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// The retry-after, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl RecordedError {
    /// Records `error`.
    pub fn of(error: &Error) -> Self {
        Self {
            kind: error.kind().as_str().to_owned(),
            provider: error.provider().map(str::to_owned),
            code: error.code().map(str::to_owned),
            message: error.message().to_owned(),
            retry_after_ms: error
                .retry_after()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// The error again. A kind this version does not know reads as [`ErrorKind::Ambiguous`]: nothing
    /// is known of it, so it must not be taken for a clean failure.
    pub fn to_error(&self) -> Error {
        let kind = ErrorKind::from_name(&self.kind).unwrap_or(ErrorKind::Ambiguous);
        let mut error = Error::new(kind, Operation::Send).with_message(self.message.clone());
        if let Some(provider) = &self.provider {
            error = error.with_provider(provider.clone());
        }
        if let Some(code) = &self.code {
            error = error.with_code(code.clone());
        }
        if let Some(ms) = self.retry_after_ms {
            error = error.with_retry_after(Duration::from_millis(ms));
        }
        error
    }
}

impl RecordedOutcome {
    /// Records a send's result.
    pub fn of(result: &Result<Receipt, Error>) -> Self {
        match result {
            Ok(receipt) => Self {
                recipients: receipt
                    .outcomes
                    .iter()
                    .map(|o| {
                        let (status, error) = match &o.status {
                            RecipientStatus::Accepted => (RecordedStatus::Accepted, None),
                            RecipientStatus::Failed(e) => {
                                (RecordedStatus::Failed, Some(RecordedError::of(e)))
                            }
                            _ => (RecordedStatus::Unknown, None),
                        };
                        RecordedRecipient {
                            number: o.recipient.clone(),
                            provider: o.provider.clone(),
                            message_id: o.message_id.clone(),
                            status,
                            error,
                        }
                    })
                    .collect(),
                billed_parts: receipt.billed_parts,
                error: None,
            },
            Err(error) => Self {
                recipients: Vec::new(),
                billed_parts: None,
                error: Some(RecordedError::of(error)),
            },
        }
    }

    /// The result again, for `reference`: the receipt (without its attempts), or the error, whose
    /// message says that it is the first send's outcome.
    pub fn replay(&self, reference: &ClientReference) -> Result<Receipt, Error> {
        if let Some(error) = &self.error {
            let mut recorded = error.clone();
            recorded.message = format!(
                "{} (the outcome of the first send with reference {reference}, replayed without a request)",
                recorded.message
            );
            return Err(recorded.to_error());
        }
        let outcomes = self
            .recipients
            .iter()
            .map(|r| {
                let number = r.number.clone();
                match (r.status, &r.error) {
                    (RecordedStatus::Accepted, _) => {
                        RecipientOutcome::accepted(number, r.provider.clone(), r.message_id.clone())
                    }
                    (RecordedStatus::Failed, Some(e)) => {
                        RecipientOutcome::failed(number, r.provider.clone(), e.to_error())
                    }
                    _ => RecipientOutcome::unknown(number, r.provider.clone()),
                }
            })
            .collect();
        let mut receipt = Receipt::new(reference.clone(), outcomes);
        receipt.billed_parts = self.billed_parts;
        Ok(receipt)
    }

    /// As JSON text.
    pub fn to_json(&self) -> String {
        // Strings, numbers and options only: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`Self::to_json`]'s text.
    ///
    /// # Errors
    /// [`ErrorKind::Protocol`] when the text is not a recorded outcome.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| {
            Error::new(ErrorKind::Protocol, Operation::Send)
                .with_message(format!("unreadable recorded outcome: {e}"))
        })
    }
}

#[derive(Debug)]
enum Entry {
    Pending,
    Completed(RecordedOutcome),
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<ClientReference, (Entry, Instant)>,
    writes_since_sweep: usize,
    after_sweep: usize,
}

/// An [`IdempotencyStore`] in this process's memory, timed by a [`Clock`]: it never fails, is lost on
/// restart and is not shared with other processes. Expired references are swept as new ones come.
///
/// Memory is bounded: at most [`DEFAULT_MAX_REFERENCES`] references (or the number given to
/// [`InMemoryIdempotencyStore::with_max_references`]), a few hundred bytes each. When it is full, the
/// completed references closest to their expiry are forgotten first, a tenth at a time; a reference
/// whose send is in flight is never forgotten, since forgetting it could send the message twice. A
/// forgotten reference sent again is sent again: a process that must remember every reference of a
/// long retention keeps them in a shared store (Redis or the message store) instead.
pub struct InMemoryIdempotencyStore {
    clock: Arc<dyn Clock>,
    /// The most references a shard keeps before it forgets completed ones.
    shard_capacity: usize,
    /// Split by reference, so that concurrent sends rarely wait for one another.
    shards: Vec<Mutex<Entries>>,
    hasher: std::hash::RandomState,
}

/// Shards of an [`InMemoryIdempotencyStore`].
const SHARDS: usize = 16;

impl fmt::Debug for InMemoryIdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryIdempotencyStore")
            .field("references", &self.len())
            .finish_non_exhaustive()
    }
}

/// Sweeps run after this many writes, or as many as there were references after the previous sweep.
const MIN_SWEEP_INTERVAL: usize = 256;

/// The most references an [`InMemoryIdempotencyStore`] keeps by default: about a hundred thousand
/// messages, a few tens of megabytes.
pub const DEFAULT_MAX_REFERENCES: usize = 100_000;

impl InMemoryIdempotencyStore {
    /// An empty store timed by `clock`, keeping at most [`DEFAULT_MAX_REFERENCES`].
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_max_references(clock, DEFAULT_MAX_REFERENCES)
    }

    /// An empty store timed by `clock` that keeps at most about `max_references` references (at
    /// least one per shard): see the type's docs for what it forgets when full.
    pub fn with_max_references(clock: Arc<dyn Clock>, max_references: usize) -> Self {
        Self {
            clock,
            shard_capacity: max_references.div_ceil(SHARDS).max(1),
            shards: (0..SHARDS).map(|_| Mutex::new(Entries::default())).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// The shard that holds `reference`.
    fn lock(&self, reference: &ClientReference) -> MutexGuard<'_, Entries> {
        use std::hash::BuildHasher;
        // The remainder is below SHARDS, so it fits in usize on every platform.
        let shard = (self.hasher.hash_one(reference) % SHARDS as u64) as usize;
        self.shards[shard].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many references are remembered (expired ones until the next sweep included).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// True when no reference is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room for one more reference in a full shard: expired references go first, then the tenth of
/// the completed ones closest to their expiry. References in flight always stay.
fn make_room(entries: &mut Entries, capacity: usize, now: Instant) {
    if entries.map.len() < capacity {
        return;
    }
    entries.map.retain(|_, (_, until)| *until > now);
    if entries.map.len() < capacity {
        return;
    }
    let mut completed: Vec<Instant> = entries
        .map
        .values()
        .filter(|(entry, _)| matches!(entry, Entry::Completed(_)))
        .map(|(_, until)| *until)
        .collect();
    if completed.is_empty() {
        return;
    }
    let forget = (capacity / 10).clamp(1, completed.len());
    let (_, &mut cutoff, _) = completed.select_nth_unstable(forget - 1);
    let mut left = forget;
    entries.map.retain(|_, (entry, until)| {
        let drop = left > 0 && matches!(entry, Entry::Completed(_)) && *until <= cutoff;
        if drop {
            left -= 1;
        }
        !drop
    });
}

fn sweep_if_due(entries: &mut Entries, now: Instant) {
    entries.writes_since_sweep += 1;
    if entries.writes_since_sweep < entries.after_sweep.max(MIN_SWEEP_INTERVAL) {
        return;
    }
    entries.map.retain(|_, (_, until)| *until > now);
    entries.writes_since_sweep = 0;
    entries.after_sweep = entries.map.len();
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn reserve(&self, reference: &ClientReference, retention: Duration) -> Result<Reservation, Error> {
        let now = self.clock.now();
        let mut entries = self.lock(reference);
        sweep_if_due(&mut entries, now);
        if let Some((entry, until)) = entries.map.get(reference)
            && *until > now
        {
            return Ok(match entry {
                Entry::Pending => Reservation::Pending,
                Entry::Completed(outcome) => Reservation::Completed(outcome.clone()),
            });
        }
        let until = now.checked_add(retention).unwrap_or(now);
        match entries.map.get_mut(reference) {
            // Expired: reserved anew without another copy of the key.
            Some(entry) => *entry = (Entry::Pending, until),
            None => {
                make_room(&mut entries, self.shard_capacity, now);
                entries.map.insert(reference.clone(), (Entry::Pending, until));
            }
        }
        Ok(Reservation::Reserved)
    }

    async fn complete(
        &self,
        reference: &ClientReference,
        outcome: &RecordedOutcome,
        retention: Duration,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let until = now.checked_add(retention).unwrap_or(now);
        let completed = (Entry::Completed(outcome.clone()), until);
        let mut entries = self.lock(reference);
        match entries.map.get_mut(reference) {
            Some(entry) => *entry = completed,
            None => {
                make_room(&mut entries, self.shard_capacity, now);
                entries.map.insert(reference.clone(), completed);
            }
        }
        Ok(())
    }

    async fn release(&self, reference: &ClientReference) -> Result<(), Error> {
        let mut entries = self.lock(reference);
        if matches!(entries.map.get(reference), Some((Entry::Pending, _))) {
            entries.map.remove(reference);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn done(reference: &str) -> RecordedOutcome {
        RecordedOutcome::of(&Ok(Receipt::new(ClientReference::new(reference), Vec::new())))
    }

    /// Memory stays bounded: a full store forgets the completed references closest to expiry, never
    /// one in flight, and a forgotten reference is free to be reserved again.
    #[tokio::test]
    async fn a_full_store_forgets_old_completed_references_but_never_one_in_flight() {
        let clock = Arc::new(ManualClock::new());
        let store = InMemoryIdempotencyStore::with_max_references(clock.clone(), 16 * 10);
        let day = Duration::from_secs(86_400);
        let in_flight: Vec<ClientReference> = (0..50)
            .map(|i| ClientReference::new(format!("busy-{i}")))
            .collect();
        for reference in &in_flight {
            assert_eq!(
                store.reserve(reference, day).await.unwrap(),
                Reservation::Reserved
            );
        }
        for i in 0..5_000 {
            clock.advance(Duration::from_millis(1));
            let reference = ClientReference::new(format!("sent-{i}"));
            assert_eq!(
                store.reserve(&reference, day).await.unwrap(),
                Reservation::Reserved
            );
            store
                .complete(&reference, &done(&format!("sent-{i}")), day)
                .await
                .unwrap();
        }
        assert!(store.len() <= 16 * 10 + 16, "bounded: {}", store.len());
        for reference in &in_flight {
            assert_eq!(
                store.reserve(reference, day).await.unwrap(),
                Reservation::Pending,
                "a reference in flight is never forgotten"
            );
        }
        let newest = ClientReference::new("sent-4999");
        assert!(matches!(
            store.reserve(&newest, day).await.unwrap(),
            Reservation::Completed(_)
        ));
        let oldest = ClientReference::new("sent-0");
        assert_eq!(store.reserve(&oldest, day).await.unwrap(), Reservation::Reserved);
    }

    #[test]
    fn outcomes_survive_json_and_replay() {
        let number: PhoneNumber = "13800138000".parse().expect("number");
        let other: PhoneNumber = "13900139000".parse().expect("number");
        let receipt = Receipt::new(
            ClientReference::new("order-1"),
            vec![
                RecipientOutcome::accepted(number.clone(), "ihuyi", Some("123".into())),
                RecipientOutcome::failed(
                    other.clone(),
                    "juxiang",
                    Error::new(ErrorKind::RecipientRejected, Operation::Send)
                        .with_code("4030")
                        .with_provider("juxiang"),
                ),
            ],
        )
        .with_billed_parts(2);
        let recorded = RecordedOutcome::of(&Ok(receipt));
        let again = RecordedOutcome::from_json(&recorded.to_json()).expect("readable");
        assert_eq!(again, recorded);
        let replayed = again.replay(&ClientReference::new("order-1")).expect("a receipt");
        assert_eq!(replayed.outcomes[0].message_id.as_deref(), Some("123"));
        let e = replayed.outcomes[1].error().expect("failed");
        assert_eq!((e.kind(), e.code()), (ErrorKind::RecipientRejected, Some("4030")));
        assert_eq!(replayed.billed_parts, Some(2));

        let failed = RecordedOutcome::of(&Err(Error::new(ErrorKind::Ambiguous, Operation::Send)
            .with_provider("ihuyi")
            .with_message("no answer")));
        let e = failed.replay(&ClientReference::new("x")).expect_err("the error");
        assert!(e.is_ambiguous());
        assert!(e.message().contains("replayed without a request"), "{e}");
    }

    #[test]
    fn unknown_kinds_read_as_ambiguous() {
        let e = RecordedError {
            kind: "a kind from the future".into(),
            provider: None,
            code: None,
            message: String::new(),
            retry_after_ms: None,
        };
        assert!(e.to_error().is_ambiguous());
    }
}
