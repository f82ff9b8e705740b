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
mod state;
mod support;
mod throughput;
