//! Juxiang replies pulled by exactly one of two instances on one PostgreSQL database: every reply
//! is stored once, the lease is held, and when the polling instance stops the other takes over.

mod harness;

use std::time::Duration;

use harness::{READ_KEY, TOKEN, eventually};
use sms_config::{Config, LoadOptions};
use sms_gateway::Gateway;
use sms_sandbox::{InboundReply, Product, Sandbox};
use sms_store::MessageStore;
use sms_test_support::TestDatabase;

async fn instance(sandbox: &Sandbox, db: &str) -> Gateway {
    let mut text = Config::sandbox_toml(&sandbox.base_url());
    text.push_str(&format!(
        "\n[gateway]\nwebhook_token = {TOKEN:?}\npoll_replies = true\n\n[[gateway.api_keys]]\n\
         name = \"reader\"\nhash = {:?}\nscopes = [\"read\"]\n",
        sms_gateway::hash_key(READ_KEY)
    ));
    let config = Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).unwrap();
    let store = sms_store::open(db, sms_store::StoreOptions::default())
        .await
        .unwrap();
    Gateway::builder(config)
        .listen("127.0.0.1:0".parse().unwrap())
        .store(store)
        .reply_poll_interval(Duration::from_millis(50))
        .spawn()
        .await
        .unwrap()
}

async fn stored(store: &dyn MessageStore) -> Vec<String> {
    store
        .inbound_since(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{}:{}", r.sender, r.text.unwrap_or_default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_polls_and_the_other_takes_over_when_it_stops() {
    let pg = TestDatabase::create("sms_gateway_test_poller").await;
    let db = pg.url();
    // No upstream URL: the replies can only be pulled.
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let a = instance(&sandbox, &db).await;
    let b = instance(&sandbox, &db).await;
    let store = sms_store::open(&db, sms_store::StoreOptions::default())
        .await
        .unwrap();
    for (from, text) in [
        ("13900000011", "hello"),
        ("13900000012", "0000"),
        ("13900000013", "bye"),
    ] {
        sandbox.inject_inbound(InboundReply::new(Product::Juxiang, from, text));
    }
    eventually("three replies stored", || async {
        stored(store.as_ref()).await.len() >= 3
    })
    .await;
    let mut got = stored(store.as_ref()).await;
    got.sort();
    assert_eq!(
        got,
        ["13900000011:hello", "13900000012:0000", "13900000013:bye"],
        "each reply stored once"
    );
    let number: sms_core::PhoneNumber = "13900000012".parse().unwrap();
    assert_eq!(
        store.suppressed(&[number]).await.unwrap(),
        [true],
        "the opt-out is a suppression"
    );
    // One of them holds the lease: nobody else gets it.
    assert!(
        !store
            .acquire_lease("readsms:juxiang", "intruder", Duration::from_secs(1))
            .await
            .unwrap()
    );
    // Whichever polled, stopping one leaves the other polling.
    a.shutdown().await;
    sandbox.inject_inbound(InboundReply::new(Product::Juxiang, "13900000014", "after a"));
    eventually("the fourth reply stored", || async {
        stored(store.as_ref()).await.len() == 4
    })
    .await;
    b.shutdown().await;
    // Nobody polls now: the lease is free.
    assert!(
        store
            .acquire_lease("readsms:juxiang", "intruder", Duration::from_secs(1))
            .await
            .unwrap()
    );
    pg.drop_now().await;
}
