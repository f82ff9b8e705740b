//! Building blocks for provider authors (the anchor is OpenDAL's `raw` module): everything a
//! provider crate needs to speak HTTP to its service and to fit the toolkit's rules, kept apart from
//! the application types at the crate's top level.
//!
//! - [`http`]: the shared HTTP client ([`http::HttpClient`]), form POSTs whose errors never quote a
//!   secret or the request ([`http::FormPost`]), the status and transport classification, form
//!   encoding and decoding, base URL checks and safe excerpts.
//! - [`batch`]: sending one message as several requests with one set of rules for partial
//!   failures.
//! - Text and number helpers a request builder needs: [`measure_mainland`], [`is_emoji`],
//!   [`mask_digits`], and [`serde_duration`] for duration fields in a provider's configuration.
//!
//! An application needs none of this: it builds a provider's client from its configuration and
//! uses [`MessageSender`](crate::MessageSender).

pub mod batch;
#[cfg(feature = "http")]
pub mod http;

pub use crate::error::{MIN_REDACTED_PREFIX, REDACTED};
pub use crate::measure::{
    MeasureError, find_emoji, is_emoji, is_gsm7, measure_international, measure_mainland,
};
pub use crate::phone::mask_digits;
pub use crate::serde_duration;
