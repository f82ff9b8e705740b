//! The SMS client: builds Submit, GetNum and AddTemplate requests and sends them through
//! [`ApiClient`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sms_core::measure::measure_mainland;
use sms_core::{
    Balance, BalanceQuery, Capabilities, Error, ErrorKind, InboundMode, Message, MessageBody, MessageKind,
    MessageSender, MessageSenderExt, Operation, PhoneNumber, Receipt,
};

use crate::config::IhuyiConfig;
use crate::raw::{self, ApiClient, ApiRequest, ApiSettings};
use crate::response::code_meaning;

/// Where the mainland SMS API lives under its base URL.
pub const SMS_PATH: &str = "/webservice/sms.php";
/// Where the international SMS API lives under its base URL.
pub const INTERNATIONAL_PATH: &str = "/webservice/isms.php";
/// The longest text, in characters, signature included.
pub const MAX_TEXT_CHARS: usize = 300;
/// Where the message id is in a Submit answer.
const ID_FIELDS: &[&str] = &["smsid"];

/// A client of the ihuyi SMS and international SMS APIs.
///
/// Sends text and template messages (one request per recipient, up to
/// [`raw::SPLIT_CONCURRENCY`] at once), queries the balance and registers templates. Cloning
/// is cheap and clones share one HTTP connection pool.
///
/// ```no_run
/// # async fn demo() -> Result<(), sms_core::Error> {
/// use sms_core::{Message, MessageSender, BalanceQuery};
/// use sms_ihuyi::{IhuyiClient, IhuyiConfig};
/// let client = IhuyiClient::new(IhuyiConfig::new("C12345678", "api-key"))?;
/// let to: sms_core::PhoneNumber = "13800138000".parse()?;
/// let receipt = client.send(&Message::text(to, "【示例】您的验证码是1234。")).await?;
/// println!("smsid {:?}, {} left", receipt.message_ids().next(), client.balance().await?.amount);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct IhuyiClient {
    inner: Arc<Inner>,
}

struct Inner {
    api: ApiClient,
    capabilities: Capabilities,
    submit_url: String,
    international_submit_url: String,
    balance_url: String,
    international_balance_url: String,
    add_template_url: String,
}

impl fmt::Debug for IhuyiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IhuyiClient")
            .field("api", &self.inner.api)
            .field("submit_url", &self.inner.submit_url)
            .field("international_submit_url", &self.inner.international_submit_url)
            .finish_non_exhaustive()
    }
}

impl IhuyiClient {
    /// Checks the configuration and builds the client (and its one HTTP client).
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for an empty account, key or name, a base URL that is not an
    /// absolute http(s) URL, or unusable HTTP settings.
    pub fn new(config: IhuyiConfig) -> Result<Self, Error> {
        let api = ApiClient::new(ApiSettings {
            provider: &config.name,
            account: &config.account,
            key: &config.key,
            password_mode: config.password_mode,
            format: config.format,
            http: &config.http,
            codes: code_meaning,
        })?;
        let url = |base: &str, path: &str, method: &str| raw::method_url(api.provider(), base, path, method);
        let inner = Inner {
            submit_url: url(&config.base_url, SMS_PATH, "Submit")?,
            international_submit_url: url(&config.international_base_url, INTERNATIONAL_PATH, "Submit")?,
            balance_url: url(&config.base_url, SMS_PATH, "GetNum")?,
            international_balance_url: url(&config.international_base_url, INTERNATIONAL_PATH, "GetNum")?,
            add_template_url: url(&config.base_url, SMS_PATH, "AddTemplate")?,
            capabilities: Capabilities::new(&[MessageKind::Text, MessageKind::Template])
                .with_max_batch(1)
                .with_international()
                .with_max_text_chars(MAX_TEXT_CHARS)
                .with_receipt_push()
                .with_inbound(InboundMode::Push),
            api,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The remaining message count of the international SMS account (GetNum on the international
    /// API, which bills separately); [`BalanceQuery::balance`] gives the mainland account's.
    ///
    /// # Errors
    /// As [`BalanceQuery::balance`].
    pub async fn international_balance(&self) -> Result<Balance, Error> {
        self.inner
            .api
            .balance(&self.inner.international_balance_url)
            .await
    }

    /// Registers a template (`【变量】` marks each variable) for review by the provider.
    ///
    /// The dynamic password signs `account + key + content + time`, like Submit without the mobile
    /// (the documentation names no formula for AddTemplate; this is the assumption, kept here only).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for an empty template (before any request); otherwise as
    /// [`MessageSender::send`], with [`Operation::AddTemplate`]. A success without a template id is
    /// [`ErrorKind::Protocol`].
    pub async fn add_template(&self, content: &str) -> Result<String, Error> {
        if content.trim().is_empty() {
            return Err(Error::new(ErrorKind::InvalidRequest, Operation::AddTemplate)
                .with_provider(self.name())
                .with_message("the template is empty"));
        }
        let envelope = self
            .inner
            .api
            .call(ApiRequest {
                operation: Operation::AddTemplate,
                url: &self.inner.add_template_url,
                signed: content,
                params: &[("content", content)],
            })
            .await?;
        envelope
            .field(&["templateid"])
            .filter(|id| *id != "0")
            .map(str::to_owned)
            .ok_or_else(|| {
                self.inner
                    .api
                    .missing_field(Operation::AddTemplate, "a `templateid`")
            })
    }

    /// The text to submit, after every check that needs no request: [`MessageSenderExt::preflight`]
    /// (recipients, kind, international, schedule, length) and emoji.
    fn checked_content<'m>(&self, message: &'m Message) -> Result<&'m str, Error> {
        self.preflight(message)?;
        let local = |kind: ErrorKind, why: String| {
            Error::new(kind, Operation::Send)
                .with_provider(self.name())
                .with_message(why)
        };
        let content = match message.body() {
            MessageBody::Text(text) => text.as_str(),
            MessageBody::Template(template) => template.rendered(),
            other => {
                return Err(local(
                    ErrorKind::Unsupported,
                    format!("{} does not send {} messages", self.name(), other.kind()),
                ));
            }
        };
        if content.trim().is_empty() {
            return Err(local(
                ErrorKind::InvalidRequest,
                "ihuyi sends the filled-in template text, and it is empty".to_owned(),
            ));
        }
        // The service refuses emoji (4074) on every API; refuse them before spending a request.
        // A scan first: measuring (again, after the preflight) is only needed to describe an emoji.
        if content.chars().any(sms_core::raw::is_emoji)
            && let Err(emoji) = measure_mainland(content)
        {
            return Err(local(ErrorKind::InvalidContent, emoji.to_string()).with_source(emoji));
        }
        Ok(content)
    }

    async fn submit(&self, recipient: &PhoneNumber, content: &str) -> Result<Option<String>, Error> {
        let url = if recipient.is_mainland() {
            &self.inner.submit_url
        } else {
            &self.inner.international_submit_url
        };
        self.inner.api.submit(url, recipient, content, ID_FIELDS).await
    }
}

#[async_trait]
impl MessageSender for IhuyiClient {
    fn name(&self) -> &str {
        self.inner.api.provider()
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// Sends a text or template message, one request per recipient.
    ///
    /// # Errors
    /// Before any request: [`ErrorKind::InvalidRequest`] (no recipient, a duplicate, empty text),
    /// [`ErrorKind::Unsupported`] (voice codes, MMS, schedules), [`ErrorKind::InvalidContent`]
    /// (over [`MAX_TEXT_CHARS`] characters, emoji). After: see [`raw::send_each`].
    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let content = self.checked_content(message)?;
        raw::send_each(self.name(), message, |recipient| async move {
            self.submit(&recipient, content).await
        })
        .await
    }
}

#[async_trait]
impl BalanceQuery for IhuyiClient {
    /// The remaining message count of the mainland SMS account (GetNum).
    async fn balance(&self) -> Result<Balance, Error> {
        self.inner.api.balance(&self.inner.balance_url).await
    }
}
