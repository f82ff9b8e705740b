//! Running the gateway: [`Gateway::builder`] → [`GatewayBuilder::spawn`] → a handle that stops it
//! gracefully.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sms_config::Config;
use sms_core::Secret;
use sms_store::{MessageStore, SystemWallClock, WallClock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{AppState, router};
use crate::auth::ApiKeys;
use crate::secrets;
use crate::state::SharedState;
use crate::webhooks::pushes_of;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The listen address cannot be bound.
    #[error("cannot listen: {0}")]
    Bind(#[source] std::io::Error),
    /// The message store cannot be opened.
    #[error("{0}")]
    Store(#[from] sms_store::StoreError),
    /// The configuration cannot be served (keys, secrets file, chain, state backend).
    #[error("{0}")]
    Setup(String),
    /// The state backend of `[state]` (Redis) cannot be reached or refused.
    #[error("[state]: {0}")]
    State(#[source] sms_core::Error),
}

/// Configures a gateway.
#[derive(Debug)]
pub struct GatewayBuilder {
    config: Config,
    store: Option<Arc<dyn MessageStore>>,
    listen: Option<SocketAddr>,
    listener: Option<std::net::TcpListener>,
    secrets_file: Option<PathBuf>,
    default_sqlite: PathBuf,
    clock: Arc<dyn WallClock>,
    shared: SharedState,
    reply_poll_interval: std::time::Duration,
    balance_interval: Option<Option<std::time::Duration>>,
    retention_interval: std::time::Duration,
}

impl GatewayBuilder {
    /// How often pull providers are polled for replies with `gateway.poll_replies` (default
    /// Juxiang's [`sms_juxiang::POLL_INTERVAL`]).
    pub fn reply_poll_interval(mut self, interval: std::time::Duration) -> Self {
        self.reply_poll_interval = interval;
        self
    }

    /// How often providers' balances are read, instead of `gateway.balance_interval` (`None`:
    /// never). Any interval is taken here (tests read every few milliseconds).
    pub fn balance_interval(mut self, interval: Option<std::time::Duration>) -> Self {
        self.balance_interval = Some(interval);
        self
    }

    /// How often `[store] retention` and `redact_after` are applied (default hourly). Any interval
    /// is taken here (tests apply it every few milliseconds).
    pub fn retention_interval(mut self, interval: std::time::Duration) -> Self {
        // Never a busy loop.
        self.retention_interval = interval.max(std::time::Duration::from_millis(1));
        self
    }

    /// Uses these state backends for the chain (see [`SharedState`]): several instances given one
    /// Redis state share opt-outs, limits, idempotency and breaker trips. Without it the gateway
    /// opens the state `[state]` names (`sms_config::Config::open_state`).
    pub fn shared_state(mut self, shared: SharedState) -> Self {
        self.shared = shared;
        self
    }

    /// The wall clock of callback timestamps and retry times (default the system's). Give the
    /// store's clock when the store has its own (tests).
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses this store instead of opening the one of `[store]`.
    pub fn store(mut self, store: Arc<dyn MessageStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Listens here instead of `gateway.listen`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Serves on an already bound listener (tests bind first to know the address).
    pub fn listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Where the generated admin key's hash and webhook token are kept (default: next to the SQLite
    /// database as `gateway-secrets.json`; none: they last for this process only).
    pub fn secrets_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.secrets_file = Some(path.into());
        self
    }

    /// The SQLite file used when `[store]` names no backend (default `sms.db`).
    pub fn default_sqlite(mut self, path: impl Into<PathBuf>) -> Self {
        self.default_sqlite = path.into();
        self
    }

    /// Opens the store, sets up keys and the webhook token, binds and starts serving on the current
    /// Tokio runtime.
    ///
    /// # Errors
    /// [`GatewayError::Store`] when the store cannot be opened, [`GatewayError::Bind`] when the
    /// address cannot be bound, [`GatewayError::State`] when the Redis of `[state]` cannot be
    /// reached, [`GatewayError::Setup`] for a state backend this build lacks, an unreadable secrets
    /// file or a chain that does not build.
    pub async fn spawn(self) -> Result<Gateway, GatewayError> {
        let shared = if self.shared.is_empty() {
            // Nothing given: the state `[state]` names (Redis shared by every instance, or memory).
            let opened = self.config.open_state().await.map_err(|e| match e {
                sms_config::ConnectError::State(e) => GatewayError::State(e),
                other => GatewayError::Setup(other.to_string()),
            })?;
            SharedState::from_config(opened)
        } else {
            self.shared
        };
        let state_description = shared.describe();
        let (store, store_description, sqlite_path) = match self.store {
            Some(store) => {
                let kind = store_kind(&store);
                (store, format!("{kind:?} (given)"), None)
            }
            None => open_store(&self.config, &self.default_sqlite).await?,
        };
        let secrets_file = self.secrets_file.or_else(|| {
            sqlite_path
                .as_deref()
                .map(|p| p.with_file_name("gateway-secrets.json"))
        });
        let gateway = self.config.gateway();
        if secrets_file.is_none() && store.backend() == sms_store::Backend::Postgres {
            // Instances on one database must share their keys and push URLs: a key or token made
            // here would be this process's alone, and another at every start.
            let missing: Vec<&str> = [
                (gateway.api_keys.is_empty(), "[[gateway.api_keys]]"),
                (gateway.webhook_token.is_none(), "gateway.webhook_token"),
            ]
            .into_iter()
            .filter_map(|(missing, what)| missing.then_some(what))
            .collect();
            if !missing.is_empty() {
                return Err(GatewayError::Setup(format!(
                    "on PostgreSQL every instance must share its API keys and webhook token: set {} \
                     in the config (a key's `hash` is \"sha256:\" and the hex SHA-256 of the key, e.g. \
                     `printf %s \"$KEY\" | sha256sum`; a token is any random string of 16 or more \
                     characters)",
                    missing.join(" and ")
                )));
            }
        }
        let mut keys = ApiKeys::from_config(&gateway.api_keys).map_err(GatewayError::Setup)?;
        let boot = secrets::bootstrap(
            secrets_file.as_deref(),
            keys.is_empty(),
            gateway.webhook_token.is_none(),
        )
        .map_err(GatewayError::Setup)?;
        if let Some(hash) = &boot.admin_key_hash {
            keys.add("admin (generated)", hash, vec![sms_config::ApiScope::Admin])
                .map_err(GatewayError::Setup)?;
        }
        let token = match (&gateway.webhook_token, boot.webhook_token) {
            (Some(token), _) => token.clone(),
            (None, Some(token)) => Secret::new(token),
            (None, None) => return Err(GatewayError::Setup("no webhook token".into())),
        };
        let listener = match self.listener {
            Some(l) => {
                l.set_nonblocking(true).map_err(GatewayError::Bind)?;
                TcpListener::from_std(l).map_err(GatewayError::Bind)?
            }
            None => TcpListener::bind(self.listen.unwrap_or(gateway.listen))
                .await
                .map_err(GatewayError::Bind)?,
        };
        let addr = listener.local_addr().map_err(GatewayError::Bind)?;
        let grace = gateway.shutdown_grace;
        let gateway_workers = gateway.workers;
        let poll_replies = gateway.poll_replies;
        let balance_interval = self.balance_interval.unwrap_or(gateway.balance_interval);
        let public_url = gateway
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let push_urls = self
            .config
            .providers()
            .iter()
            .flat_map(|p| {
                pushes_of(p.vendor).iter().map(|kind| PushUrl {
                    provider: p.name.clone(),
                    kind: kind.as_str(),
                    url: format!(
                        "{public_url}/webhooks/{}/{}/{}",
                        token.expose(),
                        p.name,
                        kind.as_str()
                    ),
                })
            })
            .collect();
        let dispatcher = match &gateway.callbacks {
            Some(callbacks) => {
                let worker = format!(
                    "cb-{}",
                    crate::auth::random_secret("").unwrap_or_else(|_| sms_store::new_id())
                );
                let dispatcher =
                    crate::callbacks::Dispatcher::new(callbacks, store.clone(), self.clock.clone(), worker)
                        .map_err(GatewayError::Setup)?;
                store.enable_events().await?;
                Some(dispatcher)
            }
            None => None,
        };
        let (state, mut sends_done) = AppState::with_shared_state(self.config, store, keys, token, shared)
            .map_err(GatewayError::Setup)?;
        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut workers = crate::worker::spawn(&state, gateway_workers, &stop_rx);
        if poll_replies {
            let holder = lease_holder("poller");
            workers.extend(crate::poller::spawn(
                &state,
                self.reply_poll_interval,
                &holder,
                &stop_rx,
            ));
        }
        if let Some(interval) = balance_interval {
            let holder = lease_holder("balances");
            workers.push(crate::balance_watch::spawn(&state, interval, &holder, &stop_rx));
        }
        let holder = lease_holder("retention");
        workers.extend(crate::retention::spawn(
            &state,
            self.retention_interval,
            &holder,
            &stop_rx,
        ));
        if let Some(dispatcher) = dispatcher {
            workers.push(tokio::spawn(crate::callbacks::run(
                dispatcher,
                state.clone(),
                stop_rx.clone(),
            )));
        }
        let mut server_stop = stop_rx.clone();
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
                tracing::error!(%error, "the gateway's listener failed");
            }
            // Workers finish the batch in hand. They start every message of a claim at once, so no
            // claim is left unstarted; one cut short by a crash comes back when its lease ends.
            for worker in workers {
                let _ = worker.await;
            }
            // Connections are closed; sends that outlived their request may still run.
            drop(state);
            if tokio::time::timeout(grace, sends_done.recv()).await.is_err() {
                tracing::warn!(
                    "sends still in flight after the shutdown grace; the sweeper will mark them unknown"
                );
            }
        });
        tracing::info!(%addr, store = %store_description, state = %state_description, "sms gateway listening");
        Ok(Gateway {
            addr,
            store_description,
            state_description,
            new_admin_key: boot.new_admin_key.map(Secret::new),
            push_urls,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// This instance's name in the store lease of `work`: random, so two instances never share one.
fn lease_holder(work: &str) -> String {
    format!(
        "{work}-{}",
        crate::auth::random_secret("").unwrap_or_else(|_| sms_store::new_id())
    )
}

fn store_kind(store: &Arc<dyn MessageStore>) -> sms_store::Backend {
    store.backend()
}

/// Opens the store of `[store]` (SQLite at `default_sqlite` when none is named).
async fn open_store(
    config: &Config,
    default_sqlite: &Path,
) -> Result<(Arc<dyn MessageStore>, String, Option<PathBuf>), GatewayError> {
    let opened = config
        .open_store(Some(default_sqlite))
        .await
        .map_err(|e| match e {
            sms_config::ConnectError::Store(e) => GatewayError::Store(e),
            other => GatewayError::Setup(other.to_string()),
        })?
        .ok_or_else(|| GatewayError::Setup("no store".into()))?;
    let path = match &opened.location {
        sms_config::StoreLocation::Sqlite(path) => Some(path.clone()),
        _ => None,
    };
    Ok((opened.store, opened.location.to_string(), path))
}

/// The URL to give a provider for one of its pushes.
#[derive(Debug, Clone)]
pub struct PushUrl {
    /// The provider's name in the config.
    pub provider: String,
    /// `receipt` or `reply`.
    pub kind: &'static str,
    /// The URL (it holds the webhook token: treat it as a secret).
    pub url: String,
}

/// A running gateway. [`Gateway::shutdown`] stops it gracefully; dropping it stops taking requests.
#[derive(Debug)]
pub struct Gateway {
    addr: SocketAddr,
    store_description: String,
    state_description: String,
    new_admin_key: Option<Secret>,
    push_urls: Vec<PushUrl>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Gateway {
    /// A builder serving `config`.
    pub fn builder(config: Config) -> GatewayBuilder {
        GatewayBuilder {
            config,
            store: None,
            listen: None,
            listener: None,
            secrets_file: None,
            default_sqlite: PathBuf::from("sms.db"),
            clock: Arc::new(SystemWallClock),
            shared: SharedState::default(),
            reply_poll_interval: sms_juxiang::POLL_INTERVAL,
            balance_interval: None,
            retention_interval: crate::retention::DEFAULT_INTERVAL,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store, for people (`SQLite sms.db`, `PostgreSQL`).
    pub fn store_description(&self) -> &str {
        &self.store_description
    }

    /// Where the chain's state lives, for people (`redis`, or the store and memory).
    pub fn state_description(&self) -> &str {
        &self.state_description
    }

    /// The admin key created by this start (no key configured and none created before): print it
    /// once; only its hash is kept.
    pub fn new_admin_key(&self) -> Option<&Secret> {
        self.new_admin_key.as_ref()
    }

    /// The push URL of every provider push.
    pub fn push_urls(&self) -> &[PushUrl] {
        &self.push_urls
    }

    /// Stops taking requests, lets in-flight requests and sends finish (up to
    /// `gateway.shutdown_grace` for sends), then returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
