//! Secret-leak testing against servers that echo the request: the echoing servers, a TRACE log
//! capture, and the check that neither an error nor a log line quotes a secret or the request.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use super::wire::{CapturedRequest, Reply, WireServer};
use crate::Error;

/// How each echoing server answers, by name: the raw body with several statuses, the body cut so
/// that an excerpt ends inside it, and the body inside the error message of an XML, JSON or form
/// answer (as an error page, a proxy or a debugging server would).
pub const ECHO_STYLES: &[&str] = &[
    "raw 200",
    "raw 400",
    "raw 500",
    "raw 502",
    "raw 503",
    "padded 100",
    "padded 180",
    "xml msg",
    "json msg",
    "json fields",
    "form err",
];

/// The answer of echo style `style` (one of [`ECHO_STYLES`]) to `request`.
///
/// # Panics
/// For an unknown style.
pub fn echo_reply(style: &str, request: &CapturedRequest) -> Reply {
    let body = request.body.clone();
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = |s: &str| format!("{s:?}");
    match style {
        "raw 200" => Reply::ok(body),
        "raw 400" => Reply::status(400, body),
        "raw 500" => Reply::status(500, body),
        "raw 502" => Reply::status(502, body),
        "raw 503" => Reply::status(503, body),
        "padded 100" => Reply::ok(format!("{}{text}", "x".repeat(100))),
        "padded 180" => Reply::ok(format!("{}{text}", "x".repeat(180))),
        "xml msg" => Reply::xml(format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<SubmitResult><code>9999</code><msg>{}</msg><smsid>0</smsid></SubmitResult>",
            text.replace('&', "&amp;").replace('<', "&lt;")
        )),
        "json msg" => Reply::json(format!(
            "{{\"code\":9999,\"msg\":{},\"returnstatus\":\"Faild\",\"message\":{}}}",
            json(&text),
            json(&text)
        )),
        "json fields" => {
            let fields: Vec<String> = request
                .form()
                .into_iter()
                .map(|(name, value)| format!("{}:{}", json(&name), json(&String::from_utf8_lossy(&value))))
                .collect();
            Reply::json(format!("{{{}}}", fields.join(",")))
        }
        "form err" => {
            let mut encoded = String::new();
            crate::percent::percent_encode_into(&mut encoded, &body);
            Reply::ok(format!("num=0&success=&faile=&err={encoded}&errid=9999"))
        }
        other => panic!("unknown echo style {other:?}"),
    }
}

/// One echoing server per style of [`ECHO_STYLES`], with its style's name.
pub async fn echo_servers() -> Vec<(&'static str, WireServer)> {
    let mut servers = Vec::new();
    for &style in ECHO_STYLES {
        servers.push((
            style,
            WireServer::start(move |request| echo_reply(style, request)).await,
        ));
    }
    servers
}

/// Everything an error shows: `Display`, alternate `Display`, `Debug`, and each source's `Display`
/// and `Debug` down the chain.
pub fn error_text(error: &Error) -> String {
    let mut text = format!("{error}\n{error:#}\n{error:?}\n");
    let mut next = std::error::Error::source(error);
    while let Some(source) = next {
        text.push_str(&format!("{source}\n{source:?}\n"));
        next = source.source();
    }
    text
}

/// The shortest request value checked for: shorter ones (`json`, `1`) are ordinary text.
const MIN_VALUE_CHARS: usize = 6;

/// Panics, naming what leaked, when `seen` contains any of `secrets` (as given, form-encoded, or
/// in either case), or an echo of any of `requests`: a `name=value` pair of its body as sent, or a
/// field value of at least six characters, as sent or decoded.
///
/// # Panics
/// On a leak, or when `requests` is empty (the test would prove nothing).
pub fn assert_no_leak(seen: &str, secrets: &[&[u8]], requests: &[CapturedRequest]) {
    assert!(!requests.is_empty(), "no request reached the echoing server");
    let mut needles: Vec<(String, String)> = Vec::new();
    for secret in secrets {
        let mut encoded = String::new();
        crate::percent::percent_encode_into(&mut encoded, secret);
        for form in [String::from_utf8_lossy(secret).into_owned(), encoded] {
            needles.push(("a secret".into(), form.to_ascii_lowercase()));
        }
    }
    for request in requests {
        for pair in request.body.split(|&b| b == b'&') {
            let pair = String::from_utf8_lossy(pair);
            let Some((_, value)) = pair.split_once('=') else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            needles.push(("a request pair".into(), pair.to_ascii_lowercase()));
            let decoded =
                String::from_utf8_lossy(&crate::percent::percent_decode(value.as_bytes())).into_owned();
            for value in [value.to_owned(), decoded] {
                if value.chars().count() >= MIN_VALUE_CHARS && !value.contains('\u{fffd}') {
                    needles.push(("a request value".into(), value.to_ascii_lowercase()));
                }
            }
        }
    }
    let haystack = seen.to_ascii_lowercase();
    for (what, needle) in needles {
        assert!(
            !haystack.contains(&needle),
            "{what} leaked: {needle:?} in\n{seen}"
        );
    }
}

/// Every log line (all targets, TRACE and up) written on this thread while the guard from
/// [`LogCapture::install`] lives.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// The capture of a TRACE subscriber installed as the process-wide default on first use.
    ///
    /// Prefer it to [`LogCapture::install`] when tests of one binary run in parallel: `tracing`
    /// caches per call site whether anyone listens, and a thread-local subscriber can miss events
    /// whose interest another thread cached first. It holds every test's logs, which only makes a
    /// leak check stricter.
    pub fn global() -> &'static LogCapture {
        static GLOBAL: std::sync::OnceLock<LogCapture> = std::sync::OnceLock::new();
        GLOBAL.get_or_init(|| {
            let capture = LogCapture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish();
            // Another global subscriber (set by the test binary itself) keeps this capture empty,
            // which the caller's own "was anything logged" check then reports.
            let _ = tracing::subscriber::set_global_default(subscriber);
            capture
        })
    }

    /// Installs a TRACE subscriber writing here, for the current thread.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
