#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod adaptive;
mod breaker;
mod builder;
mod clock;
mod delivery;
mod health;
mod limits;
mod provider;
mod retry;
mod sender;
mod spend;
pub mod state;
mod strategy;

pub use adaptive::{AdaptiveRouter, AdaptiveSettings, ReceiptEvidence, WeightLog};
pub use breaker::{BreakerConfig, BreakerState, DEFAULT_FAILURE_THRESHOLD};
pub use builder::{DEFAULT_IDEMPOTENCY_RETENTION, DEFAULT_PART_CONCURRENCY, FailoverSenderBuilder};
pub use clock::{Clock, ManualClock, SystemClock, TokioClock};
pub use health::ProviderHealth;
pub use limits::{LimitScope, LimitWindow, RecipientLimits};
pub use provider::ProviderEntry;
pub use retry::RetryPolicy;
pub use sender::FailoverSender;
pub use spend::{
    CapPeriod, CapScope, CapUnit, CapUsage, DEFAULT_PREFIX_DIGITS, DEFAULT_WARN_PERCENT, MAINLAND,
    ManualWallClock, PriceTable, SpendCap, SpendPolicy, SpendWarning, SystemWallClock, Velocity, WallClock,
    WarningHook, beijing_minute, has_mobile_plan,
};
pub use state::{InMemorySuppressionList, SuppressionList};
pub use strategy::Strategy;

/// The chain's name: [`sms_core::MessageSender::name`] of a [`FailoverSender`], and the provider named
/// on errors and outcomes the chain decides itself (local limits, opt-outs, all providers failed).
pub const CHAIN_NAME: &str = "failover";
