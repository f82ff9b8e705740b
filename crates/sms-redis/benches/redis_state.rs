//! A chain with its state on Redis against the same chain with in-memory state (the default), on the
//! in-process sandbox, and the Redis round trips each send costs.
//!
//! ```text
//! cargo bench -p sms-redis --bench redis_state             # 5 interleaved rounds of 5,000 sends
//! cargo bench -p sms-redis --bench redis_state -- --quick  # 5 rounds of 1,000
//! ```
//!
//! A third chain, in-memory without idempotency (what a chain did before its state went behind
//! traits), shows what the in-memory default costs. All chains have ihuyi alone, default limits (1 per
//! second and 5 per day per number: every send goes to a new number, so all are admitted), idempotency
//! by reference and opt-outs; the Redis chain also shares breaker trips.
//! Goal: Redis throughput >= 0.8 x in-memory. Reported, not gated.
//!
//! Redis is a `redis-server` of the bench's own on a free port (so that the server's command counts
//! are the bench's alone), or the one at `SMS_REDIS_URL`. Round trips are counted twice: by the
//! client ([`RedisState::round_trips`]) and by the server (`INFO commandstats`, every command but the
//! `INFO` itself; a script that had to be loaded again counts its `SCRIPT LOAD` too).
//!
//! CPU per send is this process's (chain, sandbox, client; `/proc/self/stat`, 10 ms ticks) and the
//! server's (`INFO cpu`). With the sandbox answering at once everything competes for the same two
//! cores, so the ratio is about in-memory CPU / (Redis client CPU + server CPU): the server's share
//! alone bounds it.
//!
//! Three settings: 64 sends in flight with the sandbox answering at once (loopback; the chain, the
//! sandbox and Redis then compete for the same cores, and the figure is the CPU cost of the round
//! trips), one send at a time (the figure is the latency the round trips add to a send), and 64 in
//! flight with the sandbox answering after 20 ms, closer to a real provider.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sms_core::{Message, MessageSender, PhoneNumber};
use sms_failover::{FailoverSender, ProviderEntry};
use sms_ihuyi::{IhuyiClient, IhuyiConfig};
use sms_redis::{RedisConfig, RedisState};
use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_KEY, Fault, FaultTarget, Product, Sandbox};

/// Not a verification code, so that no per-day code limit of the sandbox applies.
const TEXT: &str = "【示例】您的订单已发货，请注意查收。";
const IN_FLIGHT: usize = 64;
const ROUNDS: usize = 5;

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

async fn throughput(chain: &FailoverSender, numbers: &Arc<Numbers>, sends: usize, in_flight: usize) -> f64 {
    let (chain, numbers) = (chain.clone(), numbers.clone());
    let (elapsed, failed) = drive(sends, in_flight, move || {
        let chain = chain.clone();
        let message = Message::text(numbers.next(), TEXT);
        async move { chain.send(&message).await.is_ok() }
    })
    .await;
    assert_eq!(failed, 0, "every send succeeds");
    sends as f64 / elapsed.as_secs_f64()
}

/// Commands the server has run so far, from `INFO commandstats` (the `INFO` calls left out): those
/// a client sent on the hot path (`EVALSHA`, `EVAL`, `SCRIPT`, `MGET`: round trips), and every
/// command, those the scripts ran included (the server's work).
async fn server_commands(admin: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(admin)
        .await
        .expect("INFO commandstats");
    let counts: Vec<(&str, u64)> = info
        .lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let calls = rest.split_once("calls=")?.1.split(',').next()?.parse().ok()?;
            Some((name, calls))
        })
        .filter(|(name, _)| *name != "info")
        .collect();
    let sent = counts
        .iter()
        .filter(|(name, _)| ["evalsha", "eval", "script", "mget"].contains(name))
        .map(|(_, calls)| calls)
        .sum();
    (sent, counts.iter().map(|(_, calls)| calls).sum())
}

/// CPU seconds the server has used so far (`INFO cpu`: user and system, its main thread and the
/// rest).
async fn server_cpu(admin: &mut redis::aio::MultiplexedConnection) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(admin)
        .await
        .expect("INFO cpu");
    info.lines()
        .filter_map(|l| {
            l.strip_prefix("used_cpu_user:")
                .or_else(|| l.strip_prefix("used_cpu_sys:"))
        })
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum()
}

/// Microseconds of this process's CPU per send while `run` ran (`None` off Linux).
async fn process_cpu_per_send(sends: usize, run: impl Future<Output = f64>) -> (f64, Option<f64>) {
    let before = sms_test_support::process_cpu();
    let rate = run.await;
    let used = before
        .zip(sms_test_support::process_cpu())
        .map(|(before, after)| (after - before).as_secs_f64() * 1e6 / sends as f64);
    (rate, used)
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
        let own = match std::env::var("SMS_REDIS_URL") {
            Ok(_) => None,
            Err(_) => Some(sms_test_support::OwnRedis::start().await),
        };
        let url = std::env::var("SMS_REDIS_URL")
            .unwrap_or_else(|_| own.as_ref().map(sms_test_support::OwnRedis::url).unwrap_or_default());
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let state = RedisState::connect(RedisConfig::new(url.as_str()).key_prefix(format!("bench-{nanos}")))
            .await
            .unwrap_or_else(|e| panic!("this bench needs redis-server (`apt-get install redis-server`): {e}"));
        let mut admin = redis::Client::open(url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("an admin connection");
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
        throughput(&before_traits, &numbers, 200, IN_FLIGHT).await;
        throughput(&in_memory, &numbers, 200, IN_FLIGHT).await;
        throughput(&on_redis, &numbers, 200, IN_FLIGHT).await;

        println!(
            "redis_state ({}): single-number sends, {ROUNDS} rounds interleaved, min and median over the rounds",
            if quick { "quick" } else { "full" }
        );
        let row = |label: &str, samples: &[f64], unit: &str| {
            let (min, median) = min_median(samples);
            println!("    {label:<44} min {min:>10.3} {unit:<8} median {median:>10.3} {unit}");
        };
        for (setting, latency, in_flight, sends) in [
            ("sandbox answering at once, 64 in flight", None, IN_FLIGHT, sends),
            ("sandbox answering at once, one at a time", None, 1, sends / 5),
            (
                "sandbox answering after 20 ms, 64 in flight",
                Some(Duration::from_millis(20)),
                IN_FLIGHT,
                sends / 5,
            ),
        ] {
            sandbox.clear_faults();
            if let Some(latency) = latency {
                sandbox.inject_fault(
                    Fault::latency(latency)
                    .target(FaultTarget::Product(Product::IhuyiSms)),
                );
            }
            let (mut memory, mut redis, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let (mut plain, mut default_ratios) = (Vec::new(), Vec::new());
            let (mut cpu_memory, mut cpu_redis, mut cpu_server) = (Vec::new(), Vec::new(), Vec::new());
            let (mut trips_per_send, mut sent_per_send, mut run_per_send) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let p = throughput(&before_traits, &numbers, sends, in_flight).await;
                let (m, m_cpu) =
                    process_cpu_per_send(sends, throughput(&in_memory, &numbers, sends, in_flight)).await;
                plain.push(p);
                default_ratios.push(m / p);
                let before = state.round_trips();
                let (sent_before, run_before) = server_commands(&mut admin).await;
                let server_before = server_cpu(&mut admin).await;
                let (r, r_cpu) =
                    process_cpu_per_send(sends, throughput(&on_redis, &numbers, sends, in_flight)).await;
                let server_used = server_cpu(&mut admin).await - server_before;
                trips_per_send.push((state.round_trips() - before) as f64 / sends as f64);
                let (sent, run) = server_commands(&mut admin).await;
                sent_per_send.push((sent - sent_before) as f64 / sends as f64);
                run_per_send.push((run - run_before) as f64 / sends as f64);
                cpu_memory.extend(m_cpu);
                cpu_redis.extend(r_cpu);
                cpu_server.push(server_used * 1e6 / sends as f64);
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
            row("Redis round trips per send (client)", &trips_per_send, "");
            row("Redis commands sent per send (server)", &sent_per_send, "");
            row("Redis commands run per send (server)", &run_per_send, "");
            if !cpu_memory.is_empty() {
                row("CPU per send, in-memory (this process)", &cpu_memory, "µs");
                row("CPU per send, Redis (this process)", &cpu_redis, "µs");
            }
            row("CPU per send, Redis (redis-server)", &cpu_server, "µs");
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
            "    one message to 100 numbers: {trips} round trips ({:.2} per number; ihuyi takes one number per \
             request, and each request after the first asks the breaker and the limits, together on a \
             backend that answers in one step)",
            trips as f64 / 100.0
        );
        let before = state.round_trips();
        on_redis
            .send(&Message::text(numbers.next(), TEXT))
            .await
            .expect("sent");
        println!(
            "    one single-number send: {} round trips",
            state.round_trips() - before
        );
    });
}
