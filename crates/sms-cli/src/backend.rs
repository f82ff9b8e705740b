//! The providers a command talks to: from the config file, from a running sandbox, or from a
//! sandbox started in this process when there is no config at all.

use std::sync::Arc;
use std::time::Duration;

use sms::failover::{FailoverSender, ProviderEntry, RetryPolicy};
use sms::ihuyi::{IhuyiClient, IhuyiConfig};
use sms::ihuyi_voice::{IhuyiVoiceClient, IhuyiVoiceConfig};
use sms::juxiang::{JuxiangClient, JuxiangConfig};
use sms::mms_10658::{MmsClient, MmsConfig};
use sms::sandbox::{DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY, Sandbox};
use sms::{Capabilities, InboundSource, MessageKind, MessageSender};

use crate::exit::{Failure, Outcome};

/// Where the providers come from, for messages to the user.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A config file.
    File(String),
    /// A sandbox already running at this address (`--sandbox-url`).
    SandboxUrl(String),
    /// A sandbox started inside this process because no config exists.
    BuiltInSandbox(String),
}

/// One provider of the chain, as the CLI shows and prices it.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    /// Its name in the chain.
    pub name: String,
    /// The vendor (`ihuyi`, `ihuyi-voice`, `mms-10658`, `juxiang`).
    pub vendor: String,
    /// Where its requests go.
    pub endpoint: String,
    /// The account or login (not a secret).
    pub account: String,
    /// Price of one billed part, when configured.
    pub price_per_part: Option<f64>,
    /// Whether the provider writes text as GBK (so text GBK cannot encode is refused up front).
    pub gbk: bool,
    /// What it can send.
    pub capabilities: Capabilities,
}

/// A source of handset replies and how often it may be asked.
pub struct InboundFeed {
    /// The provider's name.
    pub name: String,
    /// The source.
    pub source: Arc<dyn InboundSource>,
    /// The provider's minimum interval between two pulls.
    pub min_interval: Duration,
}

/// Everything a command needs to reach the providers.
pub struct Backend {
    /// The failover chain every send goes through.
    pub chain: FailoverSender,
    /// The chain's providers, in priority order.
    pub providers: Vec<ProviderInfo>,
    /// Providers replies can be pulled from.
    pub inbound: Vec<InboundFeed>,
    /// The ihuyi SMS client, for template registration.
    pub ihuyi: Option<IhuyiClient>,
    /// The Juxiang client, for content checks.
    pub juxiang: Option<JuxiangClient>,
    /// Where the providers come from.
    pub origin: Origin,
    /// Keeps a built-in sandbox running as long as the backend lives.
    pub sandbox: Option<Sandbox>,
    /// The effective config with secrets masked, when it came from a file.
    pub effective: Option<String>,
}

/// Juxiang allows one `readsms.asp` call per this interval.
pub const JUXIANG_READ_INTERVAL: Duration = Duration::from_secs(5);

impl Backend {
    /// Every provider at a sandbox's address with the sandbox's default accounts.
    ///
    /// # Errors
    /// A client that cannot be built from the address (exit 5).
    pub fn for_sandbox(base: &str, origin: Origin, sandbox: Option<Sandbox>) -> Outcome<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let bad = |e: sms::Error| Failure::config(format!("sandbox address {base:?}: {e}"));
        let ihuyi = IhuyiClient::new(
            IhuyiConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
                .base_url(base.clone())
                .international_base_url(base.clone()),
        )
        .map_err(bad)?;
        let voice = IhuyiVoiceClient::new(IhuyiVoiceConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY).base_url(base.clone()))
            .map_err(bad)?;
        let mms = MmsClient::new(MmsConfig::new(DEFAULT_ACCOUNT, DEFAULT_KEY).base_url(base.clone())).map_err(bad)?;
        let juxiang = JuxiangClient::new(
            JuxiangConfig::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).base_url(format!("{base}/send/")),
        )
        .map_err(bad)?;
        let chain = FailoverSender::builder()
            .provider(ProviderEntry::with_balance_query(Arc::new(ihuyi.clone())).priority(0))
            .provider(ProviderEntry::with_balance_query(Arc::new(voice.clone())).priority(0))
            .provider(ProviderEntry::with_balance_query(Arc::new(mms.clone())).priority(0))
            .provider(ProviderEntry::with_balance_query(Arc::new(juxiang.clone())).priority(1))
            .retry(
                RetryPolicy::default()
                    .max_attempts_per_provider(2)
                    .initial_backoff(Duration::from_millis(50)),
            )
            .build()?;
        let info = |sender: &dyn MessageSender, vendor: &str, endpoint: String, gbk: bool| ProviderInfo {
            name: sender.name().to_owned(),
            vendor: vendor.to_owned(),
            endpoint,
            account: DEFAULT_ACCOUNT.to_owned(),
            price_per_part: None,
            gbk,
            capabilities: sender.capabilities().clone(),
        };
        let providers = vec![
            info(&ihuyi, "ihuyi", base.clone(), false),
            info(&voice, "ihuyi-voice", base.clone(), false),
            info(&mms, "mms-10658", base.clone(), false),
            info(&juxiang, "juxiang", format!("{base}/send/"), true),
        ];
        let inbound = vec![InboundFeed {
            name: juxiang.name().to_owned(),
            source: Arc::new(juxiang.clone()),
            min_interval: JUXIANG_READ_INTERVAL,
        }];
        Ok(Self {
            chain,
            providers,
            inbound,
            ihuyi: Some(ihuyi),
            juxiang: Some(juxiang),
            origin,
            sandbox,
            effective: None,
        })
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
        let base = sandbox.base_url();
        Self::for_sandbox(&base, Origin::BuiltInSandbox(base.clone()), Some(sandbox))
    }

    /// True when the text must be encodable as GBK (a provider of the chain writes GBK).
    pub fn needs_gbk(&self) -> bool {
        self.providers.iter().any(|p| p.gbk)
    }

    /// The longest text any provider that sends `kind` takes (`None`: no limit). The chain's own
    /// capabilities cannot say this: their union counts providers that send no text at all.
    pub fn max_text_chars(&self, kind: MessageKind) -> Option<usize> {
        self.providers
            .iter()
            .filter(|p| p.capabilities.supports(kind))
            .map(|p| p.capabilities.max_text_chars)
            .try_fold(0usize, |max, limit| limit.map(|l| max.max(l)))
    }

    /// The price of one part on the chain's first provider, when configured.
    pub fn price_per_part(&self, vendor_kinds: &[&str]) -> Option<f64> {
        self.providers
            .iter()
            .find(|p| vendor_kinds.contains(&p.vendor.as_str()))
            .and_then(|p| p.price_per_part)
    }
}
