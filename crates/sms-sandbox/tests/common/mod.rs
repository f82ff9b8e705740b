//! Helpers shared by the integration tests: an HTTP client, form encoders (UTF-8 and GBK), answer
//! parsers and a push receiver.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use md5::{Digest, Md5};
use tokio::sync::mpsc;

/// Bound for every wait in the tests.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(DEADLINE)
        .build()
        .unwrap()
}

pub fn md5_hex(s: &str) -> String {
    let digest = Md5::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Percent-encodes every byte except unreserved ones.
pub fn pct(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k.as_bytes()), pct(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn gbk_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                pct(&encoding_rs::GBK.encode(k).0),
                pct(&encoding_rs::GBK.encode(v).0)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a UTF-8 form; returns status and body text.
pub async fn post_form(url: &str, pairs: &[(&str, &str)]) -> (u16, String) {
    let response = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// POSTs a UTF-8 form and parses a JSON answer.
pub async fn post_json(url: &str, pairs: &[(&str, &str)]) -> serde_json::Value {
    let mut pairs = pairs.to_vec();
    pairs.push(("format", "json"));
    let (status, body) = post_form(url, &pairs).await;
    assert_eq!(status, 200, "body: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The `code` of a JSON answer, as a string.
pub fn code(v: &serde_json::Value) -> String {
    match &v["code"] {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => panic!("no code in {other}"),
    }
}

/// The text of the first `<name>` element of an XML answer.
pub fn xml_field(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(body[start..end].to_owned())
}

/// POSTs a GBK form to a Juxiang page and decodes the GBK `k=v&k=v` answer.
pub async fn juxiang(url: &str, pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let response = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(gbk_form(pairs))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.contains("gb2312"), "{content_type}");
    let bytes = response.bytes().await.unwrap();
    parse_gbk_kv(&bytes)
}

pub fn parse_gbk_kv(bytes: &[u8]) -> HashMap<String, String> {
    let (text, _, malformed) = encoding_rs::GBK.decode(bytes);
    assert!(!malformed, "answer is not GBK");
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Decodes a percent-encoded form body whose values are in GBK or UTF-8.
pub fn parse_form(body: &[u8], gbk: bool) -> HashMap<String, String> {
    let decode = |s: &[u8]| -> String {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        if gbk {
            encoding_rs::GBK.decode(&out).0.into_owned()
        } else {
            String::from_utf8(out).unwrap()
        }
    };
    body.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let i = p.iter().position(|&b| b == b'=').unwrap_or(p.len());
            (decode(&p[..i]), decode(p.get(i + 1..).unwrap_or(&[])))
        })
        .collect()
}

/// One POST a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A local HTTP server that records POSTs to `/hook` and answers them as told.
pub struct Receiver {
    pub url: String,
    pub rx: mpsc::UnboundedReceiver<Received>,
    pub hits: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::UnboundedSender<Received>,
    hits: Arc<AtomicUsize>,
    fail_first: usize,
    status: StatusCode,
    body: &'static str,
}

impl Receiver {
    /// Answers `status` with `body`, except the first `fail_first` POSTs, which get HTTP 500.
    pub async fn start(fail_first: usize, status: u16, body: &'static str) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let hits = Arc::new(AtomicUsize::new(0));
        let state = ReceiverState {
            tx,
            hits: hits.clone(),
            fail_first,
            status: StatusCode::from_u16(status).unwrap(),
            body,
        };
        let app = Router::new().route("/hook", post(receive)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            rx,
            hits,
            _task: task,
        }
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(DEADLINE, self.rx.recv())
            .await
            .expect("no push within the deadline")
            .expect("receiver closed")
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let n = state.hits.fetch_add(1, Ordering::SeqCst);
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let _ = state.tx.send(Received {
        content_type,
        body: body.to_vec(),
    });
    if n < state.fail_first {
        (StatusCode::INTERNAL_SERVER_ERROR, "down")
    } else {
        (state.status, state.body)
    }
}
