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
use sms_test_support::OwnRedis;
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
    let timeout = Duration::from_millis(200);
    let config = RedisConfig::new(redis.url())
        .key_prefix(unique_prefix("slow"))
        .command_timeout(timeout);
    // One message per number per hour: a slot taken by the stalled start is still taken afterwards.
    let chain = bed
        .chain(&TestTime::default())
        .recipient_limits(RecipientLimits::disabled().with_limit(1, Duration::from_secs(3600)))
        .shared_state(Arc::new(connect_with(config).await))
        .build()
        .expect("a valid chain");
    // Failing open is an explicit choice: here every part of the state (opt-outs, limits,
    // idempotency, breaker sharing) fails open. Connected before the stall (connecting asks Redis).
    let open_state = connect_with(
        RedisConfig::new(redis.url())
            .key_prefix(unique_prefix("slow-open"))
            .command_timeout(timeout),
    )
    .await;
    let open_chain = bed
        .chain(&TestTime::default())
        .recipient_limits(RecipientLimits::disabled().with_limit(1, Duration::from_secs(3600)))
        .shared_state(Arc::new(FailOpen::new(open_state)))
        .build()
        .expect("chain");
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
    let stalled: PhoneNumber = "13800138202".parse().expect("number");
    let first = text("13800138202").with_reference("slow-order-1");
    let started = Instant::now();
    let e = chain.send(&first).await.expect_err("no answer in time");
    let waited = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.message().contains("may have been applied"), "{e}");
    assert!(
        waited < Duration::from_millis(1500),
        "gave up after {waited:?}, not after the 3 s stall"
    );
    assert_eq!(requests(&bed), before, "nothing reached a provider");

    // Still within the stall: the chain failing open sends without its state. Its start and its
    // outcome each wait out the command timeout, and the message goes out.
    let started = Instant::now();
    open_chain
        .send(&text("13800138203"))
        .await
        .expect("sent without the state, failing open");
    let waited = started.elapsed();
    assert!(
        !stall.is_finished(),
        "the fail-open send ended after the stall ({waited:?}): it did not run while Redis was stalled"
    );
    assert!(
        waited >= timeout,
        "answered in {waited:?}: Redis answered, so nothing failed open"
    );
    assert_eq!(requests(&bed), before + 1, "the fail-open send went out");
    let before = requests(&bed);

    stall.await.expect("joined").expect("DEBUG SLEEP");

    // The timed-out start did run: it was written before the timeout, waited in the server's input
    // buffer behind DEBUG SLEEP, and ran as soon as the sleep ended (a response timeout keeps the
    // connection, so nothing cut it off). The next commands go down the same connection behind it,
    // so they see what it took: the reference reserved with no outcome, and the number's one slot of
    // the hour used. The chain gave back neither.
    let e = chain
        .send(&first)
        .await
        .expect_err("the same reference is not sent again");
    assert_eq!(e.kind(), ErrorKind::Ambiguous, "{e}");
    assert!(e.message().contains("has no outcome"), "{e}");
    assert_eq!(requests(&bed), before, "no request for the same reference");

    let e = chain
        .send(&text("13800138202").with_reference("slow-order-2"))
        .await
        .expect_err("the hour's slot is taken");
    assert_eq!(e.kind(), ErrorKind::RecipientThrottled, "{e}");
    assert_eq!(requests(&bed), before, "no request over the limit");
    assert!(
        bed.delivered_to(&stalled).is_empty(),
        "nothing ever reached the stalled number"
    );

    // Redis answers again: another number is sent as usual.
    chain
        .send(&text("13800138204"))
        .await
        .expect("sent once Redis is quick again");
    assert_eq!(requests(&bed), before + 1);
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
