//! Client configuration: the account, the API key (a [`Secret`]), the base URL, the batch size and
//! HTTP settings.

use sms_core::HttpConfig;
use sms_core::Secret;

/// The provider's documented base URL.
pub const DEFAULT_BASE_URL: &str = "http://10658.cc";

/// The provider name used in receipts and errors unless [`MmsConfig::name`] sets another.
pub const DEFAULT_NAME: &str = "10658-mms";

/// Numbers per SendMms request unless [`MmsConfig::batch_size`] sets another.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// Configuration of a [`crate::MmsClient`].
///
/// Build it in code with [`MmsConfig::new`] and the setters, or deserialise it:
///
/// ```toml
/// account = "my-account"
/// key = "…"                      # kept in a Secret: never printed
/// base_url = "http://10658.cc"   # optional
/// batch_size = 100               # optional: numbers per SendMms request
/// name = "10658-mms"             # optional: provider name in receipts and errors
/// [http]                         # optional: sms_core::HttpConfig
/// request_timeout = "30s"
/// ```
///
/// `Debug` never shows the key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MmsConfig {
    pub(crate) account: String,
    pub(crate) key: Secret,
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
    #[serde(default = "default_batch_size")]
    pub(crate) batch_size: usize,
    #[serde(default)]
    pub(crate) http: HttpConfig,
    #[serde(default = "default_name")]
    pub(crate) name: String,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}

fn default_name() -> String {
    DEFAULT_NAME.to_owned()
}

impl MmsConfig {
    /// A configuration for `account` and its API key, with the documented base URL, batches of
    /// [`DEFAULT_BATCH_SIZE`] numbers, default HTTP timeouts and the provider name `"10658-mms"`.
    pub fn new(account: impl Into<String>, key: impl Into<Secret>) -> Self {
        Self {
            account: account.into(),
            key: key.into(),
            base_url: default_base_url(),
            batch_size: DEFAULT_BATCH_SIZE,
            http: HttpConfig::default(),
            name: default_name(),
        }
    }

    /// Sets the base URL (scheme and host; `/webservice/api` is appended).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets how many numbers one SendMms request carries; larger sends are split.
    #[must_use]
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// Sets the HTTP timeouts, user agent and body cap. Package uploads can be a few hundred KiB:
    /// allow for them in `request_timeout`.
    #[must_use]
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Sets the provider name used in receipts and errors.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}
