//! `[store]` and `[state]` opened: [`Config::connect`] gives the message store and the chain's state
//! backends, and a chain built on them.
//!
//! Compiled with the features that name a backend: `store-sqlite`, `store-postgres` (the message
//! store, through `sms-store`) and `redis` (the chain's state on Redis, through `sms-redis`). A
//! configuration naming a backend this build lacks is a [`ConnectError::Unsupported`] naming the
//! feature, never a silent fallback.
//!
//! Where each piece of the chain's state lives:
//!
//! | `[state]` | `[store]` | opt-outs | per-number limits | idempotency | breaker sharing | spend caps |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | memory | none | memory | memory | memory | none | memory |
//! | memory | sqlite / postgres | the store (durable) | memory | the store, through [`Backends::sender`] | none | the store |
//! | redis | any | Redis | Redis | Redis | Redis | Redis |
//!
//! With a store, [`Backends::sender`] wraps the chain in `sms_store::RecordingSender`: every message
//! is recorded as `sending` before its first request and its outcome after, and a client reference
//! already recorded is answered from the record, never sent again (write-ahead, so a crash leaves
//! `unknown`, not a second send). That recording is the durable idempotency; the chain's own
//! reference check then stays in memory (or on Redis), saving a write per send. With `[state]
//! fail_open = true` every state backend is wrapped in `sms_failover::state::FailOpen` (with a list
//! of checks, only those).

use std::fmt;
#[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use sms_core::MessageSender;
use sms_failover::state::{BreakerSharing, IdempotencyStore, RecipientLimiter, SpendLedger, SuppressionList};
use sms_failover::{FailoverSender, FailoverSenderBuilder};

#[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
use sms_store::MessageStore;

use crate::backends::{StateBackend, StoreBackend};
use crate::config::Config;
use crate::error::ConfigError;

/// Why [`Config::connect`] or [`Config::open_store`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The message store cannot be opened (unreachable, corrupt, a newer schema, read-only).
    #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
    Store(sms_store::StoreError),
    /// The state backend cannot be reached or refused (an evicting Redis, a bad URL).
    State(sms_core::Error),
    /// The configuration names a backend this build was compiled without.
    Unsupported(String),
    /// The chain does not build (only for configurations assembled in code).
    Chain(ConfigError),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
            Self::Store(e) => write!(f, "[store]: {e}"),
            Self::State(e) => write!(f, "[state]: {e}"),
            Self::Unsupported(m) => f.write_str(m),
            Self::Chain(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
            Self::Store(e) => Some(e),
            Self::State(e) => Some(e),
            Self::Unsupported(_) => None,
            Self::Chain(e) => Some(e),
        }
    }
}

/// Where an opened store is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (its URL is a secret and not kept here).
    Postgres,
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "SQLite {}", path.display()),
            Self::Postgres => f.write_str("PostgreSQL"),
        }
    }
}

/// An opened message store and where it is.
#[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OpenedStore {
    /// The store (migrations have run).
    pub store: Arc<dyn MessageStore>,
    /// Where it is.
    pub location: StoreLocation,
}

/// The chain's state backends, one per state trait; `None` leaves the chain's in-memory default
/// (and no breaker sharing).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ChainState {
    /// Opt-outs.
    pub suppression: Option<Arc<dyn SuppressionList>>,
    /// Per-number limits.
    pub limiter: Option<Arc<dyn RecipientLimiter>>,
    /// Client references already sent.
    pub idempotency: Option<Arc<dyn IdempotencyStore>>,
    /// Breaker trips shared with other instances.
    pub breaker_sharing: Option<Arc<dyn BreakerSharing>>,
    /// Where `[spend]` caps are counted: Redis with `[state] backend = "redis"`, else the store
    /// (across runs and with a gateway on the same store), else `None` (this process's memory).
    pub spend_ledger: Option<Arc<dyn SpendLedger>>,
    /// Where they live, for logs and `sms config check` (`memory`, `store`, `redis`).
    pub description: String,
    /// The one backend every part above is on, when they all are (Redis): a chain built with
    /// [`ChainState::apply`] then asks it the checks of a message's start in one step
    /// ([`sms_failover::state::ChainState::start`]) instead of one round trip per check.
    pub shared: Option<Arc<dyn sms_failover::state::SharedBackend>>,
}

impl fmt::Debug for ChainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainState")
            .field("suppression", &self.suppression.is_some())
            .field("limiter", &self.limiter.is_some())
            .field("idempotency", &self.idempotency.is_some())
            .field("breaker_sharing", &self.breaker_sharing.is_some())
            .field("spend_ledger", &self.spend_ledger.is_some())
            .field("description", &self.description)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl ChainState {
    /// Puts these backends on `builder` (those that are `None` keep the builder's own).
    pub fn apply(&self, mut builder: FailoverSenderBuilder) -> FailoverSenderBuilder {
        if let Some(shared) = &self.shared {
            return builder.shared_backend(shared.clone());
        }
        if let Some(s) = &self.suppression {
            builder = builder.suppression_list(s.clone());
        }
        if let Some(l) = &self.limiter {
            builder = builder.recipient_limiter(l.clone());
        }
        if let Some(i) = &self.idempotency {
            builder = builder.idempotency_store(i.clone());
        }
        if let Some(b) = &self.breaker_sharing {
            builder = builder.breaker_sharing(b.clone());
        }
        if let Some(ledger) = &self.spend_ledger {
            builder = builder.spend_ledger(ledger.clone());
        }
        builder
    }
}

/// What [`Config::connect`] opened: the store (if `[store]` names one), the chain's state, and the
/// chain built on them.
#[derive(Clone)]
#[non_exhaustive]
pub struct Backends {
    /// The message store, when `[store]` names one (or a default SQLite file was asked for).
    #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
    pub store: Option<OpenedStore>,
    /// The chain's state backends.
    pub state: ChainState,
    /// The chain of `[providers]` and `[chain]` on [`Backends::state`]. Send through
    /// [`Backends::sender`] to have messages recorded.
    pub chain: Arc<FailoverSender>,
}

impl fmt::Debug for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Backends");
        #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
        d.field("store", &self.store.as_ref().map(|s| &s.location));
        d.field("state", &self.state).finish_non_exhaustive()
    }
}

impl Backends {
    /// What to send through: the chain, wrapped in `sms_store::RecordingSender` when there is a
    /// store (every message recorded write-ahead; a reference already recorded is replayed, not
    /// re-sent).
    pub fn sender(&self) -> Arc<dyn MessageSender> {
        self.wrap(self.chain.clone())
    }

    /// `sender` (any chain, e.g. one built from [`Backends::state`] with other settings) recorded in
    /// the store when there is one.
    pub fn wrap(&self, sender: Arc<dyn MessageSender>) -> Arc<dyn MessageSender> {
        #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
        if let Some(store) = &self.store {
            return Arc::new(sms_store::RecordingSender::new(sender, store.store.clone()));
        }
        sender
    }
}

/// How [`Config::connect_with`] opens the backends.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// When `[store]` names no backend, open an SQLite store at this file instead of none (the
    /// gateway always keeps a store).
    pub default_sqlite: Option<PathBuf>,
}

impl ConnectOptions {
    /// Options with every default: no store unless `[store]` names one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens an SQLite store at `path` when `[store]` names none.
    #[must_use]
    pub fn default_sqlite(mut self, path: impl Into<PathBuf>) -> Self {
        self.default_sqlite = Some(path.into());
        self
    }
}

impl Config {
    /// Opens the store of `[store]` and the state of `[state]`, and builds the chain on them (see the
    /// table in this module's docs for what lives where).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = sms_config::Config::load("sms.toml")?;
    /// let backends = config.connect().await?;
    /// let sender = backends.sender(); // recorded in the store when [store] names one
    /// # let _ = sender; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ConnectError::Store`] when the store cannot be opened, [`ConnectError::State`] when Redis
    /// cannot be reached or evicts keys, [`ConnectError::Unsupported`] for a backend this build lacks.
    pub async fn connect(&self) -> Result<Backends, ConnectError> {
        self.connect_with(&ConnectOptions::new()).await
    }

    /// [`Config::connect`] with options.
    ///
    /// # Errors
    /// As [`Config::connect`].
    pub async fn connect_with(&self, options: &ConnectOptions) -> Result<Backends, ConnectError> {
        #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
        let store = self.open_store(options.default_sqlite.as_deref()).await?;
        #[cfg(not(any(feature = "store-sqlite", feature = "store-postgres")))]
        {
            if !matches!(self.store().backend, StoreBackend::None) {
                return Err(ConnectError::Unsupported(
                    "[store] names a backend, but this build has no message store (enable the feature `store-sqlite` or `store-postgres`)".into(),
                ));
            }
            let _ = options;
        }
        #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
        let state = self
            .connect_state(store.as_ref().map(|s| s.store.clone()))
            .await?;
        #[cfg(not(any(feature = "store-sqlite", feature = "store-postgres")))]
        let state = self.connect_state().await?;
        let chain = state.apply(self.chain_builder()).build().map_err(|e| {
            ConnectError::Chain(
                ConfigError::new(crate::ConfigErrorKind::InvalidValue, e.message()).key("chain"),
            )
        })?;
        Ok(Backends {
            #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
            store,
            state,
            chain: Arc::new(chain),
        })
    }

    /// Opens the store of `[store]` (running its migrations); when it names none, an SQLite store at
    /// `default_sqlite` if given, else `Ok(None)`. Relative SQLite paths were resolved against the
    /// configuration file's directory when it was loaded.
    ///
    /// # Errors
    /// [`ConnectError::Store`] when it cannot be opened; [`ConnectError::Unsupported`] when the
    /// backend's feature (`store-sqlite`, `store-postgres`) is not compiled in.
    #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
    pub async fn open_store(
        &self,
        default_sqlite: Option<&Path>,
    ) -> Result<Option<OpenedStore>, ConnectError> {
        let section = self.store();
        let mut options = sms_store::StoreOptions {
            receipt_expiry: section.receipt_expiry,
            ..sms_store::StoreOptions::default()
        };
        if section.content == crate::ContentRetention::Digest {
            options.content = sms_store::ContentMode::DigestOnly;
        }
        let (location, url) = match &section.backend {
            StoreBackend::Postgres {
                url,
                max_connections,
                connect_timeout,
            } => {
                if !cfg!(feature = "store-postgres") {
                    return Err(ConnectError::Unsupported(
                        "[store] backend = \"postgres\" needs the feature `store-postgres`".into(),
                    ));
                }
                options.max_connections = *max_connections;
                options.busy_timeout = *connect_timeout;
                (StoreLocation::Postgres, url.expose().to_owned())
            }
            StoreBackend::Sqlite { path, busy_timeout } => {
                options.busy_timeout = *busy_timeout;
                sqlite_location(path)?
            }
            _ => match default_sqlite {
                Some(path) => sqlite_location(path)?,
                None => return Ok(None),
            },
        };
        let store = sms_store::open(&url, options)
            .await
            .map_err(ConnectError::Store)?;
        Ok(Some(OpenedStore { store, location }))
    }

    /// The chain's state of `[state]`, with `store` holding opt-outs when the state is in memory.
    #[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
    async fn connect_state(&self, store: Option<Arc<dyn MessageStore>>) -> Result<ChainState, ConnectError> {
        if matches!(self.state().backend, StateBackend::Memory)
            && let Some(store) = store
        {
            let mut state = ChainState {
                description: "opt-outs and spend caps in the store, limits and references in memory".into(),
                ..ChainState::default()
            };
            let checks = self.state().fail_open;
            let durable = Arc::new(sms_store::StoreState::new(store.clone()));
            let open = Arc::new(sms_failover::state::FailOpen::new(sms_store::StoreState::new(
                store,
            )));
            state.suppression = Some(if checks.opt_outs {
                open.clone()
            } else {
                durable.clone()
            });
            state.spend_ledger = Some(if checks.spend { open } else { durable });
            return Ok(state);
        }
        self.connect_shared_state().await
    }

    #[cfg(not(any(feature = "store-sqlite", feature = "store-postgres")))]
    async fn connect_state(&self) -> Result<ChainState, ConnectError> {
        self.connect_shared_state().await
    }

    /// The chain's state of `[state]` alone, without a store: every trait on Redis for `[state]
    /// backend = "redis"` (wrapped to fail open with `fail_open = true`), and all `None` (the
    /// chain's defaults) for memory. For a service that keeps its own store beside it (the gateway).
    ///
    /// # Errors
    /// [`ConnectError::State`] when Redis cannot be reached or evicts keys,
    /// [`ConnectError::Unsupported`] when the feature `redis` is not compiled in.
    pub async fn open_state(&self) -> Result<ChainState, ConnectError> {
        self.connect_shared_state().await
    }

    /// Memory (every default) or Redis (every trait).
    async fn connect_shared_state(&self) -> Result<ChainState, ConnectError> {
        match &self.state().backend {
            StateBackend::Redis {
                url,
                key_prefix,
                connect_timeout,
                command_timeout,
            } => {
                #[cfg(feature = "redis")]
                {
                    let redis = sms_redis::RedisState::connect(
                        sms_redis::RedisConfig::new(url.expose())
                            .key_prefix(key_prefix.clone())
                            .connect_timeout(*connect_timeout)
                            .command_timeout(*command_timeout),
                    )
                    .await
                    .map_err(ConnectError::State)?;
                    Ok(all_on(redis, self.state().fail_open, "redis"))
                }
                #[cfg(not(feature = "redis"))]
                {
                    let _ = (url, key_prefix, connect_timeout, command_timeout);
                    Err(ConnectError::Unsupported(
                        "[state] backend = \"redis\" needs the feature `redis`".into(),
                    ))
                }
            }
            _ => Ok(ChainState {
                description: "memory".into(),
                ..ChainState::default()
            }),
        }
    }
}

/// Every state trait on one backend, each wrapped in `FailOpen` when `fail_open` lists it. When
/// all fail the same way, the one backend also answers a message's start in one step (`shared`);
/// a mix asks each trait on its own, one round trip per check.
#[cfg(feature = "redis")]
fn all_on<S>(backend: S, fail_open: crate::FailOpenChecks, name: &str) -> ChainState
where
    S: sms_failover::state::ChainState + SpendLedger + Clone + 'static,
{
    let open = Arc::new(sms_failover::state::FailOpen::new(backend.clone()));
    let closed = Arc::new(backend);
    fn pick<T: ?Sized>(open: bool, a: Arc<T>, b: Arc<T>) -> Option<Arc<T>> {
        Some(if open { a } else { b })
    }
    let (shared, description): (Option<Arc<dyn sms_failover::state::SharedBackend>>, String) =
        if fail_open.is_all() {
            (Some(open.clone()), format!("{name} (failing open)"))
        } else if fail_open.any() {
            (
                None,
                format!("{name} (failing open: {})", fail_open.names().join(", ")),
            )
        } else {
            (Some(closed.clone()), name.to_owned())
        };
    ChainState {
        suppression: pick(fail_open.opt_outs, open.clone() as _, closed.clone() as _),
        limiter: pick(fail_open.limits, open.clone() as _, closed.clone() as _),
        idempotency: pick(fail_open.idempotency, open.clone() as _, closed.clone() as _),
        spend_ledger: pick(fail_open.spend, open.clone() as _, closed.clone() as _),
        breaker_sharing: pick(fail_open.breaker, open as _, closed as _),
        shared,
        description,
    }
}

#[cfg(any(feature = "store-sqlite", feature = "store-postgres"))]
fn sqlite_location(path: &Path) -> Result<(StoreLocation, String), ConnectError> {
    if !cfg!(feature = "store-sqlite") {
        return Err(ConnectError::Unsupported(
            "an SQLite store needs the feature `store-sqlite`".into(),
        ));
    }
    Ok((
        StoreLocation::Sqlite(path.to_owned()),
        path.to_string_lossy().into_owned(),
    ))
}
