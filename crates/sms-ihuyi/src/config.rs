//! Client configuration, from code or from a config file (serde).

use serde::Deserialize;
use sms_core::HttpConfig;
use sms_core::Secret;

use crate::raw::{PasswordMode, ResponseFormat};

/// The default base URL of the mainland SMS API.
pub const DEFAULT_BASE_URL: &str = "https://106.ihuyi.com";
/// The default base URL of the international SMS API.
pub const DEFAULT_INTERNATIONAL_BASE_URL: &str = "https://api.isms.ihuyi.com";
/// The default provider name.
pub const DEFAULT_NAME: &str = "ihuyi";

/// Configuration of an [`crate::IhuyiClient`].
///
/// `Debug` prints the key as `[redacted]`. From a config file (every field but `account` and `key`
/// optional; durations as seconds or `"250ms"`, `"5s"`):
///
/// ```
/// # use sms_ihuyi::IhuyiConfig;
/// let config: IhuyiConfig = toml::from_str(r#"
///     account = "C12345678"
///     key = "0123456789abcdef"
///     format = "json"             # or "xml" (default)
///     password_mode = "dynamic"   # or "plain"
///     name = "ihuyi-backup"
///     [http]
///     request_timeout = "10s"
/// "#)?;
/// assert!(!format!("{config:?}").contains("0123456789abcdef"));
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IhuyiConfig {
    pub(crate) account: String,
    pub(crate) key: Secret,
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
    #[serde(default = "default_international_base_url")]
    pub(crate) international_base_url: String,
    #[serde(default)]
    pub(crate) format: ResponseFormat,
    #[serde(default)]
    pub(crate) password_mode: PasswordMode,
    #[serde(default)]
    pub(crate) http: HttpConfig,
    #[serde(default = "default_name")]
    pub(crate) name: String,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_international_base_url() -> String {
    DEFAULT_INTERNATIONAL_BASE_URL.to_owned()
}

fn default_name() -> String {
    DEFAULT_NAME.to_owned()
}

impl IhuyiConfig {
    /// An account (APIID) and its API key, with every default: the public base URLs, XML answers,
    /// dynamic password, default timeouts, name `ihuyi`.
    pub fn new(account: impl Into<String>, key: impl Into<Secret>) -> Self {
        Self {
            account: account.into(),
            key: key.into(),
            base_url: default_base_url(),
            international_base_url: default_international_base_url(),
            format: ResponseFormat::default(),
            password_mode: PasswordMode::default(),
            http: HttpConfig::default(),
            name: default_name(),
        }
    }

    /// The mainland API's base URL (default [`DEFAULT_BASE_URL`]); `/webservice/sms.php` is appended.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The international API's base URL (default [`DEFAULT_INTERNATIONAL_BASE_URL`]);
    /// `/webservice/isms.php` is appended.
    #[must_use]
    pub fn international_base_url(mut self, url: impl Into<String>) -> Self {
        self.international_base_url = url.into();
        self
    }

    /// The answer format to request (default XML).
    #[must_use]
    pub fn format(mut self, format: ResponseFormat) -> Self {
        self.format = format;
        self
    }

    /// Dynamic (default) or plain password.
    #[must_use]
    pub fn password_mode(mut self, mode: PasswordMode) -> Self {
        self.password_mode = mode;
        self
    }

    /// Timeouts, user agent and body cap.
    #[must_use]
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// The provider name used in receipts, errors and logs (default `ihuyi`), to tell two accounts
    /// apart in a failover chain.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let config = IhuyiConfig::new("C1", "very-secret-key-1");
        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains("very-secret-key-1"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn deserialises_with_defaults() {
        let config: IhuyiConfig = toml::from_str("account = \"C1\"\nkey = \"k\"").unwrap();
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        assert_eq!(config.international_base_url, DEFAULT_INTERNATIONAL_BASE_URL);
        assert_eq!(config.format, ResponseFormat::Xml);
        assert_eq!(config.password_mode, PasswordMode::Dynamic);
        assert_eq!(config.name, "ihuyi");
        assert_eq!(config.http, HttpConfig::default());
        assert_eq!(config.key.expose(), "k");
    }

    #[test]
    fn deserialises_every_field_and_rejects_unknown_ones() {
        let config: IhuyiConfig = toml::from_str(
            r#"
            account = "C1"
            key = "k"
            base_url = "http://127.0.0.1:1"
            international_base_url = "http://127.0.0.1:2"
            format = "json"
            password_mode = "plain"
            name = "ihuyi-backup"
            [http]
            request_timeout = "2s"
            "#,
        )
        .unwrap();
        assert_eq!(config.base_url, "http://127.0.0.1:1");
        assert_eq!(config.international_base_url, "http://127.0.0.1:2");
        assert_eq!(config.format, ResponseFormat::Json);
        assert_eq!(config.password_mode, PasswordMode::Plain);
        assert_eq!(config.name, "ihuyi-backup");
        assert_eq!(config.http.request_timeout, std::time::Duration::from_secs(2));
        let typo = toml::from_str::<IhuyiConfig>("account = \"C1\"\nkey = \"k\"\nbase_ulr = \"x\"");
        assert!(typo.is_err());
        let missing_key = toml::from_str::<IhuyiConfig>("account = \"C1\"");
        assert!(missing_key.is_err());
    }
}
