//! Queued bulk with 50 ms of provider latency: two gateway instances on one PostgreSQL database
//! against one instance, measured in the same run (release build; loopback only; the in-process
//! sandbox as the provider, answering every ihuyi request after 50 ms).
//!
//! ```text
//! cargo bench -p sms-gateway --bench two_instances                  # 5 interleaved rounds of 4,000
//! cargo bench -p sms-gateway --bench two_instances -- --quick       # 1 round of 1,000
//! cargo bench -p sms-gateway --bench two_instances -- --store-state # no Redis: caps counted in PostgreSQL
//! ```
//!
//! Each run queues `N` one-recipient messages straight into the store (one bulk), then starts the
//! instances (each [`Gateway::builder`] with its own connection pool, as separate processes would
//! have; default `gateway.workers`) and times until the store counts every recipient accepted. The
//! clock starts before the instances do, so both settings pay their start-up.
//!
//! The instances share a Redis `[state]` (a key prefix of the bench's own), as several instances
//! are run: spend caps are counted there. With `--store-state` there is no `[state]` and the caps
//! are counted in PostgreSQL, where every send of every instance updates the same counter rows
//! (each instance charges the sends in flight together, one transaction per batch, so the row locks
//! are taken once per batch rather than once per send).
//!
//! Goal: two instances >= 1.7 x one. Printed as min / median over the rounds; not gated (shared
//! machines: the instances and the sandbox share this process's cores, so a busy machine lowers
//! the ratio). PostgreSQL is the one at 127.0.0.1:5432 (user postgres, trust auth), in a database
//! of the bench's own, and Redis the one at 127.0.0.1:6379; the bench fails when either is missing.

use std::time::{Duration, Instant};

use sms_config::{Config, LoadOptions};
use sms_core::{Message, PhoneNumber};
use sms_gateway::Gateway;
use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_KEY, Fault, FaultTarget, Product, Sandbox};
use sms_store::{MessageStore, NewMessage, PostgresStore, Status, StoreOptions};
use sms_test_support::TestDatabase;

const REDIS_URL: &str = "redis://127.0.0.1:6379";
const TOKEN: &str = "bench-webhook-token-0123456789";
const LATENCY: Duration = Duration::from_millis(50);
/// Not a verification code, so that no per-day code limit of the sandbox applies.
const TEXT: &str = "【示例】您的订单已发货，请注意查收。";

fn config(sandbox: &Sandbox, db: &str, redis: bool) -> Config {
    let state = if redis {
        if std::net::TcpStream::connect("127.0.0.1:6379").is_err() {
            panic!(
                "this bench needs Redis at {REDIS_URL}. Start one with `redis-server --daemonize yes`, \
                 or run with --store-state"
            );
        }
        format!(
            "[state]\nurl = {REDIS_URL:?}\nkey_prefix = \"sms-gateway-bench-two-{}:\"\n",
            std::process::id()
        )
    } else {
        String::new()
    };
    // A key is configured (never used) so that no instance makes one and writes a secrets file.
    let text = format!(
        "{}\n[store]\nurl = {db:?}\n\n{state}\n[gateway]\nwebhook_token = {TOKEN:?}\n\n\
         [[gateway.api_keys]]\nname = \"bench\"\nhash = \"sha256:{}\"\nscopes = [\"read\"]\n\n\
         [[spend.caps]]\nscope = \"overall\"\nperiod = \"day\"\nparts = 100000000\n",
        Config::sandbox_toml(&sandbox.base_url()),
        "0".repeat(64),
    );
    Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).expect("config")
}

/// Queues `count` one-recipient messages to numbers from `first` on; returns the bulk's id.
async fn enqueue(store: &PostgresStore, first: u64, count: usize) -> String {
    let batch = sms_store::new_id();
    let records: Vec<NewMessage> = (0..count as u64)
        .map(|i| {
            let to: PhoneNumber = format!("13{:09}", first + i).parse().expect("a mainland number");
            NewMessage::new(Message::text(to, TEXT)).in_batch(&batch)
        })
        .collect();
    for chunk in records.chunks(5_000) {
        store.enqueue(chunk, None).await.expect("queued");
    }
    batch
}

/// Starts `instances` gateways on the queue, waits until the bulk is all accepted, stops them;
/// returns messages per second.
async fn drain(config: &Config, store: &PostgresStore, batch: &str, count: usize, instances: usize) -> f64 {
    let started = Instant::now();
    let gateways = futures_util::future::join_all((0..instances).map(|_| {
        Gateway::builder(config.clone())
            .listen("127.0.0.1:0".parse().unwrap())
            .spawn()
    }))
    .await;
    let gateways: Vec<Gateway> = gateways.into_iter().map(|g| g.expect("gateway starts")).collect();
    loop {
        let counts = store.status_counts(batch).await.expect("counts");
        let pending: u64 = [Status::Queued, Status::Sending]
            .iter()
            .filter_map(|s| counts.get(s))
            .sum();
        if pending == 0 {
            let accepted = counts.get(&Status::Accepted).copied().unwrap_or(0);
            assert_eq!(accepted, count as u64, "every message accepted: {counts:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    futures_util::future::join_all(gateways.into_iter().map(Gateway::shutdown)).await;
    count as f64 / elapsed.as_secs_f64()
}

/// Forgets what the sandbox recorded, and makes every ihuyi request wait [`LATENCY`] (a reset
/// forgets faults too).
fn reset(sandbox: &Sandbox) {
    sandbox.reset();
    sandbox.inject_fault(Fault::latency(LATENCY).target(FaultTarget::Product(Product::IhuyiSms)));
}

fn min_median(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    (sorted[0], sorted[sorted.len() / 2])
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let redis = !std::env::args().any(|a| a == "--store-state");
    let (rounds, count) = if quick { (1, 1_000) } else { (5, 4_000) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let database = TestDatabase::create("sms_gateway_bench_two").await;
        let db = database.url();
        let sandbox = Sandbox::builder()
            .account(
                Product::IhuyiSms,
                Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).balance(i64::MAX / 4),
            )
            .spawn()
            .await
            .unwrap();
        reset(&sandbox);
        let config = config(&sandbox, &db, redis);
        let store = PostgresStore::connect(&db, StoreOptions::default())
            .await
            .expect("the bench's database");
        let mut next = 0u64;
        let mut take = |n: usize| {
            let first = next;
            next += n as u64;
            first
        };
        // Warm-up: connections, statements, the sandbox's state.
        let batch = enqueue(&store, take(200), 200).await;
        drain(&config, &store, &batch, 200, 2).await;
        let (mut one, mut two, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            reset(&sandbox);
            let batch = enqueue(&store, take(count), count).await;
            let single = drain(&config, &store, &batch, count, 1).await;
            reset(&sandbox);
            let batch = enqueue(&store, take(count), count).await;
            let double = drain(&config, &store, &batch, count, 2).await;
            one.push(single);
            two.push(double);
            ratios.push(double / single);
        }
        println!(
            "queued bulk, {count} messages, sandbox latency {} ms, one PostgreSQL, state {}, {rounds} rounds:",
            LATENCY.as_millis(),
            if redis { "on Redis" } else { "in the store" }
        );
        let (min, median) = min_median(&one);
        println!("   one instance: min {min:.0}, median {median:.0} messages/s");
        let (min, median) = min_median(&two);
        println!("   two instances: min {min:.0}, median {median:.0} messages/s");
        let (min, median) = min_median(&ratios);
        println!("   ratio two / one (goal >= 1.7): min {min:.2}, median {median:.2}");
        store.close().await;
        database.drop_now().await;
    });
}
