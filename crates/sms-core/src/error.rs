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
    /// The provider said it did not process the request (HTTP 503, or a 5xx a provider documents as
    /// unprocessed); nothing was sent, and the same provider may recover shortly.
    Unavailable,
    /// The provider could not be connected to at all (refused, DNS, TLS handshake, connect timeout):
    /// nothing was sent and the provider is down. Retrying it at once is pointless; fail over.
    Unreachable,
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
    /// A spend cap (parts or money, per day or month, per account, country or overall) would be
    /// crossed: refused before any request. The message names the cap and when it resets.
    BudgetExceeded,
}

impl ErrorKind {
    /// Every kind, in declaration order: for reading a recorded kind back by its name
    /// ([`ErrorKind::from_name`]) and for table tests.
    pub const ALL: &'static [ErrorKind] = &[
        Self::InvalidRequest,
        Self::InvalidRecipient,
        Self::InvalidContent,
        Self::ContentRejected,
        Self::RecipientRejected,
        Self::Unauthorized,
        Self::Configuration,
        Self::AccountSuspended,
        Self::InsufficientBalance,
        Self::RateLimited,
        Self::RecipientThrottled,
        Self::RecipientOptedOut,
        Self::Unsupported,
        Self::Unavailable,
        Self::Unreachable,
        Self::Ambiguous,
        Self::Protocol,
        Self::ProviderFault,
        Self::CircuitOpen,
        Self::AllProvidersFailed,
        Self::BudgetExceeded,
    ];

    /// The kind whose [`ErrorKind::as_str`] is `name`; `None` for a name this version does not know.
    ///
    /// ```
    /// use sms_core::ErrorKind;
    /// assert_eq!(ErrorKind::from_name("rate limited"), Some(ErrorKind::RateLimited));
    /// assert_eq!(ErrorKind::from_name("no such kind"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.as_str() == name)
    }

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
            Self::Unreachable => "unreachable",
            Self::Ambiguous => "ambiguous outcome",
            Self::Protocol => "protocol error",
            Self::ProviderFault => "provider error",
            Self::CircuitOpen => "circuit open",
            Self::AllProvidersFailed => "all providers failed",
            Self::BudgetExceeded => "budget exceeded",
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

/// A result whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
                | ErrorKind::Unreachable
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
            ErrorKind::Unavailable
                | ErrorKind::Unreachable
                | ErrorKind::Ambiguous
                | ErrorKind::Protocol
                | ErrorKind::ProviderFault
        )
    }
}

/// What replaces a secret in a redacted error.
pub const REDACTED: &str = "[redacted]";

/// The shortest prefix of a secret treated as leaked when an excerpt was cut right after it (just
/// before its `…`). Shorter tails are too likely to be ordinary text.
pub const MIN_REDACTED_PREFIX: usize = 4;

impl Error {
    /// The error with every form of a secret removed, for errors that may quote a server echoing
    /// the request back (an excerpt of an unreadable answer, an HTTP error page).
    ///
    /// `forms` are the ways the secret may appear: as typed, percent-encoded, in another charset
    /// (empty forms are ignored). In the message each form becomes `[redacted]`, and so does a
    /// prefix of one (at least [`MIN_REDACTED_PREFIX`] bytes) that an excerpt cut off just before
    /// its `…`. An attached source whose text, or whose own sources' text, contains a form is
    /// replaced by a plain error holding its redacted text, so that neither `Debug` nor a walk of
    /// [`std::error::Error::source`] shows the secret. An error without any form comes back as it
    /// was.
    ///
    /// ```
    /// use sms_core::{Error, ErrorKind, Operation};
    /// let echoed = Error::new(ErrorKind::Protocol, Operation::Send)
    ///     .with_message("unreadable answer: \"account=a&password=p%40ss+w0rd&mobile=1380…\"");
    /// let clean = echoed.redact(&["p@ss w0rd", "p%40ss+w0rd"]);
    /// assert_eq!(clean.message(), "unreadable answer: \"account=a&password=[redacted]&mobile=1380…\"");
    /// let cut = Error::new(ErrorKind::Protocol, Operation::Send).with_message("password=p%40s…");
    /// assert_eq!(cut.redact(&["p%40ss+w0rd"]).message(), "password=[redacted]…");
    /// ```
    #[must_use]
    pub fn redact(mut self, forms: &[&str]) -> Self {
        let mut forms: Vec<&str> = forms.iter().copied().filter(|form| !form.is_empty()).collect();
        if forms.is_empty() {
            return self;
        }
        // Longest first, so that a form containing another is replaced whole.
        forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
        if let Some(clean) = redact_text(&self.inner.message, &forms) {
            self.inner.message = clean;
        }
        if let Some(clean) = self
            .inner
            .code
            .as_deref()
            .and_then(|code| redact_text(code, &forms))
        {
            self.inner.code = Some(clean);
        }
        let Some(source) = &self.inner.source else {
            return self;
        };
        let mut leaked = false;
        let mut level: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(error) = level {
            if redact_text(&error.to_string(), &forms).is_some() {
                leaked = true;
                break;
            }
            level = error.source();
        }
        if leaked {
            let text = source.to_string();
            let clean = redact_text(&text, &forms).unwrap_or(text);
            self.inner.source = Some(Arc::new(RedactedSource(clean)));
        }
        self
    }
}

/// `text` with each of `forms` (non-empty, longest first) and any cut-off prefix of one before a
/// `…` replaced by [`REDACTED`]; `None` when nothing was found.
fn redact_text(text: &str, forms: &[&str]) -> Option<String> {
    let mut clean = text.to_owned();
    for form in forms {
        if clean.contains(form) {
            clean = clean.replace(form, REDACTED);
        }
    }
    if clean.contains('…') {
        let mut out = String::with_capacity(clean.len());
        let mut pieces = clean.split('…').peekable();
        while let Some(piece) = pieces.next() {
            if pieces.peek().is_none() {
                out.push_str(piece);
                break;
            }
            let leaked = forms
                .iter()
                // A prefix longer than the piece cannot end it; bounding by the piece keeps this
                // cheap when a form is long (an echoed upload).
                .flat_map(|form| {
                    (MIN_REDACTED_PREFIX..form.len().min(piece.len() + 1))
                        .filter_map(move |len| form.get(..len))
                })
                .filter(|prefix| piece.ends_with(prefix))
                .map(str::len)
                .max();
            match leaked {
                Some(len) => {
                    out.push_str(&piece[..piece.len() - len]);
                    out.push_str(REDACTED);
                }
                None => out.push_str(piece),
            }
            out.push('…');
        }
        clean = out;
    }
    (clean != text).then_some(clean)
}

/// A source error replaced by [`Error::redact`]: its text with the secret removed.
#[derive(Debug)]
struct RedactedSource(String);

impl fmt::Display for RedactedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedactedSource {}

impl fmt::Display for Error {
    /// One line: provider, operation, kind, code, message and retry delay, plus the number of
    /// attempts of a failover chain. The alternate form (`{:#}`) adds one line per attempt; see
    /// [`Error::report`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(provider) = &self.inner.provider {
            write!(f, "{provider}: ")?;
        }
        write!(f, "{} failed: {}", self.inner.operation, self.inner.kind)?;
        // A provider's text may hold line breaks; escaped, the summary stays on one line.
        let message = OneLine(&self.inner.message);
        match (&self.inner.code, self.inner.message.is_empty()) {
            (Some(code), false) => write!(f, " (code {}: {message})", OneLine(code))?,
            (Some(code), true) => write!(f, " (code {})", OneLine(code))?,
            (None, false) => write!(f, ": {message}")?,
            (None, true) => {}
        }
        if let Some(delay) = self.inner.retry_after {
            // A message that already names the delay (a local limiter's "next allowed in 1s")
            // is not followed by the same delay again.
            let delay = format!("{delay:?}");
            if !self.inner.message.contains(&delay) {
                write!(f, "; retry after {delay}")?;
            }
        }
        let attempts = &self.inner.attempts;
        if f.alternate() {
            for (index, attempt) in attempts.iter().enumerate() {
                write!(
                    f,
                    "\n  attempt {}: {} after {:?}",
                    index + 1,
                    attempt.error,
                    attempt.elapsed
                )?;
            }
        } else if !attempts.is_empty() {
            let plural = if attempts.len() == 1 { "" } else { "s" };
            write!(f, " [{} attempt{plural}]", attempts.len())?;
        }
        Ok(())
    }
}

/// Text with control characters escaped (`\n` as `\\n`), for one-line output.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

impl Error {
    /// The full report: the one-line summary, then one line per attempt of a failover chain (the
    /// same text as `format!("{error:#}")`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use sms_core::{Attempt, Error, ErrorKind, Operation};
    /// let first = Error::new(ErrorKind::Unavailable, Operation::Send).with_provider("a");
    /// let all = Error::new(ErrorKind::AllProvidersFailed, Operation::Send).with_attempts(vec![Attempt {
    ///     provider: "a".into(),
    ///     recipients: 1,
    ///     error: first,
    ///     elapsed: Duration::from_millis(5),
    /// }]);
    /// assert_eq!(all.to_string(), "send failed: all providers failed [1 attempt]");
    /// assert_eq!(
    ///     all.report(),
    ///     "send failed: all providers failed\n  attempt 1: a: send failed: unavailable after 5ms"
    /// );
    /// ```
    pub fn report(&self) -> String {
        format!("{self:#}")
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

    /// (kind, retry here, fail over, ambiguous, provider fault) for a send.
    fn expected(kind: ErrorKind) -> (bool, bool, bool, bool) {
        use ErrorKind::*;
        match kind {
            InvalidRequest | InvalidRecipient | InvalidContent => (false, false, false, false),
            RecipientThrottled | RecipientOptedOut | AllProvidersFailed | BudgetExceeded => {
                (false, false, false, false)
            }
            ContentRejected | RecipientRejected | Unauthorized | Configuration => (false, true, false, false),
            AccountSuspended | InsufficientBalance | Unsupported | CircuitOpen => (false, true, false, false),
            RateLimited => (true, true, false, false),
            Unavailable => (true, true, false, true),
            Unreachable => (false, true, false, true),
            Ambiguous => (false, false, true, true),
            Protocol => (false, false, true, true),
            ProviderFault => (false, true, false, true),
        }
    }

    /// `ALL` lists every kind once and each name reads back. The match is exhaustive, so a new kind
    /// stops this from compiling until it is placed here (and in `ALL`).
    #[test]
    fn every_kind_is_listed_once_and_reads_back_by_name() {
        use ErrorKind::*;
        let position = |kind: ErrorKind| match kind {
            InvalidRequest => 0,
            InvalidRecipient => 1,
            InvalidContent => 2,
            ContentRejected => 3,
            RecipientRejected => 4,
            Unauthorized => 5,
            Configuration => 6,
            AccountSuspended => 7,
            InsufficientBalance => 8,
            RateLimited => 9,
            RecipientThrottled => 10,
            RecipientOptedOut => 11,
            Unsupported => 12,
            Unavailable => 13,
            Unreachable => 14,
            Ambiguous => 15,
            Protocol => 16,
            ProviderFault => 17,
            CircuitOpen => 18,
            AllProvidersFailed => 19,
            BudgetExceeded => 20,
        };
        assert_eq!(ErrorKind::ALL.len(), 21);
        for (i, &kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(position(kind), i, "{kind:?}");
            assert_eq!(ErrorKind::from_name(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn classification_table_for_sends() {
        for &kind in ErrorKind::ALL {
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
        // One line by default; the attempts under `{:#}` and `report()`.
        assert_eq!(all.to_string(), "send failed: all providers failed [2 attempts]");
        assert!(!all.to_string().contains('\n'));
        let text = format!("{all:#}");
        assert_eq!(text, all.report());
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
    fn display_stays_on_one_line_whatever_the_provider_wrote() {
        let e = Error::new(ErrorKind::ProviderFault, Operation::Send)
            .with_code("9\r\n9")
            .with_message("first line\nsecond line");
        assert_eq!(
            e.to_string(),
            "send failed: provider error (code 9\\r\\n9: first line\\nsecond line)"
        );
        assert_eq!(
            e.message(),
            "first line\nsecond line",
            "the message itself is kept verbatim"
        );
    }

    #[test]
    fn a_delay_the_message_already_names_is_not_repeated() {
        let limited = Error::new(ErrorKind::RateLimited, Operation::Send)
            .with_provider("a")
            .with_message("a reached the local limit of 1 message(s) per 1s; next allowed in 998ms")
            .with_retry_after(Duration::from_millis(998));
        assert_eq!(
            limited.to_string(),
            "a: send failed: rate limited: a reached the local limit of 1 message(s) per 1s; next allowed in 998ms"
        );
    }

    #[test]
    fn redact_covers_the_code() {
        let e = Error::new(ErrorKind::ProviderFault, Operation::Send)
            .with_code("s3cr3t-code")
            .redact(&["s3cr3t-code"]);
        assert_eq!(e.code(), Some("[redacted]"));
    }

    #[derive(Debug)]
    struct Chain(&'static str, Option<std::io::Error>);

    impl fmt::Display for Chain {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
        }
    }

    fn everything(e: &Error) -> String {
        let mut text = format!("{e} {e:?}");
        let mut next = std::error::Error::source(e);
        while let Some(source) = next {
            text.push_str(&format!(" {source} {source:?}"));
            next = source.source();
        }
        text
    }

    #[test]
    fn redact_removes_every_form_from_message_and_sources() {
        let forms = ["k3y+&=", "k3y%2B%26%3D"];
        let e = Error::new(ErrorKind::Unavailable, Operation::Send)
            .with_message("echo: password=k3y%2B%26%3D raw k3y+&=")
            .with_source(Chain("body was password=k3y+&=", None))
            .redact(&forms);
        assert_eq!(e.message(), "echo: password=[redacted] raw [redacted]");
        let text = everything(&e);
        assert!(!text.contains("k3y"), "{text}");
        assert!(text.contains("body was password=[redacted]"), "{text}");

        // A leak deeper in the chain replaces the whole source.
        let io = std::io::Error::other("inner k3y%2B%26%3D");
        let e = Error::new(ErrorKind::Ambiguous, Operation::Send)
            .with_source(Chain("outer", Some(io)))
            .redact(&forms);
        let text = everything(&e);
        assert!(!text.contains("k3y"), "{text}");
        assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "outer");
    }

    #[test]
    fn redact_catches_a_secret_cut_off_by_an_excerpt() {
        let forms = ["0123456789abcdef"];
        let cut = Error::new(ErrorKind::Protocol, Operation::Send)
            .with_message("unreadable: \"password=0123…\" (HTTP 200)")
            .redact(&forms);
        assert_eq!(cut.message(), "unreadable: \"password=[redacted]…\" (HTTP 200)");
        // Fewer than MIN_REDACTED_PREFIX bytes are left alone: too likely to be ordinary text.
        let short = Error::new(ErrorKind::Protocol, Operation::Send)
            .with_message("x=012…")
            .redact(&forms);
        assert_eq!(short.message(), "x=012…");
    }

    #[test]
    fn redact_leaves_clean_errors_alone() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Unavailable, Operation::Send)
            .with_code("HTTP 503")
            .with_message("busy…")
            .with_source(io)
            .redact(&["secret", ""]);
        assert_eq!((e.code(), e.message()), (Some("HTTP 503"), "busy…"));
        assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "refused");
        // No forms at all: nothing to do, and an empty form never matches everywhere.
        assert_eq!(e.clone().redact(&[]).message(), "busy…");
        assert_eq!(e.redact(&[""]).message(), "busy…");
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
