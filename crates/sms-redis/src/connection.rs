//! The shared Redis handle: one multiplexed, self-reconnecting connection, the scripts, explicit
//! timeouts, and the check that the server does not evict keys.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};
use sms_core::{Error, ErrorKind, Operation};
use sms_failover::state::backend_unavailable;

use crate::BACKEND_NAME;
use crate::completions::Completion;
use crate::config::{RedisConfig, TimeOffset};
use crate::group::Group;
use crate::scripts::Scripts;
use crate::start::StartJob;

/// A chain's state on Redis: implements every state trait of `sms_failover::state` (opt-outs,
/// recipient limits, idempotency, breaker sharing, spend caps), so that all instances pointed at the same Redis
/// and key prefix share them. Clones share one connection.
///
/// Each check is one round trip (a Lua script, or `MGET` for opt-outs) timed by the server's `TIME`,
/// whatever the application hosts' clocks say; the checks of a message's start are one together
/// (`sms_failover::state::ChainState`), and concurrent outcomes are written together. Every key is
/// named `{prefix}:…` (one hash tag, so the scripts work on Redis Cluster) and has an expiry.
#[derive(Clone)]
pub struct RedisState {
    inner: Arc<Inner>,
}

struct Inner {
    connection: ConnectionManager,
    /// `{prefix}`: the hash tag every key starts with.
    tag: String,
    /// Where the server is, for error messages (never the password).
    server: String,
    command_timeout: Duration,
    opt_out_retention: Duration,
    time_offset: Option<TimeOffset>,
    test_clock: Option<TimeOffset>,
    pub(crate) scripts: Scripts,
    completions: Group<Completion, ()>,
    starts: Group<StartJob, redis::Value>,
    round_trips: AtomicU64,
}

impl fmt::Debug for RedisState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisState")
            .field("server", &self.inner.server)
            .field("tag", &self.inner.tag)
            .field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}

/// Eviction policies under which Redis never drops a key to make room.
const SAFE_POLICY: &str = "noeviction";

impl RedisState {
    /// Connects, and checks that the server keeps every key until it expires.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for an unreadable URL, a key prefix with `{` or `}`, a zero
    /// timeout, or a server whose `maxmemory-policy` evicts keys (evicted limit, opt-out or
    /// idempotency keys would silently break them: set `maxmemory-policy noeviction`);
    /// [`ErrorKind::Unavailable`] when the server cannot be reached within the connect timeout.
    pub async fn connect(config: RedisConfig) -> Result<Self, Error> {
        let invalid = |message: String| {
            Error::new(ErrorKind::Configuration, Operation::Configure)
                .with_provider(BACKEND_NAME)
                .with_message(message)
        };
        if config.key_prefix.contains(['{', '}']) {
            return Err(invalid(format!(
                "the key prefix {:?} may not contain braces: it becomes the keys' hash tag",
                config.key_prefix
            )));
        }
        if config.connect_timeout.is_zero() || config.command_timeout.is_zero() {
            return Err(invalid(
                "the Redis connect and command timeouts must be positive".to_owned(),
            ));
        }
        let client = redis::Client::open(config.url.as_str()).map_err(|_| {
            invalid("unreadable Redis URL: expected redis://[:password@]host:port[/db]".to_owned())
        })?;
        let server = client.get_connection_info().addr().to_string();
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let unreachable = |detail: String| {
            Error::new(ErrorKind::Unavailable, Operation::Configure)
                .with_provider(BACKEND_NAME)
                .with_message(format!("cannot reach Redis at {server}: {detail}"))
        };
        let connection = match tokio::time::timeout(
            config.connect_timeout.saturating_mul(2),
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no connection within {:?}",
                    config.connect_timeout
                )));
            }
        };
        let state = Self {
            inner: Arc::new(Inner {
                connection,
                tag: format!("{{{}}}", config.key_prefix),
                server: server.clone(),
                command_timeout: config.command_timeout,
                opt_out_retention: config.opt_out_retention,
                time_offset: config.time_offset,
                test_clock: config.test_clock,
                scripts: Scripts::new(),
                completions: Group::default(),
                starts: Group::default(),
                round_trips: AtomicU64::new(0),
            }),
        };
        let policy = state.eviction_policy().await?;
        if policy != SAFE_POLICY {
            return Err(invalid(format!(
                "Redis at {server} runs with maxmemory-policy {policy}, which evicts keys to make room: \
                 evicted limit, opt-out and idempotency keys would silently break them. Set \
                 `maxmemory-policy noeviction` (and enough maxmemory)"
            )));
        }
        Ok(state)
    }

    /// The server's `maxmemory-policy`, from `INFO memory` (which works where `CONFIG` is disabled).
    async fn eviction_policy(&self) -> Result<String, Error> {
        let mut connection = self.inner.connection.clone();
        let info: String = self
            .run("its eviction policy", async move {
                redis::cmd("INFO")
                    .arg("memory")
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        info.lines()
            .find_map(|line| line.strip_prefix("maxmemory_policy:"))
            .map(|policy| policy.trim().to_owned())
            .ok_or_else(|| {
                Error::new(ErrorKind::Configuration, Operation::Configure)
                    .with_provider(BACKEND_NAME)
                    .with_message(format!(
                        "Redis at {} does not say its maxmemory-policy in INFO memory; it must be noeviction",
                        self.inner.server
                    ))
            })
    }

    /// Commands sent to Redis by this handle and its clones since it connected (each a round trip;
    /// a script reloaded after a server restart costs one or two more, not counted).
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// Where the server is (`host:port`).
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.inner.connection.clone()
    }

    pub(crate) fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    pub(crate) fn completions(&self) -> &Group<Completion, ()> {
        &self.inner.completions
    }

    pub(crate) fn starts(&self) -> &Group<StartJob, redis::Value> {
        &self.inner.starts
    }

    pub(crate) fn opt_out_retention(&self) -> Duration {
        self.inner.opt_out_retention
    }

    /// `{prefix}:kind:part…`.
    pub(crate) fn key(&self, kind: &str, parts: &[&str]) -> String {
        let mut key = format!("{}:{kind}", self.inner.tag);
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// The scripts' time argument (`lua/clock.lua`): microseconds to add to the server's `TIME` (zero
    /// outside tests), or minus a test clock's time (at least one microsecond).
    pub(crate) fn time_arg(&self) -> i64 {
        match (&self.inner.test_clock, &self.inner.time_offset) {
            (Some(now), _) => -i64::try_from(micros(now())).unwrap_or(i64::MAX).max(1),
            (None, Some(offset)) => i64::try_from(micros(offset())).unwrap_or(i64::MAX),
            (None, None) => 0,
        }
    }

    /// Runs one round trip within the command timeout. A failure names Redis and the check; one
    /// whose command may have run says so.
    /// Runs a prepared script call on a connection of its own: one round trip, under [`Self::run`]'s
    /// timeout and error mapping.
    pub(crate) async fn invoke<T: redis::FromRedisValue>(
        &self,
        check: &str,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        let mut connection = self.connection();
        self.run(check, async move { call.invoke_async(&mut connection).await })
            .await
    }

    pub(crate) async fn run<T>(
        &self,
        check: &str,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, Error> {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
        let timeout = self.inner.command_timeout;
        match tokio::time::timeout(timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failure(check, &e)),
            Err(_) => Err(backend_unavailable(
                BACKEND_NAME,
                check,
                format!(
                    "no answer from {} within {timeout:?}; the command may have been applied",
                    self.inner.server
                ),
            )),
        }
    }

    fn failure(&self, check: &str, error: &RedisError) -> Error {
        let detail = if error.is_timeout() {
            format!(
                "no answer from {} in time; the command may have been applied",
                self.inner.server
            )
        } else if error.is_connection_refusal() || error.is_io_error() || error.is_connection_dropped() {
            format!("{} is unreachable ({error})", self.inner.server)
        } else {
            format!("{} answered with an error ({error})", self.inner.server)
        };
        backend_unavailable(BACKEND_NAME, check, detail)
    }
}

/// Whole microseconds, saturating.
pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
