//! HTTP plumbing shared by the provider crates: one way to build the client, one capped body reader and
//! one place that decides whether a transport failure means "nothing was sent" or "maybe sent".

use std::time::Duration;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
pub use reqwest::StatusCode;

use crate::error::{Error, ErrorKind, Operation};

mod form_post;

pub use crate::percent::{form_encode, percent_decode, percent_encode_into};
pub use form_post::{ECHO_MIN_CHARS, FORM_UTF8, FormPost};

/// The default cap on a provider response body. Provider answers are a few hundred bytes; anything
/// near this size is a broken or hostile server.
pub const DEFAULT_BODY_CAP: usize = 64 * 1024;

/// Timeouts, identity and status policy for a provider's HTTP client.
///
/// The default timeouts are sized for a provider API, whose answers take well under a second: a
/// connection that is not up in 2 s, or an answer that has not come in 5 s, means the provider is in
/// trouble, and waiting longer only delays failing over (a hanging primary costs a failover chain
/// a few of these before its breaker opens). Raise them for a provider known to be slow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Time allowed to open a connection (TCP and TLS). Failing here means nothing was sent.
    /// Default 2 s.
    #[serde(with = "crate::serde_duration")]
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, answer included. Default 5 s.
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
    /// The HTTP 5xx statuses this provider answers only when it did *not* process the request:
    /// [`ErrorKind::Unavailable`], retried and failed over. Every other 5xx (500, 502, 504, …) may
    /// come after the request was processed (a proxy timing out on a slow backend, a crash after the
    /// message was queued) and is [`ErrorKind::Ambiguous`]. Default `[503]`; add a status only when
    /// the provider documents it as "not processed". 429 is always [`ErrorKind::RateLimited`].
    pub unprocessed_statuses: Vec<u16>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            pool_idle_timeout: Duration::from_secs(50),
            user_agent: concat!("sms-toolkit/", env!("CARGO_PKG_VERSION")).to_owned(),
            body_cap: DEFAULT_BODY_CAP,
            unprocessed_statuses: vec![503],
        }
    }
}

/// The longest idle time [`HttpClient::new`] accepts.
pub const MAX_POOL_IDLE: Duration = Duration::from_secs(59);

/// The one HTTP client a provider shares across all its requests: a `reqwest::Client` with the
/// configured timeouts, plus the body cap and status policy of [`HttpConfig`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    body_cap: usize,
    unprocessed: Arc<[u16]>,
}

impl HttpClient {
    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] when a timeout is zero, the idle timeout is 60 s or more, the
    /// body cap is zero, an unprocessed status is not a 5xx, or the client cannot be built.
    pub fn new(provider: &str, config: &HttpConfig) -> Result<Self, Error> {
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
        if let Some(bad) = config
            .unprocessed_statuses
            .iter()
            .find(|s| !(500..600).contains(*s))
        {
            return Err(invalid(format!(
                "unprocessed_statuses lists only 5xx statuses (got {bad})"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| invalid(format!("cannot build HTTP client: {e}")).with_source(e))?;
        Ok(Self {
            client,
            body_cap: config.body_cap,
            unprocessed: config.unprocessed_statuses.clone().into(),
        })
    }

    /// The underlying `reqwest::Client`, for requests this module does not cover.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// The cap on a response body, in bytes.
    pub fn body_cap(&self) -> usize {
        self.body_cap
    }

    /// What a non-2xx status says, under this client's [`HttpConfig::unprocessed_statuses`]: see
    /// [`classify_status`].
    pub fn classify_status(&self, status: StatusCode) -> Option<ErrorKind> {
        classify_status(status, &self.unprocessed)
    }

    /// Sends `request`, reads the answer (capped) and hands a 2xx body to `read`, which turns it
    /// into the result.
    ///
    /// Every error on the way out, whether from the transport, the status or `read`, passes through
    /// [`FormPost::scrub`]: this is the one place where what a provider answered is quoted, so a
    /// server that echoes the request cannot put a credential, a signature or the request itself
    /// into an error (and so into a log). Put all interpretation of the body inside `read`.
    ///
    /// # Errors
    /// Transport failures as [`transport_error`]; non-2xx statuses as [`classify_status`] (429 with
    /// the `Retry-After` delay), with the code `HTTP <status>` and a short scrubbed excerpt of the
    /// body; a body over the cap as [`ErrorKind::Protocol`]; a body cut off mid-way as
    /// [`ErrorKind::Ambiguous`]; whatever `read` returns.
    pub async fn post_form<T>(
        &self,
        request: &FormPost<'_>,
        read: impl FnOnce(&[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.exchange(request)
            .await
            .and_then(|body| read(&body))
            .map_err(|e| request.scrub(e))
    }

    async fn exchange(&self, request: &FormPost<'_>) -> Result<Bytes, Error> {
        let (provider, operation) = (request.provider, request.operation);
        let response = self
            .client
            .post(request.url)
            .header(reqwest::header::CONTENT_TYPE, request.content_type)
            .body(request.body.clone())
            .send()
            .await
            .map_err(|e| transport_error(provider, operation, e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = read_capped(response, self.body_cap)
            .await
            .map_err(|e| e.into_error(provider, operation))?;
        let Some(kind) = self.classify_status(status) else {
            return Ok(body);
        };
        let mut error = Error::new(kind, operation)
            .with_provider(provider)
            .with_code(format!("HTTP {}", status.as_u16()))
            .with_message(excerpt(&body, STATUS_EXCERPT_CHARS));
        if let Some(delay) = retry_after.filter(|_| kind == ErrorKind::RateLimited) {
            error = error.with_retry_after(delay);
        }
        Err(error)
    }
}

/// How much of an error page's body an HTTP status error quotes.
pub const STATUS_EXCERPT_CHARS: usize = 200;

/// What a status says about the request, `None` for a success (2xx).
///
/// - 429: [`ErrorKind::RateLimited`]; not processed, retry later.
/// - a status in `unprocessed` (by default 503, see [`HttpConfig::unprocessed_statuses`]):
///   [`ErrorKind::Unavailable`]; not processed, retry or fail over.
/// - any other 5xx (500, 502, 504, …): [`ErrorKind::Ambiguous`]; the request was written and may
///   have been processed before the server or a proxy failed, so it is neither retried nor failed
///   over under at-most-once.
/// - 404 and 405: [`ErrorKind::Configuration`] (a wrong base URL).
/// - any other status: [`ErrorKind::ProviderFault`] (a refusal: nothing was done).
///
/// ```
/// use sms_core::ErrorKind;
/// use sms_core::raw::http::{StatusCode, classify_status};
/// assert_eq!(classify_status(StatusCode::OK, &[503]), None);
/// assert_eq!(classify_status(StatusCode::SERVICE_UNAVAILABLE, &[503]), Some(ErrorKind::Unavailable));
/// assert_eq!(classify_status(StatusCode::BAD_GATEWAY, &[503]), Some(ErrorKind::Ambiguous));
/// assert_eq!(classify_status(StatusCode::BAD_GATEWAY, &[502, 503]), Some(ErrorKind::Unavailable));
/// ```
pub fn classify_status(status: StatusCode, unprocessed: &[u16]) -> Option<ErrorKind> {
    Some(match status {
        s if s.is_success() => return None,
        StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited,
        s if unprocessed.contains(&s.as_u16()) => ErrorKind::Unavailable,
        s if s.is_server_error() => ErrorKind::Ambiguous,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ErrorKind::Configuration,
        _ => ErrorKind::ProviderFault,
    })
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
/// use sms_core::raw::http::normalize_base_url;
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

#[cfg(test)]
mod tests;
