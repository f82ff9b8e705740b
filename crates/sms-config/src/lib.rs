#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backends;
mod chain;
mod config;
#[cfg(any(feature = "store-sqlite", feature = "store-postgres", feature = "redis"))]
mod connect;
mod env;
mod error;
mod lookup;
mod options;
mod provider;
mod reader;
mod source;
mod spend;
mod suggest;
mod tree;

pub use backends::{
    ApiKeyConfig, ApiScope, CallbackConfig, ContentRetention, DEFAULT_BALANCE_INTERVAL, DEFAULT_KEY_RATE,
    DEFAULT_LISTEN, DEFAULT_OUTBOX_LEASE, FailOpenChecks, GatewayConfig, MIN_BALANCE_INTERVAL, SourceNet,
    StateBackend, StateConfig, StoreBackend, StoreConfig,
};
pub use chain::{ChainConfig, DEFAULT_HEALTH_WINDOW, LimitScope};
pub use config::{Config, ConfigOrigin, SANDBOX_NOTICE};
#[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
pub use connect::OpenedStore;
#[cfg(any(feature = "store-sqlite", feature = "store-postgres", feature = "redis"))]
pub use connect::{Backends, ChainState, ConnectError, ConnectOptions, StoreLocation};
pub use error::{ConfigError, ConfigErrorKind, Position};
pub use lookup::{FoundBy, LOCAL_FILE, Located, locate, user_config_file};
pub use options::LoadOptions;
pub use provider::{ProviderClient, ProviderConfig, ProviderSettings, Vendor};
pub use spend::{DEFAULT_COUNTRY_DAILY_PARTS, DEFAULT_DAILY_PARTS, DEFAULT_MONTHLY_PARTS, SpendConfig};
