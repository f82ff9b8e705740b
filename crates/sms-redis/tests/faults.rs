//! Redis failing under a chain: stopped mid-run, slow, or evicting keys. The chain never sends without
//! its state, says why, and recovers when Redis returns.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sms_core::{ErrorKind, Message, MessageSender, PhoneNumber};
use sms_failover::state::FailOpen;
use sms_failover::{FailoverSender, RecipientLimits};
use sms_redis::{RedisConfig, RedisState};
use sms_sandbox::Product;
use support::server::OwnRedis;
use support::{Bed, TestTime, connect_with, unique_prefix};

fn text(to: &str) -> Message {
    let to: PhoneNumber = to.parse().expect("number");
    Message::text(to, "【示例】您的验证码是 123456")
}

fn requests(bed: &Bed) -> u64 {
    bed.sandbox.request_count(Product::IhuyiSms) + bed.sandbox.request_count(Product::Juxiang)
}

async fn chain_on(bed: &Bed, state: RedisState) -> FailoverSender {
    bed.chain(&TestTime::default())
        .recipient_limits(RecipientLimits::new(1, 5))
        .shared_state(Arc::new(state))
        .build()
        .expect("a valid chain")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_stops_sends_with_the_reason_and_they_resume_when_it_returns() {
    let mut redis = OwnRedis::start().await;
    let bed = Bed::start().await;
    let config = RedisConfig::new(redis.url())
        .key_prefix(unique_prefix("stopped"))
        .command_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300));
    let chain = chain_on(&bed, connect_with(config).await).await;
    chain
        .send(&text("13800138101"))
        .await
        .expect("sent while Redis runs");

    redis.stop();
    let before = requests(&bed);
    for number in ["13800138102", "13800138103"] {
        let e = chain.send(&text(number)).await.expect_err("no state, no send");
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        assert!(e.is_retryable(), "{e}");
        assert_eq!(e.provider(), Some("redis"), "{e}");
        assert!(e.message().contains("not sent"), "{e}");
    }
    assert_eq!(requests(&bed), before, "nothing reached a provider");

    redis.restart().await;
    // The connection comes back on its own (scripts are loaded again: the new server has none).
    let mut result = chain.send(&text("13800138104")).await;
    for _ in 0..50 {
        if result.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        result = chain.send(&text("13800138104")).await;
    }
    result.expect("sent again once Redis is back");
    assert_eq!(requests(&bed), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_is_given_up_after_the_command_timeout() {
    let redis = OwnRedis::start().await;
    let bed = Bed::start().await;
    let config = RedisConfig::new(redis.url())
        .key_prefix(unique_prefix("slow"))
        .command_timeout(Duration::from_millis(200));
    let chain = chain_on(&bed, connect_with(config).await).await;
    chain
        .send(&text("13800138201"))
        .await
        .expect("sent while Redis is quick");
    let before = requests(&bed);

    // Redis stalls for 3 s.
    let mut admin = redis.admin().await;
    let stall = tokio::spawn(async move {
        redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg(3)
            .query_async::<()>(&mut admin)
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let e = chain
        .send(&text("13800138202"))
        .await
        .expect_err("no answer in time");
    let waited = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.message().contains("may have been applied"), "{e}");
    assert!(
        waited < Duration::from_millis(1500),
        "gave up after {waited:?}, not after the 3 s stall"
    );
    assert_eq!(requests(&bed), before, "nothing reached a provider");
    stall.await.expect("joined").expect("DEBUG SLEEP");

    // Failing open is an explicit choice per trait: opt-outs and limits still on Redis (quick
    // again), idempotency failing open.
    let state = connect_with(
        RedisConfig::new(redis.url())
            .key_prefix(unique_prefix("slow-open"))
            .command_timeout(Duration::from_millis(200)),
    )
    .await;
    let state = Arc::new(state);
    let open_chain = bed
        .chain(&TestTime::default())
        .suppression_list(state.clone())
        .recipient_limiter(state.clone())
        .idempotency_store(Arc::new(FailOpen::new(RedisState::clone(&state))))
        .build()
        .expect("chain");
    open_chain.send(&text("13800138203")).await.expect("sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_redis_is_refused_at_start() {
    let redis = OwnRedis::start().await;
    let mut admin = redis.admin().await;
    for policy in ["allkeys-lru", "volatile-ttl"] {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg(policy)
            .query_async::<()>(&mut admin)
            .await
            .expect("config set");
        let e = RedisState::connect(RedisConfig::new(redis.url()))
            .await
            .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Configuration, "{e}");
        assert!(
            e.message().contains(policy) && e.message().contains("noeviction"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let e = RedisState::connect(
        RedisConfig::new(format!("redis://:hunter2@127.0.0.1:{port}"))
            .connect_timeout(Duration::from_millis(200)),
    )
    .await
    .expect_err("nothing listens there");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.message().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(
        !format!("{e:?}").contains("hunter2"),
        "the password never shows: {e:?}"
    );
}
