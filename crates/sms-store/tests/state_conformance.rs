//! The chain's state suites (`sms_failover::state::conformance`: opt-out list, idempotency and spend ledger) run
//! against the store on SQLite and on PostgreSQL. A namespace is a SQLite file, or a PostgreSQL
//! schema, opened once per handle so that "shared" checks go through separate pools.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sms_failover::state::{IdempotencyStore, SpendLedger, SuppressionList, conformance};
use sms_store::{ManualWallClock, PostgresStore, SqliteStore, StoreOptions, StoreState};
use sms_test_support::TestDatabase;
use support::TempDb;

fn options(clock: &Arc<ManualWallClock>) -> StoreOptions {
    StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    }
}

/// One SQLite file per namespace; every call opens a new store (its own pools) on it.
struct SqliteFiles {
    clock: Arc<ManualWallClock>,
    files: Mutex<HashMap<String, TempDb>>,
}

impl SqliteFiles {
    fn new() -> Self {
        Self {
            clock: Arc::new(ManualWallClock::new(sms_store::conformance::START_MS)),
            files: Mutex::new(HashMap::new()),
        }
    }

    async fn open(&self, namespace: String) -> StoreState {
        let path = {
            let mut files = self.files.lock().unwrap();
            files
                .entry(namespace.clone())
                .or_insert_with(|| TempDb::new(&namespace))
                .path()
                .to_owned()
        };
        let store = SqliteStore::open(&path, options(&self.clock))
            .await
            .expect("open");
        StoreState::new(Arc::new(store))
    }
}

#[tokio::test]
async fn sqlite_suppression_list() {
    let files = SqliteFiles::new();
    conformance::run_suppression(|ns| async { Arc::new(files.open(ns).await) as Arc<dyn SuppressionList> })
        .await;
}

#[tokio::test]
async fn sqlite_idempotency_store() {
    let files = SqliteFiles::new();
    let clock = files.clock.clone();
    conformance::run_idempotency(
        |ns| async { Arc::new(files.open(ns).await) as Arc<dyn IdempotencyStore> },
        &move |by: Duration| clock.advance(by),
    )
    .await;
}

#[tokio::test]
async fn sqlite_spend_ledger() {
    let files = SqliteFiles::new();
    conformance::run_spend_ledger(|ns| async { Arc::new(files.open(ns).await) as Arc<dyn SpendLedger> })
        .await;
}

/// Opens a store on schema `ns` of the test database.
async fn pg_open(url: &str, ns: &str, clock: &Arc<ManualWallClock>) -> StoreState {
    use sqlx::Connection;
    let schema = ns.replace('-', "_");
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    // Concurrent handles may race to create the schema: IF NOT EXISTS can still collide, so retry once.
    let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    if sqlx::query(&create).execute(&mut conn).await.is_err() {
        sqlx::query(&create)
            .execute(&mut conn)
            .await
            .expect("create schema");
    }
    let store = PostgresStore::connect(
        &format!("{url}?options=-c%20search_path%3D{schema}"),
        options(clock),
    )
    .await
    .expect("connect");
    StoreState::new(Arc::new(store))
}

#[tokio::test]
async fn postgres_suppression_list_and_idempotency_store() {
    let db = TestDatabase::create("sms_store_test_state").await;
    let url = db.url();
    let clock = Arc::new(ManualWallClock::new(sms_store::conformance::START_MS));
    conformance::run_suppression(|ns| {
        let (url, clock) = (url.clone(), clock.clone());
        async move { Arc::new(pg_open(&url, &ns, &clock).await) as Arc<dyn SuppressionList> }
    })
    .await;
    let advance = {
        let clock = clock.clone();
        move |by: Duration| clock.advance(by)
    };
    conformance::run_idempotency(
        |ns| {
            let (url, clock) = (url.clone(), clock.clone());
            async move { Arc::new(pg_open(&url, &ns, &clock).await) as Arc<dyn IdempotencyStore> }
        },
        &advance,
    )
    .await;
    conformance::run_spend_ledger(|ns| {
        let (url, clock) = (url.clone(), clock.clone());
        async move { Arc::new(pg_open(&url, &ns, &clock).await) as Arc<dyn SpendLedger> }
    })
    .await;
    db.drop_now().await;
}
