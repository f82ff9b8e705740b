//! Client configuration, from code or from a config file (serde).

use serde::Deserialize;
use sms_core::HttpConfig;
use sms_core::Secret;
use sms_ihuyi::{PasswordMode, ResponseFormat};

/// The default base URL of the voice API.
pub const DEFAULT_BASE_URL: &str = "https://api.voice.ihuyi.com";
/// The default provider name.
pub const DEFAULT_NAME: &str = "ihuyi-voice";

/// Configuration of an [`crate::IhuyiVoiceClient`]: the shape of [`sms_ihuyi::IhuyiConfig`] with
/// one base URL.
///
/// `Debug` prints the key as `[redacted]`. From a config file:
///
/// ```
/// # use sms_ihuyi_voice::IhuyiVoiceConfig;
/// let config: IhuyiVoiceConfig = serde_json::from_str(r#"{
///     "account": "VM12345678", "key": "0123456789abcdef", "format": "json", "password_mode": "dynamic"
/// }"#)?;
/// assert!(!format!("{config:?}").contains("0123456789abcdef"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IhuyiVoiceConfig {
    pub(crate) account: String,
    pub(crate) key: Secret,
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
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

fn default_name() -> String {
    DEFAULT_NAME.to_owned()
}

impl IhuyiVoiceConfig {
    /// A voice account (APIID) and its API key, with every default: the public base URL, XML
    /// answers, dynamic password, default timeouts, name `ihuyi-voice`.
    pub fn new(account: impl Into<String>, key: impl Into<Secret>) -> Self {
        Self {
            account: account.into(),
            key: key.into(),
            base_url: default_base_url(),
            format: ResponseFormat::default(),
            password_mode: PasswordMode::default(),
            http: HttpConfig::default(),
            name: default_name(),
        }
    }

    /// The API's base URL (default [`DEFAULT_BASE_URL`]); `/webservice/voice.php` is appended.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
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

    /// The provider name used in receipts, errors and logs (default `ihuyi-voice`).
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
        let config = IhuyiVoiceConfig::new("VM1", "very-secret-voice-key");
        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains("very-secret-voice-key"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn deserialises_with_defaults_and_rejects_unknown_fields() {
        let config: IhuyiVoiceConfig = serde_json::from_str(r#"{"account":"VM1","key":"k"}"#).unwrap();
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        assert_eq!(config.name, DEFAULT_NAME);
        assert_eq!(config.format, ResponseFormat::Xml);
        assert_eq!(config.password_mode, PasswordMode::Dynamic);
        let config: IhuyiVoiceConfig = serde_json::from_str(
            r#"{"account":"VM1","key":"k","base_url":"http://127.0.0.1:1","format":"json",
                "password_mode":"plain","name":"voice-2","http":{"request_timeout":"3s"}}"#,
        )
        .unwrap();
        assert_eq!(config.base_url, "http://127.0.0.1:1");
        assert_eq!(
            (config.format, config.password_mode),
            (ResponseFormat::Json, PasswordMode::Plain)
        );
        assert_eq!(config.name, "voice-2");
        assert_eq!(config.http.request_timeout, std::time::Duration::from_secs(3));
        let unknown = serde_json::from_str::<IhuyiVoiceConfig>(
            r#"{"account":"VM1","key":"k","international_base_url":"x"}"#,
        );
        assert!(unknown.is_err(), "the voice API has no international endpoint");
    }
}
