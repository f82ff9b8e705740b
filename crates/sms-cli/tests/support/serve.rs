//! Real `sms serve` processes for the gateway tests: start one on a config file, talk raw HTTP to
//! it, stop it with SIGTERM or kill it with SIGKILL; and the servers they share (a PostgreSQL
//! database of the test binary's own, Redis).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Connection;

use super::Env;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Fails with how to start Redis when none answers.
pub fn require_redis() {
    if TcpStream::connect("127.0.0.1:6379").is_err() {
        panic!(
            "this test needs Redis at {REDIS_URL}. Start one with `redis-server --daemonize yes` \
             (Debian: `apt-get install redis-server`), or run `bash .ci/run`, which starts it"
        );
    }
}

/// `sha256:` and the hex SHA-256 of an API key, as `[[gateway.api_keys]]` wants it.
pub fn key_hash(key: &str) -> String {
    let hex: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// One HTTP/1.1 request, answered with (status, body).
pub fn http(addr: &str, request: &str) -> (u16, String) {
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

/// `GET path`, with a bearer key when given.
pub fn get(addr: &str, path: &str, key: Option<&str>) -> (u16, String) {
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n"),
    )
}

/// `POST path` with a JSON body and a bearer key; the answer's body as JSON.
pub fn post_json(addr: &str, path: &str, key: &str, json: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        ),
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status} {body}")),
    )
}

/// Polls `done` every 50 ms until it holds; panics after `limit` saying what was awaited.
pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running `sms serve`: its address, the lines it printed, and its stdout kept open (it prints
/// the push URLs after the lines read here).
pub struct Serve {
    child: Option<Child>,
    pub addr: String,
    pub lines: Vec<String>,
    _stdout: BufReader<ChildStdout>,
}

impl Serve {
    /// `sms --config CONFIG serve` on a free port, once it printed where it listens.
    pub async fn start(env: &Env, config: &str) -> Self {
        let mut child = env
            .command(&["--config", config, "serve", "--listen", "127.0.0.1:0"])
            .env_remove("SMS_SANDBOX_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, stdout) = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                assert!(
                    reader.read_line(&mut line).unwrap() > 0,
                    "sms serve stopped: {lines:?}"
                );
                let last = line.starts_with("state:");
                lines.push(line.trim_end().to_owned());
                if last {
                    return (lines, reader);
                }
            }
        })
        .await
        .unwrap();
        let addr = lines
            .iter()
            .find_map(|l| l.strip_prefix("sms serve: listening on http://"))
            .unwrap_or_else(|| panic!("no address in {lines:?}"))
            .trim()
            .to_owned();
        Self {
            child: Some(child),
            addr,
            lines,
            _stdout: stdout,
        }
    }

    /// What it printed after `prefix` (e.g. `store:`).
    pub fn printed(&self, prefix: &str) -> &str {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {:?}", self.lines))
            .trim()
    }

    /// SIGTERM: a clean stop, exit 0.
    pub async fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let code = tokio::task::spawn_blocking(move || child.wait().unwrap().code())
            .await
            .unwrap();
        assert_eq!(code, Some(0), "SIGTERM is a clean stop");
    }

    /// SIGKILL: the process dies at once, whatever it was doing.
    pub async fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        // `Child::kill` is SIGKILL on Unix.
        child.kill().unwrap();
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(!status.success(), "killed, not finished: {status:?}");
    }

    /// A counter of its `/metrics`, summed over the label sets holding `label` (e.g.
    /// `outcome="accepted"`; empty: all); 0 when absent.
    pub fn counter(&self, name: &str, label: &str) -> u64 {
        let (status, text) = get(&self.addr, "/metrics", None);
        assert_eq!(status, 200, "{text}");
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['{', ' ']))
            })
            .filter(|l| l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// A failed test leaves no process behind.
impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `{"rows": [...]}`: one queued text message per number.
pub fn rows_body(numbers: &[String], text: &str) -> String {
    let rows: Vec<serde_json::Value> = numbers
        .iter()
        .map(|n| serde_json::json!({"to": n, "text": text}))
        .collect();
    serde_json::json!({ "rows": rows }).to_string()
}

/// What the store and the sandbox say about a queued bulk, once every message is done.
#[derive(Debug, Default)]
pub struct Audit {
    pub accepted: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Numbers the sandbox accepted.
    pub received: usize,
}

/// Every record of each number (national form), read through the store's API.
pub async fn statuses_by_history(
    store: &dyn sms::store::MessageStore,
    numbers: &[String],
) -> std::collections::HashMap<String, Vec<sms::store::Status>> {
    let mut statuses = std::collections::HashMap::new();
    for number in numbers {
        let phone: sms::PhoneNumber = number.parse().unwrap();
        let history = store.history(&phone, 0, i64::MAX, 5).await.unwrap();
        statuses.insert(number.clone(), history.into_iter().map(|r| r.status).collect());
    }
    statuses
}

/// Every record of each number (national form) in a PostgreSQL store, in one query (20,000
/// lookups through the API would be most of the test's time).
pub async fn statuses_in_postgres(url: &str) -> std::collections::HashMap<String, Vec<sms::store::Status>> {
    use sqlx::Row;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query("SELECT number, status FROM recipients")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut statuses: std::collections::HashMap<String, Vec<sms::store::Status>> =
        std::collections::HashMap::new();
    for row in rows {
        let number: String = row.get("number");
        let status: String = row.get("status");
        let national = number.strip_prefix("+86").unwrap_or(&number).to_owned();
        statuses
            .entry(national)
            .or_default()
            .push(status.parse().unwrap());
    }
    statuses
}

/// Checks a finished bulk to `numbers` (national form, as the sandbox records them), queued as
/// `batches`, with `statuses` every record of each number:
/// - none lost: every number has exactly one record, and the batches count every recipient;
/// - each ends accepted, failed or unknown (nothing left queued or sending);
/// - none sent twice: the sandbox accepted each number at most once, and only these numbers;
/// - the store never says accepted for a number the sandbox did not accept, nor failed for one it
///   did (unknown may be either: the request may or may not have reached the provider).
pub async fn audit(
    store: &dyn sms::store::MessageStore,
    batches: &[String],
    numbers: &[String],
    statuses: &std::collections::HashMap<String, Vec<sms::store::Status>>,
    sandbox: &sms_sandbox::Sandbox,
) -> Audit {
    use sms::store::Status;
    use std::collections::HashMap;

    let mut audit = Audit::default();
    let mut total = 0;
    for batch in batches {
        let counts = store.status_counts(batch).await.unwrap();
        for (status, n) in &counts {
            match status {
                Status::Accepted => audit.accepted += n,
                Status::Failed => audit.failed += n,
                Status::Unknown => audit.unknown += n,
                other => panic!("batch {batch}: {n} recipients left {other:?}: {counts:?}"),
            }
            total += n;
        }
    }
    assert_eq!(
        total,
        numbers.len() as u64,
        "every recipient is counted, none lost"
    );

    let mut received: HashMap<String, u32> = HashMap::new();
    for message in sandbox.messages() {
        for number in message.recipients {
            *received.entry(number).or_default() += 1;
        }
    }
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let ours: std::collections::HashSet<&String> = numbers.iter().collect();
    assert!(
        received.keys().all(|n| ours.contains(n)),
        "the sandbox received only the bulk's numbers"
    );
    audit.received = received.len();

    assert_eq!(
        statuses.len(),
        numbers.len(),
        "a record for every number, none lost"
    );
    for number in numbers {
        let records = statuses.get(number).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            records.len(),
            1,
            "{number}: one record, none lost or doubled: {records:?}"
        );
        let on_wire = received.contains_key(number);
        match records[0] {
            Status::Accepted => assert!(on_wire, "{number} is accepted but the sandbox never got it"),
            Status::Failed => assert!(!on_wire, "{number} is failed but the sandbox got it"),
            Status::Unknown => {}
            other => panic!("{number} left {other:?}"),
        }
    }
    assert!(
        audit.accepted as usize <= audit.received && audit.received as u64 <= audit.accepted + audit.unknown,
        "{audit:?}"
    );
    audit
}
