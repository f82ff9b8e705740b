//! Deterministic tests of the failover chain: stub providers, paused tokio time, injected clocks.

mod ambiguity;
mod batches;
mod breaker;
mod decisions;
mod local;
mod observability;
mod outage;
mod properties;
mod routing;
mod spend;
mod state;
mod support;
mod throughput;

/// Where the chains under test keep their state: the builder's in-memory defaults. The `sms-redis`
/// crate runs these same modules (its `failover_suite` test) with a `backend` that puts the state of
/// every chain on Redis, so that both must pass the same tests.
mod backend {
    use std::sync::Arc;

    use sms_failover::state::{BreakerSharing, InMemoryBreakerSharing};
    use sms_failover::{
        FailoverSenderBuilder, InMemorySuppressionList, ManualClock, SuppressionList, TokioClock,
    };

    /// A new chain's builder, before the test configures it: unchanged here.
    pub fn apply(builder: FailoverSenderBuilder) -> FailoverSenderBuilder {
        builder
    }

    /// A test's manual clock (the Redis backend times the state the test makes by it).
    pub fn manual_clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new())
    }

    /// An opt-out list a test fills itself and gives to its chain.
    pub fn suppression_list() -> Arc<dyn SuppressionList> {
        Arc::new(InMemorySuppressionList::new())
    }

    /// Breaker sharing for several chains of one test, on tokio's clock.
    pub fn breaker_sharing() -> Arc<dyn BreakerSharing> {
        Arc::new(InMemoryBreakerSharing::new(Arc::new(TokioClock)))
    }
}
