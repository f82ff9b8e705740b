//! Products, accounts and the whole sandbox configuration (builder values or a TOML file).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// Account name of every default account (ihuyi SMS, international, voice, MMS and Juxiang).
pub const DEFAULT_ACCOUNT: &str = "sandbox";
/// API key of the default ihuyi SMS, international, voice and MMS accounts.
pub const DEFAULT_KEY: &str = "sandbox-key";
/// Password of the default Juxiang account.
pub const DEFAULT_JUXIANG_PASSWORD: &str = "sandbox-pwd";
/// Product id (`pid`) that every MMS account accepts unless configured otherwise.
pub const DEFAULT_MMS_PRODUCT_ID: &str = "1";
/// Id of the stored MMS package that every MMS account owns unless configured otherwise.
pub const DEFAULT_MMS_PACKAGE_ID: &str = "1000";
/// Juxiang service code (the enterprise's sending number before any `sender` extension) of an account
/// that does not set one: the provider documentation's example.
pub const DEFAULT_JUXIANG_SERVICE_CODE: &str = "0888008";
/// Starting balance of an account that does not set one.
pub const DEFAULT_BALANCE: i64 = 10_000;
/// Words every account rejects as sensitive, on top of its own `sensitive_words`.
pub const BUILTIN_SENSITIVE_WORDS: &[&str] = &["代开发票", "六合彩", "博彩", "枪支"];

/// One of the simulated provider APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    /// ihuyi mainland SMS, `/webservice/sms.php`.
    IhuyiSms,
    /// ihuyi international SMS, `/webservice/isms.php`.
    IhuyiInternational,
    /// ihuyi voice verification codes, `/webservice/voice.php`.
    IhuyiVoice,
    /// 10658.cc MMS, `/webservice/api`.
    Mms,
    /// Juxiang enterprise SMS (GBK), `/send/*.asp`.
    Juxiang,
}

impl Product {
    /// Every product, in a fixed order.
    pub const ALL: [Product; 5] = [
        Product::IhuyiSms,
        Product::IhuyiInternational,
        Product::IhuyiVoice,
        Product::Mms,
        Product::Juxiang,
    ];

    /// The product's name as used in TOML and in the control API (`ihuyi_sms`, `mms`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Product::IhuyiSms => "ihuyi_sms",
            Product::IhuyiInternational => "ihuyi_international",
            Product::IhuyiVoice => "ihuyi_voice",
            Product::Mms => "mms",
            Product::Juxiang => "juxiang",
        }
    }

    /// The path the product is served under. For Juxiang it is the directory of its `.asp` pages
    /// (`/send/`), so that `base_url() + path()` is what a client takes as its base URL.
    pub fn path(self) -> &'static str {
        match self {
            Product::IhuyiSms => "/webservice/sms.php",
            Product::IhuyiInternational => "/webservice/isms.php",
            Product::IhuyiVoice => "/webservice/voice.php",
            Product::Mms => "/webservice/api",
            Product::Juxiang => "/send/",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Product::IhuyiSms => 0,
            Product::IhuyiInternational => 1,
            Product::IhuyiVoice => 2,
            Product::Mms => 3,
            Product::Juxiang => 4,
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One simulated customer account of a product.
///
/// For ihuyi and MMS `key` is the API key; for Juxiang it is the password. Limits set to 0 are
/// switched off. The key never appears in `Debug` output.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    #[serde(alias = "name")]
    pub(crate) account: String,
    #[serde(alias = "password")]
    pub(crate) key: String,
    #[serde(default = "default_balance")]
    pub(crate) balance: i64,
    #[serde(default)]
    pub(crate) frozen: bool,
    #[serde(default)]
    pub(crate) allowed_ips: Vec<IpAddr>,
    #[serde(default)]
    pub(crate) sensitive_words: Vec<String>,
    #[serde(default)]
    pub(crate) blacklist: Vec<String>,
    #[serde(default = "one")]
    pub(crate) per_second_limit: u32,
    #[serde(default = "five")]
    pub(crate) per_day_limit: u32,
    #[serde(default = "five")]
    pub(crate) per_day_code_limit: u32,
    #[serde(default = "default_mms_product_ids")]
    pub(crate) mms_product_ids: Vec<String>,
    #[serde(default = "default_mms_packages")]
    pub(crate) mms_packages: Vec<String>,
    #[serde(default = "default_short_name")]
    pub(crate) short_name: String,
    #[serde(default = "yes")]
    pub(crate) long_sms: bool,
    #[serde(default = "default_service_code")]
    pub(crate) service_code: String,
}

fn default_balance() -> i64 {
    DEFAULT_BALANCE
}
fn one() -> u32 {
    1
}
fn five() -> u32 {
    5
}
fn yes() -> bool {
    true
}
fn default_mms_product_ids() -> Vec<String> {
    vec![DEFAULT_MMS_PRODUCT_ID.to_owned()]
}
fn default_mms_packages() -> Vec<String> {
    vec![DEFAULT_MMS_PACKAGE_ID.to_owned()]
}
fn default_service_code() -> String {
    DEFAULT_JUXIANG_SERVICE_CODE.to_owned()
}
fn default_short_name() -> String {
    "沙箱".to_owned()
}

impl Account {
    /// An account with the given name and key (the password for Juxiang), a balance of
    /// [`DEFAULT_BALANCE`], not frozen, any source IP, the providers' usual per-number limits (1 per
    /// second, 5 per day, 5 verification codes per day), MMS product id [`DEFAULT_MMS_PRODUCT_ID`]
    /// and MMS package [`DEFAULT_MMS_PACKAGE_ID`].
    pub fn new(account: impl Into<String>, key: impl Into<String>) -> Self {
        Account {
            account: account.into(),
            key: key.into(),
            balance: DEFAULT_BALANCE,
            frozen: false,
            allowed_ips: Vec::new(),
            sensitive_words: Vec::new(),
            blacklist: Vec::new(),
            per_second_limit: 1,
            per_day_limit: 5,
            per_day_code_limit: 5,
            mms_product_ids: default_mms_product_ids(),
            mms_packages: default_mms_packages(),
            short_name: default_short_name(),
            long_sms: true,
            service_code: default_service_code(),
        }
    }

    /// The default account of `product` (see the crate constants).
    pub fn default_for(product: Product) -> Self {
        match product {
            Product::Juxiang => Account::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD),
            _ => Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY),
        }
    }

    /// Starting balance in billed parts (messages); `reset` restores it.
    pub fn balance(mut self, balance: i64) -> Self {
        self.balance = balance;
        self
    }

    /// A frozen account is refused with 4050 (ihuyi, MMS) or 6002 (Juxiang).
    pub fn frozen(mut self, frozen: bool) -> Self {
        self.frozen = frozen;
        self
    }

    /// Source IPs the account may be used from; empty (the default) allows any.
    pub fn allowed_ips(mut self, ips: impl IntoIterator<Item = IpAddr>) -> Self {
        self.allowed_ips = ips.into_iter().collect();
        self
    }

    /// Extra sensitive words, on top of [`BUILTIN_SENSITIVE_WORDS`].
    pub fn sensitive_words<S: Into<String>>(mut self, words: impl IntoIterator<Item = S>) -> Self {
        self.sensitive_words = words.into_iter().map(Into::into).collect();
        self
    }

    /// Numbers on the provider's blacklist (4030, MMS 409, Juxiang 6009), written as the client
    /// sends them (`"1 2025550123"` for international SMS).
    pub fn blacklist<S: Into<String>>(mut self, numbers: impl IntoIterator<Item = S>) -> Self {
        self.blacklist = numbers.into_iter().map(Into::into).collect();
        self
    }

    /// Accepted messages per number within one second (ihuyi SMS and international, 4080); 0 = no
    /// limit. Default 1.
    pub fn per_second_limit(mut self, limit: u32) -> Self {
        self.per_second_limit = limit;
        self
    }

    /// Accepted messages per number per day (ihuyi SMS and international, 4082); 0 = no limit.
    /// Default 5.
    pub fn per_day_limit(mut self, limit: u32) -> Self {
        self.per_day_limit = limit;
        self
    }

    /// Accepted verification-code messages (text containing `验证码`) per number per day (4085);
    /// 0 = no limit. Default 5.
    pub fn per_day_code_limit(mut self, limit: u32) -> Self {
        self.per_day_code_limit = limit;
        self
    }

    /// MMS product ids (`pid`) the account may use; a different one gives 4060.
    pub fn mms_product_ids<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.mms_product_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// MMS packages the account already has stored (usable as `mmsid` in SendMms).
    pub fn mms_packages<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.mms_packages = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Juxiang enterprise short name returned by `getfee.asp` (`short`).
    pub fn short_name(mut self, name: impl Into<String>) -> Self {
        self.short_name = name.into();
        self
    }

    /// Whether Juxiang long SMS (`txt=ccdx`, up to 240 characters) is enabled. Default true.
    pub fn long_sms(mut self, enabled: bool) -> Self {
        self.long_sms = enabled;
        self
    }

    /// Juxiang service code: the sending number that a `sender` extension is appended to. Default
    /// [`DEFAULT_JUXIANG_SERVICE_CODE`] (7 digits). As the provider documents, an extension has at most
    /// 8 digits and the code plus the extension stay under 17 digits; otherwise `6021`.
    pub fn service_code(mut self, code: impl Into<String>) -> Self {
        self.service_code = code.into();
        self
    }

    /// The account name (the ihuyi APIID, the Juxiang `name`).
    pub fn name(&self) -> &str {
        &self.account
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("account", &self.account)
            .field("key", &"<redacted>")
            .field("balance", &self.balance)
            .field("frozen", &self.frozen)
            .field("allowed_ips", &self.allowed_ips)
            .field("sensitive_words", &self.sensitive_words)
            .field("blacklist", &self.blacklist)
            .field("per_second_limit", &self.per_second_limit)
            .field("per_day_limit", &self.per_day_limit)
            .field("per_day_code_limit", &self.per_day_code_limit)
            .field("mms_product_ids", &self.mms_product_ids)
            .field("mms_packages", &self.mms_packages)
            .field("short_name", &self.short_name)
            .field("long_sms", &self.long_sms)
            .field("service_code", &self.service_code)
            .finish()
    }
}

/// An account entry of the TOML file: an [`Account`] plus the product it belongs to.
#[derive(Debug, Clone, Deserialize)]
struct AccountEntry {
    product: Product,
    #[serde(flatten)]
    account: Account,
}

/// The whole sandbox configuration, from a builder or a TOML file.
///
/// ```toml
/// receipt_url = "http://127.0.0.1:9999/receipts"   # ihuyi delivery receipts; none if absent
/// receipt_delay_ms = 50
/// undelivered_ratio = 0.1
/// push_retries = 2
/// header_read_timeout_ms = 30000                   # idle or half-sent connections are closed after it
/// max_connections = 512                             # more connections wait until one closes
///
/// [upstream]                                        # handset reply pushes, per product
/// juxiang = "http://127.0.0.1:9999/mo"
///
/// [[accounts]]
/// product = "ihuyi_sms"       # ihuyi_sms, ihuyi_international, ihuyi_voice, mms, juxiang
/// account = "acct"            # or `name`
/// key = "secret"              # or `password`
/// balance = 100
/// frozen = false
/// allowed_ips = ["127.0.0.1"]
/// sensitive_words = ["赌博"]
/// blacklist = ["13800000000"]
/// per_second_limit = 1        # 0 = no limit
/// per_day_limit = 5
/// per_day_code_limit = 5
/// ```
///
/// A product without any configured account gets its default account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    #[serde(default, rename = "accounts")]
    entries: Vec<AccountEntry>,
    #[serde(default)]
    pub(crate) receipt_url: Option<String>,
    #[serde(default = "default_receipt_delay_ms")]
    receipt_delay_ms: u64,
    #[serde(default)]
    pub(crate) undelivered_ratio: f64,
    #[serde(default = "default_push_retries")]
    pub(crate) push_retries: u32,
    #[serde(default)]
    pub(crate) upstream: BTreeMap<Product, String>,
    #[serde(default = "default_max_body_bytes")]
    pub(crate) max_body_bytes: usize,
    #[serde(default = "default_max_recorded_messages")]
    pub(crate) max_recorded_messages: usize,
    #[serde(default = "default_header_read_timeout_ms")]
    header_read_timeout_ms: u64,
    #[serde(default = "default_max_connections")]
    pub(crate) max_connections: usize,
}

fn default_receipt_delay_ms() -> u64 {
    1000
}
fn default_push_retries() -> u32 {
    2
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_max_recorded_messages() -> usize {
    100_000
}
fn default_header_read_timeout_ms() -> u64 {
    30_000
}
fn default_max_connections() -> usize {
    512
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            entries: Vec::new(),
            receipt_url: None,
            receipt_delay_ms: default_receipt_delay_ms(),
            undelivered_ratio: 0.0,
            push_retries: default_push_retries(),
            upstream: BTreeMap::new(),
            max_body_bytes: default_max_body_bytes(),
            max_recorded_messages: default_max_recorded_messages(),
            header_read_timeout_ms: default_header_read_timeout_ms(),
            max_connections: default_max_connections(),
        }
    }
}

impl SandboxConfig {
    /// Parses a TOML configuration. Errors: [`SandboxError::Config`] on a syntax error, an unknown
    /// key or a value out of range.
    pub fn from_toml_str(text: &str) -> Result<Self, SandboxError> {
        let config: SandboxConfig = toml::from_str(text).map_err(|e| SandboxError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file. Errors: [`SandboxError::Config`] when it cannot be read or
    /// parsed.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SandboxError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SandboxError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml_str(&text)
    }

    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        if !(0.0..=1.0).contains(&self.undelivered_ratio) {
            return Err(SandboxError::Config(
                "undelivered_ratio must be between 0 and 1".into(),
            ));
        }
        if self.header_read_timeout_ms == 0 {
            return Err(SandboxError::Config(
                "header_read_timeout_ms must be more than 0".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(SandboxError::Config("max_connections must be at least 1".into()));
        }
        for (i, a) in self.entries.iter().enumerate() {
            if self.entries[..i]
                .iter()
                .any(|b| b.product == a.product && b.account.account == a.account.account)
            {
                return Err(SandboxError::Config(format!(
                    "account {:?} is configured twice for {}",
                    a.account.account, a.product
                )));
            }
        }
        Ok(())
    }

    /// Adds (or replaces, by name) an account of `product`.
    pub fn add_account(&mut self, product: Product, account: Account) {
        self.entries
            .retain(|e| !(e.product == product && e.account.account == account.account));
        self.entries.push(AccountEntry { product, account });
    }

    /// The accounts in effect: the configured ones, plus the default account of every product that
    /// has none configured.
    pub fn accounts(&self) -> Vec<(Product, Account)> {
        let mut out: Vec<(Product, Account)> = self
            .entries
            .iter()
            .map(|e| (e.product, e.account.clone()))
            .collect();
        for product in Product::ALL {
            if !self.entries.iter().any(|e| e.product == product) {
                out.push((product, Account::default_for(product)));
            }
        }
        out.sort_by_key(|(p, _)| *p);
        out
    }

    /// Where ihuyi delivery receipts are POSTed (none when unset).
    pub fn set_receipt_url(&mut self, url: impl Into<String>) {
        self.receipt_url = Some(url.into());
    }

    /// How long after an accepted message its receipt is pushed.
    pub fn receipt_delay(&self) -> Duration {
        Duration::from_millis(self.receipt_delay_ms)
    }

    /// Sets the delay before a receipt is pushed (millisecond resolution).
    pub fn set_receipt_delay(&mut self, delay: Duration) {
        self.receipt_delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    }

    /// Sets the share (0.0 to 1.0) of messages whose receipt says undelivered.
    pub fn set_undelivered_ratio(&mut self, ratio: f64) {
        self.undelivered_ratio = ratio;
    }

    /// Sets how many times a failed push is retried (after the first attempt).
    pub fn set_push_retries(&mut self, retries: u32) {
        self.push_retries = retries;
    }

    /// Sets the URL that handset replies of `product` are pushed to.
    pub fn set_upstream_url(&mut self, product: Product, url: impl Into<String>) {
        self.upstream.insert(product, url.into());
    }

    /// Sets the request body cap in bytes (larger bodies get HTTP 413). Default 1 MiB.
    pub fn set_max_body_bytes(&mut self, bytes: usize) {
        self.max_body_bytes = bytes;
    }

    /// How long a connection may take to send a request's headers, counted from the end of the
    /// previous answer on a keep-alive connection (so it also closes idle connections). Wall-clock
    /// time, not a paused Tokio clock.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// Sets the header-read timeout (millisecond resolution, at least 1 ms). Default 30 s.
    pub fn set_header_read_timeout(&mut self, timeout: Duration) {
        self.header_read_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    }

    /// Sets how many connections are served at once (at least 1). Beyond it, new connections wait
    /// in the listen backlog until one closes. Default 512.
    pub fn set_max_connections(&mut self, count: usize) {
        self.max_connections = count;
    }

    /// Sets how many accepted messages are kept for [`crate::Sandbox::messages`] (oldest dropped
    /// first). Default 100 000.
    pub fn set_max_recorded_messages(&mut self, count: usize) {
        self.max_recorded_messages = count;
    }
}
