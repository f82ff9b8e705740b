//! The client: builds GBK form requests for each `.asp` page, posts them and hands the answers to
//! [`crate::response`].

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use encoding_rs::EncoderResult;
use sms_core::raw::batch::{BatchPlan, send_batches};
use sms_core::raw::http::{FormPost, HttpClient, percent_encode_into};
use sms_core::{
    Balance, BalanceQuery, BalanceUnit, Capabilities, Error, ErrorKind, InboundMessage, InboundMode,
    InboundSource, Message, MessageKind, MessageSender, Operation, PhoneNumber, Receipt, RecipientOutcome,
    RecipientStatus, Secret,
};

use crate::config::JuxiangConfig;
use crate::response::{self, ContentCheck, GsendAnswer, Listed};

/// Most numbers one `gsend` request carries (the provider wants fewer than 100).
pub const MAX_BATCH: usize = 99;
/// Characters of a normal SMS; the provider cuts longer text, so longer text is refused here.
pub const NORMAL_SMS_CHARS: usize = 60;
/// Characters of a long SMS (`txt=ccdx`), for accounts that have it enabled.
pub const LONG_SMS_CHARS: usize = 240;
/// Characters `checkcontent` accepts.
pub const CHECK_CONTENT_CHARS: usize = 540;
/// The time kept between two `readsms` calls. The provider wants *more than* 5 s; the extra second
/// keeps network jitter from bringing two calls within 5 s of each other at its end.
pub const POLL_INTERVAL: Duration = Duration::from_secs(6);
/// Longest sender extension: the provider takes fewer than 9 digits. The provider also wants the
/// service number plus the extension under 17 digits; only it knows the service number, so it checks
/// that part (`6021`).
const MAX_SENDER_EXTENSION: usize = 8;
/// A new password must be longer than 4 and shorter than 20 characters.
const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 5..=19;

const FORM: &str = "application/x-www-form-urlencoded";

/// A Juxiang (巨象) URL API client: sends text, checks content, queries the balance, pulls replies
/// and changes the password. Every request and answer is GBK.
///
/// Cloning is cheap and clones share one HTTP connection pool (and the password, so that
/// [`JuxiangClient::change_password`] takes effect for every clone).
#[derive(Clone)]
pub struct JuxiangClient {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    login: String,
    login_gbk: Vec<u8>,
    password: RwLock<Secret>,
    base_url: String,
    long_sms: bool,
    sender_extension: Option<String>,
    capabilities: Capabilities,
    http: HttpClient,
}

impl fmt::Debug for JuxiangClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JuxiangClient")
            .field("name", &self.inner.name)
            .field("login", &self.inner.login)
            .field("base_url", &self.inner.base_url)
            .field("long_sms", &self.inner.long_sms)
            .field("sender_extension", &self.inner.sender_extension)
            .finish_non_exhaustive()
    }
}

/// A character GBK cannot represent, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unmappable {
    pub(crate) character: char,
    /// Position in characters, from 0.
    pub(crate) position: usize,
}

impl fmt::Display for Unmappable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "character {:?} (U+{:04X}) at position {} cannot be written in GBK, the provider's encoding",
            self.character, self.character as u32, self.position
        )
    }
}

/// Encodes text as GBK, failing on the first character GBK cannot represent (never a silent `?`).
pub(crate) fn encode_gbk(text: &str) -> Result<Vec<u8>, Unmappable> {
    let mut encoder = encoding_rs::GBK.new_encoder();
    let capacity = encoder
        .max_buffer_length_from_utf8_without_replacement(text.len())
        .unwrap_or(text.len().saturating_mul(2));
    let mut out = Vec::with_capacity(capacity);
    let mut consumed = 0;
    loop {
        let rest = &text[consumed..];
        let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        consumed += read;
        match result {
            EncoderResult::InputEmpty => return Ok(out),
            EncoderResult::OutputFull => out.reserve(rest.len().max(16)),
            EncoderResult::Unmappable(character) => {
                let start = consumed.saturating_sub(character.len_utf8());
                let position = text.get(..start).map_or(0, |s| s.chars().count());
                return Err(Unmappable { character, position });
            }
        }
    }
}

/// Appends `key=value` (value as GBK bytes) to a form body.
fn push_pair(body: &mut String, key: &str, value: &[u8]) {
    if !body.is_empty() {
        body.push('&');
    }
    percent_encode_into(body, key.as_bytes());
    body.push('=');
    percent_encode_into(body, value);
}

/// What a send carries to every batch.
struct Prepared {
    text: Vec<u8>,
    long: bool,
    time: Option<String>,
}

impl JuxiangClient {
    /// Builds a client.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for an empty login, password or name, a login or password GBK
    /// cannot write, a base URL that is not an `http`/`https` URL without query or credentials, a
    /// sender extension that is not 1 to 8 digits, or unusable HTTP settings.
    pub fn new(config: JuxiangConfig) -> Result<Self, Error> {
        let name = config.name.trim().to_owned();
        let invalid = |message: String| {
            let provider = if name.is_empty() {
                crate::config::DEFAULT_NAME
            } else {
                &name
            };
            Error::new(ErrorKind::Configuration, Operation::Configure)
                .with_provider(provider)
                .with_message(message)
        };
        if name.is_empty() {
            return Err(invalid("the provider name is empty".to_owned()));
        }
        if config.login.trim().is_empty() {
            return Err(invalid("the login (`name`) is empty".to_owned()));
        }
        if config.password.is_empty() {
            return Err(invalid("the password is empty".to_owned()));
        }
        let login_gbk = encode_gbk(&config.login).map_err(|e| invalid(format!("the login: {e}")))?;
        // Only the fact is reported, never the character: it is part of the secret.
        encode_gbk(config.password.expose())
            .map_err(|_| invalid("the password contains a character GBK cannot write".to_owned()))?;
        let base_url = normalize_base_url(&config.base_url).map_err(invalid)?;
        let sender_extension = match config.sender_extension.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(digits)
                if digits.len() <= MAX_SENDER_EXTENSION && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Some(digits.to_owned())
            }
            Some(other) => {
                return Err(invalid(format!(
                    "the sender extension must be 1 to {MAX_SENDER_EXTENSION} digits, got {other:?}"
                )));
            }
        };
        let http = HttpClient::new(&name, &config.http)?;
        let capabilities = Capabilities::new(&[MessageKind::Text, MessageKind::Template])
            .with_max_batch(MAX_BATCH)
            .with_scheduling()
            .with_max_text_chars(if config.long_sms {
                LONG_SMS_CHARS
            } else {
                NORMAL_SMS_CHARS
            })
            .with_inbound(InboundMode::Pull {
                min_interval: POLL_INTERVAL,
            });
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                login: config.login,
                login_gbk,
                password: RwLock::new(config.password),
                base_url,
                long_sms: config.long_sms,
                sender_extension,
                capabilities,
                http,
            }),
        })
    }

    /// The base URL requests go to (with a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    fn name_str(&self) -> &str {
        &self.inner.name
    }

    fn password(&self) -> Secret {
        self.inner
            .password
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Posts `params` (after `name` and `pwd`) to `page` and reads the answer with `read`.
    ///
    /// Any error, `read`'s included, is scrubbed of the password (as typed and as GBK), of
    /// `secret_param` (a new password) and of any echo of the request (see [`FormPost`]). `read`
    /// gets the request too, to scrub errors it puts inside a successful result.
    async fn call<T>(
        &self,
        page: &str,
        operation: Operation,
        params: &[(&str, Cow<'_, [u8]>)],
        secret_param: Option<&[u8]>,
        read: impl FnOnce(&str, &[u8], &FormPost<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let password = self.password();
        let password_gbk = encode_gbk(password.expose()).map_err(|_| {
            Error::new(ErrorKind::Configuration, operation)
                .with_provider(self.name_str())
                .with_message("the password contains a character GBK cannot write")
        })?;
        let mut body = String::new();
        push_pair(&mut body, "name", &self.inner.login_gbk);
        push_pair(&mut body, "pwd", &password_gbk);
        for (key, value) in params {
            push_pair(&mut body, key, value);
        }
        let url = format!("{}{page}", self.inner.base_url);
        tracing::debug!(provider = %self.inner.name, %url, "request");
        let mut post = FormPost::new(&self.inner.name, operation, &url, body)
            .content_type(FORM)
            .sensitive(password.expose().as_bytes())
            .sensitive(&password_gbk);
        if let Some(value) = secret_param {
            post = post.sensitive(value);
        }
        self.inner
            .http
            .post_form(&post, |body| read(self.name_str(), body, &post))
            .await
    }

    /// Checks a message before any request and encodes its text.
    fn prepare(&self, message: &Message) -> Result<Prepared, Error> {
        let name = self.name_str();
        message.validate().map_err(|e| e.with_provider(name))?;
        let invalid = |kind: ErrorKind, text: String| {
            Error::new(kind, Operation::Send)
                .with_provider(name)
                .with_message(text)
        };
        let mut prepared = None;
        if let Some(text) = message
            .body()
            .text()
            .filter(|_| self.inner.capabilities.supports(message.kind()))
        {
            if text.trim().is_empty() {
                return Err(invalid(
                    ErrorKind::InvalidRequest,
                    format!("{name} sends the rendered text, and it is empty"),
                ));
            }
            let chars = text.chars().count();
            let long = chars > NORMAL_SMS_CHARS;
            if long && !self.inner.long_sms {
                // A limit of this account, not of the text: another provider may send it.
                return Err(invalid(
                    ErrorKind::ContentRejected,
                    format!(
                        "the text has {chars} characters; {name} sends at most {NORMAL_SMS_CHARS} \
                         without long SMS (the provider would cut the rest); enable `long_sms` if the \
                         account has it"
                    ),
                ));
            }
            if chars > LONG_SMS_CHARS {
                return Err(invalid(
                    ErrorKind::ContentRejected,
                    format!(
                        "the text has {chars} characters; {name} sends at most {LONG_SMS_CHARS} as a \
                         long SMS"
                    ),
                ));
            }
            // GBK is this provider's limit (a UTF-8 provider may send the text), except for emoji,
            // which every mainland gateway rejects.
            let text = encode_gbk(text).map_err(|e| {
                let kind = if sms_core::raw::is_emoji(e.character) {
                    ErrorKind::InvalidContent
                } else {
                    ErrorKind::ContentRejected
                };
                invalid(kind, e.to_string())
            })?;
            prepared = Some(Prepared {
                text,
                long,
                time: message.schedule().map(|t| t.format_compact_minutes()),
            });
        }
        self.inner.capabilities.check(name, message)?;
        prepared.ok_or_else(|| {
            invalid(
                ErrorKind::Unsupported,
                format!("{name} does not send {} messages", message.kind()),
            )
        })
    }

    /// Sends one batch (at most [`MAX_BATCH`] numbers) and reports each number.
    async fn send_batch(
        &self,
        batch: &[PhoneNumber],
        prepared: &Prepared,
    ) -> Result<Vec<RecipientOutcome>, Error> {
        let dst = batch
            .iter()
            .map(PhoneNumber::national_number)
            .collect::<Vec<_>>()
            .join(",");
        let mut params: Vec<(&str, Cow<'_, [u8]>)> = vec![
            ("dst", Cow::Borrowed(dst.as_bytes())),
            ("msg", Cow::Borrowed(&prepared.text)),
        ];
        if let Some(time) = &prepared.time {
            params.push(("time", Cow::Borrowed(time.as_bytes())));
        }
        if let Some(sender) = &self.inner.sender_extension {
            params.push(("sender", Cow::Borrowed(sender.as_bytes())));
        }
        if prepared.long {
            params.push(("txt", Cow::Borrowed(b"ccdx")));
        }
        let outcomes = self
            .call("gsend.asp", Operation::Send, &params, None, |name, body, post| {
                let answer = response::gsend(name, body)?;
                let listed = response::match_numbers(batch, &answer);
                // A listed failure quotes the answer's `err`: scrubbed like any error from the
                // answer, although it travels inside a successful result.
                Ok(batch
                    .iter()
                    .zip(listed)
                    .map(|(number, listed)| match listed {
                        Listed::Accepted => RecipientOutcome::accepted(number.clone(), name, None),
                        Listed::Failed => RecipientOutcome::failed(
                            number.clone(),
                            name,
                            post.scrub(self.listed_failure(&answer)),
                        ),
                        Listed::Unknown => RecipientOutcome::unknown(number.clone(), name),
                    })
                    .collect::<Vec<RecipientOutcome>>())
            })
            .await?;
        let unknown = outcomes
            .iter()
            .filter(|o| matches!(o.status, RecipientStatus::Unknown))
            .count();
        if unknown > 0 {
            tracing::warn!(
                provider = %self.inner.name,
                unknown,
                "the provider accepted the batch but did not list every number"
            );
        }
        Ok(outcomes)
    }

    /// The error of a number listed in `faile` of an otherwise successful batch.
    fn listed_failure(&self, answer: &GsendAnswer) -> Error {
        if answer.errid != "0" {
            return response::error_for(self.name_str(), Operation::Send, &answer.errid, &answer.err);
        }
        Error::new(ErrorKind::RecipientRejected, Operation::Send)
            .with_provider(self.name_str())
            .with_message(format!(
                "the provider listed this number as failed ({})",
                answer.err
            ))
    }

    /// Asks the provider whether a text would pass its content filter (`checkcontent.asp`).
    ///
    /// # Errors
    /// Before any request: [`ErrorKind::InvalidRequest`] for an empty text,
    /// [`ErrorKind::InvalidContent`] for a text over [`CHECK_CONTENT_CHARS`] characters or one GBK
    /// cannot write. Then the provider's failure (credentials, transport, unreadable answer).
    pub async fn check_content(&self, text: &str) -> Result<ContentCheck, Error> {
        let invalid = |kind: ErrorKind, message: String| {
            Error::new(kind, Operation::CheckContent)
                .with_provider(self.name_str())
                .with_message(message)
        };
        if text.trim().is_empty() {
            return Err(invalid(ErrorKind::InvalidRequest, "the text is empty".to_owned()));
        }
        let chars = text.chars().count();
        if chars > CHECK_CONTENT_CHARS {
            return Err(invalid(
                ErrorKind::InvalidContent,
                format!("the text has {chars} characters; checkcontent takes at most {CHECK_CONTENT_CHARS}"),
            ));
        }
        let content = encode_gbk(text).map_err(|e| invalid(ErrorKind::InvalidContent, e.to_string()))?;
        self.call(
            "checkcontent.asp",
            Operation::CheckContent,
            &[("content", Cow::Owned(content))],
            None,
            |name, body, _| response::check_content(name, body),
        )
        .await
    }

    /// Changes the account password (`cpwd.asp`). On success every clone of this client uses the new
    /// password; the caller must store it (the configuration it was built from still holds the old
    /// one). A send running at the same moment may still use the old password and fail with
    /// `6003`.
    ///
    /// # Errors
    /// Before any request: [`ErrorKind::InvalidRequest`] unless the new password is 5 to 19 printable
    /// ASCII characters without spaces. Then the provider's failure.
    pub async fn change_password(&self, new_password: impl Into<Secret>) -> Result<(), Error> {
        let new_password: Secret = new_password.into();
        let chars = new_password.expose().chars().count();
        let printable = new_password.expose().bytes().all(|b| b.is_ascii_graphic());
        if !PASSWORD_CHARS.contains(&chars) || !printable {
            return Err(Error::new(ErrorKind::InvalidRequest, Operation::ChangePassword)
                .with_provider(self.name_str())
                .with_message(format!(
                    "a new password must be {} to {} printable ASCII characters without spaces",
                    PASSWORD_CHARS.start(),
                    PASSWORD_CHARS.end()
                )));
        }
        let new_bytes = new_password.expose().as_bytes();
        self.call(
            "cpwd.asp",
            Operation::ChangePassword,
            &[("newpwd", Cow::Borrowed(new_bytes))],
            Some(new_bytes),
            |name, body, _| response::change_password(name, body),
        )
        .await?;
        *self
            .inner
            .password
            .write()
            .unwrap_or_else(PoisonError::into_inner) = new_password;
        tracing::info!(provider = %self.inner.name, "password changed");
        Ok(())
    }
}

/// Checks the base URL (see [`sms_core::raw::http::normalize_base_url`]) and gives it a trailing `/`:
/// the pages are relative to it.
fn normalize_base_url(base: &str) -> Result<String, String> {
    sms_core::raw::http::normalize_base_url(base).map(|base| base + "/")
}

#[async_trait]
impl MessageSender for JuxiangClient {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// Sends one text to every recipient, [`MAX_BATCH`] numbers per request, merged into one receipt
    /// in recipient order. A number the provider lists as failed is `Failed`; one it lists nowhere
    /// (or only under an ambiguous mask) is `Unknown`. A batch whose request fails marks its numbers
    /// failed with that error; later batches are still sent unless the error concerns the account or
    /// the text, in which case they are marked failed with the same kind and not requested.
    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let prepared = &self.prepare(message)?;
        send_batches(
            self.name_str(),
            message,
            BatchPlan::sequential(MAX_BATCH),
            |batch: Message| async move { self.send_batch(batch.recipients(), prepared).await },
        )
        .await
    }
}

#[async_trait]
impl BalanceQuery for JuxiangClient {
    /// The balance from `getfee.asp`, in messages.
    async fn balance(&self) -> Result<Balance, Error> {
        let amount = self
            .call("getfee.asp", Operation::Balance, &[], None, |name, body, _| {
                response::balance(name, body)
            })
            .await?;
        Ok(Balance {
            provider: self.inner.name.clone(),
            amount,
            unit: BalanceUnit::Messages,
        })
    }
}

#[async_trait]
impl InboundSource for JuxiangClient {
    /// One unread reply from `readsms.asp`, or `None` when nothing is waiting. Call it no more often
    /// than every [`POLL_INTERVAL`]: `sms_core::inbound_stream` does the pacing. A reply of `0000`
    /// comes back with `opt_out` set: record it and do not answer that number.
    async fn next_inbound(&self) -> Result<Option<InboundMessage>, Error> {
        let reply = self
            .call("readsms.asp", Operation::Inbound, &[], None, |name, body, _| {
                response::read_sms(name, body)
            })
            .await?;
        if let Some(reply) = &reply {
            tracing::debug!(
                provider = %self.inner.name,
                sender = %sms_core::raw::mask_digits(&reply.sender),
                opt_out = reply.opt_out,
                "reply received"
            );
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_encoding_names_the_first_unmappable_character() {
        assert_eq!(
            encode_gbk("【测试】你好").unwrap(),
            [
                0xA1, 0xBE, 0xB2, 0xE2, 0xCA, 0xD4, 0xA1, 0xBF, 0xC4, 0xE3, 0xBA, 0xC3
            ]
        );
        assert_eq!(encode_gbk("a&b=c").unwrap(), b"a&b=c");
        assert_eq!(
            encode_gbk("你好한국").unwrap_err(),
            Unmappable {
                character: '한',
                position: 2
            }
        );
        assert_eq!(
            encode_gbk("ok 😀").unwrap_err(),
            Unmappable {
                character: '😀',
                position: 3
            }
        );
        // Long input that needs more than the first buffer estimate still round-trips.
        let long = "汉字".repeat(500);
        let bytes = encode_gbk(&long).unwrap();
        assert_eq!(response::decode_gbk(&bytes).unwrap(), long);
    }

    #[test]
    fn base_urls_are_checked_and_get_a_trailing_slash() {
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080/send").unwrap(),
            "http://127.0.0.1:8080/send/"
        );
        assert_eq!(
            normalize_base_url(" http://127.0.0.1/send/ ").unwrap(),
            "http://127.0.0.1/send/"
        );
        for bad in [
            "",
            "203.81.21.34/send/",
            "ftp://127.0.0.1/send/",
            "http://127.0.0.1/send/?a=1",
            "http://u:p@127.0.0.1/send/",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn form_values_are_percent_encoded_gbk() {
        let mut body = String::new();
        push_pair(&mut body, "msg", &encode_gbk("你好 a&b=c+%").unwrap());
        assert_eq!(body, "msg=%C4%E3%BA%C3+a%26b%3Dc%2B%25");
    }
}
