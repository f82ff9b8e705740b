//! One form POST and what in it must never be quoted back: the single place where errors that may
//! quote a provider's answer are scrubbed.

use bytes::Bytes;

use crate::error::{Error, Operation};

/// The shortest request field value (in characters) treated as an echo marker: an error quoting a
/// value this long from the request loses it. Shorter values (`json`, `1`) are too likely to be
/// ordinary text; the `name=value` pairs of the form are always markers.
pub const ECHO_MIN_CHARS: usize = 6;

/// A form POST to a provider: where it goes, its encoded body, and the values in it that must never
/// be quoted back.
///
/// Errors made while sending it or reading its answer go through [`FormPost::scrub`] (done by
/// [`HttpClient::post_form`](super::HttpClient::post_form)), which removes, from the message, the
/// code and the source chain, every trace of:
/// - each `sensitive` value (the secret, a signature derived from it, a new password) as sent, as
///   typed, form-encoded (`+` or `%20` for a space, either hex case), escaped as `Debug`, JSON or
///   XML would print it, and a prefix of one that an excerpt cut off before its `…`;
/// - the request itself: every `name=value` pair of the body as sent, and every field value of at
///   least [`ECHO_MIN_CHARS`] characters, encoded or decoded.
///
/// So a server, proxy or error page that echoes the request cannot put a credential, its md5 or the
/// request that signs it into an error, its `Debug` output or a log line.
///
/// ```
/// use sms_core::raw::http::{FormPost, form_encode};
/// use sms_core::{Error, ErrorKind, Operation};
/// let body = form_encode(&[("account", "C123"), ("password", "k@y w0rd"), ("mobile", "13800138000")]);
/// let post = FormPost::new("demo", Operation::Balance, "http://127.0.0.1:1/api", body.clone())
///     .sensitive(b"k@y w0rd");
/// let echoed = Error::new(ErrorKind::Protocol, Operation::Balance)
///     .with_message(format!("unreadable answer {body:?} (k@y w0rd)"));
/// let clean = post.scrub(echoed);
/// assert_eq!(clean.message(), "unreadable answer \"[redacted]&[redacted]&[redacted]\" ([redacted])");
/// ```
#[derive(Clone)]
pub struct FormPost<'a> {
    /// The provider name, for errors.
    pub provider: &'a str,
    /// The operation, for errors.
    pub operation: Operation,
    /// The URL. Credentials never go here: URLs appear in transport errors.
    pub url: &'a str,
    /// The `Content-Type` header.
    pub content_type: &'a str,
    /// The form-encoded body (UTF-8, or a provider's own charset percent-encoded).
    pub body: Bytes,
    /// The raw values (before form encoding, in the bytes the provider receives, and as UTF-8 text
    /// too when that differs) that must never appear in an error.
    pub sensitive: Vec<&'a [u8]>,
}

impl std::fmt::Debug for FormPost<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormPost")
            .field("provider", &self.provider)
            .field("operation", &self.operation)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The content type of a UTF-8 form.
pub const FORM_UTF8: &str = "application/x-www-form-urlencoded; charset=utf-8";

impl<'a> FormPost<'a> {
    /// A UTF-8 form POST with no sensitive values yet.
    pub fn new(provider: &'a str, operation: Operation, url: &'a str, body: impl Into<Bytes>) -> Self {
        Self {
            provider,
            operation,
            url,
            content_type: FORM_UTF8,
            body: body.into(),
            sensitive: Vec::new(),
        }
    }

    /// Sets the `Content-Type` header (a GBK provider's form, say).
    #[must_use]
    pub fn content_type(mut self, content_type: &'a str) -> Self {
        self.content_type = content_type;
        self
    }

    /// Adds a value that must never be quoted (see the type's documentation): call it for the
    /// secret, for each value derived from it, and for each encoding of them the provider receives.
    #[must_use]
    pub fn sensitive(mut self, value: &'a [u8]) -> Self {
        self.sensitive.push(value);
        self
    }

    /// The error with every trace of the sensitive values and of the request removed (see the type's
    /// documentation). Costs nothing until an error happens.
    #[must_use]
    pub fn scrub(&self, error: Error) -> Error {
        let forms = self.markers();
        let forms: Vec<&str> = forms.iter().map(String::as_str).collect();
        error.redact(&forms)
    }

    /// Every text whose presence in an error would quote a secret or the request.
    fn markers(&self) -> Vec<String> {
        let mut forms = Vec::new();
        for value in self.sensitive.iter().filter(|v| !v.is_empty()) {
            push_variants(&mut forms, &String::from_utf8_lossy(value));
            let mut encoded = String::new();
            super::percent_encode_into(&mut encoded, value);
            push_variants(&mut forms, &encoded);
            push_variants(&mut forms, &encoded.replace('+', "%20"));
        }
        for pair in self.body.split(|&b| b == b'&') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let as_sent = &pair[eq + 1..];
            if as_sent.is_empty() {
                continue;
            }
            forms.push(String::from_utf8_lossy(pair).into_owned());
            let decoded = super::percent_decode(as_sent);
            for text in [
                String::from_utf8_lossy(as_sent),
                String::from_utf8_lossy(&decoded),
            ] {
                if text.chars().count() >= ECHO_MIN_CHARS {
                    push_variants(&mut forms, &text);
                }
            }
        }
        forms.sort_unstable();
        forms.dedup();
        forms
    }
}

/// `text` and the ways a server or an excerpt may print it.
fn push_variants(forms: &mut Vec<String>, text: &str) {
    let debug = format!("{text:?}");
    let variants = [
        text.to_owned(),
        text.to_ascii_lowercase(),
        text.to_ascii_uppercase(),
        debug[1..debug.len() - 1].to_owned(),
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('/', "\\/"),
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;"),
    ];
    forms.extend(variants);
}
