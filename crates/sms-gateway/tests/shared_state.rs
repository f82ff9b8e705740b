//! Two gateway instances on one PostgreSQL database and one Redis (each with its own connections,
//! as two processes would have): a Juxiang `0000` reply pushed to one makes the next send through
//! the other refused without a request.

mod harness;

use std::sync::Arc;

use harness::{ADMIN_KEY, READ_KEY, SEND_KEY, TOKEN};
use serde_json::json;
use sms_config::{Config, LoadOptions};
use sms_core::PhoneNumber;
use sms_failover::state::SuppressionList;
use sms_gateway::{Gateway, SharedState};
use sms_redis::{RedisConfig, RedisState};
use sms_sandbox::{Product, Sandbox};
use sms_test_support::TestDatabase;

const REDIS_URL: &str = "redis://127.0.0.1:6379";

async fn redis(prefix: &str) -> Arc<RedisState> {
    match RedisState::connect(RedisConfig::new(REDIS_URL).key_prefix(prefix)).await {
        Ok(state) => Arc::new(state),
        Err(e) => panic!(
            "these tests need Redis at {REDIS_URL}: {e}. Start one with `redis-server --daemonize yes` \
             (Debian: `apt-get install redis-server`), or run `bash .ci/run`, which starts it"
        ),
    }
}

async fn instance(sandbox: &Sandbox, db: &str, prefix: &str) -> Gateway {
    instance_with(sandbox, db, prefix, "").await
}

/// An instance with `extra` appended to its config.
async fn instance_with(sandbox: &Sandbox, db: &str, prefix: &str, extra: &str) -> Gateway {
    instance_on(sandbox, db, prefix, extra, redis(prefix).await).await
}

/// An instance on the given Redis connection.
async fn instance_on(
    sandbox: &Sandbox,
    db: &str,
    prefix: &str,
    extra: &str,
    state: Arc<RedisState>,
) -> Gateway {
    let mut text = Config::sandbox_toml(&sandbox.base_url());
    text.push_str(&format!(
        "\n[state]\nbackend = \"redis\"\nurl = {REDIS_URL:?}\nkey_prefix = {prefix:?}\n\n\
         [gateway]\nwebhook_token = {TOKEN:?}\nsync_timeout = \"10s\"\n"
    ));
    for (name, key, scope) in [
        ("reader", READ_KEY, "read"),
        ("sender", SEND_KEY, "send"),
        ("admin", ADMIN_KEY, "admin"),
    ] {
        text.push_str(&format!(
            "\n[[gateway.api_keys]]\nname = {name:?}\nhash = {:?}\nscopes = [{scope:?}]\n",
            sms_gateway::hash_key(key)
        ));
    }
    text.push_str(extra);
    let config = Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).unwrap();
    let store = sms_store::open(db, sms_store::StoreOptions::default())
        .await
        .unwrap();
    Gateway::builder(config)
        .listen("127.0.0.1:0".parse().unwrap())
        .store(store)
        .shared_state(SharedState::all(state))
        .spawn()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_received_by_one_instance_is_honoured_by_the_other() {
    let pg = TestDatabase::create("sms_gateway_test_shared").await;
    let db = pg.url();
    let prefix = format!("sms-gateway-test-{}:", sms_store::new_id());
    let sandbox = Sandbox::builder().push_retries(0).spawn().await.unwrap();
    let a = instance(&sandbox, &db, &prefix).await;
    let b = instance(&sandbox, &db, &prefix).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    // Instance B sends to the number: it goes out.
    let send = |base: String| {
        let http = http.clone();
        async move {
            let r = http
                .post(format!("{base}/v1/messages"))
                .bearer_auth(SEND_KEY)
                .json(&json!({"to": "13900000077", "text": "【测试】hi"}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, sent) = send(b.base_url()).await;
    assert_eq!(status, 200, "{sent}");
    assert_ne!(sent["recipients"][0]["status"], "failed", "{sent}");

    // The reply reaches instance A.
    let r = http
        .get(format!(
            "{}/webhooks/{TOKEN}/juxiang/reply?src=13900000077&dst=10657&msg=0000",
            a.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "0".to_owned())
    );
    // It is in the shared Redis list (read through a third connection), not only in the store.
    let number: PhoneNumber = "13900000077".parse().unwrap();
    assert_eq!(redis(&prefix).await.suppressed(&[number]).await.unwrap(), [true]);

    // Instance B refuses the next send without a request.
    let requests = || sandbox.request_count(Product::IhuyiSms) + sandbox.request_count(Product::Juxiang);
    let before = requests();
    let (_, refused) = send(b.base_url()).await;
    assert_eq!(refused["recipients"][0]["status"], "failed", "{refused}");
    assert_eq!(requests(), before, "refused without a request");

    // Removed through A: gone from the shared list and from the store's.
    let r = http
        .delete(format!("{}/v1/suppressions/13900000077", a.base_url()))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let number: PhoneNumber = "13900000077".parse().unwrap();
    assert_eq!(redis(&prefix).await.suppressed(&[number]).await.unwrap(), [false]);
    let list: serde_json::Value = http
        .get(format!("{}/v1/suppressions", b.base_url()))
        .bearer_auth(READ_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["suppressions"], json!([]), "{list}");

    a.shutdown().await;
    b.shutdown().await;
    pg.drop_now().await;
}

const LIMITED_KEY: &str = "limited-key-shared-by-instances";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_request_rate_is_counted_across_instances_on_one_redis() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let prefix = format!("sms-gateway-test-{}:", sms_store::new_id());
    let extra = format!(
        "\n[[gateway.api_keys]]\nname = \"limited\"\nhash = {:?}\nscopes = [\"read\"]\n\
         rate_limit = {{ count = 3, period = \"1h\" }}\n",
        sms_gateway::hash_key(LIMITED_KEY)
    );
    // Each instance on its own SQLite file: only Redis is shared.
    let dir = harness::temp_dir();
    let db_a = dir.join("a.db");
    let db_b = dir.join("b.db");
    let a = instance_with(&sandbox, db_a.to_str().unwrap(), &prefix, &extra).await;
    let b = instance_with(&sandbox, db_b.to_str().unwrap(), &prefix, &extra).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |gateway: &Gateway, key: &str| {
        http.get(format!("{}/v1/usage", gateway.base_url()))
            .bearer_auth(key)
            .send()
    };
    // 3 per hour in all: two through a, one through b.
    for (gateway, n) in [(&a, 1), (&a, 2), (&b, 3)] {
        let response = get(gateway, LIMITED_KEY).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "request {n}");
    }
    for gateway in [&b, &a] {
        let response = get(gateway, LIMITED_KEY).await.unwrap();
        assert_eq!(response.status().as_u16(), 429, "the fourth, on either instance");
        assert!(response.headers().contains_key("retry-after"));
    }
    let response = get(&b, READ_KEY).await.unwrap();
    assert_eq!(response.status().as_u16(), 200, "another key is not limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_starts_in_one_redis_round_trip_and_the_stores_opt_outs_still_hold() {
    let pg = TestDatabase::create("sms_gateway_test_shared").await;
    let db = pg.url();
    let prefix = format!("sms-gateway-test-{}:", sms_store::new_id());
    let sandbox = Sandbox::builder().push_retries(0).spawn().await.unwrap();
    let state = redis(&prefix).await;
    let gateway = instance_on(&sandbox, &db, &prefix, "", state.clone()).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let send = |to: &'static str| {
        let (http, base) = (http.clone(), gateway.base_url());
        async move {
            let r = http
                .post(format!("{base}/v1/messages"))
                .bearer_auth(SEND_KEY)
                .json(&json!({"to": to, "text": "【测试】hi"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let before = state.round_trips();
    let sent = send("13900000081").await;
    assert_eq!(sent["recipients"][0]["status"], "accepted", "{sent}");
    assert_eq!(
        state.round_trips() - before,
        3,
        "the key's request rate, the start (reference, opt-outs, breaker, limits) and the outcome: \
         one round trip each"
    );

    // An opt-out only the store holds (recorded before Redis was shared, say) is honoured.
    let store = sms_store::open(&db, sms_store::StoreOptions::default())
        .await
        .unwrap();
    let number: PhoneNumber = "13900000082".parse().unwrap();
    store.suppress(&number, "test", "store only").await.unwrap();
    assert_eq!(
        state.suppressed(std::slice::from_ref(&number)).await.unwrap(),
        [false]
    );
    let requests = || sandbox.request_count(Product::IhuyiSms) + sandbox.request_count(Product::Juxiang);
    let before = requests();
    let refused = send("13900000082").await;
    assert_eq!(refused["recipients"][0]["status"], "failed", "{refused}");
    assert_eq!(requests(), before, "refused without a request");
    gateway.shutdown().await;
    pg.drop_now().await;
}

/// Instances on one PostgreSQL must share keys and the push token: none made up per process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_gateway_without_keys_or_token_refuses_to_start() {
    let pg = TestDatabase::create("sms_gateway_test_shared").await;
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let dir = harness::temp_dir();
    let no_keys = harness::config_text(&sandbox.base_url(), &dir.join("unused.db"), false, "");
    let no_token = harness::config_text(&sandbox.base_url(), &dir.join("unused.db"), true, "").replacen(
        &format!("webhook_token = {TOKEN:?}\n"),
        "",
        1,
    );
    for (text, missing) in [
        (no_keys, "[[gateway.api_keys]]"),
        (no_token, "gateway.webhook_token"),
    ] {
        let config =
            Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).unwrap();
        let store = sms_store::open(&pg.url(), sms_store::StoreOptions::default())
            .await
            .unwrap();
        let Err(refused) = Gateway::builder(config)
            .listen("127.0.0.1:0".parse().unwrap())
            .store(store)
            .spawn()
            .await
        else {
            panic!("started without {missing}");
        };
        let text = refused.to_string();
        assert!(text.contains(missing) && text.contains("PostgreSQL"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    pg.drop_now().await;
}
