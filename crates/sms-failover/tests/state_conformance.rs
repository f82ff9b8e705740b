//! The state conformance suites against the in-memory implementations.
#![cfg(feature = "conformance")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sms_failover::ManualClock;
use sms_failover::state::{
    BreakerSharing, IdempotencyStore, InMemoryBreakerSharing, InMemoryIdempotencyStore,
    InMemoryRecipientLimiter, InMemorySuppressionList, RecipientLimiter, SuppressionList, conformance,
};

/// Handles by namespace: one shared instance per namespace.
struct Registry<T> {
    clock: Arc<ManualClock>,
    made: Mutex<HashMap<String, Arc<T>>>,
}

impl<T> Registry<T> {
    fn new() -> Self {
        Self {
            clock: Arc::new(ManualClock::new()),
            made: Mutex::new(HashMap::new()),
        }
    }

    fn open(&self, namespace: String, make: impl FnOnce(Arc<ManualClock>) -> T) -> Arc<T> {
        let clock = self.clock.clone();
        self.made
            .lock()
            .expect("lock")
            .entry(namespace)
            .or_insert_with(|| Arc::new(make(clock)))
            .clone()
    }

    fn advance(&self) -> impl Fn(Duration) + Sync + 'static {
        let clock = self.clock.clone();
        move |by| clock.advance(by)
    }
}

#[tokio::test]
async fn in_memory_suppression_list() {
    let lists = Registry::<InMemorySuppressionList>::new();
    conformance::run_suppression(|ns| {
        let list = lists.open(ns, |_| InMemorySuppressionList::new());
        async move { list as Arc<dyn SuppressionList> }
    })
    .await;
}

#[tokio::test]
async fn in_memory_recipient_limiter() {
    let limiters = Registry::<InMemoryRecipientLimiter>::new();
    conformance::run_limiter(
        |ns| {
            let limiter = limiters.open(ns, |clock| InMemoryRecipientLimiter::new(clock));
            async move { limiter as Arc<dyn RecipientLimiter> }
        },
        &limiters.advance(),
    )
    .await;
}

#[tokio::test]
async fn in_memory_idempotency_store() {
    let stores = Registry::<InMemoryIdempotencyStore>::new();
    conformance::run_idempotency(
        |ns| {
            let store = stores.open(ns, |clock| InMemoryIdempotencyStore::new(clock));
            async move { store as Arc<dyn IdempotencyStore> }
        },
        &stores.advance(),
    )
    .await;
}

#[tokio::test]
async fn in_memory_breaker_sharing() {
    let sharing = Registry::<InMemoryBreakerSharing>::new();
    conformance::run_breaker_sharing(
        |ns| {
            let shared = sharing.open(ns, |clock| InMemoryBreakerSharing::new(clock));
            async move { shared as Arc<dyn BreakerSharing> }
        },
        &sharing.advance(),
    )
    .await;
}

#[tokio::test]
async fn in_memory_spend_ledger() {
    let ledgers = Registry::<sms_failover::state::InMemorySpendLedger>::new();
    conformance::run_spend_ledger(|ns| {
        let ledger = ledgers.open(ns, |_| sms_failover::state::InMemorySpendLedger::new());
        async move { ledger as Arc<dyn sms_failover::state::SpendLedger> }
    })
    .await;
}
