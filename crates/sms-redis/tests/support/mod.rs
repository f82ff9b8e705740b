//! Shared set-up of the Redis tests: the server at 127.0.0.1:6379 (or `SMS_REDIS_URL`), a unique key
//! prefix per test, and a test clock added to the server's time.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sms_core::HttpConfig;
use sms_core::{ErrorKind, PhoneNumber};
use sms_failover::{
    BreakerConfig, Clock, FailoverSender, FailoverSenderBuilder, ManualClock, ProviderEntry, RetryPolicy,
};
use sms_ihuyi::{IhuyiClient, IhuyiConfig};
use sms_juxiang::{JuxiangClient, JuxiangConfig};
use sms_redis::{RedisConfig, RedisState};
use sms_sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY, Product, RecordedMessage, Sandbox,
};

/// The Redis the tests use.
pub fn redis_url() -> String {
    std::env::var("SMS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test (or run) uses.
pub fn unique_prefix(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "test-{test}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A test clock: the chains' own clock (breakers, in-memory state) and the time added to the Redis
/// server's clock in every script, moved together by the test.
#[derive(Clone, Default)]
pub struct TestTime(Arc<ManualClock>);

impl TestTime {
    pub fn advance(&self, by: Duration) {
        self.0.advance(by);
    }

    pub fn offset(&self) -> sms_redis::TimeOffset {
        let clock = self.0.clone();
        Arc::new(move || clock.elapsed())
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.0.clone()
    }
}

/// A sandbox whose accounts take any number of messages per number (the chains' limits are under
/// test, not the sandbox's), and clients of ihuyi (primary) and Juxiang (secondary) pointed at it.
pub struct Bed {
    pub sandbox: Sandbox,
    pub ihuyi: Arc<IhuyiClient>,
    pub juxiang: Arc<JuxiangClient>,
}

impl Bed {
    pub async fn start() -> Self {
        let relaxed = |product| {
            Account::default_for(product)
                .per_second_limit(1_000_000)
                .per_day_limit(1_000_000)
                .per_day_code_limit(1_000_000)
                .balance(1_000_000)
        };
        let sandbox = Sandbox::builder()
            .account(Product::IhuyiSms, relaxed(Product::IhuyiSms))
            .account(Product::Juxiang, relaxed(Product::Juxiang))
            .spawn()
            .await
            .expect("the sandbox starts");
        let base = sandbox.base_url();
        let http = HttpConfig {
            request_timeout: Duration::from_secs(2),
            ..HttpConfig::default()
        };
        let ihuyi = IhuyiClient::new(
            IhuyiConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
                .base_url(base.clone())
                .international_base_url(base.clone())
                .http(http),
        )
        .expect("ihuyi client");
        let juxiang = JuxiangClient::new(
            JuxiangConfig::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).base_url(format!("{base}/send/")),
        )
        .expect("juxiang client");
        Self {
            sandbox,
            ihuyi: Arc::new(ihuyi),
            juxiang: Arc::new(juxiang),
        }
    }

    /// A chain of ihuyi then Juxiang on `time`'s clock, with quick retries and a breaker that opens
    /// after one provider failure.
    pub fn chain(&self, time: &TestTime) -> FailoverSenderBuilder {
        FailoverSender::builder()
            .provider(ProviderEntry::new(self.ihuyi.clone()).priority(0))
            .provider(ProviderEntry::new(self.juxiang.clone()).priority(1))
            .clock(time.clock())
            .retry(
                RetryPolicy::default()
                    .max_attempts_per_provider(2)
                    .initial_backoff(Duration::from_millis(10)),
            )
            .circuit_breaker(
                BreakerConfig::default()
                    .failure_threshold(1)
                    .cool_down(Duration::from_secs(30)),
            )
    }

    /// Messages the sandbox accepted for `number` (any provider).
    pub fn delivered_to(&self, number: &PhoneNumber) -> Vec<RecordedMessage> {
        let national = number.national_number();
        self.sandbox
            .messages()
            .into_iter()
            .filter(|m| m.recipients.iter().any(|r| r.ends_with(national)))
            .collect()
    }
}

/// A new connection (a separate instance) on `prefix`, timed by `time`.
pub async fn connect(prefix: &str, time: &TestTime) -> RedisState {
    connect_with(
        RedisConfig::new(redis_url())
            .key_prefix(prefix)
            .time_offset(time.offset()),
    )
    .await
}

/// Connects, or fails the test saying how to start Redis.
pub async fn connect_with(config: RedisConfig) -> RedisState {
    match RedisState::connect(config).await {
        Ok(state) => state,
        Err(e) if e.kind() == ErrorKind::Unavailable => panic!(
            "these tests need a Redis server at {} (set SMS_REDIS_URL for another): {e}. Start one \
             with `redis-server --daemonize yes` (Debian: `apt-get install redis-server`), or run \
             `bash .ci/run`, which starts it",
            redis_url()
        ),
        Err(e) => panic!("Redis refused: {e}"),
    }
}
