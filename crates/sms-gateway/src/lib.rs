#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod app;
mod auth;
mod balance_watch;
mod bulk;
mod callbacks;
mod compose;
mod dashboard;
mod error;
mod gateway;
mod health;
mod keyspend;
mod leased;
mod metrics;
mod openapi;
mod poller;
mod ratelimit;
mod receipts;
mod request_id;
mod retention;
mod secrets;
mod service;
pub mod signing;
mod spend_metrics;
mod state;
#[cfg(feature = "otel")]
pub mod telemetry;
mod timing;
mod v1;
mod view;
mod webhooks;
mod worker;

pub use app::{AppState, router, webhook_router};
pub use auth::{ApiKeys, hash_key};
pub use bulk::{MAX_BATCH_RECIPIENTS, MAX_BATCH_ROWS};
pub use compose::MAX_RECIPIENTS;
pub use error::{ApiError, ErrorCode};
pub use gateway::{Gateway, GatewayBuilder, GatewayError, PushUrl};
pub use request_id::REQUEST_ID;
pub use state::SharedState;
pub use webhooks::{PushKind, pushes_of};
