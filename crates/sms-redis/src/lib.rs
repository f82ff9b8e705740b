#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod breaker;
mod completions;
mod config;
mod connection;
mod group;
mod idempotency;
mod limiter;
mod scripts;
mod spend;
mod start;
mod suppression;

pub use config::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_OPT_OUT_RETENTION,
    RedisConfig, TimeOffset,
};
pub use connection::RedisState;

/// The name a Redis backend gives itself in errors: the `provider` of a failed check's error.
pub const BACKEND_NAME: &str = "redis";
