//! The voice client: Submit and GetNum on the voice API, through [`ApiClient`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sms_core::{
    Balance, BalanceQuery, Capabilities, Error, ErrorKind, Message, MessageBody, MessageKind, MessageSender,
    MessageSenderExt, Operation, Receipt,
};
use sms_ihuyi::raw::{self, ApiClient, ApiSettings};

use crate::config::IhuyiVoiceConfig;
use crate::response::code_meaning;

/// Where the voice API lives under its base URL.
pub const VOICE_PATH: &str = "/webservice/voice.php";
/// Where the call id is in a Submit answer (`smsid` tolerated in case the service reuses it).
const ID_FIELDS: &[&str] = &["voiceid", "smsid"];

/// A client of the ihuyi voice verification-code API.
///
/// Sends voice-code messages to mainland numbers, one request per recipient, and queries the
/// balance. Cloning is cheap and clones share one HTTP connection pool.
#[derive(Clone)]
pub struct IhuyiVoiceClient {
    inner: Arc<Inner>,
}

struct Inner {
    api: ApiClient,
    capabilities: Capabilities,
    submit_url: String,
    balance_url: String,
}

impl fmt::Debug for IhuyiVoiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IhuyiVoiceClient")
            .field("api", &self.inner.api)
            .field("submit_url", &self.inner.submit_url)
            .finish_non_exhaustive()
    }
}

impl IhuyiVoiceClient {
    /// Checks the configuration and builds the client (and its one HTTP client).
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for an empty account, key or name, a base URL that is not an
    /// absolute http(s) URL, or unusable HTTP settings.
    pub fn new(config: IhuyiVoiceConfig) -> Result<Self, Error> {
        let api = ApiClient::new(ApiSettings {
            provider: &config.name,
            account: &config.account,
            key: &config.key,
            password_mode: config.password_mode,
            format: config.format,
            http: &config.http,
            codes: code_meaning,
        })?;
        let url = |method: &str| raw::method_url(api.provider(), &config.base_url, VOICE_PATH, method);
        let inner = Inner {
            submit_url: url("Submit")?,
            balance_url: url("GetNum")?,
            capabilities: Capabilities::new(&[MessageKind::VoiceCode])
                .with_max_batch(1)
                .with_receipt_push(),
            api,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The code to submit, after [`MessageSenderExt::preflight`] (recipients, kind, mainland only,
    /// schedule). The code's digits were checked when the [`sms_core::VoiceCode`] was built.
    fn checked_code<'m>(&self, message: &'m Message) -> Result<&'m str, Error> {
        self.preflight(message)?;
        match message.body() {
            MessageBody::VoiceCode(code) => Ok(code.as_str()),
            other => Err(Error::new(ErrorKind::Unsupported, Operation::Send)
                .with_provider(self.name())
                .with_message(format!(
                    "{} sends voice codes only, not {} messages",
                    self.name(),
                    other.kind()
                ))),
        }
    }
}

#[async_trait]
impl MessageSender for IhuyiVoiceClient {
    fn name(&self) -> &str {
        self.inner.api.provider()
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// Places one call per recipient reading the code; `voiceid` is the message id.
    ///
    /// # Errors
    /// Before any request: [`ErrorKind::InvalidRequest`] (no recipient, a duplicate),
    /// [`ErrorKind::Unsupported`] (text, template, MMS, international numbers, schedules). After:
    /// see [`raw::send_each`].
    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let code = self.checked_code(message)?;
        raw::send_each(self.name(), message, |recipient| async move {
            self.inner
                .api
                .submit(&self.inner.submit_url, &recipient, code, ID_FIELDS)
                .await
        })
        .await
    }
}

#[async_trait]
impl BalanceQuery for IhuyiVoiceClient {
    /// The remaining call count (GetNum).
    async fn balance(&self) -> Result<Balance, Error> {
        self.inner.api.balance(&self.inner.balance_url).await
    }
}
