//! Three processes (this test binary started again as workers) on one Redis and one sandbox: a
//! reference sent concurrently by all goes out once, "1 per hour" admits one send of all their
//! concurrent ones, and an opt-out recorded by another instance is honoured by every process.
//!
//! The limit's window is an hour, not a second, because the processes run on Redis's real clock: a
//! loaded machine may start them more than a second apart, and a one-second window would then
//! rightly admit one send per process. (`instances.rs` checks "1 per second" on a test clock.)

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sms_core::{ErrorKind, Message, MessageSender, PhoneNumber};
use sms_failover::{RecipientLimits, SuppressionList};
use sms_ihuyi::{IhuyiClient, IhuyiConfig};
use sms_juxiang::{JuxiangClient, JuxiangConfig};
use sms_sandbox::{DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY};
use support::{Bed, TestTime, connect, unique_prefix};

const WORKER: &str = "SMS_REDIS_TEST_WORKER";
const REFERENCE_TO: &str = "13800138301";
const LIMITED_TO: &str = "13800138302";
const OPTED_OUT: &str = "13800138303";

fn text(to: &str) -> Message {
    let to: PhoneNumber = to.parse().expect("number");
    Message::text(to, "【示例】您的验证码是 123456")
}

/// The worker: runs only in a child process (`SMS_REDIS_TEST_WORKER` = "<sandbox url> <prefix>").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker() {
    let Ok(setting) = std::env::var(WORKER) else {
        return; // Not a worker: this test is the children's entry point only.
    };
    let (base, prefix) = setting.split_once(' ').expect("url and prefix");
    let ihuyi = IhuyiClient::new(
        IhuyiConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
            .base_url(base)
            .international_base_url(base),
    )
    .expect("client");
    let juxiang = JuxiangClient::new(
        JuxiangConfig::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).base_url(format!("{base}/send/")),
    )
    .expect("client");
    let state = Arc::new(connect(prefix, &TestTime::default()).await);
    let chain = sms_failover::FailoverSender::builder()
        .provider(sms_failover::ProviderEntry::new(Arc::new(ihuyi)))
        .provider(sms_failover::ProviderEntry::new(Arc::new(juxiang)).priority(1))
        .recipient_limits(RecipientLimits::disabled().with_limit(1, Duration::from_secs(3600)))
        .shared_state(state)
        .build()
        .expect("chain");
    let referenced = text(REFERENCE_TO).with_reference("process-order-1");
    let sends = (0..10).map(|i| {
        let chain = chain.clone();
        let message = if i % 2 == 0 {
            referenced.clone()
        } else {
            text(LIMITED_TO)
        };
        async move { chain.send(&message).await }
    });
    for result in join_all(sends).await {
        if let Err(e) = result {
            assert!(
                e.is_ambiguous() || e.kind() == ErrorKind::RecipientThrottled,
                "unexpected error: {e}"
            );
        }
    }
    let e = chain
        .send(&text(OPTED_OUT))
        .await
        .expect_err("opted out elsewhere");
    assert_eq!(e.kind(), ErrorKind::RecipientOptedOut, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_references_limits_and_opt_outs() {
    if std::env::var(WORKER).is_ok() {
        return;
    }
    let bed = Bed::start().await;
    let prefix = unique_prefix("processes");
    let opted_out: PhoneNumber = OPTED_OUT.parse().expect("number");
    connect(&prefix, &TestTime::default())
        .await
        .suppress(&opted_out)
        .await
        .expect("recorded");
    let exe = std::env::current_exe().expect("the test binary");
    let setting = format!("{} {prefix}", bed.sandbox.base_url());
    // Started together: each runs its sends concurrently with the others'.
    let children: Vec<_> = (0..3)
        .map(|_| {
            tokio::process::Command::new(&exe)
                .args(["--exact", "worker", "--quiet", "--test-threads", "1"])
                .env(WORKER, &setting)
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
    let count = |n: &str| bed.delivered_to(&n.parse().expect("number")).len();
    assert_eq!(
        count(REFERENCE_TO),
        1,
        "one reference from three processes goes out once"
    );
    assert_eq!(count(LIMITED_TO), 1, "1 per hour across three processes");
    assert_eq!(count(OPTED_OUT), 0, "the opt-out holds in every process");
}
