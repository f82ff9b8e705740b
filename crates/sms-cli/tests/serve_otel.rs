//! `sms serve` and OpenTelemetry: built with the `otel` feature, the real binary sends its spans to
//! the collector `OTEL_EXPORTER_OTLP_ENDPOINT` names (a fake one on loopback), the buffered ones at
//! SIGTERM; built without it, a configured `gateway.otlp_endpoint` is refused with the way out.

mod support;

use support::Env;

#[cfg(not(feature = "otel"))]
#[tokio::test(flavor = "multi_thread")]
async fn a_collector_in_the_config_is_refused_without_the_feature() {
    let env = Env::new().await;
    let mut config = sms::config::Config::sandbox_toml(&env.sandbox.base_url());
    config.push_str("\n[gateway]\notlp_endpoint = \"http://127.0.0.1:4318\"\n");
    env.write("sms.toml", &config);
    // The config file, not the test's SMS_SANDBOX_URL (which would stand in for it).
    let out = env
        .command(&["--config", "sms.toml", "serve", "--listen", "127.0.0.1:0"])
        .env_remove("SMS_SANDBOX_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("gateway.otlp_endpoint") && stderr.contains("--features otel"),
        "{stderr}"
    );
}

#[cfg(feature = "otel")]
#[tokio::test(flavor = "multi_thread")]
async fn serve_exports_its_request_spans_to_the_collector() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};

    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(body.to_vec());
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let env = Env::new().await;
    let mut child = env
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env("OTEL_SERVICE_NAME", "sms-serve-under-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Read up to the last line it prints (a closed pipe would fail its next print).
    let base = tokio::task::spawn_blocking(move || {
        let mut base = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(b) = line.strip_prefix("sms serve: listening on http://") {
                base = Some(b.to_owned());
            }
            if line.starts_with("admin API key") {
                break;
            }
        }
        base.unwrap()
    })
    .await
    .unwrap();
    let mut stream = TcpStream::connect(&base).unwrap();
    stream
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: serve-otel-1\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let code = tokio::task::spawn_blocking(move || child.wait().unwrap().code())
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    let all: Vec<u8> = got.lock().unwrap().concat();
    for needle in ["serve-otel-1", "/healthz", "sms-serve-under-test"] {
        assert!(
            all.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is not in what the collector got ({} bytes)",
            all.len()
        );
    }
}
