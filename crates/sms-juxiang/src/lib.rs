#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
pub mod push;
mod response;

pub use client::{
    CHECK_CONTENT_CHARS, JuxiangClient, LONG_SMS_CHARS, MAX_BATCH, NORMAL_SMS_CHARS, POLL_INTERVAL,
};
pub use config::{DEFAULT_BASE_URL, DEFAULT_NAME, JuxiangConfig};
pub use response::ContentCheck;
