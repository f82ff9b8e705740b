//! Spend caps on Redis, exact across instances: 50 concurrent sends against a cap of 10 parts send
//! exactly 10 parts, as the sandbox's log shows, from three chains in one process and from three
//! processes.

mod support;

use std::sync::Arc;

use futures_util::future::join_all;
use sms_core::{ErrorKind, Message, MessageSender, PhoneNumber};
use sms_failover::{CapPeriod, CapScope, CapUnit, RecipientLimits, SpendCap, SpendPolicy};
use sms_ihuyi::{IhuyiClient, IhuyiConfig};
use sms_sandbox::{DEFAULT_ACCOUNT, DEFAULT_KEY};
use support::{Bed, TestTime, connect, unique_prefix};

const WORKER: &str = "SMS_REDIS_SPEND_WORKER";

fn policy() -> SpendPolicy {
    SpendPolicy::default().with_cap(SpendCap::new(
        CapScope::Overall,
        CapPeriod::Day,
        CapUnit::Parts,
        10,
    ))
}

/// One-part messages to `count` distinct numbers starting at `first`.
fn messages(first: u32, count: u32) -> Vec<Message> {
    (first..first + count)
        .map(|i| {
            let to: PhoneNumber = format!("1390013{i:04}").parse().expect("number");
            Message::text(to, "【示例】您的验证码是 123456")
        })
        .collect()
}

/// Sends concurrently; (sent, refused as over budget). Any other error fails the test.
async fn send_all(chain: &sms_failover::FailoverSender, messages: &[Message]) -> (usize, usize) {
    let results = join_all(messages.iter().map(|m| chain.send(m))).await;
    let mut counts = (0, 0);
    for result in results {
        match result {
            Ok(_) => counts.0 += 1,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::BudgetExceeded, "{e}");
                counts.1 += 1;
            }
        }
    }
    counts
}

fn parts_in_sandbox(bed: &Bed) -> u32 {
    bed.sandbox.messages().iter().map(|m| m.parts).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_send_exactly_ten_parts_of_fifty_concurrent_sends() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let prefix = unique_prefix("spend-instances");
    let mut chains = Vec::new();
    for _ in 0..3 {
        let state = Arc::new(connect(&prefix, &time).await);
        chains.push(
            bed.chain(&time)
                .recipient_limits(RecipientLimits::disabled())
                .shared_state(state)
                .spend_policy(policy())
                .build()
                .expect("a valid chain"),
        );
    }
    let all = messages(0, 50);
    let runs = chains.iter().enumerate().map(|(i, chain)| {
        let mine: Vec<Message> = all.iter().skip(i).step_by(3).cloned().collect();
        async move { send_all(chain, &mine).await }
    });
    let counts = join_all(runs).await;
    let sent: usize = counts.iter().map(|c| c.0).sum();
    let refused: usize = counts.iter().map(|c| c.1).sum();
    assert_eq!((sent, refused), (10, 40));
    assert_eq!(parts_in_sandbox(&bed), 10, "the sandbox got exactly 10 parts");
    let usage = chains[1].spend_usage().await.expect("usage");
    assert_eq!(usage[0].used, 10, "every instance sees the same spend");
}

/// The worker: runs only in a child process (`SMS_REDIS_SPEND_WORKER` = "<sandbox url> <prefix> <first>").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_worker() {
    let Ok(setting) = std::env::var(WORKER) else {
        return; // Not a worker: this test is the children's entry point only.
    };
    let mut words = setting.split(' ');
    let (Some(base), Some(prefix), Some(first)) = (words.next(), words.next(), words.next()) else {
        panic!("expected url, prefix and first number in {setting:?}");
    };
    let ihuyi = IhuyiClient::new(
        IhuyiConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
            .base_url(base)
            .international_base_url(base),
    )
    .expect("client");
    let state = Arc::new(connect(prefix, &TestTime::default()).await);
    let chain = sms_failover::FailoverSender::builder()
        .provider(sms_failover::ProviderEntry::new(Arc::new(ihuyi)))
        .recipient_limits(RecipientLimits::disabled())
        .shared_state(state)
        .spend_policy(policy())
        .build()
        .expect("chain");
    let first: u32 = first.parse().expect("a number");
    let (sent, refused) = send_all(&chain, &messages(first, 17)).await;
    println!("worker {first}: {sent} sent, {refused} refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_send_exactly_ten_parts_of_their_concurrent_sends() {
    if std::env::var(WORKER).is_ok() {
        return;
    }
    let bed = Bed::start().await;
    let prefix = unique_prefix("spend-processes");
    let exe = std::env::current_exe().expect("the test binary");
    // 3 × 17 = 51 concurrent sends, started together.
    let children: Vec<_> = (0..3)
        .map(|i| {
            tokio::process::Command::new(&exe)
                .args(["--exact", "spend_worker", "--quiet", "--test-threads", "1"])
                .env(WORKER, format!("{} {prefix} {}", bed.sandbox.base_url(), 100 * i))
                .output()
        })
        .collect();
    for output in join_all(children).await {
        let output = output.expect("a worker ran");
        assert!(
            output.status.success(),
            "a worker failed:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    assert_eq!(
        parts_in_sandbox(&bed),
        10,
        "three processes sent exactly 10 parts under a shared cap of 10"
    );
}
