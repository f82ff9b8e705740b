#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
pub mod push;
pub mod raw;
mod response;

pub use client::{INTERNATIONAL_PATH, IhuyiClient, MAX_TEXT_CHARS, SMS_PATH};
pub use config::{DEFAULT_BASE_URL, DEFAULT_INTERNATIONAL_BASE_URL, DEFAULT_NAME, IhuyiConfig};
pub use raw::{PasswordMode, ResponseFormat};

/// The former name of [`raw`], kept so that existing paths keep working.
#[doc(hidden)]
pub use raw as protocol;
pub use response::{PER_SECOND_RETRY_AFTER, code_meaning};
