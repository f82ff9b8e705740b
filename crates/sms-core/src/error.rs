//! One error type for every provider, answering the questions a caller and a failover chain ask:
//! may I retry here ([`Error::is_retryable`]), may another provider help ([`Error::can_failover`]),
//! and might the message already have gone out ([`Error::is_ambiguous`])?

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong, in provider-independent terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request itself is wrong (empty text, no recipient, a missing field): no provider can help.
    InvalidRequest,
    /// A recipient number is malformed or unreachable by any provider.
    InvalidRecipient,
    /// The content cannot be sent anywhere as is (too long, emoji, bad voice code).
    InvalidContent,
    /// This provider refused the content (sensitive words, signature, template): another may accept it.
    ContentRejected,
    /// This provider refuses this recipient (its blacklist): another may accept it.
    RecipientRejected,
    /// Credentials or source IP refused.
    Unauthorized,
    /// The client is configured wrongly (empty account, bad base URL, unusable setting).
    Configuration,
    /// The provider account is frozen or disabled.
    AccountSuspended,
    /// The provider account has no credit left.
    InsufficientBalance,
    /// Too many requests: retry the same provider later (see [`Error::retry_after`]).
    RateLimited,
    /// The recipient hit a per-number limit that exists to protect them: stop.
    RecipientThrottled,
    /// The recipient opted out (unsubscribed): stop, and do not reply to them.
    RecipientOptedOut,
    /// The provider cannot do what was asked (message kind, international, schedule, …).
    Unsupported,
    /// The provider could not be reached or answered 5xx; nothing was sent.
    Unavailable,
    /// The request may have reached the provider but no answer came (timeout, reset after writing):
    /// the message may have gone out.
    Ambiguous,
    /// The provider answered something unreadable (malformed, truncated, oversized, wrong encoding).
    Protocol,
    /// The provider reported a failure of its own, or a code this library does not know.
    ProviderFault,
    /// A failover chain skipped a provider whose circuit breaker is open; no request was made.
    CircuitOpen,
    /// Every provider of a failover chain failed; see [`Error::attempts`].
    AllProvidersFailed,
}

impl ErrorKind {
    /// A short lowercase description.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid request",
            Self::InvalidRecipient => "invalid recipient",
            Self::InvalidContent => "invalid content",
            Self::ContentRejected => "content rejected",
            Self::RecipientRejected => "recipient rejected",
            Self::Unauthorized => "unauthorized",
            Self::Configuration => "configuration error",
            Self::AccountSuspended => "account suspended",
            Self::InsufficientBalance => "insufficient balance",
            Self::RateLimited => "rate limited",
            Self::RecipientThrottled => "recipient throttled",
            Self::RecipientOptedOut => "recipient opted out",
            Self::Unsupported => "unsupported",
            Self::Unavailable => "unavailable",
            Self::Ambiguous => "ambiguous outcome",
            Self::Protocol => "protocol error",
            Self::ProviderFault => "provider error",
            Self::CircuitOpen => "circuit open",
            Self::AllProvidersFailed => "all providers failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Sending a message.
    Send,
    /// Querying the balance.
    Balance,
    /// Fetching inbound replies.
    Inbound,
    /// Registering a template.
    AddTemplate,
    /// Storing an MMS package.
    CreateMms,
    /// Pre-checking content.
    CheckContent,
    /// Changing the account password.
    ChangePassword,
    /// Parsing something a provider pushed to us.
    ParsePush,
    /// Building a client from configuration.
    Configure,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Send => "send",
            Self::Balance => "balance query",
            Self::Inbound => "inbound fetch",
            Self::AddTemplate => "template registration",
            Self::CreateMms => "MMS package upload",
            Self::CheckContent => "content check",
            Self::ChangePassword => "password change",
            Self::ParsePush => "push parsing",
            Self::Configure => "configuration",
        })
    }
}

/// One failed attempt of a failover chain: which provider, how it failed and how long it took.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The provider's name.
    pub provider: String,
    /// How many recipients the attempt carried.
    pub recipients: usize,
    /// The attempt's error.
    pub error: Error,
    /// Time from the request to the answer (zero for attempts skipped without a request).
    pub elapsed: Duration,
}

/// An error from a provider, a failover chain or local validation.
///
/// It keeps the provider's own code and message verbatim; it never contains credentials.
#[derive(Clone)]
pub struct Error {
    // Boxed so that `Result<T, Error>` stays one pointer wide on every happy path.
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    operation: Operation,
    provider: Option<String>,
    code: Option<String>,
    message: String,
    retry_after: Option<Duration>,
    attempts: Vec<Attempt>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of `kind` during `operation`, with no provider, code or message yet.
    pub fn new(kind: ErrorKind, operation: Operation) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                operation,
                provider: None,
                code: None,
                message: String::new(),
                retry_after: None,
                attempts: Vec::new(),
                source: None,
            }),
        }
    }

    /// Names the provider.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.inner.provider = Some(provider.into());
        self
    }

    /// Records the provider's own code, verbatim.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.inner.code = Some(code.into());
        self
    }

    /// Sets the message: the provider's text verbatim, or a description of the local problem.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.inner.message = message.into();
        self
    }

    /// How long to wait before retrying the same provider.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.inner.retry_after = Some(delay);
        self
    }

    /// Attaches the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Attaches the attempt record of a failover chain.
    #[must_use]
    pub fn with_attempts(mut self, attempts: Vec<Attempt>) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        self.inner.operation
    }

    /// The provider, when one was involved.
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// The provider's own code, verbatim.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// The provider's message verbatim, or a description of the problem.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// How long to wait before retrying the same provider, when the provider said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Every failed attempt of a failover chain, in order.
    pub fn attempts(&self) -> &[Attempt] {
        &self.inner.attempts
    }

    /// True when the message may have gone out although no success was seen: a timeout or a reset
    /// after the request was written, or an unreadable answer to a send. Neither retry nor failover is
    /// safe by default: the recipient could get the message twice.
    pub fn is_ambiguous(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Ambiguous => true,
            ErrorKind::Protocol => self.inner.operation == Operation::Send,
            _ => false,
        }
    }

    /// True when trying the same provider again, after a pause, may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Unavailable | ErrorKind::RateLimited)
    }

    /// True when another provider may succeed where this one failed. False for caller mistakes, for
    /// limits that protect the recipient, and for ambiguous outcomes.
    pub fn can_failover(&self) -> bool {
        if self.is_ambiguous() {
            return false;
        }
        matches!(
            self.inner.kind,
            ErrorKind::ContentRejected
                | ErrorKind::RecipientRejected
                | ErrorKind::Unauthorized
                | ErrorKind::Configuration
                | ErrorKind::AccountSuspended
                | ErrorKind::InsufficientBalance
                | ErrorKind::RateLimited
                | ErrorKind::Unsupported
                | ErrorKind::Unavailable
                | ErrorKind::Protocol
                | ErrorKind::ProviderFault
                | ErrorKind::CircuitOpen
        )
    }

    /// True for failures that say something about the provider's health (unreachable, no answer,
    /// unreadable answers, its own faults), as opposed to the caller's request or account state.
    /// Circuit breakers count these.
    pub fn is_provider_fault(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::Unavailable | ErrorKind::Ambiguous | ErrorKind::Protocol | ErrorKind::ProviderFault
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(provider) = &self.inner.provider {
            write!(f, "{provider}: ")?;
        }
        write!(f, "{} failed: {}", self.inner.operation, self.inner.kind)?;
        match (&self.inner.code, self.inner.message.is_empty()) {
            (Some(code), false) => write!(f, " (code {code}: {})", self.inner.message)?,
            (Some(code), true) => write!(f, " (code {code})")?,
            (None, false) => write!(f, ": {}", self.inner.message)?,
            (None, true) => {}
        }
        if let Some(delay) = self.inner.retry_after {
            write!(f, "; retry after {delay:?}")?;
        }
        for (index, attempt) in self.inner.attempts.iter().enumerate() {
            write!(
                f,
                "\n  attempt {}: {} after {:?}",
                index + 1,
                attempt.error,
                attempt.elapsed
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("kind", &self.inner.kind)
            .field("operation", &self.inner.operation);
        if let Some(provider) = &self.inner.provider {
            s.field("provider", provider);
        }
        if let Some(code) = &self.inner.code {
            s.field("code", code);
        }
        if !self.inner.message.is_empty() {
            s.field("message", &self.inner.message);
        }
        if let Some(delay) = &self.inner.retry_after {
            s.field("retry_after", delay);
        }
        if !self.inner.attempts.is_empty() {
            s.field("attempts", &self.inner.attempts);
        }
        if let Some(source) = &self.inner.source {
            s.field("source", &source.to_string());
        }
        s.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<crate::phone::PhoneNumberError> for Error {
    fn from(value: crate::phone::PhoneNumberError) -> Self {
        Self::new(ErrorKind::InvalidRecipient, Operation::Send)
            .with_message(value.to_string())
            .with_source(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[ErrorKind] = &[
        ErrorKind::InvalidRequest,
        ErrorKind::InvalidRecipient,
        ErrorKind::InvalidContent,
        ErrorKind::ContentRejected,
        ErrorKind::RecipientRejected,
        ErrorKind::Unauthorized,
        ErrorKind::Configuration,
        ErrorKind::AccountSuspended,
        ErrorKind::InsufficientBalance,
        ErrorKind::RateLimited,
        ErrorKind::RecipientThrottled,
        ErrorKind::RecipientOptedOut,
        ErrorKind::Unsupported,
        ErrorKind::Unavailable,
        ErrorKind::Ambiguous,
        ErrorKind::Protocol,
        ErrorKind::ProviderFault,
        ErrorKind::CircuitOpen,
        ErrorKind::AllProvidersFailed,
    ];

    /// (kind, retry here, fail over, ambiguous, provider fault) for a send.
    fn expected(kind: ErrorKind) -> (bool, bool, bool, bool) {
        use ErrorKind::*;
        match kind {
            InvalidRequest | InvalidRecipient | InvalidContent => (false, false, false, false),
            RecipientThrottled | RecipientOptedOut | AllProvidersFailed => (false, false, false, false),
            ContentRejected | RecipientRejected | Unauthorized | Configuration => (false, true, false, false),
            AccountSuspended | InsufficientBalance | Unsupported | CircuitOpen => (false, true, false, false),
            RateLimited => (true, true, false, false),
            Unavailable => (true, true, false, true),
            Ambiguous => (false, false, true, true),
            Protocol => (false, false, true, true),
            ProviderFault => (false, true, false, true),
        }
    }

    #[test]
    fn classification_table_for_sends() {
        for &kind in ALL {
            let e = Error::new(kind, Operation::Send);
            let got = (
                e.is_retryable(),
                e.can_failover(),
                e.is_ambiguous(),
                e.is_provider_fault(),
            );
            assert_eq!(got, expected(kind), "{kind:?}");
        }
    }

    #[test]
    fn unreadable_answers_are_ambiguous_only_for_sends() {
        let send = Error::new(ErrorKind::Protocol, Operation::Send);
        let balance = Error::new(ErrorKind::Protocol, Operation::Balance);
        assert!(send.is_ambiguous() && !send.can_failover());
        assert!(!balance.is_ambiguous() && balance.can_failover());
    }

    #[test]
    fn display_keeps_provider_code_and_message_verbatim() {
        let e = Error::new(ErrorKind::Unauthorized, Operation::Send)
            .with_provider("ihuyi")
            .with_code("405")
            .with_message("API ID 或 API KEY 不正确");
        assert_eq!(
            e.to_string(),
            "ihuyi: send failed: unauthorized (code 405: API ID 或 API KEY 不正确)"
        );
        let limited =
            Error::new(ErrorKind::RateLimited, Operation::Send).with_retry_after(Duration::from_secs(1));
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(1)));
        assert!(limited.to_string().ends_with("retry after 1s"));
    }

    #[test]
    fn attempts_are_listed() {
        let first = Error::new(ErrorKind::Unavailable, Operation::Send).with_provider("a");
        let second = Error::new(ErrorKind::InsufficientBalance, Operation::Send)
            .with_provider("b")
            .with_code("4051");
        let all = Error::new(ErrorKind::AllProvidersFailed, Operation::Send).with_attempts(vec![
            Attempt {
                provider: "a".into(),
                recipients: 1,
                error: first,
                elapsed: Duration::from_millis(5),
            },
            Attempt {
                provider: "b".into(),
                recipients: 1,
                error: second,
                elapsed: Duration::from_millis(7),
            },
        ]);
        let text = all.to_string();
        assert!(
            text.contains("attempt 1: a: send failed: unavailable after 5ms"),
            "{text}"
        );
        assert!(
            text.contains("attempt 2: b: send failed: insufficient balance (code 4051) after 7ms"),
            "{text}"
        );
        assert_eq!(all.attempts().len(), 2);
    }

    #[test]
    fn source_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Unavailable, Operation::Send).with_source(io);
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.to_string(), "refused");
        assert!(format!("{e:?}").contains("refused"));
    }
}
