//! Shared set-up of the Redis tests: the server at 127.0.0.1:6379 (or `SMS_REDIS_URL`), a unique key
//! prefix per test, and a test clock added to the server's time.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sms_core::ErrorKind;
use sms_redis::{RedisConfig, RedisState};

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

/// Time added to the server's clock, moved by the test.
#[derive(Clone, Default)]
pub struct TestTime(Arc<Mutex<Duration>>);

impl TestTime {
    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("lock") += by;
    }

    pub fn offset(&self) -> sms_redis::TimeOffset {
        let offset = self.0.clone();
        Arc::new(move || *offset.lock().expect("lock"))
    }
}

/// A new connection (a separate instance) on `prefix`, timed by `time`.
pub async fn connect(prefix: &str, time: &TestTime) -> RedisState {
    connect_with(RedisConfig::new(redis_url()).key_prefix(prefix).time_offset(time.offset())).await
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
