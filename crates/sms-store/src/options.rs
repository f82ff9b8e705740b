//! How a store behaves: content keeping, expiry, grace times, and its clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::model::Millis;

/// A wall clock in milliseconds since the Unix epoch. Injected so tests decide what "now" is.
pub trait WallClock: Send + Sync + fmt::Debug {
    /// Now.
    fn now_ms(&self) -> Millis;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemWallClock;

impl WallClock for SystemWallClock {
    fn now_ms(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0)
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug, Default)]
pub struct ManualWallClock(AtomicI64);

impl ManualWallClock {
    /// A clock showing `start`.
    pub fn new(start: Millis) -> Self {
        Self(AtomicI64::new(start))
    }

    /// Moves it forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl WallClock for ManualWallClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// Whether the store keeps message content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentMode {
    /// Keep the content and its digest.
    #[default]
    Full,
    /// Keep only the SHA-256 digest (the content of a queued message stays in its outbox row until
    /// it is sent, because the worker needs it).
    DigestOnly,
}

/// Store behaviour. `StoreOptions::default()` is what `open` uses.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Content or digest only.
    pub content: ContentMode,
    /// An accepted recipient with no receipt after this long becomes `expired` (default 72 h).
    pub receipt_expiry: Duration,
    /// A direct send (not from the outbox) left in `sending` this long is taken to have crashed and
    /// becomes `unknown` (default 10 min: longer than any send's timeouts).
    pub sending_grace: Duration,
    /// How long to wait for a busy database or a pooled connection (default 5 s).
    pub busy_timeout: Duration,
    /// Pooled connections (PostgreSQL; SQLite readers). The SQLite writer is always one.
    pub max_connections: u32,
    /// The clock.
    pub clock: Arc<dyn WallClock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            content: ContentMode::Full,
            receipt_expiry: Duration::from_secs(72 * 3600),
            sending_grace: Duration::from_secs(600),
            busy_timeout: Duration::from_secs(5),
            max_connections: 8,
            clock: Arc::new(SystemWallClock),
        }
    }
}

impl StoreOptions {
    pub(crate) fn now(&self) -> Millis {
        self.clock.now_ms()
    }
}

pub(crate) fn millis(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}
