#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod config;
mod control;
mod delivery;
mod error;
mod faults;
mod multipart;
mod params;
mod products;
mod pushes;
mod records;
mod render;
mod rules;
mod sandbox;
mod server;
mod state;
mod targets;
mod wall_timer;

pub use config::{
    Account, BUILTIN_SENSITIVE_WORDS, DEFAULT_ACCOUNT, DEFAULT_BALANCE, DEFAULT_JUXIANG_PASSWORD,
    DEFAULT_JUXIANG_SERVICE_CODE, DEFAULT_KEY, DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID, Product,
    SandboxConfig,
};
pub use delivery::{DelayBand, DeliveryProfile};
pub use error::SandboxError;
pub use faults::{Fault, FaultKind, FaultTarget};
pub use records::{InboundReply, PushKind, RecordedMessage, RecordedPush};
pub use sandbox::{Sandbox, SandboxBuilder};
