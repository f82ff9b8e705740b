//! Connection hygiene over real loopback sockets: the header-read timeout closes idle and half-sent
//! connections, and the connection cap makes extra clients wait instead of being served or refused.

use std::time::{Duration, Instant};

use sms_sandbox::{Product, Sandbox, SandboxError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on every wait for something that must happen; reached only when the behaviour is broken.
const MUST_HAPPEN: Duration = Duration::from_secs(10);

fn get_fee(connection: &str) -> String {
    format!(
        "GET /send/getfee.asp?name=sandbox&pwd=sandbox-pwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\n\r\n"
    )
}

/// Reads until the peer closes; `Err` when it stays open for [`MUST_HAPPEN`].
async fn read_to_close(stream: &mut TcpStream) -> Result<Vec<u8>, tokio::time::error::Elapsed> {
    let mut received = Vec::new();
    tokio::time::timeout(MUST_HAPPEN, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await?;
    Ok(received)
}

/// Reads one whole answer (headers and `Content-Length` body) from a keep-alive connection.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(MUST_HAPPEN, async {
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before a whole answer");
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if received.len() >= end + 4 + length {
                    return;
                }
            }
        }
    })
    .await
    .expect("no answer");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_after_the_header_timeout() {
    let timeout = Duration::from_millis(300);
    let sandbox = Sandbox::builder()
        .header_read_timeout(timeout)
        .spawn()
        .await
        .unwrap();
    let started = Instant::now();
    let mut idle = TcpStream::connect(sandbox.addr()).await.unwrap();
    let mut half = TcpStream::connect(sandbox.addr()).await.unwrap();
    half.write_all(b"GET /send/getfee.asp?name=sandbox HTTP/1.1\r\nHost: 127.0")
        .await
        .unwrap();
    // A keep-alive connection that was answered once, then went quiet.
    let mut answered = TcpStream::connect(sandbox.addr()).await.unwrap();
    answered
        .write_all(get_fee("keep-alive").as_bytes())
        .await
        .unwrap();
    assert!(read_answer(&mut answered).await.starts_with("HTTP/1.1 200"));

    for (name, stream) in [
        ("idle", &mut idle),
        ("half-sent", &mut half),
        ("answered", &mut answered),
    ] {
        let rest = read_to_close(stream)
            .await
            .unwrap_or_else(|_| panic!("the {name} connection is still open after {MUST_HAPPEN:?}"));
        assert!(
            !String::from_utf8_lossy(&rest).contains("HTTP/1.1 200"),
            "{name}: {rest:?}"
        );
    }
    assert!(started.elapsed() >= timeout, "closed before the timeout");
    // Nothing half-sent was handled; only the complete request was.
    assert_eq!(sandbox.request_count(Product::Juxiang), 1);
}

/// The report that started this: many idle connections stayed open forever.
#[tokio::test]
async fn two_hundred_idle_connections_are_all_closed() {
    let sandbox = Sandbox::builder()
        .header_read_timeout(Duration::from_millis(200))
        .spawn()
        .await
        .unwrap();
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(sandbox.addr()).await.unwrap());
    }
    for (i, stream) in idle.iter_mut().enumerate() {
        let rest = read_to_close(stream)
            .await
            .unwrap_or_else(|_| panic!("idle connection {i} is still open"));
        assert!(rest.is_empty(), "{rest:?}");
    }
}

/// A body that stops half-way gets 408 after the same timeout, and the connection is closed; nothing
/// is handled.
#[tokio::test]
async fn a_half_sent_body_is_answered_408_and_closed() {
    let timeout = Duration::from_millis(300);
    let sandbox = Sandbox::builder()
        .header_read_timeout(timeout)
        .spawn()
        .await
        .unwrap();
    let started = Instant::now();
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /send/gsend.asp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=sandbox&pwd=",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut stream)
        .await
        .expect("the connection with a half-sent body is still open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() >= timeout);
    assert!(sandbox.messages().is_empty());
}

#[tokio::test]
async fn a_request_sent_in_time_is_answered_even_in_pieces() {
    let sandbox = Sandbox::builder()
        .header_read_timeout(Duration::from_secs(30))
        .spawn()
        .await
        .unwrap();
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    let request = get_fee("close");
    let (head, tail) = request.split_at(20);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    stream.write_all(tail.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("id=10000"), "{answer}");
}

/// With a cap of one connection, a second client connects (the backlog takes it) but is not served
/// until the first connection closes; then it is answered.
#[tokio::test]
async fn connections_over_the_cap_wait_for_a_free_slot() {
    let sandbox = Sandbox::builder()
        .max_connections(1)
        .header_read_timeout(Duration::from_secs(60))
        .spawn()
        .await
        .unwrap();
    let mut first = TcpStream::connect(sandbox.addr()).await.unwrap();
    first.write_all(get_fee("keep-alive").as_bytes()).await.unwrap();
    assert!(read_answer(&mut first).await.starts_with("HTTP/1.1 200"));

    let mut second = TcpStream::connect(sandbox.addr()).await.unwrap();
    second.write_all(get_fee("close").as_bytes()).await.unwrap();
    // The first connection keeps being served meanwhile, and the second one is not.
    first.write_all(get_fee("keep-alive").as_bytes()).await.unwrap();
    assert!(read_answer(&mut first).await.starts_with("HTTP/1.1 200"));
    assert_eq!(sandbox.request_count(Product::Juxiang), 2);
    let mut probe = [0u8; 1];
    assert!(
        matches!(second.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the second connection was served over the cap"
    );

    drop(first);
    let answer = read_to_close(&mut second)
        .await
        .expect("the waiting client is served");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert_eq!(sandbox.request_count(Product::Juxiang), 3);
}

#[tokio::test]
async fn connection_limits_must_be_positive() {
    for builder in [
        Sandbox::builder().max_connections(0),
        Sandbox::builder().header_read_timeout(Duration::ZERO),
    ] {
        assert!(matches!(builder.spawn().await, Err(SandboxError::Config(_))));
    }
    let config =
        sms_sandbox::SandboxConfig::from_toml_str("header_read_timeout_ms = 250\nmax_connections = 8\n")
            .unwrap();
    assert_eq!(config.header_read_timeout(), Duration::from_millis(250));
    assert!(sms_sandbox::SandboxConfig::from_toml_str("max_connections = 0\n").is_err());
}
