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

/// Starts `command` (an `sms serve`) and reads its stdout up to the admin key line.
async fn start(mut command: std::process::Command) -> (std::process::Child, Vec<String>) {
    let mut child = command
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
    (child, lines)
}

/// The rest of the line that starts with `prefix`.
fn find(lines: &[String], prefix: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in {lines:?}"))
        .trim()
        .to_owned()
}

/// `POST /v1/messages` with `json`, answered with (status, body).
fn send(addr: &str, key: &str, json: &str) -> (u16, String) {
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    );
    http(addr, &request)
}

/// SIGTERM, then the exit code.
async fn stop(child: std::process::Child) -> Option<i32> {
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut child = child;
    tokio::task::spawn_blocking(move || child.wait().unwrap().code())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_prints_its_addresses_sends_and_stops_on_sigterm() {
    let env = Env::new().await;
    let (child, lines) = start(env.command(&["serve", "--listen", "127.0.0.1:0"])).await;
    let find = |prefix: &str| find(&lines, prefix);
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
    let (status, body) = send(&addr, &key, r#"{"to":"13800138000","text":"hello from serve"}"#);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"accepted\"") || body.contains("\"delivered\""),
        "{body}"
    );
    assert_eq!(env.sandbox.messages().len(), 1);

    let code = stop(child).await;
    assert_eq!(code, Some(0), "SIGTERM is a clean stop");
    assert!(TcpStream::connect(&addr).is_err(), "no longer listening");
}

/// Without a config, `sms serve` runs on the built-in sandbox, which pushes its receipts to the
/// gateway's own webhook: a message sent through the API reads `delivered` soon after.
#[tokio::test(flavor = "multi_thread")]
async fn serve_without_a_config_sees_the_built_in_sandboxs_receipts() {
    let env = Env::new().await;
    let mut command = env.command(&["serve", "--listen", "127.0.0.1:0"]);
    command.env_remove("SMS_SANDBOX_URL");
    let (child, lines) = start(command).await;
    let base = find(&lines, "sms serve: listening on");
    let addr = base.strip_prefix("http://").unwrap().to_owned();
    let sandbox = find(&lines, "providers: the built-in sandbox at");
    assert!(sandbox.starts_with("http://127.0.0.1:"), "{lines:?}");
    let key = find(&lines, "admin API key, shown this once (only its hash is kept):");

    let (status, body) = send(
        &addr,
        &key,
        r#"{"to":"13800138000","text":"hello from the built-in sandbox"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = answer["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_owned();
    let read = format!(
        "GET /v1/messages/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n\r\n"
    );
    // The sandbox pushes its receipt about a second after accepting the message.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let message = loop {
        let (status, body) = http(&addr, &read);
        assert_eq!(status, 200, "{body}");
        let message: serde_json::Value = serde_json::from_str(&body).unwrap();
        if message["recipients"][0]["status"] == "delivered" {
            break message;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no receipt within 30 s: {message}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(message["receipts"][0]["status"], "delivered", "{message}");
    assert_eq!(message["recipients"][0]["provider"], "ihuyi", "{message}");
    assert_eq!(env.requests(), 0, "the test's own sandbox was not used");
    assert_eq!(stop(child).await, Some(0));
}
