//! How to reach Redis and how to name and keep the keys.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Key prefix unless [`RedisConfig::key_prefix`] says otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "sms";
/// Time allowed to open a connection (and to check the server at start) unless configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for one command's answer unless configured: a Redis nearby answers in well under a
/// millisecond, so this only bounds how long a send waits for a stalled server.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// How long an opt-out is kept unless configured: about three years (every key gets an expiry; an
/// opt-out recorded again starts its time anew).
pub const DEFAULT_OPT_OUT_RETENTION: Duration = Duration::from_secs(3 * 366 * 24 * 60 * 60);

/// A function giving time to add to the server's clock: for tests that simulate a day (the
/// server's `TIME` cannot be paused). Zero in production.
pub type TimeOffset = Arc<dyn Fn() -> Duration + Send + Sync>;

/// Where Redis is and how the state is kept there.
///
/// ```
/// use std::time::Duration;
/// use sms_redis::RedisConfig;
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")
///     .key_prefix("myapp")
///     .command_timeout(Duration::from_millis(250));
/// assert!(!format!("{config:?}").contains("6379/0"), "the URL may hold a password: not printed");
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) key_prefix: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) opt_out_retention: Duration,
    pub(crate) time_offset: Option<TimeOffset>,
    pub(crate) test_clock: Option<TimeOffset>,
}

impl RedisConfig {
    /// Redis at `url` (`redis://[:password@]host:port[/db]`), every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            opt_out_retention: DEFAULT_OPT_OUT_RETENTION,
            time_offset: None,
            test_clock: None,
        }
    }

    /// Sets the prefix of every key (default `sms`). It is the keys' hash tag (`{prefix}:…`), so that
    /// every key of one application is in one Redis Cluster slot and a script may touch several.
    /// Applications that must not share limits, opt-outs or references use different prefixes.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets the time allowed to connect (default [`DEFAULT_CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the time allowed for each command's answer (default [`DEFAULT_COMMAND_TIMEOUT`]). A
    /// command without an answer in time may still have run: the check fails and the chain sends
    /// nothing, taking a limit's slot or a reference's reservation as used.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets how long an opt-out is kept (default [`DEFAULT_OPT_OUT_RETENTION`]).
    #[must_use]
    pub fn opt_out_retention(mut self, retention: Duration) -> Self {
        self.opt_out_retention = retention;
        self
    }

    /// For tests only: adds `offset()` to the server's `TIME` in every script, so that a test can
    /// move the state's clock through a day without waiting. Keys still expire on the server's own
    /// clock, which only keeps them longer.
    #[must_use]
    pub fn time_offset(mut self, offset: TimeOffset) -> Self {
        self.time_offset = Some(offset);
        self
    }

    /// For tests only: every script takes `now()` (a time since the Unix epoch, read before each
    /// command) as the current time instead of the server's `TIME`, so that the state follows a
    /// test's paused or manual clock exactly (an offset added to the server's clock would add the real
    /// time the test takes). Overrides [`Self::time_offset`]. Keys still expire on the server's clock.
    #[must_use]
    pub fn test_clock(mut self, now: TimeOffset) -> Self {
        self.test_clock = Some(now);
        self
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &"<not shown: it may hold a password>")
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("opt_out_retention", &self.opt_out_retention)
            .field("time_offset", &self.time_offset.is_some())
            .field("test_clock", &self.test_clock.is_some())
            .finish()
    }
}
