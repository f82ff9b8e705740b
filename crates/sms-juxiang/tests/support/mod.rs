//! A tiny scripted HTTP/1.1 server on loopback for wire-level tests: it records every request and
//! answers each one the way the test's handler says (a reply, or a transport failure).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("form bodies are ASCII")
    }

    /// Form fields, percent-decoded to raw bytes, in order.
    pub fn form(&self) -> Vec<(String, Vec<u8>)> {
        self.body
            .split(|&b| b == b'&')
            .filter(|p| !p.is_empty())
            .map(|piece| {
                let (k, v) = match piece.iter().position(|&b| b == b'=') {
                    Some(i) => (&piece[..i], &piece[i + 1..]),
                    None => (piece, &[][..]),
                };
                (String::from_utf8(percent_decode(k)).unwrap(), percent_decode(v))
            })
            .collect()
    }

    /// One form field's raw bytes.
    pub fn field(&self, name: &str) -> Option<Vec<u8>> {
        self.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// One form field as UTF-8 text.
    pub fn text_field(&self, name: &str) -> Option<String> {
        self.field(name).map(|v| String::from_utf8(v).unwrap())
    }
}

pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                let hex = std::str::from_utf8(&input[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// HTTP status and body.
    Reply(u16, Vec<u8>),
    /// Read the request, then close without answering.
    Close,
    /// Read the request and never answer.
    Hang,
    /// Send headers announcing 1000 bytes, send 10, then close.
    ResetMidBody,
    /// Answer 200 with a body larger than any cap (announced by Content-Length).
    Oversized,
}

impl Behavior {
    pub fn ok(body: impl AsRef<[u8]>) -> Self {
        Behavior::Reply(200, body.as_ref().to_vec())
    }

    /// 200 with `text` encoded as GBK.
    pub fn gbk(text: &str) -> Self {
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        Behavior::Reply(200, bytes.into_owned())
    }
}

type Handler = dyn Fn(&Request) -> Behavior + Send + Sync;

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Starts a server answering with `handler`.
    pub async fn start(handler: impl Fn(&Request) -> Behavior + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move { serve(socket, handler, recorded).await });
            }
        });
        Server { addr, requests }
    }

    /// A server that always answers `behavior`.
    pub async fn always(behavior: Behavior) -> Server {
        Server::start(move |_| behavior.clone()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(mut socket: TcpStream, handler: Arc<Handler>, recorded: Arc<Mutex<Vec<Request>>>) {
    loop {
        let Some(request) = read_request(&mut socket).await else {
            return;
        };
        let behavior = handler(&request);
        recorded.lock().unwrap().push(request);
        let response = match behavior {
            Behavior::Reply(status, body) => {
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                out.extend_from_slice(&body);
                out
            }
            Behavior::Close => return,
            Behavior::Hang => {
                std::future::pending::<()>().await;
                return;
            }
            Behavior::ResetMidBody => {
                let mut out = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec();
                out.extend_from_slice(b"num=1&succ");
                let _ = socket.write_all(&out).await;
                let _ = socket.flush().await;
                return;
            }
            Behavior::Oversized => {
                let body = vec![b'x'; 1 << 20];
                let mut out =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                out.extend_from_slice(&body);
                out
            }
        };
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_string();
            let mut lines = head.split("\r\n");
            let request_line = lines.next()?;
            let mut parts = request_line.split(' ');
            let method = parts.next()?.to_owned();
            let target = parts.next()?.to_owned();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let length = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            while seen.len() < end + 4 + length {
                let n = socket.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            let body = seen[end + 4..end + 4 + length].to_vec();
            return Some(Request {
                method,
                target,
                headers,
                body,
            });
        }
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
    }
}
