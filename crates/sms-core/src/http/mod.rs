//! HTTP plumbing shared by the provider crates: one way to build the client, one capped body reader and
//! one place that decides whether a transport failure means "nothing was sent" or "maybe sent".

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;

use crate::error::{Error, ErrorKind, Operation};
use crate::secret::Secret;

pub use crate::percent::percent_decode;

/// The default cap on a provider response body. Provider answers are a few hundred bytes; anything
/// near this size is a broken or hostile server.
pub const DEFAULT_BODY_CAP: usize = 64 * 1024;

/// Timeouts and identity for a provider's HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Time allowed to open a connection (TCP and TLS). Failing here means nothing was sent.
    #[serde(with = "crate::serde_duration")]
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, answer included.
    #[serde(with = "crate::serde_duration")]
    pub request_timeout: Duration,
    /// How long an idle pooled connection is kept. Kept under 60 s because provider front ends close
    /// idle connections around then, and reusing a closed one costs a failed request.
    #[serde(with = "crate::serde_duration")]
    pub pool_idle_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// The cap on a response body, in bytes.
    pub body_cap: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            pool_idle_timeout: Duration::from_secs(50),
            user_agent: concat!("sms-toolkit/", env!("CARGO_PKG_VERSION")).to_owned(),
            body_cap: DEFAULT_BODY_CAP,
        }
    }
}

/// The longest idle time [`build_client`] accepts.
pub const MAX_POOL_IDLE: Duration = Duration::from_secs(59);

/// Builds the one `reqwest::Client` a provider should share across all its requests.
///
/// # Errors
/// [`ErrorKind::Configuration`] when a timeout is zero, the idle timeout is 60 s or more, or the
/// client cannot be built.
pub fn build_client(provider: &str, config: &HttpConfig) -> Result<reqwest::Client, Error> {
    let invalid = |message: String| {
        Error::new(ErrorKind::Configuration, Operation::Configure)
            .with_provider(provider)
            .with_message(message)
    };
    if config.connect_timeout.is_zero() || config.request_timeout.is_zero() {
        return Err(invalid("HTTP timeouts must be greater than zero".to_owned()));
    }
    if config.pool_idle_timeout > MAX_POOL_IDLE {
        return Err(invalid(format!(
            "pool_idle_timeout must be under 60 s (got {:?})",
            config.pool_idle_timeout
        )));
    }
    if config.body_cap == 0 {
        return Err(invalid("body_cap must be greater than zero".to_owned()));
    }
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .pool_idle_timeout(config.pool_idle_timeout)
        .user_agent(config.user_agent.clone())
        .build()
        .map_err(|e| invalid(format!("cannot build HTTP client: {e}")).with_source(e))
}

/// Where a transport failure happened, which decides whether the request may have been delivered.
///
/// Connect-phase failures (refused, DNS, TLS handshake, connect timeout) mean nothing was sent and
/// the provider is down: [`ErrorKind::Unreachable`]. Anything after the connection was up (timeout waiting for the answer,
/// reset, truncated answer) may follow a delivered request: [`ErrorKind::Ambiguous`]. A failure to
/// build the request is [`ErrorKind::Configuration`].
pub fn classify_transport(error: &reqwest::Error) -> ErrorKind {
    if error.is_builder() {
        ErrorKind::Configuration
    } else if error.is_connect() {
        ErrorKind::Unreachable
    } else {
        ErrorKind::Ambiguous
    }
}

/// Turns a transport failure into an [`Error`] of the kind [`classify_transport`] gives.
pub fn transport_error(provider: &str, operation: Operation, error: reqwest::Error) -> Error {
    let kind = classify_transport(&error);
    let what = match kind {
        ErrorKind::Unreachable => "could not connect; nothing was sent",
        ErrorKind::Configuration => "could not build the request",
        _ if error.is_timeout() => "no answer in time; the request may have been processed",
        _ => "connection failed after the request was written; it may have been processed",
    };
    Error::new(kind, operation)
        .with_provider(provider)
        .with_message(what)
        .with_source(error)
}

/// A provider's HTTP answer: status and the capped body.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: StatusCode,
    /// The body, at most the configured cap.
    pub body: Bytes,
}

/// Sends a form POST and reads the answer, mapping every failure to the error model.
///
/// `body` must already be form-encoded (UTF-8 or, for GBK providers, their own bytes). Credentials
/// belong in the body, never in `url`.
///
/// # Errors
/// Transport failures as [`transport_error`]; HTTP 5xx as [`ErrorKind::Unavailable`]; 429 as
/// [`ErrorKind::RateLimited`] with the `Retry-After` delay; 404 and 405 as
/// [`ErrorKind::Configuration`] (wrong base URL); other non-2xx as [`ErrorKind::ProviderFault`]; a
/// body over `body_cap` as [`ErrorKind::Protocol`]; a body cut off mid-way as
/// [`ErrorKind::Ambiguous`].
pub async fn post_form(
    client: &reqwest::Client,
    provider: &str,
    operation: Operation,
    url: &str,
    body: impl Into<reqwest::Body>,
    content_type: &str,
    body_cap: usize,
) -> Result<HttpReply, Error> {
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| transport_error(provider, operation, e))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = read_capped(response, body_cap)
        .await
        .map_err(|e| e.into_error(provider, operation))?;
    if status.is_success() {
        return Ok(HttpReply { status, body });
    }
    let kind = match status {
        s if s.is_server_error() => ErrorKind::Unavailable,
        StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ErrorKind::Configuration,
        _ => ErrorKind::ProviderFault,
    };
    let mut error = Error::new(kind, operation)
        .with_provider(provider)
        .with_code(format!("HTTP {}", status.as_u16()))
        .with_message(excerpt(&body, 200));
    if let Some(delay) = retry_after.filter(|_| kind == ErrorKind::RateLimited) {
        error = error.with_retry_after(delay);
    }
    Err(error)
}

/// The longest `Retry-After` honoured. A server asking for more is capped: the value is
/// remote input, and an absurd delay must neither stall a sender nor overflow time arithmetic.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Parses a `Retry-After` value in delay-seconds form, capped at [`MAX_RETRY_AFTER`]. The HTTP-date
/// form is ignored (providers use seconds, and a date would need a clock we cannot trust here).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let seconds: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyReadError {
    /// The body is larger than the cap (by its `Content-Length` or by what arrived).
    TooLarge {
        /// The cap in bytes.
        cap: usize,
    },
    /// The connection failed while the body was arriving.
    Transport(reqwest::Error),
}

impl BodyReadError {
    /// Maps to the error model: too large is [`ErrorKind::Protocol`], a broken body
    /// [`ErrorKind::Ambiguous`] (the request was delivered and answered).
    pub fn into_error(self, provider: &str, operation: Operation) -> Error {
        match self {
            Self::TooLarge { cap } => Error::new(ErrorKind::Protocol, operation)
                .with_provider(provider)
                .with_message(format!("the response body is larger than {cap} bytes")),
            Self::Transport(e) => Error::new(ErrorKind::Ambiguous, operation)
                .with_provider(provider)
                .with_message("the response was cut off; the request may have been processed")
                .with_source(e),
        }
    }
}

impl std::fmt::Display for BodyReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { cap } => write!(f, "response body larger than {cap} bytes"),
            Self::Transport(e) => write!(f, "response body cut off: {e}"),
        }
    }
}

impl std::error::Error for BodyReadError {}

/// Reads a response body chunk by chunk, stopping with [`BodyReadError::TooLarge`] as soon as it
/// would exceed `cap` bytes instead of buffering whatever a server sends.
///
/// # Errors
/// [`BodyReadError`].
pub async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Bytes, BodyReadError> {
    if response.content_length().is_some_and(|len| len > cap as u64) {
        return Err(BodyReadError::TooLarge { cap });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyReadError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyReadError::TooLarge { cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A short, printable excerpt of a body for error messages: decoded lossily as UTF-8, control
/// characters escaped, cut at `max_chars` with an ellipsis.
pub fn excerpt(body: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks a provider's base URL and gives it back normalized, without trailing `/`, ready for a
/// path to be appended (`format!("{base}/webservice/api")`).
///
/// Surrounding whitespace is ignored. The URL must be absolute `http` or `https` with a host, and
/// must have no query, no fragment and no credentials (credentials belong in request bodies, where
/// errors and logs never show them).
///
/// # Errors
/// A message saying what is wrong, for the caller to wrap in an [`ErrorKind::Configuration`] error.
///
/// ```
/// use sms_core::http::normalize_base_url;
/// assert_eq!(normalize_base_url(" http://127.0.0.1:8080/send/ ").unwrap(), "http://127.0.0.1:8080/send");
/// assert_eq!(normalize_base_url("https://106.ihuyi.com").unwrap(), "https://106.ihuyi.com");
/// assert!(normalize_base_url("http://user:pass@example.com").is_err());
/// ```
pub fn normalize_base_url(base: &str) -> Result<String, String> {
    let base = base.trim();
    let url = reqwest::Url::parse(base).map_err(|e| format!("invalid base URL {base:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("the base URL must be http or https, got {base:?}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "the base URL must not have a query or fragment: {base:?}"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the base URL must not contain credentials".to_owned());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Removes `secret` from an error, as typed and as form-encoded by [`form_encode`] (a server may
/// echo the request body into an answer the error quotes): see [`Error::redact`] for what is
/// covered. A provider whose wire encoding is not UTF-8 passes its own encoded form to
/// [`Error::redact`] instead.
///
/// ```
/// use sms_core::http::scrub;
/// use sms_core::{Error, ErrorKind, Operation, Secret};
/// let key = Secret::new("k@y w0rd&=");
/// let echoed = Error::new(ErrorKind::Protocol, Operation::Balance)
///     .with_message("unreadable answer \"account=a&password=k%40y+w0rd%26%3D\"");
/// assert_eq!(scrub(echoed, &key).message(), "unreadable answer \"account=a&password=[redacted]\"");
/// ```
pub fn scrub(error: Error, secret: &Secret) -> Error {
    let mut encoded = String::new();
    percent_encode_into(&mut encoded, secret.expose().as_bytes());
    error.redact(&[secret.expose(), &encoded])
}

/// Form-encodes UTF-8 pairs as `application/x-www-form-urlencoded` (every reserved character escaped).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        percent_encode_into(&mut out, name.as_bytes());
        out.push('=');
        percent_encode_into(&mut out, value.as_bytes());
    }
    out
}

/// Percent-encodes bytes the way HTML forms do: alphanumerics and `*-._` stay, space becomes `+`,
/// everything else `%XX`. Works on any bytes, so GBK providers encode their own bytes with it.
pub fn percent_encode_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xF)] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests;
