//! Test helpers shared by the ihuyi crates' integration tests (`sms-ihuyi-voice` includes this file
//! by path): a tiny HTTP/1.1 server on loopback that records every request as it arrived on the
//! wire and answers what the test says, including broken answers; a log capture; md5.

#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The form fields in order, decoded by `serde_urlencoded` (not by the code under test).
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).expect("a form body")
    }

    pub fn field(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn field_names(&self) -> Vec<String> {
        self.form().into_iter().map(|(n, _)| n).collect()
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.query).expect("a query string")
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete answer; the connection stays open for the next request.
    Body {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// These bytes, then close the connection (a broken or truncated answer).
    Raw(Vec<u8>),
    /// Never answer.
    Hang,
    /// Close the connection without answering.
    Close,
}

impl Reply {
    pub fn xml(body: impl Into<String>) -> Self {
        Reply::Body {
            status: 200,
            content_type: "text/xml; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    pub fn json(body: impl Into<String>) -> Self {
        Reply::Body {
            status: 200,
            content_type: "application/json",
            body: body.into().into_bytes(),
        }
    }

    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::Body {
            status,
            content_type: "text/html",
            body: body.into(),
        }
    }

    pub fn bytes(body: impl Into<Vec<u8>>) -> Self {
        Reply::Body {
            status: 200,
            content_type: "text/xml",
            body: body.into(),
        }
    }
}

/// An XML Submit answer with `code`, `msg` and `smsid`.
pub fn submit_xml(code: &str, msg: &str, id: &str) -> Reply {
    Reply::xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<SubmitResult xmlns=\"http://106.ihuyi.com/\"><code>{code}</code><msg>{msg}</msg><smsid>{id}</smsid></SubmitResult>"
    ))
}

type Handler = Arc<dyn Fn(Captured) -> Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync>;

/// The server. Dropping it stops accepting; open connections end with the test's runtime.
pub struct WireServer {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WireServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WireServer {
    /// A server answering every request with `reply(request)`.
    pub async fn start<F, Fut>(reply: F) -> Self
    where
        F: Fn(Captured) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |request| Box::pin(reply(request)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
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
        Self::start(move |_| {
            let reply = reply.clone();
            async move { reply }
        })
        .await
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(mut socket: TcpStream, handler: Handler, recorded: Arc<Mutex<Vec<Captured>>>) {
    let _ = socket.set_nodelay(true);
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut socket, &mut buffer).await {
        recorded.lock().unwrap().push(request.clone());
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

/// Reads one request (head and `content-length` body); `None` when the peer closed.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Captured> {
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
            if buffer.len() >= end + 4 + length {
                let body = buffer[end + 4..end + 4 + length].to_vec();
                buffer.drain(..end + 4 + length);
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                return Some(Captured {
                    method,
                    path: path.to_owned(),
                    query: query.to_owned(),
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

/// A loopback address nothing listens on.
pub async fn refused_base_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Lowercase hex md5 of the concatenated parts, computed here, independently of the library.
pub fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that `time` is 10-digit Unix seconds close to now.
pub fn assert_fresh_time(time: &str) {
    assert_eq!(time.len(), 10, "{time}");
    let sent: u64 = time.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(sent) <= 5, "time {sent} vs now {now}");
}

/// Every log line (all targets, TRACE and up) written while the guard lives, on this thread.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
