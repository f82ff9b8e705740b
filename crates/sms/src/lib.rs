#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// On docs.rs every item says which feature enables it.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The whole core vocabulary, so that applications depend on this one crate.
#[doc(inline)]
pub use sms_core::*;

/// ihuyi (互亿无线) SMS and international SMS (feature `ihuyi`).
#[cfg(feature = "ihuyi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ihuyi")))]
#[doc(inline)]
pub use sms_ihuyi as ihuyi;

/// ihuyi voice verification codes (feature `ihuyi-voice`).
#[cfg(feature = "ihuyi-voice")]
#[cfg_attr(docsrs, doc(cfg(feature = "ihuyi-voice")))]
#[doc(inline)]
pub use sms_ihuyi_voice as ihuyi_voice;

/// 10658.cc MMS (feature `mms-10658`).
#[cfg(feature = "mms-10658")]
#[cfg_attr(docsrs, doc(cfg(feature = "mms-10658")))]
#[doc(inline)]
pub use sms_10658_mms as mms_10658;

/// Juxiang (巨象) enterprise SMS, GB2312 URL API (feature `juxiang`).
#[cfg(feature = "juxiang")]
#[cfg_attr(docsrs, doc(cfg(feature = "juxiang")))]
#[doc(inline)]
pub use sms_juxiang as juxiang;

/// Failover chains with retry, circuit breaking, per-recipient limits and opt-outs (feature `failover`).
#[cfg(feature = "failover")]
#[cfg_attr(docsrs, doc(cfg(feature = "failover")))]
#[doc(inline)]
pub use sms_failover as failover;

/// A failover chain's shared state (opt-outs, per-recipient limits, idempotency, breaker trips) on
/// Redis, for several instances of an application (feature `redis`).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(inline)]
pub use sms_redis as redis;

/// The local simulator of every provider, for tests and development (feature `sandbox`).
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
#[doc(inline)]
pub use sms_sandbox as sandbox;

/// One TOML file for providers, the chain, store, state and gateway (feature `config`).
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
#[doc(inline)]
pub use sms_config as config;

/// A loaded configuration (feature `config`): an application gets its chain in two lines.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let path = std::env::temp_dir().join(format!("sms-facade-doctest-{}.toml", std::process::id()));
/// # std::fs::write(&path, "[providers.ihuyi]\naccount = \"C1\"\nkey = \"k\"\n")?;
/// let chain = sms::Config::load(&path)?.build_chain()?;
/// # assert_eq!(chain.health().len(), 1);
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
#[doc(inline)]
pub use sms_config::Config;
/// The gateway service: a REST API to send and the provider webhooks, on the message store
/// (feature `gateway`; `sms serve` runs it).
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
#[doc(inline)]
pub use sms_gateway as gateway;
/// The message store: every message, attempt, receipt and reply recorded and correlated, on SQLite
/// (feature `store-sqlite`) or PostgreSQL (feature `store-postgres`).
#[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "store-sqlite", feature = "store-postgres"))))]
#[doc(inline)]
pub use sms_store as store;

/// The traits and types most applications use, for `use sms::prelude::*`.
pub mod prelude {
    pub use sms_core::{
        AmbiguityPolicy, BalanceQuery, Error, ErrorKind, InboundSource, Message, MessageSender,
        MessageSenderExt, PhoneNumber, Receipt, Secret,
    };
}
