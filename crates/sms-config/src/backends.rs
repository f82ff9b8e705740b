//! `[store]`, `[state]` and `[gateway]`: typed and validated here; the crates that build these
//! backends read them from [`crate::Config`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sms_core::Secret;

use crate::error::ConfigError;
use crate::reader::{MASK, Reader, format_duration};

/// What the message store keeps of a message's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ContentRetention {
    /// The text and template variables. The default.
    #[default]
    Full,
    /// Only a digest of the content (privacy: enough to tell two sends apart).
    Digest,
}

/// Where messages, receipts and replies are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreBackend {
    /// No store: nothing outlives the process. The default.
    None,
    /// An SQLite file (one host).
    Sqlite {
        /// The database file (relative paths are relative to the config file's directory).
        path: PathBuf,
        /// How long a writer waits for a lock.
        busy_timeout: Duration,
    },
    /// A PostgreSQL database (several hosts).
    Postgres {
        /// `postgres://user:password@host:5432/db` (a secret: it may hold the password).
        url: Secret,
        /// Pool size.
        max_connections: u32,
        /// Time allowed to connect.
        connect_timeout: Duration,
    },
}

/// The `[store]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The backend.
    pub backend: StoreBackend,
    /// What is kept of each message's content.
    pub content: ContentRetention,
    /// Records older than this are purged (`None`: kept). `sms serve` applies it (one instance at
    /// a time, hourly); an application on the store alone calls `MessageStore::purge`.
    pub retention: Option<Duration>,
    /// Message content and reply text older than this are blanked, digests kept (`None`: kept).
    /// Applied as `retention` is (`MessageStore::redact`).
    pub redact_after: Option<Duration>,
    /// An accepted message with no receipt after this long becomes expired.
    pub receipt_expiry: Duration,
}

/// Where the chain's shared state (limits, opt-outs, breaker trips, idempotency) lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateBackend {
    /// In this process only. The default.
    Memory,
    /// A Redis server shared by every instance.
    Redis {
        /// `redis://[:password@]host:6379[/db]` or `rediss://…` (a secret: it may hold the password).
        url: Secret,
        /// Prefix of every key written.
        key_prefix: String,
        /// Time allowed to connect.
        connect_timeout: Duration,
        /// Time allowed for one command.
        command_timeout: Duration,
    },
}

/// The `[state]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateConfig {
    /// The backend.
    pub backend: StateBackend,
    /// How long an idempotency record (a client reference and its outcome) is kept.
    pub idempotency_retention: Duration,
    /// The checks that send anyway when the state backend cannot answer (default none: refuse,
    /// and say why).
    pub fail_open: FailOpenChecks,
}

/// Which of the chain's state checks send anyway when their backend cannot answer (`[state]
/// fail_open`: `true` for all, `false` for none, or a list of `opt_outs`, `limits`, `idempotency`,
/// `breaker`, `spend`). A check not listed refuses the message and says why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailOpenChecks {
    /// Opt-out lookups.
    pub opt_outs: bool,
    /// Per-number limits.
    pub limits: bool,
    /// Idempotency by client reference.
    pub idempotency: bool,
    /// Shared breaker trips.
    pub breaker: bool,
    /// Spend caps.
    pub spend: bool,
}

impl FailOpenChecks {
    /// The names a list may hold, in this order.
    pub const NAMES: [&'static str; 5] = ["opt_outs", "limits", "idempotency", "breaker", "spend"];

    /// Every check fails open.
    pub fn all() -> Self {
        Self {
            opt_outs: true,
            limits: true,
            idempotency: true,
            breaker: true,
            spend: true,
        }
    }

    /// Whether every check fails open.
    pub fn is_all(&self) -> bool {
        *self == Self::all()
    }

    /// Whether any check fails open.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// The names of the checks that fail open, in [`Self::NAMES`] order.
    pub fn names(&self) -> Vec<&'static str> {
        let on = [
            self.opt_outs,
            self.limits,
            self.idempotency,
            self.breaker,
            self.spend,
        ];
        Self::NAMES
            .iter()
            .zip(on)
            .filter_map(|(name, on)| on.then_some(*name))
            .collect()
    }

    fn set(&mut self, name: &str) -> bool {
        let flag = match name {
            "opt_outs" => &mut self.opt_outs,
            "limits" => &mut self.limits,
            "idempotency" => &mut self.idempotency,
            "breaker" => &mut self.breaker,
            "spend" => &mut self.spend,
            _ => return false,
        };
        *flag = true;
        true
    }
}

/// Reads `fail_open`: a boolean, or a list of check names.
fn read_fail_open(r: &mut Reader<'_>) -> Result<FailOpenChecks, ConfigError> {
    if !r.is_array("fail_open") {
        return Ok(if r.bool_or("fail_open", false)? {
            FailOpenChecks::all()
        } else {
            FailOpenChecks::default()
        });
    }
    let mut checks = FailOpenChecks::default();
    for (name, _) in r.strings("fail_open")?.unwrap_or_default() {
        if !checks.set(&name) {
            return Err(r.invalid(
                "fail_open",
                format!(
                    "unknown check `{name}`: fail_open is true, false or a list of {}",
                    FailOpenChecks::NAMES.join(", ")
                ),
            ));
        }
    }
    r.put(
        "fail_open",
        toml::Value::Array(checks.names().into_iter().map(toml::Value::from).collect()),
    );
    Ok(checks)
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiScope {
    /// Read messages, balances, providers.
    Read,
    /// Send (implies nothing else).
    Send,
    /// Everything, suppressions and keys included.
    Admin,
}

/// One `[[gateway.api_keys]]` entry: the key is stored hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeyConfig {
    /// A label for logs.
    pub name: String,
    /// `sha256:` and 64 hex digits: the SHA-256 of the key.
    pub hash: String,
    /// What the key may do.
    pub scopes: Vec<ApiScope>,
    /// At most this many requests with the key per period, over every endpoint (`None`: no limit;
    /// default 100 per second): over it the gateway answers 429 with `Retry-After`.
    pub rate_limit: Option<sms_failover::LimitWindow>,
    /// At most this many billed parts per Beijing day sent with the key (`None`: only the `[spend]`
    /// caps bound it), so that a leaked key costs a bounded amount.
    pub daily_parts: Option<u64>,
}

/// The default request rate of an API key: 100 per second.
pub const DEFAULT_KEY_RATE: sms_failover::LimitWindow = sms_failover::LimitWindow {
    count: 100,
    period: Duration::from_secs(1),
};

/// An allowed source address or network (`203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceNet {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl SourceNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    ///
    /// # Errors
    /// A message when it is neither.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    /// True when `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for SourceNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `[gateway.callbacks]`: signed status and reply callbacks to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackConfig {
    /// Where events are POSTed.
    pub url: String,
    /// The Standard Webhooks signing secret.
    pub secret: Secret,
    /// Pauses before each retry of a failed delivery.
    pub retry_schedule: Vec<Duration>,
}

/// The `[gateway]` section (`sms serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The address providers and clients reach the gateway at (for the push URLs it prints).
    pub public_url: Option<String>,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a synchronous send may take before the API answers with what it knows.
    pub sync_timeout: Duration,
    /// On SIGTERM, how long in-flight sends may take to finish.
    pub shutdown_grace: Duration,
    /// Outbox workers per instance.
    pub workers: usize,
    /// How long a worker holds the outbox messages it claimed. A claim left by a stopped instance
    /// is taken again (not started) or marked `unknown` (started) once it runs out, by the sweeper,
    /// which runs every half lease (at most every 30 s). Keep it longer than a send takes: a send
    /// still running when its lease ends is recorded `unknown`, never sent again.
    pub outbox_lease: Duration,
    /// The secret path segment of provider webhooks (vendors cannot sign their pushes).
    pub webhook_token: Option<Secret>,
    /// Source addresses allowed to call the webhooks (empty: any).
    pub allowed_sources: Vec<SourceNet>,
    /// API keys (hashed).
    pub api_keys: Vec<ApiKeyConfig>,
    /// Callbacks to the application.
    pub callbacks: Option<CallbackConfig>,
    /// Poll pull providers (Juxiang `readsms`) for replies, on one instance at a time.
    pub poll_replies: bool,
    /// How often providers' balances are read (one instance at a time) for the balance gauge and the
    /// low-balance event; `None`: never (`"off"`).
    pub balance_interval: Option<Duration>,
    /// The OTLP collector spans are exported to (a base URL; `/v1/traces` is added), for a gateway
    /// built with the `otel` feature; else the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
}

/// The default `gateway.outbox_lease`.
pub const DEFAULT_OUTBOX_LEASE: Duration = Duration::from_secs(300);

/// The default `gateway.balance_interval`.
pub const DEFAULT_BALANCE_INTERVAL: Duration = Duration::from_secs(300);

/// The shortest `gateway.balance_interval`: every check is a request to every provider.
pub const MIN_BALANCE_INTERVAL: Duration = Duration::from_secs(10);

/// The default `gateway.listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub(crate) fn read_store(
    mut r: Reader<'_>,
    base_dir: Option<&Path>,
) -> Result<(StoreConfig, toml::Table), ConfigError> {
    let inferred = if r.entries().iter().any(|e| e.key == "url") {
        "postgres"
    } else if r.entries().iter().any(|e| e.key == "path") {
        "sqlite"
    } else {
        "none"
    };
    #[derive(Clone, Copy)]
    enum Kind {
        None,
        Sqlite,
        Postgres,
    }
    let inferred_kind = match inferred {
        "postgres" => Kind::Postgres,
        "sqlite" => Kind::Sqlite,
        _ => Kind::None,
    };
    let kind = r.choice(
        "backend",
        &[
            ("none", Kind::None),
            ("sqlite", Kind::Sqlite),
            ("postgres", Kind::Postgres),
        ],
        inferred_kind,
        inferred,
    )?;
    let common = [
        "backend",
        "content",
        "retention",
        "redact_after",
        "receipt_expiry",
    ];
    let backend = match kind {
        Kind::None => {
            r.allow_only(&common)?;
            StoreBackend::None
        }
        Kind::Sqlite => {
            let mut allowed = common.to_vec();
            allowed.extend(["path", "busy_timeout"]);
            r.allow_only(&allowed)?;
            let path = PathBuf::from(r.string_or("path", "sms.db")?);
            if path.as_os_str().is_empty() {
                return Err(r.invalid("path", "must not be empty"));
            }
            let path = match base_dir {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path,
            };
            StoreBackend::Sqlite {
                path,
                busy_timeout: r.duration_or("busy_timeout", Duration::from_secs(5), false)?,
            }
        }
        Kind::Postgres => {
            let mut allowed = common.to_vec();
            allowed.extend(["url", "max_connections", "connect_timeout"]);
            r.allow_only(&allowed)?;
            let url = r.required_secret("url", "postgres://user:password@host:5432/database")?;
            check_url(
                &url,
                &["postgres", "postgresql"],
                "a PostgreSQL URL (postgres://user:password@host:5432/database)",
            )
            .map_err(|m| r.invalid("url", m))?;
            StoreBackend::Postgres {
                url,
                max_connections: r.u32_or("max_connections", 10, 1)?,
                connect_timeout: r.duration_or("connect_timeout", Duration::from_secs(5), true)?,
            }
        }
    };
    let content = r.choice(
        "content",
        &[
            ("full", ContentRetention::Full),
            ("digest", ContentRetention::Digest),
        ],
        ContentRetention::Full,
        "full",
    )?;
    let retention = r.optional_duration("retention", None, true)?;
    let redact_after = r.optional_duration("redact_after", None, true)?;
    let receipt_expiry = r.duration_or("receipt_expiry", Duration::from_secs(72 * 3600), true)?;
    if let StoreBackend::Sqlite { path, .. } = &backend {
        r.put("path", path.display().to_string());
    }
    let config = StoreConfig {
        backend,
        content,
        retention,
        redact_after,
        receipt_expiry,
    };
    Ok((config, r.finish()))
}

/// Checks a backend URL's scheme and host. The message never quotes the URL (it may hold a
/// password).
fn check_url(url: &Secret, schemes: &[&str], what: &str) -> Result<(), String> {
    let parsed =
        url::Url::parse(url.expose().trim()).map_err(|e| format!("not a URL ({e}): expected {what}"))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(format!(
            "the scheme must be {}: expected {what}",
            schemes.join(" or ")
        ));
    }
    if parsed.host().is_none() {
        return Err(format!("no host: expected {what}"));
    }
    Ok(())
}

pub(crate) fn read_state(mut r: Reader<'_>) -> Result<(StateConfig, toml::Table), ConfigError> {
    let has_url = r.entries().iter().any(|e| e.key == "url");
    let redis = r.choice(
        "backend",
        &[("memory", false), ("redis", true)],
        has_url,
        if has_url { "redis" } else { "memory" },
    )?;
    let common = ["backend", "idempotency_retention", "fail_open"];
    let backend = if redis {
        let mut allowed = common.to_vec();
        allowed.extend(["url", "key_prefix", "connect_timeout", "command_timeout"]);
        r.allow_only(&allowed)?;
        let url = r.required_secret("url", "redis://host:6379")?;
        check_url(
            &url,
            &["redis", "rediss"],
            "a Redis URL (redis://[:password@]host:6379[/db])",
        )
        .map_err(|m| r.invalid("url", m))?;
        StateBackend::Redis {
            url,
            key_prefix: r.string_or("key_prefix", "sms:")?,
            connect_timeout: r.duration_or("connect_timeout", Duration::from_secs(2), true)?,
            command_timeout: r.duration_or("command_timeout", Duration::from_secs(1), true)?,
        }
    } else {
        r.allow_only(&common)?;
        StateBackend::Memory
    };
    let config = StateConfig {
        backend,
        idempotency_retention: r.duration_or("idempotency_retention", Duration::from_secs(86_400), true)?,
        fail_open: read_fail_open(&mut r)?,
    };
    Ok((config, r.finish()))
}

pub(crate) fn read_gateway(mut r: Reader<'_>) -> Result<(GatewayConfig, toml::Table), ConfigError> {
    r.allow_only(&[
        "listen",
        "public_url",
        "body_limit",
        "sync_timeout",
        "shutdown_grace",
        "workers",
        "outbox_lease",
        "webhook_token",
        "allowed_sources",
        "api_keys",
        "callbacks",
        "poll_replies",
        "balance_interval",
        "otlp_endpoint",
    ])?;
    let listen_text = r.string_or("listen", DEFAULT_LISTEN)?;
    let listen: SocketAddr = listen_text.trim().parse().map_err(|_| {
        r.invalid(
            "listen",
            format!("{listen_text:?} is not an address: expected IP:PORT, e.g. {DEFAULT_LISTEN:?}"),
        )
    })?;
    let public_url = match r.string("public_url")? {
        Some(url) => {
            crate::provider::check_http_url(&url).map_err(|m| r.invalid("public_url", m))?;
            Some(url)
        }
        None => None,
    };
    let body_limit = r.usize_or("body_limit", 64 * 1024, 1)?;
    let sync_timeout = r.duration_or("sync_timeout", Duration::from_secs(10), true)?;
    let shutdown_grace = r.duration_or("shutdown_grace", Duration::from_secs(30), false)?;
    let workers = r.usize_or("workers", 4, 1)?;
    let outbox_lease = r.duration_or("outbox_lease", DEFAULT_OUTBOX_LEASE, true)?;
    if outbox_lease < Duration::from_secs(1) {
        return Err(r.invalid("outbox_lease", "must be at least 1s (longer than a send takes)"));
    }
    let poll_replies = r.bool_or("poll_replies", false)?;
    let balance_interval = r.optional_duration("balance_interval", Some(DEFAULT_BALANCE_INTERVAL), true)?;
    if balance_interval.is_some_and(|d| d < MIN_BALANCE_INTERVAL) {
        return Err(r.invalid(
            "balance_interval",
            "must be at least 10s (each check queries every provider), or \"off\"",
        ));
    }
    let otlp_endpoint = match r.string("otlp_endpoint")? {
        Some(url) => {
            crate::provider::check_http_url(&url).map_err(|m| r.invalid("otlp_endpoint", m))?;
            Some(url)
        }
        None => None,
    };
    let webhook_token = r.secret("webhook_token")?;
    if webhook_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
        return Err(r.invalid(
            "webhook_token",
            "must be at least 16 characters (it is the webhooks' only protection)",
        ));
    }
    let mut allowed_sources = Vec::new();
    if let Some(items) = r.strings("allowed_sources")? {
        for (i, (text, _)) in items.iter().enumerate() {
            let net =
                SourceNet::parse(text).map_err(|m| r.invalid("allowed_sources", format!("item {i}: {m}")))?;
            allowed_sources.push(net);
        }
    }
    r.put(
        "allowed_sources",
        toml::Value::Array(allowed_sources.iter().map(|n| n.to_string().into()).collect()),
    );
    let mut api_keys = Vec::new();
    let mut shown_keys = Vec::new();
    if let Some(items) = r.array("api_keys")? {
        for (i, item) in items.iter().enumerate() {
            let mut k = Reader::new(r.source(), format!("{}[{i}]", r.key_path("api_keys")), item)?;
            k.allow_only(&["name", "hash", "scopes", "rate_limit", "daily_parts"])?;
            let name = k.required_string("name", "a label for the key")?;
            let hash = k.required_string("hash", "\"sha256:\" and the 64 hex digits of the key's SHA-256")?;
            let hex = hash.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(k.invalid(
                    "hash",
                    "expected \"sha256:\" and 64 hex digits (the key itself never goes in the file)",
                ));
            }
            let mut scopes = Vec::new();
            for (text, _) in k.strings("scopes")?.unwrap_or_default() {
                let scope = match text.as_str() {
                    "read" => ApiScope::Read,
                    "send" => ApiScope::Send,
                    "admin" => ApiScope::Admin,
                    other => {
                        return Err(
                            k.invalid("scopes", format!("`{other}` is not allowed: read, send, admin"))
                        );
                    }
                };
                scopes.push(scope);
            }
            if scopes.is_empty() {
                return Err(k.invalid("scopes", "give at least one of read, send, admin"));
            }
            let rate_limit = read_key_rate(&mut k)?;
            let daily_parts = k.opt_u64("daily_parts", 1)?;
            api_keys.push(ApiKeyConfig {
                name,
                hash,
                scopes,
                rate_limit,
                daily_parts,
            });
            shown_keys.push(toml::Value::Table(k.finish()));
        }
    }
    r.put("api_keys", toml::Value::Array(shown_keys));
    let callbacks = match r.table("callbacks")? {
        None => None,
        Some(mut c) => {
            c.allow_only(&["url", "secret", "retry_schedule"])?;
            let url = c.required_string("url", "where events are POSTed")?;
            crate::provider::check_http_url(&url).map_err(|m| c.invalid("url", m))?;
            let secret = c.required_secret("secret", "the signing secret")?;
            let retry_schedule = match c.strings("retry_schedule")? {
                None => ["5s", "5m", "30m", "2h", "5h", "10h"]
                    .iter()
                    .filter_map(|t| crate::reader::parse_duration(t).ok())
                    .collect(),
                Some(items) => {
                    let mut schedule = Vec::new();
                    for (text, _) in items {
                        let d = crate::reader::parse_duration(&text)
                            .map_err(|m| c.invalid("retry_schedule", m))?;
                        schedule.push(d);
                    }
                    schedule
                }
            };
            c.put(
                "retry_schedule",
                toml::Value::Array(
                    retry_schedule
                        .iter()
                        .map(|d| format_duration(*d).into())
                        .collect(),
                ),
            );
            let shown = c.finish();
            r.put("callbacks", shown);
            Some(CallbackConfig {
                url,
                secret,
                retry_schedule,
            })
        }
    };
    let config = GatewayConfig {
        listen,
        public_url,
        body_limit,
        sync_timeout,
        shutdown_grace,
        workers,
        outbox_lease,
        webhook_token,
        allowed_sources,
        api_keys,
        callbacks,
        poll_replies,
        balance_interval,
        otlp_endpoint,
    };
    let mut shown = r.finish();
    if let Some(t) = shown.get_mut("webhook_token") {
        *t = MASK.into();
    }
    Ok((config, shown))
}

/// `rate_limit = { count = 100, period = "1s" }`, or `"off"`; absent: [`DEFAULT_KEY_RATE`].
fn read_key_rate(k: &mut Reader<'_>) -> Result<Option<sms_failover::LimitWindow>, ConfigError> {
    if k.entries().iter().all(|e| e.key != "rate_limit") {
        let mut shown = toml::Table::new();
        shown.insert("count".into(), i64::from(DEFAULT_KEY_RATE.count).into());
        shown.insert(
            "period".into(),
            crate::reader::format_duration(DEFAULT_KEY_RATE.period).into(),
        );
        k.put("rate_limit", shown);
        return Ok(Some(DEFAULT_KEY_RATE));
    }
    if let Some(text) = k.string("rate_limit").ok().flatten() {
        return if text == "off" {
            Ok(None)
        } else {
            Err(k.invalid("rate_limit", "expected { count = N, period = \"1s\" } or \"off\""))
        };
    }
    let Some(mut t) = k.table("rate_limit")? else {
        return Err(k.invalid("rate_limit", "expected { count = N, period = \"1s\" } or \"off\""));
    };
    t.allow_only(&["count", "period"])?;
    let count = t.opt_u32("count", 1)?.ok_or_else(|| {
        t.error(
            crate::error::ConfigErrorKind::MissingKey,
            "count",
            "missing key `count`: requests allowed per period",
        )
    })?;
    let period = t.duration_or("period", Duration::from_secs(1), true)?;
    k.put("rate_limit", t.finish());
    Ok(Some(sms_failover::LimitWindow { count, period }))
}
