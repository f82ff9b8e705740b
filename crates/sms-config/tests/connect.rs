//! `Config::connect`: `[store]` and `[state]` opened, and a chain whose opt-outs and limits really go
//! through them. Needs Redis on 127.0.0.1:6379 (or `SMS_REDIS_URL`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sms_config::{Config, ConnectError, LoadOptions, StoreLocation};
use sms_core::{ErrorKind, Message, MessageSender, PhoneNumber};
use sms_sandbox::{Account, Product, Sandbox};

fn redis_url() -> String {
    std::env::var("SMS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn unique(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{tag}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A SQLite file removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("sms-config-{}.db", unique("connect"))))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// A sandbox whose accounts take any number of messages per number (the chain's limits are under
/// test, not the sandbox's).
async fn sandbox() -> Sandbox {
    let relaxed = |product| {
        Account::default_for(product)
            .per_second_limit(1_000_000)
            .per_day_limit(1_000_000)
            .balance(1_000_000)
    };
    Sandbox::builder()
        .account(Product::IhuyiSms, relaxed(Product::IhuyiSms))
        .account(Product::Juxiang, relaxed(Product::Juxiang))
        .spawn()
        .await
        .expect("the sandbox starts")
}

fn config(sandbox: &Sandbox, extra: &str) -> Config {
    let text = format!(
        "{}\n[chain.limits]\nwindows = [{{ count = 2, period = \"1d\" }}]\n{extra}",
        Config::sandbox_toml(&sandbox.base_url())
    );
    Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([]))
        .expect("the configuration loads")
}

async fn connect(config: &Config) -> sms_config::Backends {
    match config.connect().await {
        Ok(backends) => backends,
        Err(ConnectError::State(e)) if e.kind() == ErrorKind::Unavailable => panic!(
            "this test needs a Redis server at {} (set SMS_REDIS_URL for another): {e}. Start one with \
             `redis-server --daemonize yes`, or run `bash .ci/run`, which starts it",
            redis_url()
        ),
        Err(e) => panic!("connect: {e}"),
    }
}

fn sent_to(sandbox: &Sandbox, number: &PhoneNumber) -> usize {
    let national = number.national_number();
    sandbox
        .messages()
        .iter()
        .filter(|m| m.recipients.iter().any(|r| r.ends_with(national)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_and_redis_state_share_limits_and_opt_outs_across_instances() {
    let sandbox = sandbox().await;
    let db = TempDb::new();
    let prefix = unique("sms-config-test");
    let extra = format!(
        "[store]\npath = {path:?}\n\n[state]\nurl = {url:?}\nkey_prefix = {prefix:?}\n",
        path = db.0.display().to_string(),
        url = redis_url(),
    );
    let config = config(&sandbox, &extra);
    // Two instances of one application: each its own connections and chain.
    let first = connect(&config).await;
    let second = connect(&config).await;
    let store = first.store.as_ref().expect("[store] opened");
    assert_eq!(store.location, StoreLocation::Sqlite(db.0.clone()));
    assert_eq!(first.state.description, "redis");

    // Limits: two a day per number, counted in Redis, so the second instance sees the first's sends.
    let limited: PhoneNumber = "13800138001".parse().unwrap();
    for i in 0..2 {
        let receipt = first
            .sender()
            .send(&Message::text(limited.clone(), "hello").with_reference(format!("{prefix}-l{i}")))
            .await
            .expect("within the limit");
        assert!(receipt.all_accepted(), "{receipt:?}");
    }
    let refused = second
        .sender()
        .send(&Message::text(limited.clone(), "hello").with_reference(format!("{prefix}-l2")))
        .await
        .expect_err("a third message that day is over the limit");
    assert_eq!(refused.kind(), ErrorKind::RecipientThrottled, "{refused}");
    assert_eq!(
        sent_to(&sandbox, &limited),
        2,
        "the refused message never reached a provider"
    );

    // Opt-outs: learnt by one instance, kept in Redis, refused by the other.
    let opted: PhoneNumber = "13800138002".parse().unwrap();
    first
        .state
        .suppression
        .as_ref()
        .expect("opt-outs on Redis")
        .suppress(&opted)
        .await
        .unwrap();
    let refused = second
        .sender()
        .send(&Message::text(opted.clone(), "hello").with_reference(format!("{prefix}-o")))
        .await
        .expect_err("an opted-out number gets nothing");
    assert_eq!(refused.kind(), ErrorKind::RecipientOptedOut, "{refused}");
    assert_eq!(sent_to(&sandbox, &opted), 0);
    // ...and on Redis, not in the store.
    assert_eq!(
        store
            .store
            .suppressed(std::slice::from_ref(&opted))
            .await
            .unwrap(),
        vec![false]
    );

    // What was sent is recorded in the SQLite store, opened again as a new process would.
    drop((first, second));
    let reopened = config.open_store(None).await.unwrap().expect("a store");
    let recorded = reopened
        .store
        .message_by_reference(&format!("{prefix}-l1"))
        .await
        .unwrap()
        .expect("the send was recorded");
    assert_eq!(recorded.recipients[0].status, sms_store::Status::Accepted);
    assert_eq!(recorded.recipients[0].provider.as_deref(), Some("ihuyi"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_with_memory_state_keeps_opt_outs_across_restarts() {
    let sandbox = sandbox().await;
    let db = TempDb::new();
    let extra = format!("[store]\npath = {:?}\n", db.0.display().to_string());
    let config = config(&sandbox, &extra);
    let number: PhoneNumber = "13800138003".parse().unwrap();
    {
        let first = connect(&config).await;
        assert!(first.state.limiter.is_none(), "limits stay in memory");
        first
            .state
            .suppression
            .as_ref()
            .expect("opt-outs in the store")
            .suppress(&number)
            .await
            .unwrap();
    }
    // A new instance on the same file: the opt-out outlived the first.
    let second = connect(&config).await;
    let refused = second
        .sender()
        .send(&Message::text(number.clone(), "hello"))
        .await
        .expect_err("opted out in the store");
    assert_eq!(refused.kind(), ErrorKind::RecipientOptedOut, "{refused}");
    assert_eq!(sent_to(&sandbox, &number), 0);
}

#[tokio::test]
async fn no_store_and_memory_state_is_the_plain_chain() {
    let sandbox = sandbox().await;
    let config = config(&sandbox, "");
    let backends = connect(&config).await;
    assert!(backends.store.is_none());
    assert_eq!(backends.state.description, "memory");
    let number: PhoneNumber = "13800138004".parse().unwrap();
    let receipt = backends
        .sender()
        .send(&Message::text(number.clone(), "hello"))
        .await
        .unwrap();
    assert!(receipt.all_accepted());
    assert_eq!(sent_to(&sandbox, &number), 1);
}

#[tokio::test]
async fn an_unreachable_redis_is_a_state_error_naming_it() {
    let sandbox = sandbox().await;
    let config = config(
        &sandbox,
        "[state]\nurl = \"redis://127.0.0.1:1\"\nconnect_timeout = \"300ms\"\n",
    );
    let error = config.connect().await.expect_err("nothing listens on port 1");
    assert!(matches!(error, ConnectError::State(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with("[state]"), "{text}");
}

#[tokio::test]
async fn a_default_sqlite_file_is_opened_only_when_asked() {
    let sandbox = sandbox().await;
    let config = config(&sandbox, "");
    let db = TempDb::new();
    assert!(config.open_store(None).await.unwrap().is_none());
    let opened = config
        .connect_with(&sms_config::ConnectOptions::new().default_sqlite(&db.0))
        .await
        .unwrap();
    let store = opened.store.expect("the default file");
    assert_eq!(store.location.to_string(), format!("SQLite {}", db.0.display()));
    assert!(db.0.exists());
}

/// `[state] fail_open` per check: with Redis gone, a message whose every check fails open is sent;
/// one check left to fail closed refuses it, saying the state backend is unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_is_chosen_per_check() {
    let sandbox = sandbox().await;
    let mut redis = sms_test_support::OwnRedis::start().await;
    let state = |fail_open: &str| {
        format!(
            "[state]\nurl = {:?}\nkey_prefix = {:?}\ncommand_timeout = \"200ms\"\nfail_open = {fail_open}\n",
            redis.url(),
            unique("fail-open")
        )
    };
    let every = connect(&config(&sandbox, &state("true"))).await;
    let all_listed = connect(&config(
        &sandbox,
        &state(r#"["opt_outs", "limits", "idempotency", "breaker", "spend"]"#),
    ))
    .await;
    let limits_closed = connect(&config(
        &sandbox,
        &state(r#"["opt_outs", "idempotency", "breaker", "spend"]"#),
    ))
    .await;
    assert_eq!(every.state.description, "redis (failing open)");
    assert_eq!(
        limits_closed.state.description,
        "redis (failing open: opt_outs, idempotency, breaker, spend)"
    );
    redis.stop();
    for (chain, to) in [(&every, "13800138011"), (&all_listed, "13800138012")] {
        let number: PhoneNumber = to.parse().unwrap();
        chain
            .sender()
            .send(&Message::text(number.clone(), "hello"))
            .await
            .expect("every check fails open");
        assert_eq!(sent_to(&sandbox, &number), 1);
    }
    let number: PhoneNumber = "13800138013".parse().unwrap();
    let refused = limits_closed
        .sender()
        .send(&Message::text(number.clone(), "hello"))
        .await
        .expect_err("the limits fail closed");
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert_eq!(refused.provider(), Some("redis"), "{refused}");
    assert_eq!(sent_to(&sandbox, &number), 0);
}
