//! Two real `sms serve` processes on one PostgreSQL database (this test binary's own) and one Redis
//! key prefix, both opened from the config file's `[store]` and `[state]`: a Juxiang `0000` reply
//! pushed to one makes the next send through the other refused without a provider request.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Stdio};

use sha2::{Digest, Sha256};
use sms_sandbox::Product;
use sqlx::Connection;
use support::Env;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL: &str = "redis://127.0.0.1:6379";
const SEND_KEY: &str = "smsgw_test_send_key_serve_shared";
const TOKEN: &str = "serve-shared-webhook-token";

/// A database of this test binary's own; fails (never skips) without a server.
async fn database() -> (String, String) {
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres, trust auth): {e}. Start it \
                 with `bash .ci/run` (which installs and starts it), or `pg_ctlcluster 15 main start`"
            )
        });
    let name = format!("sms_cli_test_serve_shared_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&sql).execute(&mut admin).await.unwrap();
    }
    (format!("postgres://postgres@127.0.0.1:5432/{name}"), name)
}

/// Fails with how to start Redis when none answers.
fn require_redis() {
    if TcpStream::connect("127.0.0.1:6379").is_err() {
        panic!(
            "this test needs Redis at {REDIS_URL}. Start one with `redis-server --daemonize yes` \
             (Debian: `apt-get install redis-server`), or run `bash .ci/run`, which starts it"
        );
    }
}

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

fn get(addr: &str, path: &str) -> (u16, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

fn send(addr: &str, to: &str) -> (u16, serde_json::Value) {
    let json = format!(r#"{{"to":"{to}","text":"【测试】hi"}}"#);
    let (status, body) = http(
        addr,
        &format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {SEND_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        ),
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{status} {body}")),
    )
}

/// A running `sms serve`: its address, the lines it printed, and its stdout kept open (it prints
/// the push URLs after the lines read here).
struct Serve {
    child: Option<Child>,
    addr: String,
    lines: Vec<String>,
    _stdout: BufReader<ChildStdout>,
}

impl Serve {
    async fn start(env: &Env) -> Self {
        let mut child = env
            .command(&["--config", "sms.toml", "serve", "--listen", "127.0.0.1:0"])
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

    async fn stop(mut self) {
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

#[tokio::test(flavor = "multi_thread")]
async fn two_serve_processes_share_redis_state_from_the_config() {
    require_redis();
    let (db, db_name) = database().await;
    let env = Env::new().await;
    let prefix = format!("sms-cli-test-serve-{}:", std::process::id());
    let mut config = sms::config::Config::sandbox_toml(&env.sandbox.base_url());
    config.push_str(&format!(
        "\n[store]\nbackend = \"postgres\"\nurl = {db:?}\n\n\
         [state]\nbackend = \"redis\"\nurl = {REDIS_URL:?}\nkey_prefix = {prefix:?}\n\n\
         [gateway]\nwebhook_token = {TOKEN:?}\nsync_timeout = \"10s\"\n\n\
         [[gateway.api_keys]]\nname = \"sender\"\nhash = \"sha256:{}\"\nscopes = [\"send\"]\n",
        hex_digest(SEND_KEY)
    ));
    env.write("sms.toml", &config);

    let a = Serve::start(&env).await;
    let b = Serve::start(&env).await;
    for serve in [&a, &b] {
        let state = serve.lines.iter().find_map(|l| l.strip_prefix("state:")).unwrap();
        assert_eq!(state.trim(), "redis", "{:?}", serve.lines);
        let store = serve.lines.iter().find_map(|l| l.strip_prefix("store:")).unwrap();
        assert_eq!(store.trim(), "PostgreSQL", "{:?}", serve.lines);
        let (status, body) = get(&serve.addr, "/readyz");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#""state":"ok""#), "{body}");
    }

    // B sends to the number: it goes out.
    let (status, sent) = send(&b.addr, "13900000078");
    assert_eq!(status, 200, "{sent}");
    assert_ne!(sent["recipients"][0]["status"], "failed", "{sent}");

    // The opt-out reply reaches A.
    let (status, body) = get(
        &a.addr,
        &format!("/webhooks/{TOKEN}/juxiang/reply?src=13900000078&dst=10657&msg=0000"),
    );
    assert_eq!((status, body.as_str()), (200, "0"));

    // B refuses the next send to it without a provider request.
    let requests =
        || env.sandbox.request_count(Product::IhuyiSms) + env.sandbox.request_count(Product::Juxiang);
    let before = requests();
    let (_, refused) = send(&b.addr, "13900000078");
    assert_eq!(refused["recipients"][0]["status"], "failed", "{refused}");
    assert_eq!(requests(), before, "refused without a request");
    // Another number still goes out through B.
    let (_, other) = send(&b.addr, "13900000079");
    assert_ne!(other["recipients"][0]["status"], "failed", "{other}");
    assert_eq!(requests(), before + 1);

    a.stop().await;
    b.stop().await;
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// A start against an unreachable Redis fails with exit 1 saying so (never a silent fallback to
/// per-instance state).
#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_to_start_without_its_redis() {
    let env = Env::new().await;
    // A port nothing listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = sms::config::Config::sandbox_toml(&env.sandbox.base_url());
    config.push_str(&format!(
        "\n[store]\npath = \"sms.db\"\n\n[state]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\nconnect_timeout = \"1s\"\n"
    ));
    env.write("sms.toml", &config);
    let run = support::Run(
        env.command(&["--config", "sms.toml", "serve", "--listen", "127.0.0.1:0"])
            .env_remove("SMS_SANDBOX_URL")
            .output()
            .unwrap(),
    )
    .expect_code(1);
    assert!(
        run.stderr().contains("cannot reach the state backend") && run.stderr().contains("Redis"),
        "{}",
        run.stderr()
    );
}

fn hex_digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
