//! [`Config`]: the whole file, read, validated and built.

use std::path::{Path, PathBuf};

use sms_failover::{FailoverSender, FailoverSenderBuilder};

use crate::backends::{GatewayConfig, StateConfig, StoreConfig, read_gateway, read_state, read_store};
use crate::chain::ChainConfig;
use crate::env::{env_segment, override_sections, resolve_refs};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::lookup::{FoundBy, locate};
use crate::options::LoadOptions;
use crate::provider::{ProviderConfig, apply_overrides};
use crate::reader::{Reader, error_at};
use crate::source::Source;
use crate::suggest::closest;
use crate::tree::{EMPTY, Node, Origin, Table, Value, parse};

/// The top-level keys.
const TOP_KEYS: [&str; 7] = [
    "providers",
    "chain",
    "store",
    "state",
    "gateway",
    "spend",
    "profiles",
];

/// What a running sandbox accepts: the sandbox's default accounts (`sms_sandbox::DEFAULT_ACCOUNT`,
/// `DEFAULT_KEY`, `DEFAULT_JUXIANG_PASSWORD`).
const SANDBOX_ACCOUNT: &str = "sandbox";
const SANDBOX_KEY: &str = "sandbox-key";
const SANDBOX_JUXIANG_PASSWORD: &str = "sandbox-pwd";

/// What to tell the user when no configuration was found and the sandbox is used instead.
pub const SANDBOX_NOTICE: &str = "no configuration file found (--config, SMS_CONFIG, ./sms.toml, the user config directory): running on the built-in sandbox; nothing leaves this machine";

/// Where a [`Config`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigOrigin {
    /// A file.
    File {
        /// The file.
        path: PathBuf,
        /// How it was found (`None` when given to [`Config::load`] directly).
        found_by: Option<FoundBy>,
    },
    /// Text given to [`Config::from_toml_str`].
    Text,
    /// [`Config::sandbox`]: the built-in sandbox at this base URL.
    Sandbox {
        /// The sandbox's base URL.
        base_url: String,
    },
}

/// A loaded configuration: every provider built, the chain checked, the store, state and gateway
/// sections typed. A configuration that loads is a chain that builds.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = sms_config::Config::from_toml_str(
///     "[providers.ihuyi]\naccount = \"C1\"\nkey = \"k\"\n",
///     &sms_config::LoadOptions::new(),
/// )?;
/// let chain = config.build_chain()?;
/// assert_eq!(chain.health()[0].name, "ihuyi");
/// assert!(!config.effective_toml().contains("\"k\""));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    origin: ConfigOrigin,
    profile: Option<String>,
    providers: Vec<ProviderConfig>,
    chain: ChainConfig,
    store: StoreConfig,
    state: StateConfig,
    gateway: GatewayConfig,
    spend: crate::spend::SpendConfig,
    effective: toml::Table,
}

impl Config {
    /// Loads `path` with the process environment and no profile (unless `SMS_PROFILE` names one).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the file, line, column and key of the first problem.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::load_with(path, &LoadOptions::new())
    }

    /// Loads `path` with `options` (profile, environment).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(ConfigErrorKind::Io, format!("cannot read the configuration: {e}"))
                .at(Some(path.to_owned()), None)
        })?;
        let source = Source::new(Some(path.to_owned()), text);
        let origin = ConfigOrigin::File {
            path: path.to_owned(),
            found_by: None,
        };
        Self::read(&source, options, origin)
    }

    /// Reads a configuration from text (no file; relative store paths stay relative).
    ///
    /// # Errors
    /// As [`Config::load`], with line and column but no file name.
    pub fn from_toml_str(text: &str, options: &LoadOptions) -> Result<Self, ConfigError> {
        let source = Source::new(None, text.to_owned());
        Self::read(&source, options, ConfigOrigin::Text)
    }

    /// Finds the file ([`crate::locate`]: `explicit`, `SMS_CONFIG`, `./sms.toml`, the user config
    /// directory) and loads it; `Ok(None)` when there is none at all, in which case the caller starts
    /// the sandbox, uses [`Config::sandbox`], and prints [`SANDBOX_NOTICE`].
    ///
    /// # Errors
    /// As [`Config::load`], and when an explicitly named file is missing.
    pub fn discover(explicit: Option<&Path>, options: &LoadOptions) -> Result<Option<Self>, ConfigError> {
        let Some(located) = locate(explicit, options)? else {
            return Ok(None);
        };
        let mut config = Self::load_with(&located.path, options)?;
        config.origin = ConfigOrigin::File {
            path: located.path,
            found_by: Some(located.found_by),
        };
        Ok(Some(config))
    }

    /// The configuration of a running sandbox at `base_url` (`http://127.0.0.1:PORT`, as
    /// `Sandbox::base_url` gives it): one provider per simulated vendor, on the sandbox's default
    /// accounts (ihuyi first and Juxiang second for text; voice codes and MMS go to their own
    /// vendors, which the chain picks by message kind), every other setting at its default. [`sandbox_toml`](Self::sandbox_toml) is the same as a file.
    ///
    /// # Errors
    /// When `base_url` is not an http URL.
    pub fn sandbox(base_url: &str) -> Result<Self, ConfigError> {
        let text = Self::sandbox_toml(base_url);
        let source = Source::new(None, text);
        let origin = ConfigOrigin::Sandbox {
            base_url: base_url.to_owned(),
        };
        Self::read(
            &source,
            &LoadOptions::new().env_vars::<String, String>([]),
            origin,
        )
    }

    /// A ready configuration file for a sandbox at `base_url` (what `sms sandbox` prints).
    pub fn sandbox_toml(base_url: &str) -> String {
        let base = base_url.trim_end_matches('/');
        let quote = |s: &str| toml::Value::from(s).to_string();
        format!(
            "# The built-in sandbox at {base}: its default accounts; nothing leaves this machine.\n\
             \n\
             [providers.ihuyi]\n\
             account = {account}\n\
             key = {key}\n\
             base_url = {base_q}\n\
             international_base_url = {base_q}\n\
             priority = 0\n\
             \n\
             [providers.juxiang]\n\
             login = {account}\n\
             password = {jx}\n\
             base_url = {send_q}\n\
             priority = 1\n\
             \n\
             [providers.ihuyi-voice]\n\
             account = {account}\n\
             key = {key}\n\
             base_url = {base_q}\n\
             \n\
             [providers.mms-10658]\n\
             account = {account}\n\
             key = {key}\n\
             base_url = {base_q}\n",
            account = quote(SANDBOX_ACCOUNT),
            key = quote(SANDBOX_KEY),
            jx = quote(SANDBOX_JUXIANG_PASSWORD),
            base_q = quote(base),
            send_q = quote(&format!("{base}/send/")),
        )
    }

    fn read(source: &Source, options: &LoadOptions, origin: ConfigOrigin) -> Result<Self, ConfigError> {
        let mut root = parse(source)?;
        let profile = options.effective_profile();
        select_profile(source, &mut root, profile.as_deref())?;
        let env = &options.env;
        if let Some(providers) = root.get_mut("providers") {
            apply_overrides(env, &mut providers.node);
        }
        override_sections(env, &mut root);
        resolve_refs(source, env, &mut root, "")?;
        let root_node = Node {
            value: Value::Table(root),
            origin: Origin::File(None),
        };
        let top = Reader::new(source, String::new(), &root_node)?;
        top.allow_only(&TOP_KEYS)?;

        let mut effective = toml::Table::new();
        let providers = read_providers(source, &top, &mut effective)?;
        let section = |key: &str| -> Result<Reader<'_>, ConfigError> {
            Ok(match top.table(key)? {
                Some(r) => r,
                None => Reader::new(source, key.to_owned(), &EMPTY)?,
            })
        };
        let (chain, shown) = crate::chain::read(section("chain")?)?;
        if chain.strategy == sms_failover::Strategy::WeightedRandom
            && providers.iter().filter(|p| p.in_chain).all(|p| p.weight == 0)
        {
            return Err(section("chain")?.invalid(
                "strategy",
                "weighted-random needs a provider in the chain with a positive weight",
            ));
        }
        effective.insert("chain".into(), shown.into());
        let base_dir = source.file().and_then(Path::parent);
        let (store, shown) = read_store(section("store")?, base_dir)?;
        effective.insert("store".into(), shown.into());
        let (state, shown) = read_state(section("state")?)?;
        effective.insert("state".into(), shown.into());
        let (gateway, shown) = read_gateway(section("gateway")?)?;
        effective.insert("gateway".into(), shown.into());
        let in_chain: Vec<&str> = providers
            .iter()
            .filter(|p| p.in_chain)
            .map(|p| p.name.as_str())
            .collect();
        // The deprecated `price_per_part` (a decimal amount) of a provider stands for its mainland
        // price in `[spend.prices]` (integer thousandths), the one source of prices.
        let old_prices: Vec<(&str, u64)> = providers
            .iter()
            .filter(|p| p.in_chain)
            .filter_map(|p| Some((p.name.as_str(), crate::spend::thousandths(p.price_per_part?)?)))
            .collect();
        let (spend, shown) = crate::spend::read(section("spend")?, &in_chain, &old_prices)?;
        effective.insert("spend".into(), shown.into());

        let config = Self {
            origin,
            profile,
            providers,
            chain,
            store,
            state,
            gateway,
            spend,
            effective,
        };
        // A configuration that loads is a chain that builds: build it once now.
        config
            .build_chain()
            .map_err(|e| crate::chain::build_error(source, e.message().to_owned()))?;
        Ok(config)
    }

    /// Builds the failover chain: every provider with `in_chain = true`, in priority order, with the
    /// `[chain]` settings. Each call builds a new chain (its own breakers and limits) over the same
    /// clients (their connection pools are shared).
    ///
    /// # Errors
    /// Never for a loaded configuration (it was built once while loading); the type allows for
    /// configurations assembled in code.
    pub fn build_chain(&self) -> Result<FailoverSender, ConfigError> {
        self.chain_builder()
            .build()
            .map_err(|e| ConfigError::new(ConfigErrorKind::InvalidValue, e.message()).key("chain"))
    }

    /// The builder [`Config::build_chain`] finishes: every provider with `in_chain = true` and the
    /// `[chain]` and `[state]` settings, for a program that adds to them before building (a one-shot
    /// tool turning off in-memory idempotency, an application plugging in its own state backend).
    pub fn chain_builder(&self) -> FailoverSenderBuilder {
        let mut builder = self
            .chain
            .builder()
            .idempotency_retention(self.state.idempotency_retention);
        for provider in self.providers.iter().filter(|p| p.in_chain) {
            builder = builder.provider(provider.entry());
        }
        if let Some(policy) = self.spend.policy() {
            builder = builder.spend_policy(policy);
        }
        builder
    }

    /// Every provider, in file order.
    pub fn providers(&self) -> &[ProviderConfig] {
        &self.providers
    }

    /// The provider named `name`.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The `[chain]` section.
    pub fn chain(&self) -> &ChainConfig {
        &self.chain
    }

    /// The `[store]` section.
    pub fn store(&self) -> &StoreConfig {
        &self.store
    }

    /// The `[state]` section.
    pub fn state(&self) -> &StateConfig {
        &self.state
    }

    /// The `[gateway]` section.
    pub fn gateway(&self) -> &GatewayConfig {
        &self.gateway
    }

    /// The `[spend]` section: spend caps, prices, destinations and velocity windows.
    pub fn spend(&self) -> &crate::spend::SpendConfig {
        &self.spend
    }

    /// Where this configuration came from.
    pub fn origin(&self) -> &ConfigOrigin {
        &self.origin
    }

    /// The profile laid over the file, if any.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// True for [`Config::sandbox`].
    pub fn is_sandbox(&self) -> bool {
        matches!(self.origin, ConfigOrigin::Sandbox { .. })
    }

    /// The effective configuration as TOML: every section with every default filled in, the
    /// profile and environment applied, and every secret (keys, passwords, tokens, URLs that may
    /// carry a password) shown as `[redacted]`. It loads again once the secrets are put back.
    pub fn effective_toml(&self) -> String {
        toml::to_string(&self.effective).unwrap_or_default()
    }

    /// The same as [`effective_toml`](Self::effective_toml), as JSON.
    pub fn effective_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.effective).unwrap_or_default()
    }
}

/// Reads `[providers]`: each provider, its overrides applied, built.
fn read_providers(
    source: &Source,
    top: &Reader<'_>,
    effective: &mut toml::Table,
) -> Result<Vec<ProviderConfig>, ConfigError> {
    let Some(providers) = top.table("providers")? else {
        return Err(crate::source::Source::error(
            source,
            ConfigErrorKind::MissingKey,
            "missing section [providers]: configure at least one provider, e.g. [providers.ihuyi] with account and key",
            None,
        ));
    };
    let mut out = Vec::new();
    let mut shown = toml::Table::new();
    let mut segments: Vec<(String, String)> = Vec::new();
    for entry in providers.entries() {
        let reader = Reader::new(source, providers.key_path(&entry.key), &entry.node)?;
        let segment = env_segment(&entry.key);
        if let Some((other, _)) = segments.iter().find(|(_, s)| *s == segment) {
            return Err(reader.invalid(
                "",
                format!(
                    "the names {other:?} and {:?} share the environment variables SMS_{segment}_*: rename one",
                    entry.key
                ),
            ));
        }
        segments.push((entry.key.clone(), segment));
        let (provider, table) = crate::provider::read(&entry.key, reader)?;
        shown.insert(entry.key.clone(), table.into());
        out.push(provider);
    }
    if out.is_empty() {
        return Err(providers.invalid("", "configure at least one provider, e.g. [providers.ihuyi]"));
    }
    if !out.iter().any(|p| p.in_chain) {
        return Err(providers.invalid(
            "",
            "every provider has in_chain = false: the chain needs at least one",
        ));
    }
    effective.insert("providers".into(), shown.into());
    Ok(out)
}

/// Lays `[profiles.NAME]` over the rest, and removes `[profiles]`.
fn select_profile(source: &Source, root: &mut Table, name: Option<&str>) -> Result<(), ConfigError> {
    let profiles = root.remove("profiles");
    let Some(name) = name else {
        if let Some(p) = &profiles
            && !matches!(p.node.value, Value::Table(_))
        {
            return Err(error_at(
                source,
                ConfigErrorKind::WrongType,
                "profiles",
                &p.node.origin,
                format!("expected a table of profiles, found {}", p.node.value.type_name()),
            ));
        }
        return Ok(());
    };
    let table = match profiles.map(|p| p.node.value) {
        Some(Value::Table(table)) => table,
        _ => Table::default(),
    };
    let names: Vec<&str> = table.entries.iter().map(|e| e.key.as_str()).collect();
    let Some(index) = table.entries.iter().position(|e| e.key == name) else {
        let mut message = format!("profile `{name}` is not in the file");
        if let Some(best) = closest(name, names.iter().copied()) {
            message.push_str(&format!("; did you mean `{best}`?"));
        }
        if names.is_empty() {
            message.push_str(" (it has no [profiles.NAME] section)");
        } else {
            message.push_str(&format!(" Profiles: {}", names.join(", ")));
        }
        return Err(source
            .error(ConfigErrorKind::ProfileNotFound, message, None)
            .key(format!("profiles.{name}")));
    };
    let mut table = table;
    let entry = table.entries.swap_remove(index);
    match entry.node.value {
        Value::Table(over) => {
            root.overlay(over);
            Ok(())
        }
        other => Err(error_at(
            source,
            ConfigErrorKind::WrongType,
            &format!("profiles.{name}"),
            &entry.node.origin,
            format!("expected a table, found {}", other.type_name()),
        )),
    }
}
