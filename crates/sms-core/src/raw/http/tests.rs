//! Transport classification against real local sockets: each server misbehaves in one way.

use super::*;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A one-connection server on loopback that runs `behave` on the accepted socket.
async fn serve_once<F, Fut>(behave: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((socket, _)) = listener.accept().await {
            behave(socket).await;
        }
    });
    addr
}

/// Reads until the end of the request headers and body (the test bodies are small and sent at once).
async fn read_request(socket: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return seen;
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length = headers
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return seen;
            }
        }
    }
}

fn client(request_timeout: Duration) -> HttpClient {
    let config = HttpConfig {
        request_timeout,
        ..HttpConfig::default()
    };
    HttpClient::new("test", &config).unwrap()
}

async fn post_with(client: &HttpClient, addr: SocketAddr) -> Result<Bytes, Error> {
    let url = format!("http://{addr}/webservice/sms.php?method=Submit");
    let request = FormPost::new(
        "test",
        Operation::Send,
        &url,
        form_encode(&[("account", "a"), ("content", "hi")]),
    );
    client
        .post_form(&request, |body| Ok(Bytes::copy_from_slice(body)))
        .await
}

async fn post(addr: SocketAddr, timeout: Duration) -> Result<Bytes, Error> {
    post_with(&client(timeout), addr).await
}

#[tokio::test]
async fn refused_connection_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = post(addr, Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err:?}");
    // Nothing was sent and the provider is down: move on at once rather than retry it.
    assert!(!err.is_retryable() && err.can_failover() && !err.is_ambiguous());
}

#[tokio::test]
async fn timeout_after_the_request_was_written_is_ambiguous() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = serve_once(|mut socket| async move {
        let request = read_request(&mut socket).await;
        let _ = tx.send(request);
        // Hold the connection open without answering until the client gives up.
        let _ = socket.read(&mut [0u8; 1]).await;
    })
    .await;
    let err = post(addr, Duration::from_millis(300)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err:?}");
    assert!(err.is_ambiguous() && !err.can_failover() && !err.is_retryable());
    // The server really did receive the whole request: that is why the outcome is unknown.
    let request = String::from_utf8(rx.await.unwrap()).unwrap();
    assert!(request.ends_with("account=a&content=hi"), "{request}");
}

#[tokio::test]
async fn connection_closed_after_the_request_is_ambiguous() {
    let addr = serve_once(|mut socket| async move {
        read_request(&mut socket).await;
        drop(socket);
    })
    .await;
    let err = post(addr, Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err:?}");
}

#[tokio::test]
async fn body_cut_off_is_ambiguous() {
    let addr = serve_once(|mut socket| async move {
        read_request(&mut socket).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<SubmitResult><code>2</co")
            .await;
        drop(socket);
    })
    .await;
    let err = post(addr, Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err:?}");
}

async fn answer(response: Vec<u8>) -> SocketAddr {
    serve_once(move |mut socket| async move {
        read_request(&mut socket).await;
        let _ = socket.write_all(&response).await;
        let _ = socket.shutdown().await;
    })
    .await
}

#[tokio::test]
async fn oversized_bodies_stop_at_the_cap() {
    // Declared too large: refused before reading.
    let big = vec![b'x'; DEFAULT_BODY_CAP + 1];
    let mut declared = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
    declared.extend_from_slice(&big);
    let err = post(answer(declared).await, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    // Chunked with no length: cut while streaming.
    let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        chunked.extend_from_slice(&[b'y'; 8192]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let err = post(answer(chunked).await, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(err.to_string().contains("larger than 65536 bytes"), "{err}");
    // Exactly at the cap is fine.
    let exact = vec![b'z'; DEFAULT_BODY_CAP];
    let mut ok = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", exact.len()).into_bytes();
    ok.extend_from_slice(&exact);
    let reply = post(answer(ok).await, Duration::from_secs(5)).await.unwrap();
    assert_eq!(reply.len(), DEFAULT_BODY_CAP);
}

#[tokio::test]
async fn http_statuses_map_to_kinds() {
    // 503 says "not processed"; 500, 502 and 504 come after the request was written and may
    // follow its processing, so they are ambiguous.
    let cases: [(&str, ErrorKind); 7] = [
        ("503 Service Unavailable", ErrorKind::Unavailable),
        ("500 Internal Server Error", ErrorKind::Ambiguous),
        ("502 Bad Gateway", ErrorKind::Ambiguous),
        ("504 Gateway Timeout", ErrorKind::Ambiguous),
        ("599 Whatever", ErrorKind::Ambiguous),
        ("404 Not Found", ErrorKind::Configuration),
        ("403 Forbidden", ErrorKind::ProviderFault),
    ];
    for (status, kind) in cases {
        let response = format!("HTTP/1.1 {status}\r\nContent-Length: 4\r\n\r\noops").into_bytes();
        let err = post(answer(response).await, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err:?}");
        assert_eq!(err.message(), "oops");
    }
    let response = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n".to_vec();
    let err = post(answer(response).await, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.retry_after()),
        (ErrorKind::RateLimited, Some(Duration::from_secs(3)))
    );
}

#[tokio::test]
async fn a_provider_may_declare_more_statuses_unprocessed() {
    let config = HttpConfig {
        unprocessed_statuses: vec![500, 503],
        ..HttpConfig::default()
    };
    let client = HttpClient::new("test", &config).unwrap();
    for (status, kind) in [
        ("500 Internal Server Error", ErrorKind::Unavailable),
        ("502 Bad Gateway", ErrorKind::Ambiguous),
    ] {
        let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").into_bytes();
        let err = post_with(&client, answer(response).await).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
    }
    let not_5xx = HttpConfig {
        unprocessed_statuses: vec![429],
        ..HttpConfig::default()
    };
    assert_eq!(
        HttpClient::new("p", &not_5xx).unwrap_err().kind(),
        ErrorKind::Configuration
    );
    let parsed: HttpConfig = serde_json::from_str(r#"{"unprocessed_statuses":[502,503]}"#).unwrap();
    assert_eq!(parsed.unprocessed_statuses, [502, 503]);
}

#[test]
fn default_timeouts_suit_a_provider_api() {
    let config = HttpConfig::default();
    assert_eq!(config.connect_timeout, Duration::from_secs(2));
    assert_eq!(config.request_timeout, Duration::from_secs(5));
    assert_eq!(config.unprocessed_statuses, [503]);
}

#[test]
fn retry_after_is_parsed_and_capped() {
    assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
    assert_eq!(parse_retry_after("18446744073709551615"), Some(MAX_RETRY_AFTER));
    assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    assert_eq!(parse_retry_after("-1"), None);
}

#[test]
fn client_config_is_checked() {
    let bad_idle = HttpConfig {
        pool_idle_timeout: Duration::from_secs(60),
        ..HttpConfig::default()
    };
    assert_eq!(
        HttpClient::new("p", &bad_idle).unwrap_err().kind(),
        ErrorKind::Configuration
    );
    let zero = HttpConfig {
        request_timeout: Duration::ZERO,
        ..HttpConfig::default()
    };
    assert_eq!(
        HttpClient::new("p", &zero).unwrap_err().kind(),
        ErrorKind::Configuration
    );
    let parsed: HttpConfig =
        serde_json::from_str(r#"{"connect_timeout":"250ms","request_timeout":2.5}"#).unwrap();
    assert_eq!(parsed.connect_timeout, Duration::from_millis(250));
    assert_eq!(parsed.request_timeout, Duration::from_millis(2500));
    assert_eq!(parsed.pool_idle_timeout, Duration::from_secs(50));
}

#[test]
fn form_encoding_escapes_every_reserved_character() {
    let encoded = form_encode(&[("content", "a&b=c+d%e f/中"), ("k", "")]);
    assert_eq!(encoded, "content=a%26b%3Dc%2Bd%25e+f%2F%E4%B8%AD&k=");
    let back: Vec<(String, String)> = serde_urlencoded_roundtrip(&encoded);
    assert_eq!(back[0].1, "a&b=c+d%e f/中");
}

/// Decodes with an independent implementation (reqwest's own form decoding via url) to check ours.
fn serde_urlencoded_roundtrip(encoded: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{encoded}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn excerpts_are_short_and_printable() {
    assert_eq!(excerpt(b"ab\ncd", 10), "ab\\ncd");
    assert_eq!(excerpt("验证码错误".as_bytes(), 2), "验证…");
    assert_eq!(excerpt(&[0xff, b'a'], 10), "\u{fffd}a");
}

#[test]
fn base_urls_are_checked_and_normalized() {
    for (input, normalized) in [
        ("http://10658.cc", "http://10658.cc"),
        (" http://127.0.0.1:8080/ ", "http://127.0.0.1:8080"),
        (
            "https://example.invalid/prefix/",
            "https://example.invalid/prefix",
        ),
        ("http://127.0.0.1/send", "http://127.0.0.1/send"),
        ("HTTPS://106.IHUYI.COM/", "https://106.ihuyi.com"),
    ] {
        assert_eq!(normalize_base_url(input).as_deref(), Ok(normalized), "{input}");
    }
    for bad in [
        "",
        "10658.cc",
        "203.81.21.34/send/",
        "ftp://10658.cc",
        "mailto:a@b.c",
        "http://",
        "http://10658.cc/?a=1",
        "http://10658.cc/#top",
        "http://u:p@10658.cc",
        "http://u@10658.cc",
    ] {
        assert!(normalize_base_url(bad).is_err(), "{bad}");
    }
    assert_eq!(
        normalize_base_url("http://u:p@10658.cc").unwrap_err(),
        "the base URL must not contain credentials",
        "the credentials are not repeated in the message"
    );
}

#[test]
fn scrub_hides_the_typed_and_the_form_encoded_secret() {
    let key = "k3y-S3cr3t+&=%value";
    let mut encoded = String::new();
    percent_encode_into(&mut encoded, key.as_bytes());
    let post = FormPost::new("p", Operation::Send, "http://127.0.0.1:1/", "a=1").sensitive(key.as_bytes());
    let echoed = Error::new(ErrorKind::Protocol, Operation::Send)
        .with_message(format!("raw {key} form {encoded} cut {}…", &encoded[..8]));
    let clean = post.scrub(echoed);
    assert_eq!(clean.message(), "raw [redacted] form [redacted] cut [redacted]…");
    assert_eq!(clean.kind(), ErrorKind::Protocol);
}

/// A server that echoes the request: every way it may print the request and its secrets.
#[test]
fn scrub_removes_every_echo_of_the_request() {
    let signature = "676d15c3850796e5dcb0fbe12c014553";
    let body = form_encode(&[
        ("account", "C1"),
        ("password", signature),
        ("mobile", "13800138000"),
        ("content", "您的验证码是 1234"),
        ("time", "1700000000"),
        ("format", "json"),
    ]);
    let post = FormPost::new("p", Operation::Send, "http://127.0.0.1:1/", body.clone())
        .sensitive(b"the-key")
        .sensitive(signature.as_bytes());
    let json = r#"{"account":"C1","password":"676D15C3850796E5DCB0FBE12C014553","mobile":"13800138000","content":"您的验证码是 1234","time":"1700000000"}"#;
    let cut = &body[..40];
    for echo in [body.as_str(), json, &format!("{cut}…"), &format!("{body:?}")] {
        let error = Error::new(ErrorKind::Protocol, Operation::Send)
            .with_code(echo.to_owned())
            .with_message(format!("unreadable answer: {echo}"))
            .with_source(std::io::Error::other(format!("inner {echo}")));
        let clean = post.scrub(error);
        let mut all = format!("{clean} {clean:?} {clean:#}");
        let mut next = std::error::Error::source(&clean);
        while let Some(source) = next {
            all.push_str(&format!(" {source} {source:?}"));
            next = source.source();
        }
        for needle in [
            "676d15c3",
            "676D15C3",
            "C1&",
            "account=",
            "13800138000",
            "1700000000",
            "验证码",
            "%E6%82%A8",
        ] {
            assert!(!all.contains(needle), "{needle} in {all}");
        }
        assert!(all.contains("unreadable answer: "), "{all}");
    }
    // Without any echo the error is untouched.
    let plain = Error::new(ErrorKind::Protocol, Operation::Send).with_message("not XML: \"<html>\"");
    assert_eq!(post.scrub(plain).message(), "not XML: \"<html>\"");
}

#[test]
fn percent_decoding_undoes_form_encoding() {
    let original = "a&b=c+d%e f/中";
    let encoded = form_encode(&[("k", original)]);
    let value = encoded.strip_prefix("k=").unwrap();
    assert_eq!(percent_decode(value.as_bytes()), original.as_bytes());
    assert_eq!(percent_decode(b"%C4%E3"), [0xC4, 0xE3], "bytes, not text");
}
