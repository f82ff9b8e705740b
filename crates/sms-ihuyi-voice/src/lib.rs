#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
pub mod push;
mod response;

pub use client::{IhuyiVoiceClient, VOICE_PATH};
pub use config::{DEFAULT_BASE_URL, DEFAULT_NAME, IhuyiVoiceConfig};
pub use response::code_meaning;
pub use sms_ihuyi::{PasswordMode, ResponseFormat};
