//! Submit throughput of the sandbox against a bare axum hello-world, same process, same run.
//!
//! ```text
//! cargo bench -p sms-sandbox --bench submit_throughput             # full run
//! cargo bench -p sms-sandbox --bench submit_throughput -- --quick  # CI-sized run
//! ```
//!
//! Environment: `SANDBOX_BENCH_REQUESTS` (requests per measured round), `SANDBOX_BENCH_CONNECTIONS`
//! (concurrent keep-alive connections), `SANDBOX_BENCH_MIN_RATIO` (exit non-zero below it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes as AxumBytes;
use axum::routing::any;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use sms_sandbox::{Account, Product, Sandbox};

/// No measured round may take longer than this.
const ROUND_LIMIT: Duration = Duration::from_secs(120);
const PATH: &str = "/webservice/sms.php?method=Submit";

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

async fn hello(_body: AxumBytes) -> &'static str {
    "Hello, World!"
}

async fn start_axum() -> SocketAddr {
    let app = Router::new().route("/webservice/sms.php", any(hello));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind axum");
    let addr = listener.local_addr().expect("axum address");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("axum serve");
    });
    addr
}

fn submit_body() -> Bytes {
    Bytes::from_static(
        b"account=bench&password=bench-key&mobile=13800138000&content=%E6%82%A8%E7%9A%84%E9%AA%8C%E8%AF%81%E7%A0%81%E6%98%AF1234&format=json",
    )
}

/// Sends `total` requests over `connections` keep-alive connections; returns requests per second.
async fn drive(addr: SocketAddr, total: u64, connections: u64, expect: &'static [u8]) -> f64 {
    let remaining = Arc::new(AtomicU64::new(total));
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let remaining = Arc::clone(&remaining);
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
                tokio::spawn(conn);
                let mut checked = false;
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    sender.ready().await.expect("connection ready");
                    let request = Request::post(PATH)
                        .header("host", "127.0.0.1")
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Full::new(submit_body()))
                        .expect("request");
                    let response = sender.send_request(request).await.expect("response");
                    assert!(response.status().is_success(), "{}", response.status());
                    let body = response.into_body().collect().await.expect("body").to_bytes();
                    if !checked {
                        assert!(
                            body.starts_with(expect),
                            "unexpected answer {:?}",
                            String::from_utf8_lossy(&body)
                        );
                        checked = true;
                    }
                }
            })
        })
        .collect();
    let all = futures_util::future::join_all(workers);
    match tokio::time::timeout(ROUND_LIMIT, all).await {
        Ok(results) => {
            for r in results {
                r.expect("worker");
            }
        }
        Err(_) => panic!("a round took longer than {ROUND_LIMIT:?}"),
    }
    total as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let requests = env_number("SANDBOX_BENCH_REQUESTS").unwrap_or(if quick { 4_000 } else { 60_000 });
    let connections = env_number("SANDBOX_BENCH_CONNECTIONS").unwrap_or(16);
    let rounds = if quick { 1 } else { 3 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sandbox = Sandbox::builder()
            .account(
                Product::IhuyiSms,
                Account::new("bench", "bench-key")
                    .balance(i64::MAX / 2)
                    .per_second_limit(0)
                    .per_day_limit(0)
                    .per_day_code_limit(0),
            )
            .spawn()
            .await
            .expect("sandbox");
        let axum = start_axum().await;
        let warmup = (requests / 10).max(200);
        drive(axum, warmup, connections, b"Hello").await;
        drive(sandbox.addr(), warmup, connections, b"{\"code\":2").await;

        let (mut best_axum, mut best_sandbox) = (0f64, 0f64);
        for _ in 0..rounds {
            best_axum = best_axum.max(drive(axum, requests, connections, b"Hello").await);
            best_sandbox = best_sandbox
                .max(drive(sandbox.addr(), requests, connections, b"{\"code\":2").await);
            // Keep the message log from growing across rounds.
            sandbox.reset();
        }
        let ratio = best_sandbox / best_axum;
        println!(
            "submit_throughput: {requests} requests per round, {rounds} round(s), {connections} connections, best round"
        );
        println!("  axum hello world:    {best_axum:>10.0} req/s");
        println!("  sms-sandbox Submit:  {best_sandbox:>10.0} req/s");
        println!("  ratio sandbox/axum:  {ratio:>10.2} (aim: >= 0.5)");
        if let Some(min) = std::env::var("SANDBOX_BENCH_MIN_RATIO")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            && ratio < min {
                eprintln!("ratio {ratio:.2} is below SANDBOX_BENCH_MIN_RATIO={min}");
                std::process::exit(1);
            }
    });
}
