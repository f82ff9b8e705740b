//! Client configuration: the enterprise login, the password (a [`Secret`]), the base URL and the
//! account's settings.

use sms_core::HttpConfig;
use sms_core::Secret;

/// The base URL Juxiang documents. The provider reserves the right to move it, so it is only a
/// default: set [`JuxiangConfig::base_url`] when they do.
pub const DEFAULT_BASE_URL: &str = "http://203.81.21.34/send/";

/// The provider name used in receipts and errors unless [`JuxiangConfig::name`] sets another.
pub const DEFAULT_NAME: &str = "juxiang";

/// Configuration of a [`crate::JuxiangClient`].
///
/// Build it in code with [`JuxiangConfig::new`] and the setters, or deserialise it (TOML, JSON, …):
///
/// ```toml
/// login = "my-enterprise"        # the `name` parameter of the URL API
/// password = "…"                 # kept in a Secret: never printed
/// base_url = "http://203.81.21.34/send/"   # optional
/// long_sms = true                # optional: the account has long SMS (txt=ccdx) enabled
/// sender_extension = "01"        # optional: digits appended to the service number
/// name = "juxiang"               # optional: provider name in receipts and errors
/// [http]                         # optional: sms_core::HttpConfig
/// request_timeout = "10s"
/// ```
///
/// `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JuxiangConfig {
    pub(crate) login: String,
    pub(crate) password: Secret,
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
    #[serde(default)]
    pub(crate) long_sms: bool,
    #[serde(default)]
    pub(crate) sender_extension: Option<String>,
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

impl JuxiangConfig {
    /// A configuration for the enterprise `login` (the API's `name` parameter) and its password,
    /// with the documented base URL, long SMS off, no sender extension, default HTTP timeouts and the
    /// provider name `"juxiang"`.
    pub fn new(login: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self {
            login: login.into(),
            password: password.into(),
            base_url: default_base_url(),
            long_sms: false,
            sender_extension: None,
            http: HttpConfig::default(),
            name: default_name(),
        }
    }

    /// Sets the base URL, the directory that holds `gsend.asp` and the other pages
    /// (`http://host/send/`; a missing trailing `/` is added).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Declares whether the account has long SMS enabled. With it, a text over 60 characters is sent
    /// as one long SMS (`txt=ccdx`) of up to 240 characters; without it, such a text is refused
    /// before any request, because the provider would silently cut it.
    #[must_use]
    pub fn long_sms(mut self, enabled: bool) -> Self {
        self.long_sms = enabled;
        self
    }

    /// Digits appended to the enterprise's service number (`sender`), so that replies can be told
    /// apart: 1 to 8 digits (the provider takes fewer than 9), and the service number and the
    /// extension together must stay under 17 digits (the provider checks that part: `6021`).
    #[must_use]
    pub fn sender_extension(mut self, digits: impl Into<String>) -> Self {
        self.sender_extension = Some(digits.into());
        self
    }

    /// Sets the HTTP timeouts, user agent and body cap.
    #[must_use]
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// Sets the provider name used in receipts and errors (to tell two Juxiang accounts apart).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}
