#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod capability;
pub mod error;
mod inbound;
pub mod measure;
pub mod message;
#[cfg(any(feature = "http", feature = "testkit"))]
mod percent;
pub mod phone;
pub mod raw;
pub mod receipt;
pub mod report;
mod secret;
pub mod serde_duration;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;
mod traits;

pub use async_trait::async_trait;
pub use capability::{Capabilities, InboundMode};
pub use error::{Attempt, Error, ErrorKind, Operation, Result};
pub use inbound::inbound_stream;
pub use measure::{TextEncoding, TextMeasure};
pub use message::{
    AmbiguityPolicy, ClientReference, Message, MessageBody, MessageKind, MmsContent, Recipients,
    TemplateText, VoiceCode,
};
pub use phone::{PhoneNumber, PhoneNumberError};
#[cfg(feature = "http")]
pub use raw::http::HttpConfig;
pub use receipt::{Balance, BalanceUnit, Receipt, RecipientOutcome, RecipientStatus};
pub use report::{DeliveryReport, DeliveryStatus, InboundMessage};
pub use secret::Secret;
pub use time::BeijingTime;
pub use traits::{BalanceQuery, InboundSource, MessageSender, MessageSenderExt};
