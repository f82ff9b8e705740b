//! Callbacks about no message. The balance watcher: the sandbox's ihuyi balance goes below its
//! `low_balance` and the application gets one signed `balance.low` callback; reading it low again
//! (more polls, a restart, other instances on one PostgreSQL) sends nothing more until the balance
//! has been back up. Spend caps: the send that crosses a cap's warning threshold makes one signed
//! `spend.warning` callback. Intervals are a few milliseconds (given to the builder); waits poll a
//! condition with a deadline.

mod harness;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sms_config::{Config, LoadOptions};
use sms_gateway::Gateway;
use sms_sandbox::{Product, Sandbox};
use sqlx::Connection;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The sandbox's default account (`sms_config::Config::sandbox_toml`).
const SANDBOX_ACCOUNT: &str = "sandbox";
const INTERVAL: Duration = Duration::from_millis(15);

/// Callbacks received: `(webhook-id, body, signature valid)`.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, serde_json::Value, bool)>>>,
}

impl Receiver {
    async fn spawn() -> (Self, String) {
        let receiver = Self::default();
        let r = receiver.clone();
        let app = axum::Router::new().route(
            "/events",
            post(move |headers: HeaderMap, body: bytes::Bytes| {
                let r = r.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let id = header("webhook-id");
                    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
                    let signed = sms_gateway::signing::verify(
                        SECRET,
                        &id,
                        timestamp,
                        &body,
                        &header("webhook-signature"),
                        timestamp,
                    )
                    .is_ok();
                    let body = serde_json::from_slice(&body).unwrap_or_default();
                    r.got.lock().unwrap().push((id, body, signed));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    /// The `balance.low` events received.
    fn lows(&self) -> Vec<(String, serde_json::Value, bool)> {
        self.of_type("balance.low")
    }

    fn of_type(&self, kind: &str) -> Vec<(String, serde_json::Value, bool)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, body, _)| body["type"] == kind)
            .cloned()
            .collect()
    }
}

/// The sandbox config with callbacks to `url` and ihuyi's `low_balance = 100`.
fn config(sandbox: &Sandbox, db: &std::path::Path, url: &str) -> Config {
    let extra = format!("[gateway.callbacks]\nurl = {url:?}\nsecret = {SECRET:?}\n");
    let text = harness::config_text(&sandbox.base_url(), db, true, &extra).replacen(
        "[providers.ihuyi]\n",
        "[providers.ihuyi]\nlow_balance = 100\n",
        1,
    );
    Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).unwrap()
}

async fn start(config: Config, store: Option<Arc<dyn sms_store::MessageStore>>) -> Gateway {
    let mut builder = Gateway::builder(config)
        .listen("127.0.0.1:0".parse().unwrap())
        .balance_interval(Some(INTERVAL));
    if let Some(store) = store {
        builder = builder.store(store);
    }
    builder.spawn().await.unwrap()
}

fn set_balance(sandbox: &Sandbox, amount: i64) {
    assert!(sandbox.set_balance(Product::IhuyiSms, SANDBOX_ACCOUNT, amount));
}

async fn metrics(gateway: &Gateway) -> String {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}/metrics", gateway.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the first sample whose line starts with `prefix` (0 when there is none).
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Successful checks of ihuyi's balance, summed over `gateways`.
async fn checks(gateways: &[&Gateway]) -> f64 {
    let mut n = 0.0;
    for g in gateways {
        n += sample(
            &metrics(g).await,
            "sms_balance_checks_total{provider=\"ihuyi\",outcome=\"ok\"}",
        );
    }
    n
}

/// Polls `check` until it holds, for at most 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `gateways` have made `more` further checks between them.
async fn more_checks(gateways: &[&Gateway], more: f64) {
    let start = checks(gateways).await;
    eventually("more balance checks", || async {
        checks(gateways).await >= start + more
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_balance_is_one_callback_until_it_recovers_also_across_a_restart() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let (receiver, url) = Receiver::spawn().await;
    let dir = harness::temp_dir();
    let db = dir.join("sms.db");
    set_balance(&sandbox, 500);
    let gateway = start(config(&sandbox, &db, &url), None).await;
    more_checks(&[&gateway], 2.0).await;
    let text = metrics(&gateway).await;
    assert_eq!(
        sample(
            &text,
            "sms_provider_balance{provider=\"ihuyi\",unit=\"messages\"}"
        ),
        500.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "sms_provider_balance_low{provider=\"ihuyi\"}"),
        0.0,
        "{text}"
    );
    assert!(receiver.lows().is_empty());

    // Below 100: one event, however many polls see it low.
    set_balance(&sandbox, 50);
    eventually("the balance.low callback", || async {
        receiver.lows().len() == 1
    })
    .await;
    more_checks(&[&gateway], 5.0).await;
    let lows = receiver.lows();
    assert_eq!(lows.len(), 1, "{lows:?}");
    let (id, body, signed) = &lows[0];
    assert!(signed, "the signature verifies");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["data"]["provider"], "ihuyi");
    assert_eq!(body["data"]["amount"], 50);
    assert_eq!(body["data"]["threshold"], 100);
    assert_eq!(body["data"]["unit"], "messages");
    // Only ihuyi has a threshold: the other providers are read and never low.
    assert!(
        receiver
            .got
            .lock()
            .unwrap()
            .iter()
            .all(|(_, b, _)| b["data"]["provider"] == "ihuyi")
    );
    let text = metrics(&gateway).await;
    assert_eq!(
        sample(&text, "sms_balance_low_total{provider=\"ihuyi\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "sms_provider_balance_low{provider=\"ihuyi\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "sms_provider_balance{provider=\"ihuyi\",unit=\"messages\"}"
        ),
        50.0
    );
    assert!(
        text.contains("sms_provider_balance{provider=\"juxiang\""),
        "{text}"
    );

    // A restart on the same database: still low, nothing new.
    gateway.shutdown().await;
    let gateway = start(config(&sandbox, &db, &url), None).await;
    more_checks(&[&gateway], 5.0).await;
    assert_eq!(receiver.lows().len(), 1);
    assert_eq!(
        sample(
            &metrics(&gateway).await,
            "sms_balance_low_total{provider=\"ihuyi\"}"
        ),
        0.0
    );

    // Back up, then down again: a second event with an id of its own.
    set_balance(&sandbox, 150);
    eventually("the recovery", || async {
        sample(
            &metrics(&gateway).await,
            "sms_provider_balance_low{provider=\"ihuyi\"}",
        ) == 0.0
    })
    .await;
    assert_eq!(receiver.lows().len(), 1);
    set_balance(&sandbox, 40);
    eventually("the second balance.low", || async { receiver.lows().len() == 2 }).await;
    let lows = receiver.lows();
    assert_ne!(lows[0].0, lows[1].0);
    assert_eq!(lows[1].1["data"]["amount"], 40);
    gateway.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A database of this test binary's own; fails (never skips) without a server.
async fn database() -> String {
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres, trust auth): {e}. Start it \
                 with `bash .ci/run` (which installs and starts it), or `pg_ctlcluster 15 main start`"
            )
        });
    let name = format!("sms_gateway_test_balances_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&sql).execute(&mut admin).await.unwrap();
    }
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_postgres_send_one_low_balance_callback() {
    let url_db = database().await;
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let (receiver, url) = Receiver::spawn().await;
    let dir = harness::temp_dir();
    let mut gateways = Vec::new();
    for _ in 0..3 {
        // Each with its own connections, as separate processes would have.
        let store = sms_store::open(&url_db, sms_store::StoreOptions::default())
            .await
            .unwrap();
        gateways.push(start(config(&sandbox, &dir.join("unused.db"), &url), Some(store)).await);
    }
    set_balance(&sandbox, 10);
    eventually("the balance.low callback", || async {
        receiver.lows().len() == 1
    })
    .await;
    let all: Vec<&Gateway> = gateways.iter().collect();
    // One instance holds the lease and polls; the others only try to take it.
    more_checks(&all, 5.0).await;
    let mut polling = 0;
    for g in &gateways {
        if sample(
            &metrics(g).await,
            "sms_balance_checks_total{provider=\"ihuyi\",outcome=\"ok\"}",
        ) > 0.0
        {
            polling += 1;
        }
    }
    assert_eq!(polling, 1, "exactly one instance polls");
    // The poller stops: another takes over once its lease is free, and stays quiet.
    let holder = {
        let mut found = None;
        for (i, g) in gateways.iter().enumerate() {
            if sample(
                &metrics(g).await,
                "sms_balance_checks_total{provider=\"ihuyi\",outcome=\"ok\"}",
            ) > 0.0
            {
                found = Some(i);
            }
        }
        found.unwrap()
    };
    gateways.remove(holder).shutdown().await;
    let rest: Vec<&Gateway> = gateways.iter().collect();
    more_checks(&rest, 5.0).await;
    assert_eq!(receiver.lows().len(), 1, "{:?}", receiver.lows());
    // Up and down again: one more, from whichever instance polls now.
    set_balance(&sandbox, 1000);
    eventually("the recovery", || async {
        sample(
            &metrics(rest[0]).await,
            "sms_provider_balance_low{provider=\"ihuyi\"}",
        ) == 0.0
    })
    .await;
    set_balance(&sandbox, 99);
    eventually("the second balance.low", || async { receiver.lows().len() == 2 }).await;
    more_checks(&rest, 5.0).await;
    assert_eq!(receiver.lows().len(), 2);
    assert!(receiver.lows().iter().all(|(_, _, signed)| *signed));
    for g in gateways {
        g.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_that_crosses_a_spend_warning_is_one_callback() {
    let (receiver, url) = Receiver::spawn().await;
    // A daily cap of 5 parts, warned at 80 %: the fourth part crosses.
    let extra = format!(
        "[gateway.callbacks]\nurl = {url:?}\nsecret = {SECRET:?}\n\n[spend]\nwarn_at_percent = 80\n\n\
         [[spend.caps]]\nscope = \"overall\"\nperiod = \"day\"\nparts = 5\n"
    );
    let h = harness::Harness::start_with(&extra).await;
    for i in 0..3 {
        let (status, body) = h
            .send(
                harness::SEND_KEY,
                serde_json::json!({"to": format!("1380013800{i}"), "text": "hi"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = h
        .send(
            harness::SEND_KEY,
            serde_json::json!({"to": "13800138003", "text": "hi"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the spend.warning callback", || async {
        !receiver.of_type("spend.warning").is_empty()
    })
    .await;
    let (status, body) = h
        .send(
            harness::SEND_KEY,
            serde_json::json!({"to": "13800138004", "text": "hi"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Every status callback of the fifth send has arrived: nothing more about the cap came with it.
    eventually("the fifth send's callbacks", || async {
        receiver
            .of_type("message.status")
            .iter()
            .any(|(_, b, _)| b["data"]["number"] == "+8613800138004")
    })
    .await;
    let warnings = receiver.of_type("spend.warning");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let (id, body, signed) = &warnings[0];
    assert!(signed);
    assert_eq!(body["id"], id.as_str());
    let data = &body["data"];
    assert_eq!(
        (
            &data["cap"],
            &data["period_kind"],
            &data["unit"],
            &data["used"],
            &data["limit"]
        ),
        (
            &"overall".into(),
            &"day".into(),
            &"parts".into(),
            &4.into(),
            &5.into()
        ),
        "{body}"
    );
    // The Beijing day, e.g. 2026-11-28.
    assert_eq!(data["period"].as_str().map(str::len), Some(10), "{body}");
}
