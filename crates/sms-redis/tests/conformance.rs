//! The state conformance suites of `sms_failover::state::conformance` against Redis: every handle a
//! separate connection (an instance), one unique key prefix per namespace.

mod support;

use std::sync::Arc;

use sms_failover::state::{
    BreakerSharing, ChainState, IdempotencyStore, RecipientLimiter, SpendLedger, SuppressionList, conformance,
};
use support::{TestTime, connect, unique_prefix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_suppression_list() {
    let run = unique_prefix("suppression");
    let time = TestTime::default();
    conformance::run_suppression(|ns| {
        let (prefix, time) = (format!("{run}-{ns}"), time.clone());
        async move { Arc::new(connect(&prefix, &time).await) as Arc<dyn SuppressionList> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_recipient_limiter() {
    let run = unique_prefix("limiter");
    let time = TestTime::default();
    let clock = time.clone();
    conformance::run_limiter(
        |ns| {
            let (prefix, time) = (format!("{run}-{ns}"), time.clone());
            async move { Arc::new(connect(&prefix, &time).await) as Arc<dyn RecipientLimiter> }
        },
        &move |by| clock.advance(by),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_idempotency_store() {
    let run = unique_prefix("idempotency");
    let time = TestTime::default();
    let clock = time.clone();
    conformance::run_idempotency(
        |ns| {
            let (prefix, time) = (format!("{run}-{ns}"), time.clone());
            async move { Arc::new(connect(&prefix, &time).await) as Arc<dyn IdempotencyStore> }
        },
        &move |by| clock.advance(by),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_breaker_sharing() {
    let run = unique_prefix("breaker");
    let time = TestTime::default();
    let clock = time.clone();
    conformance::run_breaker_sharing(
        |ns| {
            let (prefix, time) = (format!("{run}-{ns}"), time.clone());
            async move { Arc::new(connect(&prefix, &time).await) as Arc<dyn BreakerSharing> }
        },
        &move |by| clock.advance(by),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_chain_state_start_in_one_call() {
    let run = unique_prefix("start");
    let time = TestTime::default();
    let clock = time.clone();
    conformance::run_chain_state(
        |ns| {
            let (prefix, time) = (format!("{run}-{ns}"), time.clone());
            async move { Arc::new(connect(&prefix, &time).await) as Arc<dyn ChainState> }
        },
        &move |by| clock.advance(by),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_spend_ledger() {
    let run = unique_prefix("spend");
    let time = TestTime::default();
    conformance::run_spend_ledger(|ns| {
        let (prefix, time) = (format!("{run}-{ns}"), time.clone());
        async move { Arc::new(connect(&prefix, &time).await) as Arc<dyn SpendLedger> }
    })
    .await;
}
