//! The state a chain consults before and after sending, behind five traits so that several instances
//! of an application can share it (the `sms-redis` crate implements them on Redis; a message store
//! may implement the opt-out list and idempotency durably):
//!
//! | trait | what it holds | default |
//! | --- | --- | --- |
//! | [`SuppressionList`] | numbers that must get no message (opt-outs) | [`InMemorySuppressionList`] |
//! | [`RecipientLimiter`] | recent messages per number, for [`crate::RecipientLimits`] | [`InMemoryRecipientLimiter`] |
//! | [`IdempotencyStore`] | client references already sent, and their outcomes | [`InMemoryIdempotencyStore`] |
//! | [`BreakerSharing`] | breaker trips and probes seen by other instances | none: each chain's own breakers |
//! | [`SpendLedger`] | parts and money spent per cap and period, for [`crate::SpendPolicy`] | [`InMemorySpendLedger`] |
//!
//! A backend that holds all four can also implement [`ChainState`], which answers the checks of a
//! message's start (reservation, opt-outs, the first provider's shared breaker, limits) in one step,
//! all or nothing: one round trip instead of one per check.
//!
//! Every method is async and fallible. When a state backend fails, the chain does not send: the
//! message fails with a retryable [`ErrorKind::Unavailable`] error that names the backend (see
//! [`backend_unavailable`]). Failing open instead is an explicit choice per trait: wrap the backend in
//! [`FailOpen`].
//!
//! For backend implementors, [`CallGroup`] writes concurrent calls together: one script call or one
//! transaction for every call in flight, each job still answered on its own (`sms-redis` groups its
//! starts and completions with it, the message store its spend charges).
//!
//! With the `conformance` feature, the `conformance` module holds one suite per trait that every implementation
//! runs in its tests.

mod breaker;
#[cfg(feature = "conformance")]
pub mod conformance;
mod fail_open;
mod group;
mod idempotency;
mod limiter;
mod spend;
mod start;
mod suppression;

pub use breaker::{BreakerSharing, InMemoryBreakerSharing, SharedBreaker};
pub use fail_open::FailOpen;
pub use group::{BatchFault, BatchFuture, CallGroup};
pub use idempotency::{
    DEFAULT_MAX_REFERENCES, IdempotencyStore, InMemoryIdempotencyStore, RecordedError, RecordedOutcome,
    RecordedRecipient, RecordedStatus, Reservation,
};
pub use limiter::{Admission, InMemoryRecipientLimiter, RecipientLimiter};
pub use spend::{Adjustment, Charge, InMemorySpendLedger, SpendAdmission, SpendLedger};
pub use start::{ChainState, SharedBackend, StartAnswer, StartRequest, start_in_parts};
pub use suppression::{InMemorySuppressionList, SuppressionList};

use sms_core::{Error, ErrorKind, Operation};

/// The error a state backend returns when it cannot answer (down, timed out, refused): retryable,
/// [`ErrorKind::Unavailable`], named after the backend (`backend`, e.g. `"redis"`) as its provider, with
/// what failed (`check`, e.g. `"recipient limits"`) and why. The chain sends nothing after it.
///
/// ```
/// let e = sms_failover::state::backend_unavailable("redis", "recipient limits", "timed out after 200ms");
/// assert!(e.is_retryable());
/// assert_eq!(e.provider(), Some("redis"));
/// assert!(e.message().contains("not sent"), "{e}");
/// ```
pub fn backend_unavailable(backend: &str, check: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Unavailable, Operation::Send)
        .with_provider(backend)
        .with_message(format!(
            "state backend {backend} failed for {check} ({detail}); the message was not sent"
        ))
}
