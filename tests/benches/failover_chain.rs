//! Outage speed and throughput of the failover chain (issue 9, sections 5 and 6), each printed as a
//! ratio against a baseline measured in the same run, on the in-process sandbox (loopback only).
//!
//! ```text
//! cargo bench -p sms-e2e --bench failover_chain             # full run: 3 interleaved rounds
//! cargo bench -p sms-e2e --bench failover_chain -- --quick  # CI-sized: fewer sends, 1 round of a and c
//! ```
//!
//! Every scenario alternates baseline and subject within each round and prints min / median over the
//! rounds. Nothing is gated: the ratios are reported, because CI machines are shared.
//!
//! | scenario | subject | baseline | goal |
//! | --- | --- | --- | --- |
//! | a. primary hangs | chain ihuyi -> Juxiang, `AtLeastOnce`, sequential | Juxiang client alone | total / (1.1 x baseline + 5 x default attempt timeout) <= 1.0 |
//! | b. primary refuses | chain with ihuyi on a closed port | naive reqwest loop: ihuyi (refused), then Juxiang | <= 1.0 |
//! | c. ihuyi at 120 ms | chain, one message to many numbers | ihuyi client alone | <= 1.2, 0 failed |
//! | d. wrong ihuyi key | requests ihuyi received for one message to many numbers | - | 1 |
//! | e. per-send overhead | ihuyi client | raw reqwest POST of the same form | seq <= 1.05, 64 in flight >= 0.95 |
//! | f. chain at 64 in flight | chain with ihuyi alone | ihuyi client alone | >= 0.90 |
//!
//! Chains use the library's defaults except where a scenario says otherwise, so the figures move
//! when the defaults do; [`default_attempt_timeout`] is the one place that reads them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use sms::HttpConfig;
use sms::failover::{FailoverSender, ProviderEntry, RetryPolicy};
use sms::ihuyi::{IhuyiClient, IhuyiConfig};
use sms::juxiang::{JuxiangClient, JuxiangConfig};
use sms::sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY, Fault, FaultKind, FaultTarget, Product,
    Sandbox,
};
use sms::{AmbiguityPolicy, Message, MessageSender, PhoneNumber, Receipt};

/// The text every scenario sends: ASCII-free, one billed part, not a verification code (so no
/// per-day code limit applies), GBK-writable for Juxiang.
const TEXT: &str = "【示例】您的订单已发货，请注意查收。";

/// The path of ihuyi's mainland Submit method.
const IHUYI_SUBMIT: &str = "/webservice/sms.php?method=Submit";

/// Sizes of one run.
struct Plan {
    /// Rounds of the fast scenarios (b, e, f).
    rounds: usize,
    /// Rounds of the scenarios that wait on timeouts or latency (a, c).
    slow_rounds: usize,
    hang_sends: usize,
    refused_sends: usize,
    batch_numbers: usize,
    sequential_sends: usize,
    concurrent_sends: usize,
    in_flight: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                rounds: 3,
                slow_rounds: 1,
                hang_sends: 100,
                refused_sends: 50,
                batch_numbers: 100,
                sequential_sends: 1_000,
                concurrent_sends: 10_000,
                in_flight: 64,
            }
        } else {
            Plan {
                rounds: 3,
                slow_rounds: 3,
                hang_sends: 1_000,
                refused_sends: 200,
                batch_numbers: 300,
                sequential_sends: 2_000,
                concurrent_sends: 20_000,
                in_flight: 64,
            }
        }
    }
}

/// The longest a single request to a provider may take by default: the chain's default attempt
/// timeout when it has one, else the provider clients' default HTTP request timeout.
fn default_attempt_timeout() -> Duration {
    let http = HttpConfig::default().request_timeout;
    RetryPolicy::default()
        .attempt_timeout
        .map_or(http, |attempt| attempt.min(http))
}

/// Min and median of a few samples.
fn min_median(samples: &[f64]) -> (f64, f64) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let min = sorted.first().copied().unwrap_or(f64::NAN);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    (min, median)
}

fn print_row(label: &str, samples: &[f64], unit: &str) {
    let (min, median) = min_median(samples);
    println!("    {label:<44} min {min:>10.3} {unit:<5} median {median:>10.3} {unit}");
}

/// Distinct mainland numbers, so that no per-number limit of the chain or the sandbox ever applies.
struct Numbers(AtomicU64);

impl Numbers {
    fn next(&self) -> PhoneNumber {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        format!("13{n:09}").parse().expect("valid mainland number")
    }

    fn many(&self, count: usize) -> Vec<PhoneNumber> {
        (0..count).map(|_| self.next()).collect()
    }
}

/// The sandbox and the clients every scenario shares.
struct Bed {
    sandbox: Sandbox,
    ihuyi: IhuyiClient,
    juxiang: JuxiangClient,
    /// A plain reqwest client with the provider clients' default timeouts, for the baselines.
    raw: reqwest::Client,
    numbers: Numbers,
}

impl Bed {
    async fn start() -> Self {
        // Limits and balances out of the way: the bench measures the client and the chain, not the
        // simulated provider's rules.
        let sandbox = Sandbox::builder()
            .account(
                Product::IhuyiSms,
                Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
                    .balance(i64::MAX / 4)
                    .per_second_limit(0)
                    .per_day_limit(0)
                    .per_day_code_limit(0),
            )
            .account(
                Product::Juxiang,
                Account::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).balance(i64::MAX / 4),
            )
            .spawn()
            .await
            .expect("sandbox starts");
        let base = sandbox.base_url();
        let ihuyi = ihuyi_client(&base, DEFAULT_KEY);
        let juxiang = JuxiangClient::new(
            JuxiangConfig::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).base_url(format!("{base}/send/")),
        )
        .expect("juxiang client");
        let http = HttpConfig::default();
        let raw = reqwest::Client::builder()
            .connect_timeout(http.connect_timeout)
            .timeout(http.request_timeout)
            .pool_idle_timeout(http.pool_idle_timeout)
            .build()
            .expect("reqwest client");
        Bed {
            sandbox,
            ihuyi,
            juxiang,
            raw,
            numbers: Numbers(AtomicU64::new(0)),
        }
    }

    /// A chain of `entries` in priority order, with every other setting at its default.
    fn chain(entries: &[Arc<dyn MessageSender>]) -> FailoverSender {
        let mut builder = FailoverSender::builder();
        for (priority, sender) in entries.iter().enumerate() {
            builder = builder.provider(ProviderEntry::new(Arc::clone(sender)).priority(priority as u32));
        }
        builder.build().expect("chain builds")
    }

    fn message(&self) -> Message {
        Message::text(self.numbers.next(), TEXT)
    }
}

fn ihuyi_client(base: &str, key: &str) -> IhuyiClient {
    IhuyiClient::new(
        IhuyiConfig::new(DEFAULT_ACCOUNT, key)
            .base_url(base)
            .international_base_url(base),
    )
    .expect("ihuyi client")
}

/// Recipients of `result` that did not end accepted.
fn failed(message: &Message, result: &Result<Receipt, sms::Error>) -> usize {
    match result {
        Ok(receipt) => receipt.outcomes.iter().filter(|o| !o.is_accepted()).count(),
        Err(_) => message.recipients().len(),
    }
}

/// Runs `make()` futures with at most `in_flight` of them outstanding, `total` in all; returns the
/// elapsed time and how many failed.
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
            let (make, remaining, failures) =
                (Arc::clone(&make), Arc::clone(&remaining), Arc::clone(&failures));
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

/// Lowercase hex md5 of the parts, as ihuyi's dynamic password.
fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    format!("{:x}", hasher.finalize())
}

fn unix_time() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

/// The ihuyi Submit form a hand-written client would post (dynamic password, XML answer).
fn ihuyi_form(mobile: &str) -> String {
    let time = unix_time();
    let password = md5_hex(&[DEFAULT_ACCOUNT, DEFAULT_KEY, mobile, TEXT, &time]);
    serde_urlencoded::to_string([
        ("account", DEFAULT_ACCOUNT),
        ("password", &password),
        ("mobile", mobile),
        ("content", TEXT),
        ("time", &time),
    ])
    .expect("form")
}

/// Percent-encodes bytes (GBK for Juxiang) for a form body.
fn percent_encode(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// The Juxiang gsend form, GBK, as a hand-written client would post it.
fn juxiang_form(mobile: &str) -> String {
    let mut body = String::new();
    for (key, value) in [
        ("name", DEFAULT_ACCOUNT),
        ("pwd", DEFAULT_JUXIANG_PASSWORD),
        ("dst", mobile),
        ("msg", TEXT),
    ] {
        if !body.is_empty() {
            body.push('&');
        }
        body.push_str(key);
        body.push('=');
        percent_encode(&mut body, &encoding_rs::GBK.encode(value).0);
    }
    body
}

async fn raw_post(client: &reqwest::Client, url: &str, body: String) -> Result<bytes::Bytes, reqwest::Error> {
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await
}

/// An ihuyi answer with code 2 (success), XML or JSON.
fn ihuyi_ok(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    text.contains("<code>2</code>") || text.contains("\"code\":2,")
}

/// A Juxiang gsend answer that accepted at least one number.
fn juxiang_ok(body: &[u8]) -> bool {
    body.starts_with(b"num=") && !body.starts_with(b"num=0")
}

/// a. The primary hangs; AtLeastOnce sends go on through the secondary.
async fn primary_hangs(bed: &Bed, plan: &Plan) {
    let timeout = default_attempt_timeout();
    println!(
        "a. primary hangs: {} sequential AtLeastOnce sends, ihuyi -> Juxiang (default attempt timeout {timeout:?})",
        plan.hang_sends
    );
    let (mut chain_s, mut alone_s, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut chain_failed, mut primary_requests) = (0, Vec::new());
    for _ in 0..plan.slow_rounds {
        let started = Instant::now();
        for _ in 0..plan.hang_sends {
            let message = bed.message();
            let result = bed.juxiang.send(&message).await;
            assert_eq!(failed(&message, &result), 0, "Juxiang alone: {result:?}");
        }
        let alone = started.elapsed().as_secs_f64();

        let chain = Bed::chain(&[
            Arc::new(bed.ihuyi.clone()) as Arc<dyn MessageSender>,
            Arc::new(bed.juxiang.clone()),
        ]);
        bed.sandbox
            .inject_fault(Fault::new(FaultKind::Hang).target(FaultTarget::Product(Product::IhuyiSms)));
        let before = bed.sandbox.request_count(Product::IhuyiSms);
        let started = Instant::now();
        for _ in 0..plan.hang_sends {
            let message = bed.message().with_ambiguity_policy(AmbiguityPolicy::AtLeastOnce);
            let result = chain.send(&message).await;
            chain_failed += failed(&message, &result);
        }
        let total = started.elapsed().as_secs_f64();
        primary_requests.push(bed.sandbox.request_count(Product::IhuyiSms) - before);
        bed.sandbox.clear_faults();

        let budget = 1.1 * alone + 5.0 * timeout.as_secs_f64();
        chain_s.push(total);
        alone_s.push(alone);
        ratios.push(total / budget);
    }
    print_row("chain, primary hanging", &chain_s, "s");
    print_row("Juxiang alone (baseline)", &alone_s, "s");
    print_row("ratio total / (1.1 x alone + 5 x timeout)", &ratios, "");
    println!(
        "    requests that reached the hanging primary per round: {primary_requests:?}; failed recipients through the chain: {chain_failed}"
    );
    let verdict = if timeout <= Duration::from_secs(5) {
        "met"
    } else {
        "not met"
    };
    println!("    goals: ratio <= 1.0; default attempt timeout {timeout:?} <= 5 s: {verdict}");
}

/// b. The primary's port is closed; sends go on through the secondary.
async fn primary_refuses(bed: &Bed, plan: &Plan) {
    println!(
        "b. primary refuses (closed port): {} sequential sends, ihuyi -> Juxiang",
        plan.refused_sends
    );
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        drop(listener);
        format!("http://{addr}")
    };
    let refused = ihuyi_client(&closed, DEFAULT_KEY);
    let refused_url = format!("{closed}{IHUYI_SUBMIT}");
    let juxiang_url = format!("{}/send/gsend.asp", bed.sandbox.base_url());
    let (mut chain_s, mut naive_s, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut chain_failed = 0;
    for _ in 0..plan.rounds {
        let started = Instant::now();
        for _ in 0..plan.refused_sends {
            let number = bed.numbers.next();
            let mobile = number.national_number();
            let primary = raw_post(&bed.raw, &refused_url, ihuyi_form(mobile)).await;
            assert!(primary.is_err(), "the closed port answered");
            let body = raw_post(&bed.raw, &juxiang_url, juxiang_form(mobile))
                .await
                .expect("Juxiang answers");
            assert!(juxiang_ok(&body), "{}", String::from_utf8_lossy(&body));
        }
        let naive = started.elapsed().as_secs_f64();

        let chain = Bed::chain(&[
            Arc::new(refused.clone()) as Arc<dyn MessageSender>,
            Arc::new(bed.juxiang.clone()),
        ]);
        let started = Instant::now();
        for _ in 0..plan.refused_sends {
            let message = bed.message();
            let result = chain.send(&message).await;
            chain_failed += failed(&message, &result);
        }
        let total = started.elapsed().as_secs_f64();
        chain_s.push(total);
        naive_s.push(naive);
        ratios.push(total / naive);
    }
    print_row("chain, primary refused", &chain_s, "s");
    print_row("naive reqwest loop (baseline)", &naive_s, "s");
    print_row("ratio chain / naive", &ratios, "");
    println!("    failed recipients through the chain: {chain_failed} (goal: ratio <= 1.0)");
}

/// c. ihuyi answers in 120 ms; one message to many numbers.
async fn slow_primary_batch(bed: &Bed, plan: &Plan) {
    println!(
        "c. ihuyi at 120 ms latency: one message to {} numbers, chain ihuyi -> Juxiang vs the ihuyi client",
        plan.batch_numbers
    );
    let latency = Duration::from_millis(120);
    bed.sandbox
        .inject_fault(Fault::latency(latency).target(FaultTarget::Product(Product::IhuyiSms)));
    let (mut chain_s, mut alone_s, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut chain_failed, mut alone_failed) = (Vec::new(), Vec::new());
    for _ in 0..plan.slow_rounds {
        let message = Message::text(bed.numbers.many(plan.batch_numbers), TEXT);
        let started = Instant::now();
        let result = bed.ihuyi.send(&message).await;
        let alone = started.elapsed().as_secs_f64();
        alone_failed.push(failed(&message, &result));

        let chain = Bed::chain(&[
            Arc::new(bed.ihuyi.clone()) as Arc<dyn MessageSender>,
            Arc::new(bed.juxiang.clone()),
        ]);
        let message = Message::text(bed.numbers.many(plan.batch_numbers), TEXT);
        let started = Instant::now();
        let result = chain.send(&message).await;
        let total = started.elapsed().as_secs_f64();
        chain_failed.push(failed(&message, &result));
        chain_s.push(total);
        alone_s.push(alone);
        ratios.push(total / alone);
    }
    bed.sandbox.clear_faults();
    print_row("chain", &chain_s, "s");
    print_row("ihuyi client alone (baseline)", &alone_s, "s");
    print_row("ratio chain / alone", &ratios, "");
    println!(
        "    failed recipients per round: chain {chain_failed:?}, client alone {alone_failed:?} (goal: ratio <= 1.2, 0 failed)"
    );
}

/// d. A wrong ihuyi key: how many requests reach ihuyi for one message to many numbers.
async fn wrong_key(bed: &Bed, plan: &Plan) {
    println!(
        "d. wrong ihuyi key: one message to {} numbers; requests ihuyi received",
        plan.batch_numbers
    );
    let wrong = ihuyi_client(&bed.sandbox.base_url(), "not-the-key");
    let message = Message::text(bed.numbers.many(plan.batch_numbers), TEXT);
    let before = bed.sandbox.request_count(Product::IhuyiSms);
    let result = wrong.send(&message).await;
    let alone = bed.sandbox.request_count(Product::IhuyiSms) - before;
    println!(
        "    ihuyi client alone: {alone} request(s), {} recipient(s) not sent",
        failed(&message, &result)
    );
    let chain = Bed::chain(&[
        Arc::new(wrong) as Arc<dyn MessageSender>,
        Arc::new(bed.juxiang.clone()),
    ]);
    let message = Message::text(bed.numbers.many(plan.batch_numbers), TEXT);
    let before = bed.sandbox.request_count(Product::IhuyiSms);
    let result = chain.send(&message).await;
    let through_chain = bed.sandbox.request_count(Product::IhuyiSms) - before;
    println!(
        "    chain ihuyi -> Juxiang: {through_chain} request(s) to ihuyi, {} recipient(s) not sent (goal: 1 request, then stop)",
        failed(&message, &result)
    );
}

/// e. Per-send overhead of the ihuyi client against a raw reqwest POST of the same form.
async fn per_send_overhead(bed: &Arc<Bed>, plan: &Plan) {
    println!(
        "e. per-send overhead: ihuyi client vs raw reqwest POST of the same form ({} sequential, {} at {} in flight)",
        plan.sequential_sends, plan.concurrent_sends, plan.in_flight
    );
    let url = format!("{}{IHUYI_SUBMIT}", bed.sandbox.base_url());
    let raw_send = {
        let (bed, url) = (Arc::clone(bed), url.clone());
        move || {
            let (bed, url) = (Arc::clone(&bed), url.clone());
            async move {
                let number = bed.numbers.next();
                let body = ihuyi_form(number.national_number());
                matches!(raw_post(&bed.raw, &url, body).await, Ok(answer) if ihuyi_ok(&answer))
            }
        }
    };
    let client_send = {
        let bed = Arc::clone(bed);
        move || {
            let bed = Arc::clone(&bed);
            async move {
                let message = bed.message();
                let result = bed.ihuyi.send(&message).await;
                failed(&message, &result) == 0
            }
        }
    };
    let (mut seq_raw, mut seq_client, mut seq_ratio) = (Vec::new(), Vec::new(), Vec::new());
    let (mut par_raw, mut par_client, mut par_ratio) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = 0;
    // Warm both connection pools.
    drive(plan.in_flight * 4, plan.in_flight, raw_send.clone()).await;
    drive(plan.in_flight * 4, plan.in_flight, client_send.clone()).await;
    for _ in 0..plan.rounds {
        let (raw, f1) = drive(plan.sequential_sends, 1, raw_send.clone()).await;
        let (client, f2) = drive(plan.sequential_sends, 1, client_send.clone()).await;
        let (raw_rate, client_rate) = (
            plan.sequential_sends as f64 / raw.as_secs_f64(),
            plan.sequential_sends as f64 / client.as_secs_f64(),
        );
        seq_raw.push(raw_rate);
        seq_client.push(client_rate);
        seq_ratio.push(client.as_secs_f64() / raw.as_secs_f64());

        let (raw, f3) = drive(plan.concurrent_sends, plan.in_flight, raw_send.clone()).await;
        let (client, f4) = drive(plan.concurrent_sends, plan.in_flight, client_send.clone()).await;
        let (raw_rate, client_rate) = (
            plan.concurrent_sends as f64 / raw.as_secs_f64(),
            plan.concurrent_sends as f64 / client.as_secs_f64(),
        );
        par_raw.push(raw_rate);
        par_client.push(client_rate);
        par_ratio.push(client_rate / raw_rate);
        failures += f1 + f2 + f3 + f4;
        bed.sandbox.reset();
    }
    print_row("sequential: raw reqwest (baseline)", &seq_raw, "req/s");
    print_row("sequential: ihuyi client", &seq_client, "req/s");
    print_row("sequential: time ratio client / raw", &seq_ratio, "");
    print_row("64 in flight: raw reqwest (baseline)", &par_raw, "req/s");
    print_row("64 in flight: ihuyi client", &par_client, "req/s");
    print_row("64 in flight: throughput ratio client / raw", &par_ratio, "");
    println!("    failed sends: {failures} (goals: sequential <= 1.05, 64 in flight >= 0.95)");
}

/// f. A chain of ihuyi alone against the bare ihuyi client, at 64 in flight.
async fn chain_throughput(bed: &Arc<Bed>, plan: &Plan) {
    println!(
        "f. chain (ihuyi alone) vs the bare ihuyi client: {} sends at {} in flight",
        plan.concurrent_sends, plan.in_flight
    );
    let chain = Arc::new(Bed::chain(&[
        Arc::new(bed.ihuyi.clone()) as Arc<dyn MessageSender>
    ]));
    let client_send = {
        let bed = Arc::clone(bed);
        move || {
            let bed = Arc::clone(&bed);
            async move {
                let message = bed.message();
                let result = bed.ihuyi.send(&message).await;
                failed(&message, &result) == 0
            }
        }
    };
    let chain_send = {
        let (bed, chain) = (Arc::clone(bed), Arc::clone(&chain));
        move || {
            let (bed, chain) = (Arc::clone(&bed), Arc::clone(&chain));
            async move {
                let message = bed.message();
                let result = chain.send(&message).await;
                failed(&message, &result) == 0
            }
        }
    };
    drive(plan.in_flight * 4, plan.in_flight, chain_send.clone()).await;
    let (mut client_r, mut chain_r, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = 0;
    for _ in 0..plan.rounds {
        let (client, f1) = drive(plan.concurrent_sends, plan.in_flight, client_send.clone()).await;
        let (through_chain, f2) = drive(plan.concurrent_sends, plan.in_flight, chain_send.clone()).await;
        let client_rate = plan.concurrent_sends as f64 / client.as_secs_f64();
        let chain_rate = plan.concurrent_sends as f64 / through_chain.as_secs_f64();
        client_r.push(client_rate);
        chain_r.push(chain_rate);
        ratios.push(chain_rate / client_rate);
        failures += f1 + f2;
        bed.sandbox.reset();
    }
    print_row("ihuyi client (baseline)", &client_r, "req/s");
    print_row("chain", &chain_r, "req/s");
    print_row("throughput ratio chain / client", &ratios, "");
    println!("    failed sends: {failures} (goal: >= 0.90)");
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = Plan::new(quick);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bed = Arc::new(Bed::start().await);
        println!(
            "failover_chain ({}): {} round(s) ({} for the slow scenarios a and c), baseline and subject interleaved, min / median over rounds",
            if quick { "quick" } else { "full" },
            plan.rounds,
            plan.slow_rounds
        );
        per_send_overhead(&bed, &plan).await;
        chain_throughput(&bed, &plan).await;
        wrong_key(&bed, &plan).await;
        primary_refuses(&bed, &plan).await;
        slow_primary_batch(&bed, &plan).await;
        primary_hangs(&bed, &plan).await;
    });
}
