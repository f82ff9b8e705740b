//! Building blocks for ihuyi products (the wire protocol every ihuyi API shares: SMS, international
//! SMS and voice codes): dynamic-password signing, the XML/JSON answer envelope, the code rows all APIs share, and
//! [`ApiClient`], which makes one signed request and turns the answer into a result.
//!
//! Applications use [`crate::IhuyiClient`]; this module is public so that `sms-ihuyi-voice` (and any
//! other ihuyi product) reuses it instead of copying it. A product adds only its own code rows (a
//! [`CodeTable`] that falls back to [`common_code`]) and its endpoint paths.
//!
//! ```
//! use sms_core::Secret;
//! use sms_ihuyi::raw::dynamic_password;
//! // md5("acct" + "key" + "13800138000" + "hi" + "1700000000"), lowercase hex.
//! let password = dynamic_password("acct", &Secret::new("key"), "13800138000hi", "1700000000");
//! assert_eq!(password.len(), 32);
//! ```

mod codes;
mod envelope;

use std::fmt;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use serde::Deserialize;
use sms_core::raw::batch::{BatchPlan, send_batches};
use sms_core::raw::http::{FormPost, HttpClient, HttpConfig, form_encode, normalize_base_url};
use sms_core::{
    Balance, BalanceUnit, Error, ErrorKind, Message, Operation, PhoneNumber, Receipt, RecipientOutcome,
    Secret,
};

pub use codes::{CodeMeaning, CodeTable, STALE_TIME, SUCCESS, code_error, common_code};
pub(crate) use envelope::parse_json_object;
pub use envelope::{EXCERPT_CHARS, Envelope, EnvelopeError, parse_envelope};

/// The answer format to request (`format=json`); answers are parsed whichever format arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    /// XML, the service's default (no `format` parameter is sent).
    #[default]
    Xml,
    /// JSON (`format=json`).
    Json,
}

/// How the API key is presented to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordMode {
    /// `password = md5(account + key + … + time)` with a fresh `time`: the key never travels. The
    /// default.
    #[default]
    Dynamic,
    /// The key itself as `password` (still in the POST body, never in the URL).
    Plain,
}

/// How many recipients of a split message are in flight at once.
pub const SPLIT_CONCURRENCY: usize = 8;

/// The content type of every request.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The dynamic password: `lowercase_hex(md5(account + key + signed + time))` over the raw (not
/// URL-encoded) UTF-8 strings, where `signed` is what the method signs between key and time
/// (Submit: mobile + content; GetNum: nothing).
pub fn dynamic_password(account: &str, key: &Secret, signed: &str, time: &str) -> String {
    let mut hasher = Md5::new();
    for part in [account, key.expose(), signed, time] {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The current Unix time in seconds, as the `time` parameter.
pub fn unix_time() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
        .to_string()
}

/// The `mobile` parameter: the 11 digits for a mainland number, `"<country code> <national
/// number>"` (one space, no `+`) for the international API.
pub fn mobile_param(recipient: &PhoneNumber) -> String {
    if recipient.is_mainland() {
        recipient.national_number().to_owned()
    } else {
        format!("{} {}", recipient.country_code(), recipient.national_number())
    }
}

/// The URL of `method` under `base_url` and `path` (`https://106.ihuyi.com` +
/// `/webservice/sms.php` → `…/webservice/sms.php?method=Submit`).
///
/// # Errors
/// [`ErrorKind::Configuration`] unless `base_url` is an absolute http(s) URL without query,
/// fragment or credentials (see [`sms_core::raw::http::normalize_base_url`]).
pub fn method_url(provider: &str, base_url: &str, path: &str, method: &str) -> Result<String, Error> {
    let base = normalize_base_url(base_url).map_err(|why| {
        Error::new(ErrorKind::Configuration, Operation::Configure)
            .with_provider(provider)
            .with_message(why)
    })?;
    Ok(format!("{base}{path}?method={method}"))
}

/// What [`ApiClient::new`] needs.
#[derive(Debug, Clone, Copy)]
pub struct ApiSettings<'a> {
    /// The provider name used in errors, receipts and logs.
    pub provider: &'a str,
    /// The APIID.
    pub account: &'a str,
    /// The APIKEY.
    pub key: &'a Secret,
    /// Dynamic or plain password.
    pub password_mode: PasswordMode,
    /// The answer format to request.
    pub format: ResponseFormat,
    /// Timeouts and body cap.
    pub http: &'a HttpConfig,
    /// The API's code table.
    pub codes: CodeTable,
}

/// One method call: which URL, what to sign and which parameters besides the credentials.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// The operation, for errors.
    pub operation: Operation,
    /// The method URL from [`method_url`].
    pub url: &'a str,
    /// What the dynamic password signs between key and time (see [`dynamic_password`]).
    pub signed: &'a str,
    /// Parameters besides `account`, `password`, `time` and `format`.
    pub params: &'a [(&'a str, &'a str)],
}

/// Credentials, one shared HTTP client and a code table: makes signed calls to one ihuyi API.
pub struct ApiClient {
    provider: String,
    account: String,
    key: Secret,
    password_mode: PasswordMode,
    format: ResponseFormat,
    codes: CodeTable,
    http: HttpClient,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("provider", &self.provider)
            .field("account", &self.account)
            .field("key", &self.key)
            .field("password_mode", &self.password_mode)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// Checks the settings and builds the HTTP client.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for an empty provider name, account or key, or unusable HTTP
    /// settings.
    pub fn new(settings: ApiSettings<'_>) -> Result<Self, Error> {
        let provider = settings.provider.trim();
        let invalid = |what: &str| {
            Err(Error::new(ErrorKind::Configuration, Operation::Configure)
                .with_provider(provider)
                .with_message(format!("the {what} is empty")))
        };
        if provider.is_empty() {
            return invalid("provider name");
        }
        if settings.account.trim().is_empty() {
            return invalid("account (APIID)");
        }
        if settings.key.expose().trim().is_empty() {
            return invalid("API key");
        }
        Ok(Self {
            http: HttpClient::new(provider, settings.http)?,
            provider: provider.to_owned(),
            account: settings.account.trim().to_owned(),
            key: settings.key.clone(),
            password_mode: settings.password_mode,
            format: settings.format,
            codes: settings.codes,
        })
    }

    /// The provider name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The account (APIID).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Makes one call and returns the answer of a successful one.
    ///
    /// With a dynamic password a stale-time answer ([`STALE_TIME`]) is retried once with a fresh
    /// time; the service refused the first request, so nothing was done twice.
    ///
    /// # Errors
    /// Transport and HTTP failures as [`sms_core::raw::http::HttpClient::post_form`] maps them; an unreadable body
    /// as [`ErrorKind::Protocol`] with a short excerpt; a failure code as the code table maps it.
    /// The key never appears in an error.
    pub async fn call(&self, request: ApiRequest<'_>) -> Result<Envelope, Error> {
        let mut retried = false;
        loop {
            let time = unix_time();
            let password = self.password(&request, &time);
            let post = FormPost::new(
                &self.provider,
                request.operation,
                request.url,
                self.form(&request, &password, &time),
            )
            .content_type(FORM_CONTENT_TYPE)
            .sensitive(self.key.expose().as_bytes())
            .sensitive(password.as_bytes());
            // Everything read from the answer happens inside `post_form`, which scrubs any error
            // quoting it (a server may echo the signed request).
            let answer = self
                .http
                .post_form(&post, |body| {
                    // The envelope error is not attached as a source: the message carries its excerpt.
                    let envelope = parse_envelope(body).map_err(|e| {
                        Error::new(ErrorKind::Protocol, request.operation)
                            .with_provider(&self.provider)
                            .with_message(e.to_string())
                    })?;
                    if envelope.code == SUCCESS {
                        return Ok(Some(envelope));
                    }
                    if envelope.code == STALE_TIME && self.password_mode == PasswordMode::Dynamic && !retried
                    {
                        return Ok(None);
                    }
                    Err(code_error(
                        &self.provider,
                        request.operation,
                        self.codes,
                        &envelope.code,
                        &envelope.msg,
                    ))
                })
                .await?;
            match answer {
                Some(envelope) => {
                    tracing::debug!(provider = %self.provider, url = request.url, "ihuyi answer: success");
                    return Ok(envelope);
                }
                None => {
                    tracing::info!(provider = %self.provider, url = request.url, "stale dynamic-password time; retrying once with a fresh time");
                    retried = true;
                }
            }
        }
    }

    /// Submits `content` to one recipient at a Submit URL and returns the message id from the
    /// first of `id_fields` present (`None` when a success carries no usable id).
    ///
    /// # Errors
    /// As [`ApiClient::call`].
    pub async fn submit(
        &self,
        url: &str,
        recipient: &PhoneNumber,
        content: &str,
        id_fields: &[&str],
    ) -> Result<Option<String>, Error> {
        let mobile = mobile_param(recipient);
        let signed = format!("{mobile}{content}");
        let envelope = self
            .call(ApiRequest {
                operation: Operation::Send,
                url,
                signed: &signed,
                params: &[("mobile", &mobile), ("content", content)],
            })
            .await?;
        let id = envelope
            .field(id_fields)
            .filter(|id| *id != "0")
            .map(str::to_owned);
        if id.is_none() {
            tracing::warn!(provider = %self.provider, recipient = %recipient.masked(), "accepted without a message id");
        }
        Ok(id)
    }

    /// Queries the remaining message count at a GetNum URL (signed `md5(account + key + time)`).
    ///
    /// # Errors
    /// As [`ApiClient::call`]; an answer without a numeric `num` is [`ErrorKind::Protocol`].
    pub async fn balance(&self, url: &str) -> Result<Balance, Error> {
        let envelope = self
            .call(ApiRequest {
                operation: Operation::Balance,
                url,
                signed: "",
                params: &[],
            })
            .await?;
        let amount = envelope
            .field(&["num"])
            .and_then(|num| num.parse::<i64>().ok())
            .ok_or_else(|| self.missing_field(Operation::Balance, "a numeric `num`"))?;
        Ok(Balance {
            provider: self.provider.clone(),
            amount,
            unit: BalanceUnit::Messages,
        })
    }

    /// A [`ErrorKind::Protocol`] error for a success answer that lacks `what`.
    pub fn missing_field(&self, operation: Operation, what: &str) -> Error {
        Error::new(ErrorKind::Protocol, operation)
            .with_provider(&self.provider)
            .with_message(format!("a success answer without {what}"))
    }

    /// The `password` parameter: the dynamic signature, or the key itself.
    fn password(&self, request: &ApiRequest<'_>, time: &str) -> String {
        match self.password_mode {
            PasswordMode::Dynamic => dynamic_password(&self.account, &self.key, request.signed, time),
            PasswordMode::Plain => self.key.expose().to_owned(),
        }
    }

    fn form(&self, request: &ApiRequest<'_>, password: &str, time: &str) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(request.params.len() + 4);
        pairs.push(("account", &self.account));
        pairs.push(("password", password));
        pairs.extend_from_slice(request.params);
        if self.password_mode == PasswordMode::Dynamic {
            pairs.push(("time", time));
        }
        if self.format == ResponseFormat::Json {
            pairs.push(("format", "json"));
        }
        form_encode(&pairs)
    }
}

/// Sends a message one recipient per request, at most [`SPLIT_CONCURRENCY`] at once, and gathers
/// one outcome per recipient in the message's order (through [`sms_core::raw::batch::send_batches`];
/// every recipient is requested whatever the others answer).
///
/// `submit` sends to one recipient and returns its message id. The receipt bills the measured parts
/// of the accepted recipients.
///
/// # Errors
/// When no recipient was accepted: an ambiguous error if any recipient's outcome is ambiguous (the
/// message may have gone out, so a caller must not treat the whole as a clean failure), otherwise
/// the first recipient's error.
pub async fn send_each<F, Fut>(provider: &str, message: &Message, submit: F) -> Result<Receipt, Error>
where
    F: Fn(PhoneNumber) -> Fut,
    Fut: Future<Output = Result<Option<String>, Error>>,
{
    let submit = &submit;
    let receipt = if let [recipient] = message.recipients() {
        // The common case (a verification code to one number) needs none of the batch machinery.
        let id = submit(recipient.clone()).await.inspect_err(|error| {
            tracing::warn!(provider, numbers = 1, "batch failed: {error}");
        })?;
        Receipt::new(
            message.reference().clone(),
            vec![RecipientOutcome::accepted(recipient.clone(), provider, id)],
        )
    } else {
        send_split(provider, message, submit).await?
    };
    let billed = receipt.accepted().try_fold(0u32, |sum, outcome| {
        let parts = message.parts_for(&outcome.recipient).ok()?;
        Some(sum.saturating_add(u32::try_from(parts).ok()?))
    });
    Ok(match billed {
        Some(parts) => receipt.with_billed_parts(parts),
        None => receipt,
    })
}

/// [`send_each`] for several recipients, through [`sms_core::raw::batch::send_batches`].
async fn send_split<F, Fut>(provider: &str, message: &Message, submit: &F) -> Result<Receipt, Error>
where
    F: Fn(PhoneNumber) -> Fut,
    Fut: Future<Output = Result<Option<String>, Error>>,
{
    let plan = BatchPlan::concurrent(1, SPLIT_CONCURRENCY);
    send_batches(provider, message, plan, |one: Message| async move {
        let mut outcomes = Vec::with_capacity(1);
        for recipient in one.recipients() {
            let id = submit(recipient.clone()).await?;
            outcomes.push(RecipientOutcome::accepted(recipient.clone(), provider, id));
        }
        Ok(outcomes)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed independently:
    /// `python3 -c 'import hashlib;print(hashlib.md5("…".encode()).hexdigest())'`.
    #[test]
    fn dynamic_password_matches_independent_md5() {
        let key = Secret::new("sandbox-key");
        assert_eq!(
            dynamic_password("sandbox", &key, "13800138000您的验证码是:1234。", "1700000000"),
            "676d15c3850796e5dcb0fbe12c014553"
        );
        assert_eq!(
            dynamic_password("sandbox", &key, "", "1700000000"),
            "3cb0e5b49d1b232b20d3d96895f88837"
        );
    }

    #[test]
    fn mobile_params_for_mainland_and_international() {
        let mainland: PhoneNumber = "+86 138 0013 8000".parse().unwrap();
        assert_eq!(mobile_param(&mainland), "13800138000");
        let uk: PhoneNumber = "+44 7700 900123".parse().unwrap();
        assert_eq!(mobile_param(&uk), "44 7700900123");
        let us: PhoneNumber = "+1 202 555 0123".parse().unwrap();
        assert_eq!(mobile_param(&us), "1 2025550123");
    }

    #[test]
    fn method_urls_and_bad_base_urls() {
        let url = method_url("ihuyi", "https://106.ihuyi.com/", "/webservice/sms.php", "Submit").unwrap();
        assert_eq!(url, "https://106.ihuyi.com/webservice/sms.php?method=Submit");
        let url = method_url("ihuyi", "http://127.0.0.1:8080", "/webservice/sms.php", "GetNum").unwrap();
        assert_eq!(url, "http://127.0.0.1:8080/webservice/sms.php?method=GetNum");
        for bad in [
            "",
            "106.ihuyi.com",
            "ftp://106.ihuyi.com",
            "https://x.invalid/?a=1",
            "http://",
        ] {
            let e = method_url("ihuyi", bad, "/p", "M").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Configuration, "{bad}");
            assert_eq!(e.provider(), Some("ihuyi"));
        }
    }
}
