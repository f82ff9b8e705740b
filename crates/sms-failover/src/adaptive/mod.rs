//! Receipt-driven routing ([`crate::Strategy::Adaptive`]): weights that follow each provider's send
//! errors and delivery receipts. The decision itself ([`decide`]) is a pure function; the
//! [`AdaptiveRouter`] feeds it and keeps its result.

mod decide;
mod router;
mod settings;
mod shared;

pub use decide::{
    Decision, DecisionInput, Evidence, Overrides, Reason, ReceiptCounts, ReceiptState, SentMessage, Verdict,
    decide, effective_weights, judge_receipts, resting_points, verdict,
};
pub use router::{AdaptiveRouter, DECIDER_LEASE, ProviderWeight, ReceiptEvidence, WeightChange};
pub use settings::{AdaptiveSettings, TOTAL_POINTS};
pub use shared::{NamedOverrides, Override, Period, WeightLog};
