//! Health snapshots, balances and names. (Tracing output is checked in `tests/tracing_spans.rs`, alone in
//! its binary: a thread-scoped subscriber misses events while other tests register the same callsites.)

use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{BalanceQuery, ErrorKind, MessageSender};
use sms_failover::{BreakerConfig, BreakerState, ProviderEntry, RecipientLimits, RetryPolicy};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn health_reports_breaker_success_rate_and_average_latency() {
    let a = Arc::new(
        StubSender::new("a")
            .then(StubOutcome::fail(ErrorKind::InsufficientBalance).after(Duration::from_millis(100)))
            .then(StubOutcome::Accept.after(Duration::from_millis(20)))
            .then(StubOutcome::Accept.after(Duration::from_millis(30)))
            .then(StubOutcome::Accept.after(Duration::from_millis(50))),
    );
    let b = failing("b", ErrorKind::Unavailable);
    let chain = build(
        chain_of(&[&a, &b])
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(BreakerConfig::default().failure_threshold(1)),
    );
    let before = chain.health();
    assert_eq!(before[0].requests, 0);
    assert_eq!((before[0].success_rate, before[0].average_latency), (1.0, None));

    // a refuses (no credit: not a breaker matter), b fails and opens; then a accepts three messages.
    chain
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("both failed");
    for to in numbers(3) {
        chain.send(&text_to(to)).await.expect("sent via a");
    }
    let health = chain.health();
    assert_eq!(health[0].name, "a");
    assert_eq!(health[0].requests, 4);
    assert_eq!(health[0].success_rate, 0.75);
    assert_eq!(health[0].average_latency, Some(Duration::from_millis(50)));
    assert_eq!(health[0].breaker, BreakerState::Closed);
    assert_eq!(health[1].name, "b");
    assert_eq!(health[1].breaker, BreakerState::Open);
    assert_eq!((health[1].requests, health[1].success_rate), (1, 0.0));
}

#[tokio::test(start_paused = true)]
async fn balances_are_listed_per_provider() {
    let a = stub("a");
    a.set_balance(42);
    let b = stub("b");
    let chain = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::with_balance_query(a.clone()).priority(0))
            .provider(ProviderEntry::new(b.clone() as Arc<dyn MessageSender>).priority(1))
            .provider(
                ProviderEntry::new(b.clone() as Arc<dyn MessageSender>)
                    .name("b-backup")
                    .priority(2)
                    .balance(b.clone() as Arc<dyn BalanceQuery>),
            ),
    );
    let balances = chain.balances().await;
    let names: Vec<&str> = balances.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["a", "b", "b-backup"]);
    assert_eq!(balances[0].1.as_ref().map(|b| b.amount).ok(), Some(42));
    assert_eq!(
        balances[1].1.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::Unsupported)
    );
    assert_eq!(balances[2].1.as_ref().map(|b| b.amount).ok(), Some(1000));
}

#[tokio::test(start_paused = true)]
async fn entry_names_override_sender_names_in_receipts_and_attempts() {
    let a = failing("ihuyi", ErrorKind::InsufficientBalance);
    let b = stub("ihuyi");
    let chain = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::new(a as Arc<dyn MessageSender>).name("ihuyi-main"))
            .provider(
                ProviderEntry::new(b as Arc<dyn MessageSender>)
                    .name("ihuyi-backup")
                    .priority(1),
            ),
    );
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["ihuyi-backup"]);
    assert_eq!(receipt.attempts[0].provider, "ihuyi-main");
}

#[tokio::test(start_paused = true)]
async fn one_registration_gives_the_chain_the_clients_balance_too() {
    let a = stub("a");
    a.set_balance(7);
    let chain = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::new(a.clone())),
    );
    let balances = chain.balances().await;
    assert_eq!(balances[0].1.as_ref().map(|b| b.amount).ok(), Some(7));
    // Only an explicitly send-only registration has no balance.
    let chain = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::send_only(a.clone())),
    );
    assert_eq!(
        chain.balances().await[0].1.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::Unsupported)
    );
}
