//! `[providers.NAME]`: one account of one vendor, its place in the chain and its price.

use std::sync::Arc;
use std::time::Duration;

use sms_10658_mms::{MmsClient, MmsConfig};
use sms_core::raw::http::MAX_POOL_IDLE;
use sms_core::{BalanceQuery, HttpConfig, InboundSource, MessageSender};
use sms_failover::ProviderEntry;
use sms_ihuyi::{IhuyiClient, IhuyiConfig, PasswordMode, ResponseFormat};
use sms_ihuyi_voice::{IhuyiVoiceClient, IhuyiVoiceConfig};
use sms_juxiang::{JuxiangClient, JuxiangConfig};

use crate::env::{override_field, provider_var};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::reader::Reader;
use crate::source::Env;
use crate::tree::{Node, Table, Value};

/// A provider's vendor: the `type` of a `[providers.NAME]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Vendor {
    /// `ihuyi`: ihuyi SMS and international SMS.
    Ihuyi,
    /// `ihuyi-voice`: ihuyi voice verification codes.
    IhuyiVoice,
    /// `mms-10658`: 10658.cc MMS.
    Mms10658,
    /// `juxiang`: Juxiang enterprise SMS.
    Juxiang,
}

impl Vendor {
    /// Every vendor with its `type` name.
    pub const ALL: [(&'static str, Vendor); 4] = [
        ("ihuyi", Vendor::Ihuyi),
        ("ihuyi-voice", Vendor::IhuyiVoice),
        ("mms-10658", Vendor::Mms10658),
        ("juxiang", Vendor::Juxiang),
    ];

    /// The `type` name.
    pub fn type_name(self) -> &'static str {
        match self {
            Vendor::Ihuyi => "ihuyi",
            Vendor::IhuyiVoice => "ihuyi-voice",
            Vendor::Mms10658 => "mms-10658",
            Vendor::Juxiang => "juxiang",
        }
    }

    /// The vendor's own keys (besides the common ones and `[http]`).
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            Vendor::Ihuyi => &[
                "account",
                "key",
                "base_url",
                "international_base_url",
                "format",
                "password_mode",
            ],
            Vendor::IhuyiVoice => &["account", "key", "base_url", "format", "password_mode"],
            Vendor::Mms10658 => &["account", "key", "base_url", "batch_size"],
            Vendor::Juxiang => &["login", "password", "base_url", "long_sms", "sender_extension"],
        }
    }

    /// The keys that `SMS_<PROVIDER>_<FIELD>` variables override.
    pub(crate) fn string_fields(self) -> &'static [&'static str] {
        match self {
            Vendor::Ihuyi => &["account", "key", "base_url", "international_base_url"],
            Vendor::IhuyiVoice | Vendor::Mms10658 => &["account", "key", "base_url"],
            Vendor::Juxiang => &["login", "password", "base_url", "sender_extension"],
        }
    }
}

/// Keys every provider table takes, whatever its vendor.
const COMMON: [&str; 7] = [
    "type",
    "priority",
    "weight",
    "in_chain",
    "price_per_part",
    "low_balance",
    "http",
];

/// Keys of a provider's `[http]` table (`sms_core::HttpConfig`).
const HTTP_KEYS: [&str; 6] = [
    "connect_timeout",
    "request_timeout",
    "pool_idle_timeout",
    "user_agent",
    "body_cap",
    "unprocessed_statuses",
];

/// The vendor's own configuration, as read (secrets inside are `Secret`s).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProviderSettings {
    /// ihuyi SMS.
    Ihuyi(IhuyiConfig),
    /// ihuyi voice.
    IhuyiVoice(IhuyiVoiceConfig),
    /// 10658 MMS.
    Mms10658(MmsConfig),
    /// Juxiang.
    Juxiang(JuxiangConfig),
}

/// A built provider client. Clones share the client's one HTTP connection pool.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProviderClient {
    /// ihuyi SMS (templates: [`IhuyiClient::add_template`]).
    Ihuyi(IhuyiClient),
    /// ihuyi voice.
    IhuyiVoice(IhuyiVoiceClient),
    /// 10658 MMS (packages: [`MmsClient::create_mms`]).
    Mms10658(MmsClient),
    /// Juxiang (content checks: [`JuxiangClient::check_content`]; inbound replies).
    Juxiang(JuxiangClient),
}

impl ProviderClient {
    /// The client as a sender.
    pub fn sender(&self) -> Arc<dyn MessageSender> {
        match self {
            ProviderClient::Ihuyi(c) => Arc::new(c.clone()),
            ProviderClient::IhuyiVoice(c) => Arc::new(c.clone()),
            ProviderClient::Mms10658(c) => Arc::new(c.clone()),
            ProviderClient::Juxiang(c) => Arc::new(c.clone()),
        }
    }

    /// The client's balance query (every vendor has one).
    pub fn balance_query(&self) -> Arc<dyn BalanceQuery> {
        match self {
            ProviderClient::Ihuyi(c) => Arc::new(c.clone()),
            ProviderClient::IhuyiVoice(c) => Arc::new(c.clone()),
            ProviderClient::Mms10658(c) => Arc::new(c.clone()),
            ProviderClient::Juxiang(c) => Arc::new(c.clone()),
        }
    }

    /// The client's pull source of replies, for vendors that can be pulled (Juxiang); the others
    /// push replies to a webhook.
    pub fn inbound(&self) -> Option<Arc<dyn InboundSource>> {
        match self {
            ProviderClient::Juxiang(c) => Some(Arc::new(c.clone())),
            _ => None,
        }
    }

    /// The ihuyi SMS client, if it is one.
    pub fn as_ihuyi(&self) -> Option<&IhuyiClient> {
        match self {
            ProviderClient::Ihuyi(c) => Some(c),
            _ => None,
        }
    }

    /// The ihuyi voice client, if it is one.
    pub fn as_ihuyi_voice(&self) -> Option<&IhuyiVoiceClient> {
        match self {
            ProviderClient::IhuyiVoice(c) => Some(c),
            _ => None,
        }
    }

    /// The 10658 MMS client, if it is one.
    pub fn as_mms_10658(&self) -> Option<&MmsClient> {
        match self {
            ProviderClient::Mms10658(c) => Some(c),
            _ => None,
        }
    }

    /// The Juxiang client, if it is one.
    pub fn as_juxiang(&self) -> Option<&JuxiangClient> {
        match self {
            ProviderClient::Juxiang(c) => Some(c),
            _ => None,
        }
    }

    fn entry(&self) -> ProviderEntry {
        match self {
            ProviderClient::Ihuyi(c) => ProviderEntry::new(Arc::new(c.clone())),
            ProviderClient::IhuyiVoice(c) => ProviderEntry::new(Arc::new(c.clone())),
            ProviderClient::Mms10658(c) => ProviderEntry::new(Arc::new(c.clone())),
            ProviderClient::Juxiang(c) => ProviderEntry::new(Arc::new(c.clone())),
        }
    }
}

/// One `[providers.NAME]` table, read, validated and built.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderConfig {
    /// The table's name; also the provider's name in receipts, errors, logs and health reports.
    pub name: String,
    /// The vendor.
    pub vendor: Vendor,
    /// Lower is tried earlier (default 0; ties keep the file's order).
    pub priority: u32,
    /// Weight for the `weighted-random` strategy (default 1; 0 = never picked first).
    pub weight: u32,
    /// Whether the chain uses it (default true). A provider kept out of the chain is still built,
    /// for balances, templates and inbound replies.
    pub in_chain: bool,
    /// The price of one billed part (SMS part, voice call, MMS), for cost estimates; in the
    /// account's currency.
    pub price_per_part: Option<f64>,
    /// A balance under this is low (for warnings and the gateway's low-balance event).
    pub low_balance: Option<u64>,
    /// The vendor's own configuration.
    pub settings: ProviderSettings,
    /// The built client.
    pub client: ProviderClient,
}

impl ProviderConfig {
    /// The estimated cost of `parts` billed parts at [`Self::price_per_part`] (`None` without a
    /// price).
    pub fn estimated_cost(&self, parts: u64) -> Option<f64> {
        // Counts of parts are far below 2^52: exact in f64.
        #[allow(clippy::cast_precision_loss)]
        self.price_per_part.map(|price| price * parts as f64)
    }

    /// The chain member for this provider: its client (sending and balance), name, priority and
    /// weight.
    pub fn entry(&self) -> ProviderEntry {
        self.client
            .entry()
            .name(self.name.clone())
            .priority(self.priority)
            .weight(self.weight)
    }
}

/// The vendor a provider table names, or its name if that is a vendor's (`[providers.ihuyi]`).
fn vendor_of(name: &str, table: &Table) -> Option<Vendor> {
    let type_name = match table.get("type").map(|e| &e.node.value) {
        Some(Value::Str(t)) => t.as_str(),
        Some(_) => return None,
        None => name,
    };
    Vendor::ALL.iter().find(|(n, _)| *n == type_name).map(|(_, v)| *v)
}

/// Applies the `SMS_<PROVIDER>_<FIELD>` variables to every provider table.
pub(crate) fn apply_overrides(env: &Env, providers: &mut Node) {
    let Value::Table(providers) = &mut providers.value else {
        return;
    };
    for entry in &mut providers.entries {
        let name = entry.key.clone();
        let Value::Table(table) = &mut entry.node.value else {
            continue;
        };
        let Some(vendor) = vendor_of(&name, table) else {
            continue;
        };
        for field in vendor.string_fields() {
            override_field(env, table, field, &provider_var(&name, field));
        }
    }
}

/// Reads one provider table and builds its client.
pub(crate) fn read(name: &str, mut r: Reader<'_>) -> Result<(ProviderConfig, toml::Table), ConfigError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(r.invalid(
            "",
            format!("provider name {name:?}: use letters, digits, `-` and `_`"),
        ));
    }
    let names: Vec<&str> = Vendor::ALL.iter().map(|(n, _)| *n).collect();
    let vendor = match r.string("type")? {
        Some(_) => {
            let types: Vec<(&'static str, Vendor)> = Vendor::ALL.to_vec();
            r.choice("type", &types, Vendor::Ihuyi, "ihuyi")?
        }
        None => match Vendor::ALL.iter().find(|(n, _)| *n == name) {
            Some((n, v)) => {
                r.put("type", *n);
                *v
            }
            None => {
                return Err(r.error(
                    ConfigErrorKind::MissingKey,
                    "type",
                    format!("missing key `type`: the vendor, one of {}", names.join(", ")),
                ));
            }
        },
    };
    let mut allowed: Vec<&str> = vendor.fields().to_vec();
    allowed.extend_from_slice(&COMMON);
    r.allow_only(&allowed)?;
    // Read first (the vendor configs take it), shown last.
    let (http, shown_http) = read_http(&mut r)?;
    let settings = match vendor {
        Vendor::Ihuyi => {
            let account = r.required_string("account", "the APIID of the account")?;
            let key = r.required_secret("key", "the APIKEY of the account")?;
            let base_url = url_field(&mut r, "base_url", sms_ihuyi::DEFAULT_BASE_URL)?;
            let international = url_field(
                &mut r,
                "international_base_url",
                sms_ihuyi::DEFAULT_INTERNATIONAL_BASE_URL,
            )?;
            let format = format_field(&mut r)?;
            let password_mode = password_field(&mut r)?;
            ProviderSettings::Ihuyi(
                IhuyiConfig::new(account, key)
                    .base_url(base_url)
                    .international_base_url(international)
                    .format(format)
                    .password_mode(password_mode)
                    .http(http)
                    .name(name),
            )
        }
        Vendor::IhuyiVoice => {
            let account = r.required_string("account", "the APIID of the voice account")?;
            let key = r.required_secret("key", "the APIKEY of the voice account")?;
            let base_url = url_field(&mut r, "base_url", sms_ihuyi_voice::DEFAULT_BASE_URL)?;
            let format = format_field(&mut r)?;
            let password_mode = password_field(&mut r)?;
            ProviderSettings::IhuyiVoice(
                IhuyiVoiceConfig::new(account, key)
                    .base_url(base_url)
                    .format(format)
                    .password_mode(password_mode)
                    .http(http)
                    .name(name),
            )
        }
        Vendor::Mms10658 => {
            let account = r.required_string("account", "the MMS account")?;
            let key = r.required_secret("key", "the API key of the MMS account")?;
            let base_url = url_field(&mut r, "base_url", sms_10658_mms::DEFAULT_BASE_URL)?;
            let batch_size = r.usize_or("batch_size", sms_10658_mms::DEFAULT_BATCH_SIZE, 1)?;
            ProviderSettings::Mms10658(
                MmsConfig::new(account, key)
                    .base_url(base_url)
                    .batch_size(batch_size)
                    .http(http)
                    .name(name),
            )
        }
        Vendor::Juxiang => {
            let login = r.required_string("login", "the enterprise login (the API's `name`)")?;
            let password = r.required_secret("password", "the enterprise password")?;
            let base_url = url_field(&mut r, "base_url", sms_juxiang::DEFAULT_BASE_URL)?;
            let long_sms = r.bool_or("long_sms", false)?;
            let mut config = JuxiangConfig::new(login, password)
                .base_url(base_url)
                .long_sms(long_sms)
                .http(http)
                .name(name);
            if let Some(extension) = r.string("sender_extension")? {
                let ok = (1..=8).contains(&extension.len()) && extension.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(r.invalid("sender_extension", "must be 1 to 8 digits"));
                }
                config = config.sender_extension(extension);
            }
            ProviderSettings::Juxiang(config)
        }
    };
    let priority = r.u32_or("priority", 0, 0)?;
    let weight = r.u32_or("weight", 1, 0)?;
    let in_chain = r.bool_or("in_chain", true)?;
    let price_per_part = r.opt_amount("price_per_part")?;
    let low_balance = r.opt_u64("low_balance", 0)?;
    r.put("http", shown_http);
    let built = match &settings {
        ProviderSettings::Ihuyi(c) => IhuyiClient::new(c.clone()).map(ProviderClient::Ihuyi),
        ProviderSettings::IhuyiVoice(c) => IhuyiVoiceClient::new(c.clone()).map(ProviderClient::IhuyiVoice),
        ProviderSettings::Mms10658(c) => MmsClient::new(c.clone()).map(ProviderClient::Mms10658),
        ProviderSettings::Juxiang(c) => JuxiangClient::new(c.clone()).map(ProviderClient::Juxiang),
    };
    // Everything the clients check is checked above with its place; this catches the rest.
    let client = built.map_err(|e| r.invalid("", e.to_string()))?;
    let config = ProviderConfig {
        name: name.to_owned(),
        vendor,
        priority,
        weight,
        in_chain,
        price_per_part,
        low_balance,
        settings,
        client,
    };
    Ok((config, r.finish()))
}

fn url_field(r: &mut Reader<'_>, key: &str, default: &str) -> Result<String, ConfigError> {
    let value = r.string_or(key, default)?;
    check_http_url(&value).map_err(|m| r.invalid(key, m))?;
    Ok(value)
}

/// An absolute `http`/`https` URL with a host and no credentials.
pub(crate) fn check_http_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim())
        .map_err(|e| format!("not a URL ({e}): expected an absolute http:// or https:// URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("expected an absolute http:// or https:// URL with a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials do not belong in the URL: use the account fields".to_owned());
    }
    Ok(url)
}

fn format_field(r: &mut Reader<'_>) -> Result<ResponseFormat, ConfigError> {
    r.choice(
        "format",
        &[("xml", ResponseFormat::Xml), ("json", ResponseFormat::Json)],
        ResponseFormat::Xml,
        "xml",
    )
}

fn password_field(r: &mut Reader<'_>) -> Result<PasswordMode, ConfigError> {
    r.choice(
        "password_mode",
        &[("dynamic", PasswordMode::Dynamic), ("plain", PasswordMode::Plain)],
        PasswordMode::Dynamic,
        "dynamic",
    )
}

fn read_http(r: &mut Reader<'_>) -> Result<(HttpConfig, toml::Table), ConfigError> {
    let defaults = HttpConfig::default();
    let Some(mut h) = r.table("http")? else {
        let shown = render_http(&defaults);
        return Ok((defaults, shown));
    };
    h.allow_only(&HTTP_KEYS)?;
    let connect_timeout = h.duration_or("connect_timeout", defaults.connect_timeout, true)?;
    let request_timeout = h.duration_or("request_timeout", defaults.request_timeout, true)?;
    let pool_idle_timeout = h.duration_or("pool_idle_timeout", defaults.pool_idle_timeout, false)?;
    if pool_idle_timeout > MAX_POOL_IDLE {
        return Err(h.invalid(
            "pool_idle_timeout",
            format!(
                "must be under 60 s (at most {MAX_POOL_IDLE:?}): providers close idle connections around then"
            ),
        ));
    }
    let user_agent = h.string_or("user_agent", &defaults.user_agent)?;
    let body_cap = h.usize_or("body_cap", defaults.body_cap, 1)?;
    let unprocessed_statuses = match h.array("unprocessed_statuses")? {
        None => defaults.unprocessed_statuses.clone(),
        Some(items) => {
            let mut statuses = Vec::new();
            for item in items {
                match item.value {
                    Value::Int(s) if (500..600).contains(&s) => {
                        statuses.push(u16::try_from(s).unwrap_or(503))
                    }
                    _ => {
                        return Err(h.invalid(
                            "unprocessed_statuses",
                            "lists HTTP 5xx statuses only (integers 500 to 599)",
                        ));
                    }
                }
            }
            statuses
        }
    };
    let http = HttpConfig {
        connect_timeout,
        request_timeout,
        pool_idle_timeout,
        user_agent,
        body_cap,
        unprocessed_statuses,
    };
    let shown = render_http(&http);
    Ok((http, shown))
}

fn render_http(http: &HttpConfig) -> toml::Table {
    let d = |d: Duration| toml::Value::from(crate::reader::format_duration(d));
    let mut t = toml::Table::new();
    t.insert("connect_timeout".into(), d(http.connect_timeout));
    t.insert("request_timeout".into(), d(http.request_timeout));
    t.insert("pool_idle_timeout".into(), d(http.pool_idle_timeout));
    t.insert("user_agent".into(), http.user_agent.clone().into());
    t.insert(
        "body_cap".into(),
        i64::try_from(http.body_cap).unwrap_or(i64::MAX).into(),
    );
    t.insert(
        "unprocessed_statuses".into(),
        toml::Value::Array(
            http.unprocessed_statuses
                .iter()
                .map(|s| i64::from(*s).into())
                .collect(),
        ),
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names a type's `Deserialize` asks for (a deserializer that only listens).
    fn fields_of<T: for<'de> serde::Deserialize<'de>>() -> Vec<&'static str> {
        struct Listener<'a>(&'a mut Vec<&'static str>);
        #[derive(Debug)]
        struct Stop;
        impl std::fmt::Display for Stop {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("stop")
            }
        }
        impl std::error::Error for Stop {}
        impl serde::de::Error for Stop {
            fn custom<M: std::fmt::Display>(_: M) -> Self {
                Stop
            }
        }
        impl<'de> serde::Deserializer<'de> for Listener<'_> {
            type Error = Stop;
            fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
                Err(Stop)
            }
            fn deserialize_struct<V: serde::de::Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Stop> {
                self.0.extend_from_slice(fields);
                Err(Stop)
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
                option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
                ignored_any
            }
        }
        let mut fields = Vec::new();
        let _ = T::deserialize(Listener(&mut fields));
        fields.sort_unstable();
        fields
    }

    /// This file reads exactly the fields each vendor's own configuration has (its `name` is the
    /// table's name): a field added to a provider crate fails this test until it can be set here.
    #[test]
    fn every_vendor_field_can_be_set() {
        let expected = |vendor: Vendor| {
            let mut fields = vendor.fields().to_vec();
            fields.extend(["http", "name"]);
            fields.sort_unstable();
            fields
        };
        assert_eq!(fields_of::<IhuyiConfig>(), expected(Vendor::Ihuyi));
        assert_eq!(fields_of::<IhuyiVoiceConfig>(), expected(Vendor::IhuyiVoice));
        assert_eq!(fields_of::<MmsConfig>(), expected(Vendor::Mms10658));
        assert_eq!(fields_of::<JuxiangConfig>(), expected(Vendor::Juxiang));
        let mut http = HTTP_KEYS.to_vec();
        http.sort_unstable();
        assert_eq!(fields_of::<HttpConfig>(), http);
        for (_, vendor) in Vendor::ALL {
            for field in vendor.string_fields() {
                assert!(vendor.fields().contains(field), "{field}");
            }
        }
    }
}
