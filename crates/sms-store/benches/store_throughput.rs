//! The message store's throughput, each figure against its goal or a baseline measured in the same
//! run (release build; loopback only; a real PostgreSQL at 127.0.0.1:5432, database created and
//! dropped here).
//!
//! ```text
//! cargo bench -p sms-store --bench store_throughput             # full: 3 rounds
//! cargo bench -p sms-store --bench store_throughput -- --quick  # CI-sized: smaller, 1 round
//! cargo bench -p sms-store --bench store_throughput -- --chain  # scenario c alone
//! cargo bench -p sms-store --bench store_throughput -- --chain --rounds 7  # more rounds
//! cargo bench -p sms-store --bench store_throughput -- --chain --latency 20  # provider takes 20 ms
//! ```
//!
//! | scenario | measured | goal |
//! | --- | --- | --- |
//! | a. outcomes of a 100,000-recipient bulk, SQLite | recipients recorded per second, batches of 1,000 | >= 20,000/s |
//! | b. the same on PostgreSQL | recipients recorded per second | >= 10,000/s |
//! | c. chain with a SQLite store (`RecordingSender`), 64 in flight on the sandbox | throughput / chain without a store | >= 0.8 |
//!
//! Each scenario prints min / median over the rounds; nothing is gated (shared CI machines).
//!
//! Scenario c prints the CPU time per send of the whole process beside each round's rate: with the
//! sandbox answering at once both settings are bound by the CPU of this machine's two cores, so the
//! ratio is about the ratio of CPU per send. `--latency MS` makes every ihuyi request wait, as a real
//! provider's do; the rates then show what 64 sends in flight get when the provider sets the pace.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use sms_core::{Message, MessageSender, PhoneNumber};
use sms_store::{
    MessageStore, NewMessage, OutcomeUpdate, PostgresStore, RecordingSender, SqliteStore, Status,
    StoreOptions,
};

#[derive(Clone, Copy)]
struct Plan {
    rounds: usize,
    recipients: u32,
    batch: usize,
    sends: u32,
    in_flight: usize,
}

fn number(i: u32) -> PhoneNumber {
    format!("1390{i:07}").parse().expect("valid")
}

fn temp_path() -> String {
    std::env::temp_dir()
        .join(format!(
            "sms-store-bench-{}-{}.db",
            std::process::id(),
            sms_store::new_id()
        ))
        .to_string_lossy()
        .into_owned()
}

fn remove_sqlite(path: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

/// Records `plan.recipients` accepted outcomes (already sent, one recipient per message) in batches;
/// returns recipients per second of the recording alone.
async fn record_outcomes(store: &dyn MessageStore, plan: &Plan) -> f64 {
    let records: Vec<NewMessage> = (0..plan.recipients)
        .map(|i| NewMessage::new(Message::text(number(i), "【Bench】bulk")).in_batch("bench"))
        .collect();
    for chunk in records.chunks(5_000) {
        store.insert_sending(chunk).await.expect("insert");
    }
    let outcomes: Vec<OutcomeUpdate> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut o = OutcomeUpdate::new(&r.id, r.message.recipients()[0].e164(), Status::Accepted);
            o.provider = Some("ihuyi".into());
            o.provider_message_id = Some(format!("{}", 15_870_246_956_696_820_530u64 + i as u64));
            o.billed_parts = Some(1);
            o
        })
        .collect();
    let start = Instant::now();
    for chunk in outcomes.chunks(plan.batch) {
        store.record_outcomes(chunk).await.expect("record");
    }
    let rate = f64::from(plan.recipients) / start.elapsed().as_secs_f64();
    let counts = store.status_counts("bench").await.expect("counts");
    assert_eq!(
        counts.get(&Status::Accepted).copied(),
        Some(u64::from(plan.recipients))
    );
    rate
}

/// CPU per send while a run went: of the whole process, and of the store's own threads (its writer
/// thread and sqlx's SQLite connection threads), in microseconds; `None` off Linux.
#[derive(Clone, Copy)]
struct CpuPerSend {
    process: Option<f64>,
    store: Option<f64>,
}

fn store_threads_cpu() -> Option<std::time::Duration> {
    Some(sms_test_support::threads_cpu("sms-store")? + sms_test_support::threads_cpu("sqlx-sqlite")?)
}

/// Sends `plan.sends` texts through `sender`: sends per second, and CPU per send.
async fn run_sends(sender: &dyn MessageSender, from: u32, plan: &Plan) -> (f64, CpuPerSend) {
    let (process, store) = (sms_test_support::process_cpu(), store_threads_cpu());
    let start = Instant::now();
    let accepted = futures_util::stream::iter(from..from + plan.sends)
        .map(|i| async move {
            sender
                .send(&Message::text(number(i), "【Bench】bulk"))
                .await
                .is_ok()
        })
        .buffer_unordered(plan.in_flight)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(accepted, plan.sends as usize, "every send accepted");
    let rate = f64::from(plan.sends) / start.elapsed().as_secs_f64();
    let per_send = |before: Option<std::time::Duration>, after: Option<std::time::Duration>| {
        before
            .zip(after)
            .map(|(before, after)| after.saturating_sub(before).as_secs_f64() * 1e6 / f64::from(plan.sends))
    };
    let cpu = CpuPerSend {
        process: per_send(process, sms_test_support::process_cpu()),
        store: per_send(store, store_threads_cpu()),
    };
    (rate, cpu)
}

fn min_median(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[0], values[values.len() / 2])
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = if quick {
        Plan {
            rounds: 1,
            recipients: 20_000,
            batch: 1_000,
            sends: 2_000,
            in_flight: 64,
        }
    } else {
        Plan {
            rounds: 3,
            recipients: 100_000,
            batch: 1_000,
            sends: 10_000,
            in_flight: 64,
        }
    };

    let plan = Plan {
        rounds: sms_test_support::arg::<usize>("--rounds").map_or(plan.rounds, |r| r.max(1)),
        ..plan
    };
    if !std::env::args().any(|a| a == "--chain") {
        record_scenarios(&plan).await;
    }
    chain_scenario(&plan).await;
}

/// Scenarios a and b.
async fn record_scenarios(plan: &Plan) {
    let mut sqlite_rates = Vec::new();
    let mut pg_rates = Vec::new();
    for _ in 0..plan.rounds {
        let path = temp_path();
        let store = SqliteStore::open(&path, StoreOptions::default())
            .await
            .expect("sqlite");
        sqlite_rates.push(record_outcomes(&store, plan).await);
        store.close().await;
        remove_sqlite(&path);

        let database = sms_test_support::TestDatabase::create("sms_store_bench").await;
        let store = PostgresStore::connect(&database.url(), StoreOptions::default())
            .await
            .expect("postgres");
        pg_rates.push(record_outcomes(&store, plan).await);
        store.close().await;
        database.drop_now().await;
    }
    let (min, median) = min_median(&mut sqlite_rates);
    println!(
        "a. SQLite, outcomes of {} recipients in batches of {}: min {min:.0}/s, median {median:.0}/s (goal >= 20000/s)",
        plan.recipients, plan.batch
    );
    let (min, median) = min_median(&mut pg_rates);
    println!(
        "b. PostgreSQL, outcomes of {} recipients in batches of {}: min {min:.0}/s, median {median:.0}/s (goal >= 10000/s)",
        plan.recipients, plan.batch
    );
}

/// Scenario c: the chain with and without a store, interleaved, on one sandbox with room for every
/// send.
async fn chain_scenario(plan: &Plan) {
    let total = i64::from(plan.sends) * 2 * plan.rounds as i64 + 10;
    let sandbox = sms_sandbox::Sandbox::builder()
        .account(
            sms_sandbox::Product::IhuyiSms,
            sms_sandbox::Account::new(sms_sandbox::DEFAULT_ACCOUNT, sms_sandbox::DEFAULT_KEY)
                .balance(total * 2),
        )
        .spawn()
        .await
        .expect("sandbox");
    let base = sandbox.base_url();
    let client = sms_ihuyi::IhuyiClient::new(
        sms_ihuyi::IhuyiConfig::new(sms_sandbox::DEFAULT_ACCOUNT, sms_sandbox::DEFAULT_KEY)
            .base_url(base.clone())
            .international_base_url(base),
    )
    .expect("client");
    let chain = || {
        sms_failover::FailoverSender::builder()
            .provider(sms_failover::ProviderEntry::new(
                Arc::new(client.clone()) as Arc<dyn MessageSender>
            ))
            .recipient_limits(sms_failover::RecipientLimits::disabled())
            .build()
            .expect("chain")
    };
    let bare = chain();
    let path = temp_path();
    let store: Arc<dyn MessageStore> = Arc::new(
        SqliteStore::open(&path, StoreOptions::default())
            .await
            .expect("sqlite"),
    );
    let recorded = RecordingSender::new(chain(), store);
    let latency = sms_test_support::arg::<u64>("--latency").map(std::time::Duration::from_millis);
    if let Some(latency) = latency {
        sandbox.inject_fault(
            sms_sandbox::Fault::latency(latency)
                .target(sms_sandbox::FaultTarget::Product(sms_sandbox::Product::IhuyiSms)),
        );
    }
    // Warm both up (connections, pages) before measuring.
    run_sends(&bare, 5_000_000, &Plan { sends: 500, ..*plan }).await;
    let mut ratios = Vec::new();
    let mut next = 0;
    let micros = |cpu: Option<f64>| cpu.map_or_else(|| "?".to_owned(), |c| format!("{c:.0}"));
    for _ in 0..plan.rounds {
        let (without, cpu_without) = run_sends(&bare, next, plan).await;
        next += plan.sends;
        let (with, cpu_with) = run_sends(&recorded, next, plan).await;
        next += plan.sends;
        println!(
            "   round: without a store {without:.0}/s ({} µs CPU a send), with a SQLite store {with:.0}/s \
             ({} µs, of which the store's threads {} µs)",
            micros(cpu_without.process),
            micros(cpu_with.process),
            micros(cpu_with.store)
        );
        ratios.push(with / without);
    }
    let (min, median) = min_median(&mut ratios);
    println!(
        "c. chain with a SQLite store vs without, {} in flight, {} sends, provider latency {} ms: ratio min {min:.2}, median {median:.2} (goal >= 0.8)",
        plan.in_flight,
        plan.sends,
        latency.unwrap_or_default().as_millis()
    );
    remove_sqlite(&path);
}
