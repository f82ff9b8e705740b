//! The state conformance suites against the in-memory implementations.
#![cfg(feature = "conformance")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sms_core::{ClientReference, Error, PhoneNumber};
use sms_failover::state::{
    Admission, BreakerSharing, ChainState, IdempotencyStore, InMemoryBreakerSharing,
    InMemoryIdempotencyStore, InMemoryRecipientLimiter, InMemorySuppressionList, RecipientLimiter,
    RecordedOutcome, Reservation, SharedBreaker, SuppressionList, conformance,
};
use sms_failover::{LimitWindow, ManualClock};

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

/// The four in-memory types behind one handle, whose [`ChainState::start`] is the default: the
/// four traits asked in turn.
struct InMemoryState {
    suppression: InMemorySuppressionList,
    limiter: InMemoryRecipientLimiter,
    idempotency: InMemoryIdempotencyStore,
    sharing: InMemoryBreakerSharing,
}

impl InMemoryState {
    fn new(clock: Arc<ManualClock>) -> Self {
        Self {
            suppression: InMemorySuppressionList::new(),
            limiter: InMemoryRecipientLimiter::new(clock.clone()),
            idempotency: InMemoryIdempotencyStore::new(clock.clone()),
            sharing: InMemoryBreakerSharing::new(clock),
        }
    }
}

#[async_trait]
impl SuppressionList for InMemoryState {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        self.suppression.suppressed(numbers).await
    }
    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        self.suppression.suppress(number).await
    }
    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        self.suppression.unsuppress(number).await
    }
}

#[async_trait]
impl RecipientLimiter for InMemoryState {
    async fn admit(
        &self,
        scope: &str,
        numbers: &[PhoneNumber],
        windows: &[LimitWindow],
    ) -> Result<Vec<Admission>, Error> {
        self.limiter.admit(scope, numbers, windows).await
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryState {
    async fn reserve(&self, reference: &ClientReference, retention: Duration) -> Result<Reservation, Error> {
        self.idempotency.reserve(reference, retention).await
    }
    async fn complete(
        &self,
        reference: &ClientReference,
        outcome: &RecordedOutcome,
        retention: Duration,
    ) -> Result<(), Error> {
        self.idempotency.complete(reference, outcome, retention).await
    }
    async fn release(&self, reference: &ClientReference) -> Result<(), Error> {
        self.idempotency.release(reference).await
    }
}

#[async_trait]
impl BreakerSharing for InMemoryState {
    async fn admit(&self, provider: &str, probe_lease: Duration) -> Result<SharedBreaker, Error> {
        self.sharing.admit(provider, probe_lease).await
    }
    async fn trip(&self, provider: &str, cool_down: Duration) -> Result<(), Error> {
        self.sharing.trip(provider, cool_down).await
    }
    async fn close(&self, provider: &str) -> Result<(), Error> {
        self.sharing.close(provider).await
    }
    async fn release_probe(&self, provider: &str) -> Result<(), Error> {
        self.sharing.release_probe(provider).await
    }
}

impl ChainState for InMemoryState {}

#[tokio::test]
async fn in_memory_chain_state_start_in_parts() {
    let states = Registry::<InMemoryState>::new();
    conformance::run_chain_state(
        |ns| {
            let state = states.open(ns, InMemoryState::new);
            async move { state as Arc<dyn ChainState> }
        },
        &states.advance(),
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
