//! Breaker sharing: one hash per provider (`{prefix}:breaker:…`): open until a time, or probing under
//! a lease. The probe is handed out by a script, so exactly one caller gets it.

use std::time::Duration;

use async_trait::async_trait;
use sms_core::Error;
use sms_failover::state::{BreakerSharing, SharedBreaker, backend_unavailable};

use crate::BACKEND_NAME;
use crate::connection::{RedisState, micros};

const CHECK: &str = "breaker sharing";

/// How long a breaker's key outlives its cool-down or probe lease (milliseconds): a trip older than
/// this, never probed since, is forgotten and the breaker reads closed again.
pub(crate) const KEEP_MS: u64 = 24 * 60 * 60 * 1000;

impl RedisState {
    pub(crate) fn breaker_key(&self, provider: &str) -> String {
        self.key("breaker", &[provider])
    }
}

#[async_trait]
impl BreakerSharing for RedisState {
    async fn admit(&self, provider: &str, probe_lease: Duration) -> Result<SharedBreaker, Error> {
        let mut call = self.scripts().breaker_admit.prepare_invoke();
        call.key(self.breaker_key(provider))
            .arg(self.time_arg())
            .arg(micros(probe_lease))
            .arg(KEEP_MS);
        let answer: Vec<i64> = self.invoke(CHECK, &call).await?;
        match answer.as_slice() {
            [code] => shared_breaker(*code, 0),
            [code, wait] => shared_breaker(*code, *wait),
            _ => Err(backend_unavailable(BACKEND_NAME, CHECK, "an unexpected answer")),
        }
    }

    async fn trip(&self, provider: &str, cool_down: Duration) -> Result<(), Error> {
        let mut call = self.scripts().breaker_trip.prepare_invoke();
        call.key(self.breaker_key(provider))
            .arg(self.time_arg())
            .arg(micros(cool_down))
            .arg(KEEP_MS);
        self.invoke::<i64>(CHECK, &call).await.map(drop)
    }

    async fn close(&self, provider: &str) -> Result<(), Error> {
        let key = self.breaker_key(provider);
        let mut connection = self.connection();
        self.run(CHECK, async move {
            redis::cmd("DEL")
                .arg(&key)
                .query_async::<i64>(&mut connection)
                .await
        })
        .await
        .map(drop)
    }

    async fn release_probe(&self, provider: &str) -> Result<(), Error> {
        let mut call = self.scripts().breaker_release.prepare_invoke();
        call.key(self.breaker_key(provider));
        self.invoke::<i64>(CHECK, &call).await.map(drop)
    }
}

/// Reads `breaker_admit.lua`'s answer: 0 closed, 1 open with the wait (microseconds), 2 the probe.
pub(crate) fn shared_breaker(code: i64, wait: i64) -> Result<SharedBreaker, Error> {
    match code {
        0 => Ok(SharedBreaker::Closed),
        1 => Ok(SharedBreaker::Open {
            wait: Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
        }),
        2 => Ok(SharedBreaker::Probe),
        _ => Err(backend_unavailable(BACKEND_NAME, CHECK, "an unexpected answer")),
    }
}
