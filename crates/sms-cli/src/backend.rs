//! The providers a command talks to, built from a loaded [`Config`]: the chain, and every provider
//! (in the chain or not) for balances, templates, content checks, replies and the kinds no chain
//! provider sends.

use std::sync::Arc;
use std::time::Duration;

use sms::config::{ChainState, Config, ConfigOrigin, ProviderClient, Vendor};
use sms::failover::FailoverSender;
use sms::ihuyi::IhuyiClient;
use sms::juxiang::JuxiangClient;
use sms::sandbox::Sandbox;
use sms::store::{MessageStore, RecordingSender};
use sms::{BalanceQuery, Capabilities, InboundMode, InboundSource, MessageKind, MessageSender};

use crate::exit::{Failure, Outcome};

/// One provider of the config, as the CLI uses it.
pub struct ProviderInfo {
    /// Its name.
    pub name: String,
    /// The vendor's type name (`ihuyi`, `ihuyi-voice`, `mms-10658`, `juxiang`).
    pub vendor: &'static str,
    /// Whether the chain uses it.
    pub in_chain: bool,
    /// Price of one billed part, when configured.
    pub price_per_part: Option<f64>,
    /// Whether the provider writes text as GBK (so text GBK cannot encode is refused up front).
    pub gbk: bool,
    /// What it can send.
    pub capabilities: Capabilities,
    /// The client as a sender.
    pub sender: Arc<dyn MessageSender>,
    /// Its balance query.
    pub balance: Arc<dyn BalanceQuery>,
    /// Its reply source and minimum pull interval, when replies can be pulled.
    pub inbound: Option<(Arc<dyn InboundSource>, Duration)>,
    /// The sender recorded in the store (`[store]`), when there is one.
    recorded: Option<Arc<dyn MessageSender>>,
    client: ProviderClient,
}

/// Everything a command needs to reach the providers.
pub struct Backend {
    /// The loaded config.
    pub config: Config,
    /// The failover chain.
    pub chain: Arc<FailoverSender>,
    /// Whether the chain counts `[spend]` caps in the store or Redis (else in this process's memory).
    pub spend_durable: bool,
    /// The message store of `[store]`, when the config names one: `send` and `bulk` record into it,
    /// `status` and `history` read it.
    pub store: Option<Arc<dyn MessageStore>>,
    /// The chain recorded in the store, when there is one.
    recorded_chain: Option<Arc<dyn MessageSender>>,
    /// Every provider of the config, in file order.
    pub providers: Vec<ProviderInfo>,
    /// Keeps a built-in sandbox running as long as the backend lives.
    pub sandbox: Option<Sandbox>,
}

impl Backend {
    /// The backend of a loaded config.
    ///
    /// # Errors
    /// A chain that does not build (exit 5; a loaded config always builds).
    pub fn new(config: Config, sandbox: Option<Sandbox>) -> Outcome<Self> {
        Self::on_state(config, sandbox, None)
    }

    /// The backend of a loaded config whose chain keeps its state in `state` (from
    /// `Config::connect`): opt-outs, limits, breaker trips and, above all, the `[spend]` caps, counted
    /// in the store or Redis so that they hold across runs and with a gateway on the same store.
    ///
    /// # Errors
    /// As [`Backend::new`].
    pub fn on_state(config: Config, sandbox: Option<Sandbox>, state: Option<&ChainState>) -> Outcome<Self> {
        let mut builder = config.chain_builder();
        if let Some(state) = state {
            builder = state.apply(builder);
            // The durable idempotency is the store's recording (`attach_store`).
        }
        // A one-shot process gains nothing from the chain's in-memory idempotency records (they die
        // with it) and a bulk run would keep one per row: about 700 bytes each, 700 MB for a million
        // rows. Bulk runs settle repeats through their results journal instead (`--resume`).
        let spend_durable = state.is_some_and(|s| s.spend_ledger.is_some());
        let chain = builder
            .without_idempotency()
            .build()
            .map_err(|e| Failure::config(e.to_string()))?;
        let providers = config
            .providers()
            .iter()
            .map(|p| {
                let sender = p.client.sender();
                let capabilities = sender.capabilities().clone();
                let inbound = match (p.client.inbound(), capabilities.inbound) {
                    (Some(source), InboundMode::Pull { min_interval }) => Some((source, min_interval)),
                    _ => None,
                };
                ProviderInfo {
                    name: p.name.clone(),
                    vendor: p.vendor.type_name(),
                    in_chain: p.in_chain,
                    price_per_part: p.price_per_part,
                    gbk: p.vendor == Vendor::Juxiang,
                    capabilities,
                    balance: p.client.balance_query(),
                    sender,
                    inbound,
                    recorded: None,
                    client: p.client.clone(),
                }
            })
            .collect();
        Ok(Self {
            config,
            chain: Arc::new(chain),
            spend_durable,
            store: None,
            recorded_chain: None,
            providers,
            sandbox,
        })
    }

    /// Records every message sent through this backend in `store`: written as `sending` before its
    /// request and its outcome after (`sms_store::RecordingSender`), so that `sms status` and
    /// `sms history` can answer, and a reference already recorded is not sent again.
    pub fn attach_store(&mut self, store: Arc<dyn MessageStore>) {
        let chain: Arc<dyn MessageSender> = self.chain.clone();
        self.recorded_chain = Some(Arc::new(RecordingSender::new(chain, store.clone())));
        for provider in &mut self.providers {
            provider.recorded = Some(Arc::new(RecordingSender::new(
                provider.sender.clone(),
                store.clone(),
            )));
        }
        self.store = Some(store);
    }

    /// Starts a sandbox in this process and uses it (the no-config path).
    ///
    /// # Errors
    /// The sandbox cannot listen (exit 1).
    pub async fn built_in_sandbox() -> Outcome<Self> {
        let sandbox = Sandbox::builder()
            .spawn()
            .await
            .map_err(|e| Failure::error(format!("cannot start the built-in sandbox: {e}")))?;
        let config = Config::sandbox(&sandbox.base_url()).map_err(|e| Failure::config(e.to_string()))?;
        Self::new(config, Some(sandbox))
    }

    /// Where the providers come from, for messages to the user.
    pub fn origin(&self) -> String {
        match self.config.origin() {
            ConfigOrigin::File { path, .. } => format!("config file {}", path.display()),
            ConfigOrigin::Sandbox { base_url } if self.sandbox.is_some() => {
                format!("built-in sandbox at {base_url} (no config file found)")
            }
            ConfigOrigin::Sandbox { base_url } => format!("sandbox at {base_url} (SMS_SANDBOX_URL)"),
            _ => "configuration text".to_owned(),
        }
    }

    /// The providers a message of `kind` goes to: the chain's when one of them sends it, otherwise
    /// the first provider kept out of the chain that does (voice codes and MMS often are).
    pub fn route(&self, kind: MessageKind) -> Route<'_> {
        let in_chain = |p: &&ProviderInfo| p.in_chain && p.capabilities.supports(kind);
        if self.providers.iter().any(|p| in_chain(&p)) {
            return Route::Chain(self.providers.iter().filter(in_chain).collect());
        }
        match self.providers.iter().find(|p| p.capabilities.supports(kind)) {
            Some(provider) => Route::Direct(provider),
            None => Route::Nowhere,
        }
    }

    /// The first ihuyi SMS client, for template registration.
    pub fn ihuyi(&self) -> Option<&IhuyiClient> {
        self.providers.iter().find_map(|p| p.client.as_ihuyi())
    }

    /// The first Juxiang client, for content checks.
    pub fn juxiang(&self) -> Option<&JuxiangClient> {
        self.providers.iter().find_map(|p| p.client.as_juxiang())
    }
}

/// Where a message goes.
pub enum Route<'a> {
    /// Through the chain, whose providers for this kind are these, in priority order.
    Chain(Vec<&'a ProviderInfo>),
    /// Straight to one provider outside the chain.
    Direct(&'a ProviderInfo),
    /// No provider sends this kind.
    Nowhere,
}

impl<'a> Route<'a> {
    /// The providers that may carry the message.
    pub fn providers(&self) -> Vec<&'a ProviderInfo> {
        match self {
            Route::Chain(list) => list.clone(),
            Route::Direct(p) => vec![*p],
            Route::Nowhere => Vec::new(),
        }
    }

    /// Sends through the chain or the one provider.
    ///
    /// # Errors
    /// As [`MessageSender::send`]; `Unsupported` when no provider sends the kind.
    pub async fn send(&self, backend: &Backend, message: &sms::Message) -> Result<sms::Receipt, sms::Error> {
        match self {
            Route::Chain(_) => match &backend.recorded_chain {
                Some(recorded) => recorded.send(message).await,
                None => backend.chain.send(message).await,
            },
            Route::Direct(p) => p.recorded.as_ref().unwrap_or(&p.sender).send(message).await,
            Route::Nowhere => Err(sms::Error::new(sms::ErrorKind::Unsupported, sms::Operation::Send)
                .with_message(format!(
                    "no configured provider sends {:?} messages",
                    message.kind()
                ))),
        }
    }
}
