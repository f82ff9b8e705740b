//! An exact-wire test server for provider crates: a tiny HTTP/1.1 server on loopback that records
//! every request as it arrived (method, target, headers, body bytes) and answers what the test
//! says, including broken answers (a connection closed or cut mid-body, no answer at all).
//!
//! It speaks just enough HTTP for a client under test (`Content-Length` bodies, keep-alive), so that
//! a test can assert the exact bytes a provider client puts on the wire and how it reads every kind
//! of answer, with no network beyond 127.0.0.1.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use sms_core::testkit::wire::{Reply, WireServer};
//! let server = WireServer::start(|request| {
//!     if request.path() == "/balance" { Reply::ok("num=7") } else { Reply::status(404, "") }
//! })
//! .await;
//! // A client under test would now POST to `server.url("/balance")`.
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! assert!(server.requests().is_empty());
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request as it arrived on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    /// The method (`POST`).
    pub method: String,
    /// The request target as sent: path and query (`/webservice/api?method=SendMms`).
    pub target: String,
    /// The header lines in order, names and values as sent (trimmed).
    pub headers: Vec<(String, String)>,
    /// The body bytes (as announced by `Content-Length`).
    pub body: Vec<u8>,
}

impl CapturedRequest {
    /// The path: the target up to `?`.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(path, _)| path)
    }

    /// The query: the target after `?` (empty when there is none).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, query)| query)
    }

    /// The query's pairs, percent-decoded as UTF-8 text, in order.
    ///
    /// # Panics
    /// When a name or value is not UTF-8 after decoding.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        text_pairs(self.query().as_bytes())
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, undecoded (form bodies are ASCII on the wire).
    ///
    /// # Panics
    /// When the body is not UTF-8.
    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap_or_else(|e| panic!("the request body is not UTF-8: {e}"))
    }

    /// The body's form fields in order, names as text and values percent-decoded to raw bytes (so
    /// that a GBK provider's values can be checked byte for byte).
    ///
    /// # Panics
    /// When a field name is not UTF-8 after decoding.
    pub fn form(&self) -> Vec<(String, Vec<u8>)> {
        form_pairs(&self.body)
            .map(|(name, value)| (utf8(name, "form field name"), value))
            .collect()
    }

    /// The body's form fields in order, names and values as UTF-8 text.
    ///
    /// # Panics
    /// When a name or value is not UTF-8 after decoding.
    pub fn text_form(&self) -> Vec<(String, String)> {
        text_pairs(&self.body)
    }

    /// The names of the body's form fields, in order.
    pub fn field_names(&self) -> Vec<String> {
        self.form().into_iter().map(|(name, _)| name).collect()
    }

    /// The first form field called `name`, as raw bytes.
    pub fn field(&self, name: &str) -> Option<Vec<u8>> {
        self.form().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The first form field called `name`, as UTF-8 text.
    ///
    /// # Panics
    /// When the field's value is not UTF-8.
    pub fn text_field(&self, name: &str) -> Option<String> {
        self.field(name).map(|value| utf8(value, name))
    }
}

fn form_pairs(body: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    body.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            (
                crate::percent::percent_decode(name),
                crate::percent::percent_decode(value),
            )
        })
}

fn text_pairs(encoded: &[u8]) -> Vec<(String, String)> {
    form_pairs(encoded)
        .map(|(name, value)| {
            let name = utf8(name, "field name");
            let value = utf8(value, &name);
            (name, value)
        })
        .collect()
}

fn utf8(bytes: Vec<u8>, what: &str) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{what} is not UTF-8: {e}"))
}

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A complete answer with `Content-Length`; the connection stays open for the next request.
    Body {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header.
        content_type: &'static str,
        /// The body.
        body: Vec<u8>,
    },
    /// These bytes as they are (status line and headers included), then close the connection: a
    /// broken or truncated answer.
    Raw(Vec<u8>),
    /// Never answer (the client's timeout ends the request).
    Hang,
    /// Close the connection without answering.
    Close,
}

impl Reply {
    /// 200 with `body` as `text/plain`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::status(200, body)
    }

    /// `status` with `body` as `text/plain`.
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::Body {
            status,
            content_type: "text/plain",
            body: body.into(),
        }
    }

    /// 200 with `body` as `text/xml; charset=utf-8`.
    pub fn xml(body: impl Into<String>) -> Self {
        Reply::Body {
            status: 200,
            content_type: "text/xml; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    /// 200 with `body` as `application/json`.
    pub fn json(body: impl Into<String>) -> Self {
        Reply::Body {
            status: 200,
            content_type: "application/json",
            body: body.into().into_bytes(),
        }
    }

    /// A 200 whose headers announce 1000 body bytes, of which only `partial` arrive before the
    /// connection closes: the answer is cut off mid-body.
    pub fn cut_off(partial: impl AsRef<[u8]>) -> Self {
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
        raw.extend_from_slice(partial.as_ref());
        Reply::Raw(raw)
    }

    /// A 200 whose body is `len` bytes of `x`, announced by `Content-Length`: larger than any sane
    /// body cap when `len` is.
    pub fn oversized(len: usize) -> Self {
        Self::ok(vec![b'x'; len])
    }
}

type Handler = Arc<dyn Fn(CapturedRequest) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// The server. It accepts connections until dropped; connections already open end with the test's
/// runtime.
pub struct WireServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<CapturedRequest>>>,
    task: JoinHandle<()>,
}

impl fmt::Debug for WireServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for WireServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WireServer {
    /// A server answering each request with `reply(&request)`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start<F>(reply: F) -> Self
    where
        F: Fn(&CapturedRequest) -> Reply + Send + Sync + 'static,
    {
        Self::start_async(move |request| {
            let answer = reply(&request);
            async move { answer }
        })
        .await
    }

    /// A server answering each request with what `reply(request)` resolves to, for tests that hold
    /// answers back (to see how many requests are in flight) or hand requests to a channel.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start_async<F, Fut>(reply: F) -> Self
    where
        F: Fn(CapturedRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |request| Box::pin(reply(request)));
        let (listener, addr) = bind_loopback().await;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&handler), Arc::clone(&recorded)));
            }
        });
        WireServer { addr, requests, task }
    }

    /// A server answering every request with the same reply.
    pub async fn always(reply: Reply) -> Self {
        Self::start(move |_| reply.clone()).await
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`, without trailing `/`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// [`WireServer::base_url`] followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A loopback base URL (`http://127.0.0.1:port`) nothing listens on: connecting is refused.
///
/// # Panics
/// When no loopback port can be bound.
pub async fn refused_base_url() -> String {
    let (listener, addr) = bind_loopback().await;
    drop(listener);
    format!("http://{addr}")
}

/// A listener on a free loopback port, and its address.
async fn bind_loopback() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("a bound listener has an address: {e}"));
    (listener, addr)
}

async fn serve(mut socket: TcpStream, handler: Handler, recorded: Arc<Mutex<Vec<CapturedRequest>>>) {
    let _ = socket.set_nodelay(true);
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut socket, &mut buffer).await {
        recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        match handler(request).await {
            Reply::Body {
                status,
                content_type,
                body,
            } => {
                let mut answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                answer.extend_from_slice(&body);
                if socket.write_all(&answer).await.is_err() {
                    return;
                }
            }
            Reply::Raw(bytes) => {
                let _ = socket.write_all(&bytes).await;
                let _ = socket.shutdown().await;
                return;
            }
            Reply::Hang => std::future::pending::<()>().await,
            Reply::Close => return,
        }
    }
}

/// Reads one request (head and `Content-Length` body), keeping any bytes of the next one in
/// `buffer`; `None` when the peer closed or sent something that is not a request.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<CapturedRequest> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut request_line = lines.next()?.split(' ');
            let method = request_line.next()?.to_owned();
            let target = request_line.next()?.to_owned();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let total = end + 4 + length;
            if buffer.len() >= total {
                let body = buffer[end + 4..total].to_vec();
                buffer.drain(..total);
                return Some(CapturedRequest {
                    method,
                    target,
                    headers,
                    body,
                });
            }
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exchange(server: &WireServer, raw: &[u8]) -> Vec<u8> {
        let mut socket = TcpStream::connect(server.addr()).await.unwrap();
        socket.write_all(raw).await.unwrap();
        // Half-close: the server answers, then sees the end of the requests and closes too.
        socket.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        answer
    }

    #[tokio::test]
    async fn requests_are_recorded_as_they_arrived() {
        let server = WireServer::always(Reply::cut_off("num=1&succ")).await;
        let body = "account=a&msg=%C4%E3+b%26&empty=&k";
        let raw = format!(
            "POST /webservice/api?method=SendMms&x=%E4%B8%AD HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let answer = exchange(&server, raw.as_bytes()).await;
        assert!(answer.ends_with(b"\r\n\r\nnum=1&succ"), "{answer:?}");
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/webservice/api?method=SendMms&x=%E4%B8%AD");
        assert_eq!(
            (request.path(), request.query()),
            ("/webservice/api", "method=SendMms&x=%E4%B8%AD")
        );
        assert_eq!(
            request.query_pairs(),
            [
                ("method".to_owned(), "SendMms".to_owned()),
                ("x".to_owned(), "中".to_owned())
            ]
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            request.headers[0],
            ("Host".to_owned(), "x".to_owned()),
            "names as sent"
        );
        assert_eq!(request.body_text(), "account=a&msg=%C4%E3+b%26&empty=&k");
        assert_eq!(request.field_names(), ["account", "msg", "empty", "k"]);
        assert_eq!(request.field("msg"), Some(vec![0xC4, 0xE3, b' ', b'b', b'&']));
        assert_eq!(request.text_field("account").as_deref(), Some("a"));
        assert_eq!(request.text_field("empty").as_deref(), Some(""));
        assert_eq!(request.text_field("missing"), None);
    }

    #[tokio::test]
    async fn keep_alive_requests_are_answered_in_turn() {
        let server = WireServer::start(|request| match request.path() {
            "/a" => Reply::ok("first"),
            _ => Reply::Close,
        })
        .await;
        let two = b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi";
        let answer = String::from_utf8(exchange(&server, two).await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 X\r\n"), "{answer}");
        assert!(answer.ends_with("content-length: 5\r\n\r\nfirst"), "{answer}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(
            (requests[1].path(), requests[1].body.as_slice()),
            ("/b", &b"hi"[..])
        );
    }

    #[tokio::test]
    async fn async_handlers_and_refused_addresses() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let server = WireServer::start_async(move |request| {
            let _ = tx.send(request.target.clone());
            async { Reply::status(503, "busy") }
        })
        .await;
        let answer = exchange(&server, b"GET /x?y HTTP/1.1\r\n\r\n").await;
        assert!(answer.starts_with(b"HTTP/1.1 503 X\r\n"));
        assert_eq!(rx.recv().await.as_deref(), Some("/x?y"));
        assert_eq!(server.url("/p"), format!("{}/p", server.base_url()));

        let refused = refused_base_url().await;
        let addr = refused.strip_prefix("http://").unwrap();
        assert!(TcpStream::connect(addr).await.is_err());
    }

    #[test]
    fn reply_helpers() {
        assert_eq!(
            Reply::oversized(3),
            Reply::Body {
                status: 200,
                content_type: "text/plain",
                body: b"xxx".to_vec()
            }
        );
        let Reply::Body { content_type, .. } = Reply::json("{}") else {
            panic!("a body")
        };
        assert_eq!(content_type, "application/json");
    }
}
