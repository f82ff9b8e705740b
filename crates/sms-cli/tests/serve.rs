//! `sms serve`: the real binary on the sandbox, over raw HTTP; SIGTERM stops it with exit 0.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use support::Env;

/// One HTTP/1.1 request, answered with (status, body).
fn http(addr: &str, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_prints_its_addresses_sends_and_stops_on_sigterm() {
    let env = Env::new().await;
    let mut child = env
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let last = line.starts_with("admin API key");
            lines.push(line);
            if last {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let find = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {lines:?}"))
            .trim()
            .to_owned()
    };
    let base = find("sms serve: listening on");
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    assert!(
        find("dashboard:").starts_with(&format!("{base}/dashboard ")),
        "{lines:?}"
    );
    assert!(find("store:").starts_with("SQLite"), "{lines:?}");
    assert!(find("state:").starts_with("in memory"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ihuyi receipt: http://") && l.contains("/webhooks/")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("juxiang reply: http://")),
        "{lines:?}"
    );
    let key = find("admin API key, shown this once (only its hash is kept):");
    assert!(env.path("gateway-secrets.json").exists());

    let (status, body) = http(
        &addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let json = r#"{"to":"13800138000","text":"hello from serve"}"#;
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    );
    let (status, body) = http(&addr, &request);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"accepted\"") || body.contains("\"delivered\""),
        "{body}"
    );
    assert_eq!(env.sandbox.messages().len(), 1);

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let code = tokio::task::spawn_blocking(move || child.wait().unwrap().code())
        .await
        .unwrap();
    assert_eq!(code, Some(0), "SIGTERM is a clean stop");
    assert!(TcpStream::connect(&addr).is_err(), "no longer listening");
}
