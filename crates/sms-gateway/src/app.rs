//! The application: its shared state and its router.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use sms_config::Config;
use sms_core::Secret;
use sms_failover::FailoverSender;
use sms_store::{MessageStore, RecordingSender, StoreState};

use crate::auth::ApiKeys;
use crate::error::{ApiError, ErrorCode};
use crate::state::SharedState;
use crate::{dashboard, health, metrics, request_id, v1, webhooks};

/// Cloneable handles everything in the gateway shares: the config, the store and the chain that
/// records into it.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn MessageStore>,
    /// The chain, for health and balances.
    pub(crate) chain: FailoverSender,
    /// The chain wrapped so that every send is recorded.
    pub(crate) sender: RecordingSender<FailoverSender>,
    pub(crate) keys: ApiKeys,
    pub(crate) webhook_token: Secret,
    /// Held by every background send; shutdown waits until every clone is gone.
    pub(crate) in_flight: tokio::sync::mpsc::Sender<()>,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// The given opt-out list, when there is one: opt-outs learnt here go to it too.
    pub(crate) shared_suppression: Option<Arc<dyn sms_failover::state::SuppressionList>>,
    /// Woken when a message is queued: a hint only, workers also poll (the store is the truth).
    pub(crate) outbox_hint: tokio::sync::Notify,
    /// Woken when an event may have been recorded (a send, a receipt, a reply): a hint only, the
    /// callback dispatcher also polls.
    pub(crate) callback_hint: tokio::sync::Notify,
    /// Pushed receipts, filed in groups.
    pub(crate) receipts: crate::receipts::ReceiptWriter,
    /// Spend cap warnings, for `/metrics`.
    pub(crate) spend_warnings: Arc<crate::spend_metrics::SpendWarnings>,
    /// The given limiter, when there is one: per-key request rates are counted there too.
    pub(crate) shared_limiter: Option<Arc<dyn sms_failover::state::RecipientLimiter>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store.backend())
            .field("providers", &self.inner.chain.provider_names())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of a gateway on `config` and `store`: the chain is built from the config with the
    /// store as its opt-out list, and wrapped so that every send is recorded. The recording is the
    /// durable idempotency: a reference is written before its request and a second send of it
    /// replays the record, so the chain's own idempotency stays in memory (no second write per
    /// send).
    /// Returns the state and a receiver that yields `None` once every background send has finished
    /// (after the state itself is dropped).
    ///
    /// # Errors
    /// A message when the chain does not build.
    pub fn new(
        config: Config,
        store: Arc<dyn MessageStore>,
        keys: ApiKeys,
        webhook_token: Secret,
    ) -> Result<(Self, tokio::sync::mpsc::Receiver<()>), String> {
        Self::with_shared_state(config, store, keys, webhook_token, SharedState::default())
    }

    /// As [`Self::new`], with the chain's state backends given in `shared` (several instances on
    /// one Redis, say): a given opt-out list is consulted beside the store's and receives every
    /// opt-out; a given limiter, idempotency store and breaker sharing replace the defaults.
    ///
    /// # Errors
    /// A message when the chain does not build.
    pub fn with_shared_state(
        config: Config,
        store: Arc<dyn MessageStore>,
        keys: ApiKeys,
        webhook_token: Secret,
        shared: SharedState,
    ) -> Result<(Self, tokio::sync::mpsc::Receiver<()>), String> {
        let state = Arc::new(StoreState::new(store.clone()));
        let suppression: Arc<dyn sms_failover::state::SuppressionList> = match &shared.suppression {
            Some(list) => Arc::new(crate::state::BothLists {
                store: StoreState::new(store.clone()),
                shared: list.clone(),
            }),
            None => state.clone(),
        };
        let mut builder = config
            .chain()
            .builder()
            .suppression_list(suppression)
            // Under `strategy = "adaptive"` the receipts recorded here move the weights.
            .receipt_evidence(state.clone())
            .idempotency_retention(config.state().idempotency_retention);
        if let Some(start) = &shared.start {
            // One backend for all but the durable opt-outs: a message's start is one step on it.
            let ledger: Arc<dyn sms_failover::state::SpendLedger> = match &shared.spend {
                Some(ledger) => ledger.clone(),
                None => state.clone(),
            };
            builder = builder.shared_state(Arc::new(crate::state::StartWithStore {
                lists: crate::state::BothLists {
                    store: StoreState::new(store.clone()),
                    shared: start.clone(),
                },
                shared: start.clone(),
                ledger,
            }));
        } else {
            if let Some(limiter) = &shared.limiter {
                builder = builder.recipient_limiter(limiter.clone());
            }
            if let Some(idempotency) = &shared.idempotency {
                builder = builder.idempotency_store(idempotency.clone());
            }
            if let Some(breaker) = &shared.breaker {
                builder = builder.breaker_sharing(breaker.clone());
            }
        }
        let metrics = Arc::new(crate::metrics::Metrics::default());
        for provider in config.providers().iter().filter(|p| p.in_chain) {
            let entry = provider
                .entry()
                .map_sender(|inner| crate::timing::TimedSender::wrap(inner, &provider.name, &metrics));
            builder = builder.provider(entry);
        }
        // Spend caps on the given ledger (Redis, shared by every instance), else on the store: they
        // hold across restarts (and across instances on PostgreSQL). Warnings go to `/metrics`.
        // With callbacks, each warning is an event too.
        let spend_warnings = Arc::new(match config.gateway().callbacks {
            Some(_) => crate::spend_metrics::SpendWarnings::recording(store.clone()),
            None => crate::spend_metrics::SpendWarnings::default(),
        });
        if let Some(policy) = config.spend().policy() {
            let ledger: Arc<dyn sms_failover::state::SpendLedger> = match &shared.spend {
                Some(ledger) => ledger.clone(),
                None => state.clone(),
            };
            builder = builder
                .spend_policy(policy.on_warning(crate::spend_metrics::SpendWarnings::hook(&spend_warnings)))
                .spend_ledger(ledger);
        }
        let chain = builder
            .build()
            .map_err(|e| format!("the chain does not build: {e}"))?;
        let sender = RecordingSender::new(chain.clone(), store.clone());
        let (in_flight, done) = tokio::sync::mpsc::channel(1);
        let inner = Inner {
            config,
            store,
            chain,
            sender,
            keys,
            webhook_token,
            in_flight,
            metrics,
            shared_suppression: shared.suppression.clone(),
            outbox_hint: tokio::sync::Notify::new(),
            callback_hint: tokio::sync::Notify::new(),
            receipts: crate::receipts::ReceiptWriter::default(),
            spend_warnings,
            shared_limiter: shared.limiter.clone(),
        };
        Ok((
            Self {
                inner: Arc::new(inner),
            },
            done,
        ))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MessageStore> {
        &self.inner.store
    }

    /// The chain.
    pub fn chain(&self) -> &FailoverSender {
        &self.inner.chain
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn sync_timeout(&self) -> Duration {
        self.inner.config.gateway().sync_timeout
    }
}

/// The whole application: `/v1` (the API), `/webhooks` (provider pushes), `/dashboard` (HTML), `/healthz`, `/readyz`,
/// with the body limit, request ids and JSON answers for unknown routes and methods. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the webhook source allowlist can see
/// the caller's address.
pub fn router(state: AppState) -> Router {
    let body_limit = state.inner.config.gateway().body_limit;
    // Per-key request rates guard the API only: provider pushes (token in the path) and the health
    // probes must never be refused because an application key is busy.
    let api = v1::router().layer(axum::middleware::from_fn_with_state(
        Arc::new(crate::ratelimit::KeyLimits::from_config(
            &state.inner.config,
            state.inner.shared_limiter.clone(),
        )),
        crate::ratelimit::limit,
    ));
    Router::new()
        // The OpenAPI document is public and outside the key limits.
        .nest("/v1", api.merge(crate::openapi::router()))
        .nest("/webhooks", webhooks::router())
        .nest("/dashboard", dashboard::router())
        .merge(health::router())
        .merge(metrics::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::trace,
        ))
        .with_state(state)
}

/// The provider webhooks alone (`/webhooks/{token}/{provider}/receipt` and `/reply`), for an
/// application that serves them from its own axum server beside its own routes:
///
/// ```no_run
/// # async fn run(state: sms_gateway::AppState) -> std::io::Result<()> {
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "my app" }))
///     .merge(sms_gateway::webhook_router(state));
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// // With the peer's address, for `gateway.allowed_sources` (without it, an allowlist refuses all).
/// axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
/// # }
/// ```
///
/// Pushes are stored before they are acknowledged, exactly as under [`router`]; a Juxiang `0000`
/// reply becomes a suppression in the store (and in the state given to the [`AppState`]). Nothing
/// else of the gateway runs: no API, no outbox workers, no callbacks (a [`crate::Gateway`] runs
/// those).
pub fn webhook_router(state: AppState) -> Router {
    let body_limit = state.inner.config.gateway().body_limit;
    Router::new()
        .nest("/webhooks", webhooks::router())
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::trace,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take this method",
    )
}
