//! The gateway's throughput against baselines measured in the same run (release build; loopback
//! only; the in-process sandbox as the provider, SQLite store in a temporary directory).
//!
//! ```text
//! cargo bench -p sms-gateway --bench gateway_throughput             # 3 rounds
//! cargo bench -p sms-gateway --bench gateway_throughput -- --quick  # CI-sized, 1 round
//! cargo bench -p sms-gateway --bench gateway_throughput -- --rounds 7  # more rounds
//! cargo bench -p sms-gateway --bench gateway_throughput -- --sends     # scenario a alone
//! cargo bench -p sms-gateway --bench gateway_throughput -- --sends --latency 20  # provider takes 20 ms
//! ```
//!
//! | scenario | measured | goal |
//! | --- | --- | --- |
//! | a. `POST /v1/messages` through the gateway, 64 in flight | sends per second / the chain called directly | >= 0.8 |
//! | b. ihuyi receipt webhook, 64 in flight | receipts stored and acknowledged per second | >= 5,000/s |
//!
//! Scenario a also prints, for reference, the chain called directly while recording into a SQLite
//! store of its own (`sms_store::RecordingSender`), and the gateway's ratio to that: what the gateway
//! costs apart from the store. It also prints the chain behind a bare axum handler (JSON in, the
//! chain's receipt out, nothing else): one extra loopback HTTP hop on the same two cores, which
//! bounds what any gateway's ratio to the chain can be here. With the sandbox answering at once,
//! every setting is bound by CPU, shared by the load, the gateway and the sandbox; `--latency MS`
//! makes every ihuyi request wait, as real providers do, so that the rates show what 64 sends in
//! flight get when the provider, not the CPU, sets the pace. Each scenario prints min / median over
//! the rounds; nothing is gated (shared machines).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sms_config::{Config, LoadOptions};
use sms_core::{Message, MessageSender, PhoneNumber};
use sms_gateway::{Gateway, hash_key};
use sms_sandbox::{Fault, FaultTarget, Product, Sandbox};

const KEY: &str = "bench-key";
const TOKEN: &str = "bench-webhook-token-0123456789";
const IN_FLIGHT: usize = 64;

fn number(i: usize) -> String {
    format!("1390{i:07}")
}

fn config(sandbox: &Sandbox, db: &std::path::Path) -> Config {
    let text = format!(
        "{}\n[store]\npath = {:?}\n\n[gateway]\nwebhook_token = {TOKEN:?}\n\n[[gateway.api_keys]]\nname = \"bench\"\nhash = {:?}\nscopes = [\"admin\"]\nrate_limit = \"off\"\n",
        Config::sandbox_toml(&sandbox.base_url()),
        db.display().to_string(),
        hash_key(KEY)
    );
    Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).expect("config")
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Sends `sends` one-recipient texts through `sender`, `IN_FLIGHT` at a time: sends per second.
async fn drive(sender: &dyn MessageSender, sends: usize) -> f64 {
    let started = Instant::now();
    futures_util::stream::iter(0..sends)
        .map(|i| async move {
            let to: PhoneNumber = number(i).parse().unwrap();
            sender.send(&Message::text(to, "bench")).await.expect("sent");
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    rate(sends, started.elapsed())
}

async fn direct(sandbox: &Sandbox, sends: usize) -> f64 {
    let chain = Config::sandbox(&sandbox.base_url())
        .unwrap()
        .build_chain()
        .unwrap();
    drive(&chain, sends).await
}

/// The chain called directly, recording every send into a SQLite store of its own (what an
/// application using the library with a store does): the gateway's cost apart from the store's.
async fn direct_recorded(sandbox: &Sandbox, db: &std::path::Path, sends: usize) -> f64 {
    let chain = Config::sandbox(&sandbox.base_url())
        .unwrap()
        .build_chain()
        .unwrap();
    let store = sms_store::SqliteStore::open(&db.display().to_string(), sms_store::StoreOptions::default())
        .await
        .expect("store");
    let recording = sms_store::RecordingSender::new(chain, std::sync::Arc::new(store));
    drive(&recording, sends).await
}

/// The chain behind a bare axum handler on loopback (JSON in, the chain's receipt out: no store,
/// no keys, no spend caps): what one extra HTTP hop costs on these cores, the ceiling of any
/// gateway's ratio to the chain called directly.
async fn bare_hop(sandbox: &Sandbox) -> (String, tokio::task::JoinHandle<()>) {
    #[derive(serde::Deserialize)]
    struct Send {
        to: String,
        text: String,
    }
    let chain: std::sync::Arc<dyn MessageSender> = std::sync::Arc::new(
        Config::sandbox(&sandbox.base_url())
            .unwrap()
            .build_chain()
            .unwrap(),
    );
    let app = axum::Router::new().route(
        "/v1/messages",
        axum::routing::post(move |body: bytes::Bytes| {
            let chain = chain.clone();
            async move {
                let body: Send = serde_json::from_slice(&body).unwrap();
                let to: PhoneNumber = body.to.parse().unwrap();
                let receipt = chain.send(&Message::text(to, body.text)).await.expect("sent");
                let answer = serde_json::json!({
                    "reference": receipt.reference.to_string(),
                    "accepted": receipt.all_accepted(),
                });
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    answer.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, server)
}

async fn through_gateway(base: &str, http: &reqwest::Client, sends: usize) -> f64 {
    let started = Instant::now();
    futures_util::stream::iter(0..sends)
        .map(|i| async move {
            let r = http
                .post(format!("{base}/v1/messages"))
                .bearer_auth(KEY)
                .json(&serde_json::json!({"to": number(i), "text": "bench"}))
                .send()
                .await
                .expect("answered");
            assert_eq!(r.status(), 200);
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    rate(sends, started.elapsed())
}

async fn receipts(base: &str, http: &reqwest::Client, count: usize, offset: usize) -> f64 {
    let url = format!("{base}/webhooks/{TOKEN}/ihuyi/receipt");
    let started = Instant::now();
    futures_util::stream::iter(0..count)
        .map(|i| {
            let url = &url;
            async move {
                let body = format!(
                    "code=2&msg=DELIVRD&mobilephone={}&smsid={}",
                    number(i),
                    9_000_000_000u64 + (offset + i) as u64
                );
                let r = http.post(url).body(body).send().await.expect("answered");
                assert_eq!(r.status(), 200);
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    rate(count, started.elapsed())
}

/// Forgets what the sandbox recorded (between scenarios) and, with a `latency`, makes every ihuyi
/// request wait that long (a reset forgets faults too).
fn reset(sandbox: &Sandbox, latency: Option<Duration>) {
    sandbox.reset();
    if let Some(latency) = latency {
        sandbox.inject_fault(Fault::latency(latency).target(FaultTarget::Product(Product::IhuyiSms)));
    }
}

fn summary(name: &str, values: &mut [f64], unit: &str) {
    values.sort_by(f64::total_cmp);
    println!(
        "{name}: min {:.2}{unit}, median {:.2}{unit}",
        values[0],
        values[values.len() / 2]
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, sends, pushes) = if quick {
        (1, 500, 2_000)
    } else {
        (3, 3_000, 20_000)
    };
    let rounds = sms_test_support::arg::<usize>("--rounds").map_or(rounds, |r| r.max(1));
    let sends_only = std::env::args().any(|a| a == "--sends");
    let latency = sms_test_support::arg::<u64>("--latency").map(Duration::from_millis);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sandbox = Sandbox::builder().spawn().await.unwrap();
        let dir = std::env::temp_dir().join(format!("sms-gateway-bench-{}", sms_store::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gateway = Gateway::builder(config(&sandbox, &dir.join("sms.db")))
            .listen("127.0.0.1:0".parse().unwrap())
            .spawn()
            .await
            .unwrap();
        let base = gateway.base_url();
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(IN_FLIGHT)
            .build()
            .unwrap();
        // Warm-up: connections, statements, the sandbox's state.
        through_gateway(&base, &http, 200).await;
        direct(&sandbox, 200).await;
        let (mut ratios, mut direct_rates, mut gateway_rates, mut receipt_rates) =
            (vec![], vec![], vec![], vec![]);
        let (mut recorded_rates, mut recorded_ratios) = (vec![], vec![]);
        let (mut bare_rates, mut bare_ratios) = (vec![], vec![]);
        for round in 0..rounds {
            reset(&sandbox, latency);
            let d = direct(&sandbox, sends).await;
            reset(&sandbox, latency);
            let g = through_gateway(&base, &http, sends).await;
            reset(&sandbox, latency);
            let r = direct_recorded(&sandbox, &dir.join(format!("direct-{round}.db")), sends).await;
            reset(&sandbox, latency);
            // A fresh chain each round, as `direct` has (its per-number limits start empty).
            let (bare_base, bare_server) = bare_hop(&sandbox).await;
            let b = through_gateway(&bare_base, &http, sends).await;
            bare_server.abort();
            bare_rates.push(b);
            bare_ratios.push(b / d);
            recorded_rates.push(r);
            recorded_ratios.push(g / r);
            direct_rates.push(d);
            gateway_rates.push(g);
            ratios.push(g / d);
            if !sends_only {
                receipt_rates.push(receipts(&base, &http, pushes, round * pushes).await);
            }
        }
        println!(
            "a. POST /v1/messages (SQLite store) vs the chain directly, {IN_FLIGHT} in flight, {sends} sends, \
             provider latency {} ms:",
            latency.unwrap_or_default().as_millis()
        );
        summary("   chain directly", &mut direct_rates, " sends/s");
        summary("   through the gateway", &mut gateway_rates, " sends/s");
        summary("   ratio (goal >= 0.8)", &mut ratios, "");
        summary(
            "   chain directly, recording into a SQLite store",
            &mut recorded_rates,
            " sends/s",
        );
        summary(
            "   ratio gateway / that (for reference)",
            &mut recorded_ratios,
            "",
        );
        summary(
            "   the chain behind a bare axum handler (no store, keys or caps)",
            &mut bare_rates,
            " sends/s",
        );
        summary(
            "   ratio that / the chain directly (the extra hop's ceiling)",
            &mut bare_ratios,
            "",
        );
        if !sends_only {
            println!("b. receipt webhook, {IN_FLIGHT} in flight, {pushes} receipts:");
            summary(
                "   stored and acknowledged (goal >= 5000/s)",
                &mut receipt_rates,
                " receipts/s",
            );
        }
        gateway.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
