//! Callbacks about no message. The balance watcher: the sandbox's ihuyi balance goes below its
//! `low_balance` and the application gets one signed `balance.low` callback; reading it low again
//! (more polls, a restart, other instances on one PostgreSQL) sends nothing more until the balance
//! has been back up. Spend caps: the send that crosses a cap's warning threshold makes one signed
//! `spend.warning` callback. Intervals are a few milliseconds (given to the builder); waits poll a
//! condition with a deadline.

mod harness;

use std::sync::Arc;
use std::time::Duration;

use harness::eventually;
use harness::receiver::{Received, Receiver, SECRET};
use sms_config::{Config, LoadOptions};
use sms_gateway::Gateway;
use sms_sandbox::{Product, Sandbox};
use sms_test_support::TestDatabase;

/// The sandbox's default account (`sms_config::Config::sandbox_toml`).
const SANDBOX_ACCOUNT: &str = "sandbox";
const INTERVAL: Duration = Duration::from_millis(15);

/// The `balance.low` events `receiver` got.
fn low_events(receiver: &Receiver) -> Vec<Received> {
    receiver.of_type("balance.low")
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
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    harness::text_of(&http, &format!("{}/metrics", gateway.base_url())).await
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
    let (receiver, url) = Receiver::spawn(None, 204).await;
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
    assert!(low_events(&receiver).is_empty());

    // Below 100: one event, however many polls see it low.
    set_balance(&sandbox, 50);
    eventually("the balance.low callback", || async {
        low_events(&receiver).len() == 1
    })
    .await;
    more_checks(&[&gateway], 5.0).await;
    let lows = low_events(&receiver);
    assert_eq!(lows.len(), 1, "{lows:?}");
    let Received { id, body, signed, .. } = &lows[0];
    assert!(signed, "the signature verifies");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["data"]["provider"], "ihuyi");
    assert_eq!(body["data"]["amount"], 50);
    assert_eq!(body["data"]["threshold"], 100);
    assert_eq!(body["data"]["unit"], "messages");
    // Only ihuyi has a threshold: the other providers are read and never low.
    assert!(
        receiver
            .got()
            .iter()
            .all(|r| r.body["data"]["provider"] == "ihuyi")
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
    assert_eq!(low_events(&receiver).len(), 1);
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
    assert_eq!(low_events(&receiver).len(), 1);
    set_balance(&sandbox, 40);
    eventually("the second balance.low", || async {
        low_events(&receiver).len() == 2
    })
    .await;
    let lows = low_events(&receiver);
    assert_ne!(lows[0].id, lows[1].id);
    assert_eq!(lows[1].body["data"]["amount"], 40);
    gateway.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_postgres_send_one_low_balance_callback() {
    let pg = TestDatabase::create("sms_gateway_test_balances").await;
    let url_db = pg.url();
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let (receiver, url) = Receiver::spawn(None, 204).await;
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
        low_events(&receiver).len() == 1
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
    assert_eq!(low_events(&receiver).len(), 1, "{:?}", low_events(&receiver));
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
    eventually("the second balance.low", || async {
        low_events(&receiver).len() == 2
    })
    .await;
    more_checks(&rest, 5.0).await;
    assert_eq!(low_events(&receiver).len(), 2);
    assert!(low_events(&receiver).iter().all(|r| r.signed));
    for g in gateways {
        g.shutdown().await;
    }
    pg.drop_now().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_that_crosses_a_spend_warning_is_one_callback() {
    let (receiver, url) = Receiver::spawn(None, 204).await;
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
            .any(|r| r.body["data"]["number"] == "+8613800138004")
    })
    .await;
    let warnings = receiver.of_type("spend.warning");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let Received { id, body, signed, .. } = &warnings[0];
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
