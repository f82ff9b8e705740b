//! Configuration (defaults, TOML), shutdown on drop, and the binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{DEADLINE, client, code, post_json};
use sms_sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_BALANCE, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY, DEFAULT_MMS_PACKAGE_ID,
    DEFAULT_MMS_PRODUCT_ID, Fault, FaultKind, Product, Sandbox, SandboxConfig, SandboxError,
};
use tokio::net::TcpStream;

#[tokio::test]
async fn defaults_give_one_account_per_product() {
    assert_eq!(
        (DEFAULT_ACCOUNT, DEFAULT_KEY, DEFAULT_JUXIANG_PASSWORD),
        ("sandbox", "sandbox-key", "sandbox-pwd")
    );
    assert_eq!((DEFAULT_MMS_PRODUCT_ID, DEFAULT_MMS_PACKAGE_ID), ("1", "1000"));
    let sb = Sandbox::builder().spawn().await.unwrap();
    assert!(sb.addr().ip().is_loopback());
    assert_eq!(sb.base_url(), format!("http://{}", sb.addr()));
    assert!(!sb.base_url().ends_with('/'));
    let accounts = sb.accounts();
    assert_eq!(accounts.len(), 5);
    for product in Product::ALL {
        assert!(accounts.contains(&(product, DEFAULT_ACCOUNT.to_owned())));
        assert_eq!(sb.balance(product, DEFAULT_ACCOUNT), Some(DEFAULT_BALANCE));
    }
}

const TOML: &str = r#"
receipt_delay_ms = 10
undelivered_ratio = 0.25
push_retries = 1

[upstream]
juxiang = "http://127.0.0.1:9/mo"

[[accounts]]
product = "ihuyi_sms"
account = "acct"
key = "secret"
balance = 5
allowed_ips = ["127.0.0.1"]
sensitive_words = ["赌博"]
blacklist = ["13800000000"]
per_second_limit = 2
per_day_limit = 0

[[accounts]]
product = "juxiang"
name = "jx"
password = "jx-pass"
frozen = true
"#;

#[tokio::test]
async fn toml_configuration_is_applied() {
    let config = SandboxConfig::from_toml_str(TOML).unwrap();
    assert_eq!(config.receipt_delay(), Duration::from_millis(10));
    let sb = Sandbox::builder().config(config).spawn().await.unwrap();
    assert_eq!(sb.balance(Product::IhuyiSms, "acct"), Some(5));
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), None);
    assert_eq!(sb.balance(Product::Mms, DEFAULT_ACCOUNT), Some(DEFAULT_BALANCE));
    let url = format!("{}?method=Submit", sb.url(Product::IhuyiSms));
    let send = |mobile: &'static str, content: &'static str| {
        let url = url.clone();
        async move {
            code(
                &post_json(
                    &url,
                    &[
                        ("account", "acct"),
                        ("password", "secret"),
                        ("mobile", mobile),
                        ("content", content),
                    ],
                )
                .await,
            )
        }
    };
    assert_eq!(send("13800138000", "hi").await, "2");
    assert_eq!(send("13800138000", "hi").await, "2", "two per second allowed");
    assert_eq!(send("13800000000", "hi").await, "4030");
    assert_eq!(send("13800138001", "赌博").await, "407");
    let answer = common::juxiang(
        &format!("{}getfee.asp", sb.url(Product::Juxiang)),
        &[("name", "jx"), ("pwd", "jx-pass")],
    )
    .await;
    assert_eq!(answer["errid"], "6002");
}

#[test]
fn invalid_toml_is_a_config_error() {
    for bad in [
        "nonsense = 1",
        "undelivered_ratio = 2.0",
        "[[accounts]]\nproduct = \"sms\"\naccount = \"a\"\nkey = \"k\"",
        "[[accounts]]\nproduct = \"mms\"\naccount = \"a\"",
        "[[accounts]]\nproduct = \"mms\"\naccount = \"a\"\nkey = \"k\"\n[[accounts]]\nproduct = \"mms\"\naccount = \"a\"\nkey = \"k\"",
        "[[accounts]]\nproduct = \"mms\"\naccount = \"a\"\nkey = \"k\"\nallowed_ips = [\"not an ip\"]",
        "receipt_url = ",
    ] {
        match SandboxConfig::from_toml_str(bad) {
            Err(SandboxError::Config(_)) => {}
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
    assert!(matches!(
        SandboxConfig::from_file("/nonexistent/sandbox.toml"),
        Err(SandboxError::Config(_))
    ));
}

#[test]
fn account_debug_hides_the_key() {
    let debug = format!("{:?}", Account::new("acct", "very-secret-key"));
    assert!(debug.contains("acct"));
    assert!(!debug.contains("very-secret-key"), "{debug}");
}

#[tokio::test]
async fn dropping_the_handle_shuts_everything_down() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let addr = sb.addr();
    sb.inject_fault(Fault::new(FaultKind::Hang));
    let url = format!("{}?method=GetNum", sb.url(Product::IhuyiSms));
    let hanging = tokio::spawn(async move { client().post(url).body("account=a").send().await });
    // Wait until the hanging request has reached the sandbox.
    tokio::time::timeout(DEADLINE, async {
        while sb.request_count(Product::IhuyiSms) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    drop(sb);
    let outcome = tokio::time::timeout(DEADLINE, hanging).await.unwrap().unwrap();
    assert!(outcome.is_err(), "the hanging request ends with the sandbox");
    tokio::time::timeout(DEADLINE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the listener closes");
}

#[tokio::test]
async fn the_binary_says_it_is_a_simulator_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sms-sandbox"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("control API");
            seen.push(line);
            if done {
                break;
            }
        }
        seen
    });
    let lines = tokio::time::timeout(DEADLINE, lines).await;
    let lines = match lines {
        Ok(lines) => lines.unwrap(),
        Err(_) => {
            child.kill().unwrap();
            panic!("the binary printed no banner");
        }
    };
    let text = lines.join("\n");
    let base = lines
        .iter()
        .find_map(|l| l.strip_prefix("listening on "))
        .map(str::to_owned);
    let result = async {
        assert!(text.contains("SIMULATOR"), "{text}");
        assert!(
            text.contains("sandbox-key") && text.contains("sandbox-pwd"),
            "{text}"
        );
        let base = base.expect("no listening line");
        let v = post_json(
            &format!("{base}/webservice/sms.php?method=GetNum"),
            &[("account", DEFAULT_ACCOUNT), ("password", DEFAULT_KEY)],
        )
        .await;
        assert_eq!(code(&v), "2");
    };
    let outcome = tokio::time::timeout(DEADLINE, result).await;
    child.kill().unwrap();
    child.wait().unwrap();
    outcome.unwrap();
}
