#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Built with neither backend, the crate is the trait and its types only (for implementations of
// other backends); the shared SQL then has no user.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code, unused))]

mod batch;
#[macro_use]
mod common;
#[cfg(feature = "testkit")]
pub mod conformance;
mod error;
mod events;
mod evidence;
mod json;
mod migrate;
mod model;
pub mod normalise;
mod open;
mod options;
mod parts;
#[cfg(feature = "postgres")]
mod postgres;
mod recording;
mod reports;
mod spend;
#[cfg(feature = "sqlite")]
mod sqlite;
mod state;
mod status;
mod store;
mod weights;
#[cfg(feature = "sqlite")]
mod writer_thread;

pub use common::content_digest;
pub use error::{Result, StoreError, StoreErrorKind};
pub use events::{BalanceChange, BalanceReading, Event, EventBody, EventOutcome, SpendNotice, StoredBalance};
pub use json::{message_json, recipient_json};
pub use migrate::SCHEMA_VERSION;
pub use model::{
    AttemptRecord, Claim, InboundRecord, Millis, NewMessage, OutcomeUpdate, ReceiptDisposition,
    ReceiptRecord, RecipientRecord, Reservation, StatusCounts, StoredMessage, Suppression, SweepReport,
    new_id,
};
pub use open::open;
pub use options::{ContentMode, ManualWallClock, StoreOptions, SystemWallClock, WallClock};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use recording::{RecordedSend, RecordingSender, deliver_claims, outcomes_of};
pub use reports::{
    BatchSummary, ProviderActivity, ProviderBucket, RecipientCursor, RecipientQuery, StoreReports,
};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use state::StoreState;
pub use status::Status;
pub use store::{Backend, BatchWritten, MessageStore};
pub use weights::StoredWeightChange;

/// The name the store gives itself on errors it puts into the chain (`sms_core::Error::provider`).
pub const STORE_NAME: &str = "store";
