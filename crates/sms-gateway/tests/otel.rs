//! The `otel` feature: the gateway's spans reach an OTLP collector (a fake one on loopback that
//! records what is POSTed to `/v1/traces`) as protobuf, with the request span's id, method and
//! route, and the service name.

#![cfg(feature = "otel")]

mod harness;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use harness::{Harness, READ_KEY};
use sms_gateway::telemetry::{Telemetry, traces_endpoint};
use tracing_subscriber::layer::SubscriberExt as _;

/// POSTs the collector got: `(content type, body)`.
type Got = Arc<Mutex<Vec<(String, bytes::Bytes)>>>;

async fn collector() -> (Got, String) {
    let got: Got = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: HeaderMap, body: bytes::Bytes| {
            let g = g.clone();
            async move {
                let kind = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                g.lock().unwrap().push((kind, body));
                // An empty ExportTraceServiceResponse: everything accepted.
                (
                    StatusCode::OK,
                    [("content-type", "application/x-protobuf")],
                    Vec::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (got, base)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_reach_the_collector() {
    let (got, base) = collector().await;
    // The config key is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is.
    let endpoint = traces_endpoint(Some(&format!("{base}/"))).unwrap();
    assert_eq!(endpoint, format!("{base}/v1/traces"));
    let (layer, telemetry) = Telemetry::layer(&endpoint).unwrap();
    // Global: the gateway's tasks run on every worker thread.
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();
    let h = Harness::start().await;
    let r = h
        .http
        .get(h.url("/v1/balances"))
        .bearer_auth(READ_KEY)
        .header("x-request-id", "otel-span-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Nothing is lost at shutdown: the buffered spans are sent then.
    telemetry.shutdown().await;
    let got = got.lock().unwrap().clone();
    assert!(!got.is_empty(), "the collector got no export");
    assert!(
        got.iter().all(|(kind, _)| kind == "application/x-protobuf"),
        "{got:?}"
    );
    let all: Vec<u8> = got.iter().flat_map(|(_, body)| body.to_vec()).collect();
    for needle in [
        "request",
        "otel-span-check-1",
        "/v1/balances",
        "GET",
        "sms-gateway",
    ] {
        assert!(contains(&all, needle), "{needle} is not in the exported spans");
    }
}

#[test]
fn the_configured_endpoint_is_a_base_url() {
    assert_eq!(
        traces_endpoint(Some("http://127.0.0.1:4318")).as_deref(),
        Some("http://127.0.0.1:4318/v1/traces")
    );
    assert_eq!(
        traces_endpoint(Some(" http://collector:4318/otlp/ ")).as_deref(),
        Some("http://collector:4318/otlp/v1/traces")
    );
}
