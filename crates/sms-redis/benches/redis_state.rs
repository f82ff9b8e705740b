//! A chain with its state on Redis against the same chain with in-memory state (the default), 64
//! sends in flight on the in-process sandbox, and the Redis round trips each send costs.
//!
//! ```text
//! cargo bench -p sms-redis --bench redis_state             # 3 interleaved rounds of 5,000 sends
//! cargo bench -p sms-redis --bench redis_state -- --quick  # 3 rounds of 1,000
//! ```
//!
//! A third chain, in-memory without idempotency (what a chain did before its state went behind
//! traits), shows what the in-memory default costs. All chains have ihuyi alone, default limits (1 per second and 5 per day per number: every send
//! goes to a new number, so all are admitted), idempotency by reference and opt-outs; the Redis chain
//! also shares breaker trips. Needs Redis at 127.0.0.1:6379 (`SMS_REDIS_URL` for another).
//! Goal: Redis throughput >= 0.8 x in-memory. Reported, not gated.
//!
//! Two settings: the sandbox answering at once (loopback; the chain, the sandbox and Redis then
//! compete for the same cores, and the figure is the CPU cost of the round trips), and the sandbox
//! answering after 20 ms, closer to a real provider (the figure is what a send waits for Redis).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sms_core::{Message, MessageSender, PhoneNumber};
use sms_failover::{FailoverSender, ProviderEntry};
use sms_ihuyi::{IhuyiClient, IhuyiConfig};
use sms_redis::{RedisConfig, RedisState};
use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_KEY, Fault, FaultKind, FaultTarget, Product, Sandbox};

/// Not a verification code, so that no per-day code limit of the sandbox applies.
const TEXT: &str = "【示例】您的订单已发货，请注意查收。";
const IN_FLIGHT: usize = 64;
const ROUNDS: usize = 3;

/// Distinct mainland numbers.
struct Numbers(AtomicU64);

impl Numbers {
    fn next(&self) -> PhoneNumber {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        format!("13{n:09}").parse().expect("valid mainland number")
    }
}

fn min_median(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    (sorted[0], sorted[sorted.len() / 2])
}

/// Runs `make()` futures with at most `in_flight` outstanding, `total` in all; returns the elapsed
/// time and how many failed.
async fn drive<F, Fut>(total: usize, in_flight: usize, make: F) -> (Duration, usize)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let make = Arc::new(make);
    let remaining = Arc::new(AtomicU64::new(total as u64));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let (make, remaining, failures) = (make.clone(), remaining.clone(), failures.clone());
            tokio::spawn(async move {
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    if !make().await {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    (started.elapsed(), failures.load(Ordering::Relaxed) as usize)
}

async fn throughput(chain: &FailoverSender, numbers: &Arc<Numbers>, sends: usize) -> f64 {
    let (chain, numbers) = (chain.clone(), numbers.clone());
    let in_flight = std::env::var("SMS_BENCH_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IN_FLIGHT);
    let (elapsed, failed) = drive(sends, in_flight, move || {
        let chain = chain.clone();
        let message = Message::text(numbers.next(), TEXT);
        async move { chain.send(&message).await.is_ok() }
    })
    .await;
    assert_eq!(failed, 0, "every send succeeds");
    sends as f64 / elapsed.as_secs_f64()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sends = if quick { 1_000 } else { 5_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let relaxed = Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
            .balance(i64::MAX / 4)
            .per_second_limit(u32::MAX)
            .per_day_limit(u32::MAX)
            .per_day_code_limit(u32::MAX);
        let sandbox = Sandbox::builder()
            .account(Product::IhuyiSms, relaxed)
            .spawn()
            .await
            .expect("sandbox");
        let ihuyi = Arc::new(
            IhuyiClient::new(IhuyiConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY).base_url(sandbox.base_url()))
                .expect("client"),
        );
        let url = std::env::var("SMS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let state = RedisState::connect(RedisConfig::new(url).key_prefix(format!("bench-{nanos}")))
            .await
            .unwrap_or_else(|e| panic!("this bench needs Redis (start one with `redis-server --daemonize yes`): {e}"));
        let entry = || ProviderEntry::new(ihuyi.clone());
        let in_memory = FailoverSender::builder().provider(entry()).build().expect("chain");
        // What a chain did before its state went behind traits: no idempotency by reference.
        let before_traits = FailoverSender::builder()
            .provider(entry())
            .without_idempotency()
            .build()
            .expect("chain");
        let on_redis = FailoverSender::builder()
            .provider(entry())
            .shared_state(Arc::new(state.clone()))
            .build()
            .expect("chain");
        let numbers = Arc::new(Numbers(AtomicU64::new(0)));
        // Warm-up: connections, scripts loaded.
        throughput(&before_traits, &numbers, 200).await;
        throughput(&in_memory, &numbers, 200).await;
        throughput(&on_redis, &numbers, 200).await;

        println!(
            "redis_state ({}): {sends} single-number sends per run, {IN_FLIGHT} in flight, {ROUNDS} rounds interleaved",
            if quick { "quick" } else { "full" }
        );
        let row = |label: &str, samples: &[f64], unit: &str| {
            let (min, median) = min_median(samples);
            println!("    {label:<44} min {min:>10.3} {unit:<8} median {median:>10.3} {unit}");
        };
        for (setting, latency, sends) in [
            ("sandbox answering at once", None, sends),
            ("sandbox answering after 20 ms", Some(Duration::from_millis(20)), sends / 5),
        ] {
            sandbox.clear_faults();
            if let Some(latency) = latency {
                sandbox.inject_fault(
                    Fault::new(FaultKind::Latency {
                        min: latency,
                        max: latency,
                    })
                    .target(FaultTarget::Product(Product::IhuyiSms)),
                );
            }
            let (mut memory, mut redis, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let (mut plain, mut default_ratios) = (Vec::new(), Vec::new());
            let mut trips_per_send = Vec::new();
            for _ in 0..ROUNDS {
                let p = throughput(&before_traits, &numbers, sends).await;
                let m = throughput(&in_memory, &numbers, sends).await;
                plain.push(p);
                default_ratios.push(m / p);
                let before = state.round_trips();
                let r = throughput(&on_redis, &numbers, sends).await;
                trips_per_send.push((state.round_trips() - before) as f64 / sends as f64);
                memory.push(m);
                redis.push(r);
                ratios.push(r / m);
            }
            println!("  {setting} ({sends} sends per run):");
            row("in-memory, without idempotency", &plain, "sends/s");
            row("in-memory state (the default)", &memory, "sends/s");
            row("ratio default / without idempotency", &default_ratios, "");
            row("Redis state", &redis, "sends/s");
            row("ratio Redis / in-memory (goal >= 0.8)", &ratios, "");
            row("Redis round trips per send", &trips_per_send, "");
        }
        sandbox.clear_faults();

        // One message to 100 numbers: ihuyi takes one number per request, so the breaker and the
        // limiter are asked once per request (per number); opt-outs and idempotency once per message.
        let batch: Vec<PhoneNumber> = (0..100).map(|_| numbers.next()).collect();
        let before = state.round_trips();
        on_redis
            .send(&Message::text(batch, TEXT))
            .await
            .expect("batch sent");
        let trips = state.round_trips() - before;
        println!(
            "    one message to 100 numbers: {trips} round trips ({:.2} per number: opt-outs 1 and idempotency 2 per \
             message; breaker 1 and limits 1 per request of one number)",
            trips as f64 / 100.0
        );
        println!(
            "    per single-number send: idempotency reserve 1 + opt-outs 1 + breaker 1 + limits 1 + outcome 1 = 5, \
             one per check"
        );
    });
}
