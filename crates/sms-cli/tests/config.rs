//! Config files through the real binary: errors with file, line and column (exit 5), secrets from the
//! environment, bad credentials (exit 5), profiles, `config check` masking, and `sms sandbox`.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::{Env, Run};

/// A config for the test's sandbox with ihuyi's key given as `key_line`.
fn config(env: &Env, key_line: &str) -> String {
    let base = env.sandbox.base_url();
    format!(
        "[providers.ihuyi]\naccount = \"sandbox\"\n{key_line}\nbase_url = \"{base}\"\nprice_per_part = 0.04\n\n\
         [chain.retry]\nmax_attempts_per_provider = 1\n\n\
         [profiles.broken.providers.ihuyi]\nkey = \"wrong-key\"\n"
    )
}

fn with_config(env: &Env, args: &[&str]) -> Command {
    let mut command = env.command(args);
    command
        .env_remove("SMS_SANDBOX_URL")
        .env_remove("SMS_IHUYI_API_KEY");
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_error_names_file_line_and_column_and_exits_5() {
    let env = Env::new().await;
    env.write("sms.toml", &config(&env, "kye = \"sandbox-key\""));
    let run = Run(
        with_config(&env, &["send", "--to", "13800138000", "--text", "hi"])
            .output()
            .unwrap(),
    )
    .expect_code(5);
    let err = run.stderr();
    assert!(
        err.contains("sms.toml:3:1: providers.ihuyi.kye"),
        "file:line:column and key in {err}"
    );
    assert!(err.contains("did you mean `key`"), "{err}");
    assert_eq!(env.requests(), 0);

    let run = Run(with_config(&env, &["--config", "missing.toml", "balance"])
        .output()
        .unwrap())
    .expect_code(5);
    assert!(run.stderr().contains("missing.toml"), "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_come_from_the_environment_and_a_missing_one_is_named() {
    let env = Env::new().await;
    env.write("sms.toml", &config(&env, "key = { env = \"TEST_IHUYI_KEY\" }"));
    let missing = Run(
        with_config(&env, &["send", "--to", "13800138000", "--text", "【示例】您好"])
            .output()
            .unwrap(),
    );
    let missing = missing.expect_code(5);
    assert!(
        missing.stderr().contains("TEST_IHUYI_KEY"),
        "{}",
        missing.stderr()
    );

    let mut send = with_config(&env, &["send", "--to", "13800138000", "--text", "【示例】您好"]);
    send.env("TEST_IHUYI_KEY", sms_sandbox::DEFAULT_KEY);
    Run(send.output().unwrap()).expect_code(0);
    assert_eq!(env.recorded_numbers(), ["13800138000"]);

    // The well-known variable overrides the file.
    let mut send = with_config(&env, &["send", "--to", "13800138001", "--text", "【示例】您好"]);
    send.env("TEST_IHUYI_KEY", "wrong")
        .env("SMS_IHUYI_API_KEY", sms_sandbox::DEFAULT_KEY);
    Run(send.output().unwrap()).expect_code(0);

    let mut check = with_config(&env, &["config", "check"]);
    check.env("TEST_IHUYI_KEY", sms_sandbox::DEFAULT_KEY);
    let check = Run(check.output().unwrap()).expect_code(0);
    assert!(
        !check.stdout().contains(sms_sandbox::DEFAULT_KEY),
        "secret masked: {}",
        check.stdout()
    );
    assert!(check.stdout().contains("price_per_part"), "{}", check.stdout());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_exit_5_and_the_cost_is_estimated_from_the_config() {
    let env = Env::new().await;
    env.write("sms.toml", &config(&env, "key = \"sandbox-key\""));
    let run = Run(with_config(
        &env,
        &[
            "--profile",
            "broken",
            "send",
            "--to",
            "13800138000",
            "--text",
            "【示例】您好",
        ],
    )
    .output()
    .unwrap())
    .expect_code(5);
    assert!(!run.stderr().contains("wrong-key"), "{}", run.stderr());
    assert!(env.sandbox.messages().is_empty());

    let csv = env.write("in.csv", &support::numbers_csv(0, 25));
    let bulk = Run(with_config(&env, &["bulk", "--yes", csv.to_str().unwrap()])
        .output()
        .unwrap())
    .expect_code(0);
    assert!(
        bulk.stderr().contains("25 billed part(s), estimated cost: 1.00"),
        "{}",
        bulk.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sms_sandbox_prints_a_config_that_works() {
    let env = Env::new().await;
    let mut sandbox = with_config(&env, &["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sandbox.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("# end of config") {
            break;
        }
        printed.push_str(&line);
        printed.push('\n');
    }
    let toml = &printed[printed
        .find("# The built-in sandbox")
        .expect("a config is printed")..];
    let path = env.write("printed.toml", toml);
    let path = path.to_str().unwrap();
    let send = Run(with_config(
        &env,
        &[
            "--config",
            path,
            "send",
            "--to",
            "13800138000",
            "--text",
            "【示例】您好",
        ],
    )
    .output()
    .unwrap());
    send.expect_code(0);
    let balance = Run(with_config(&env, &["--json", "--config", path, "balance"])
        .output()
        .unwrap())
    .expect_code(0);
    let doc = &balance.json_lines()[0];
    assert_eq!(
        doc["balances"][0]["amount"],
        sms_sandbox::DEFAULT_BALANCE - 1,
        "the printed sandbox took it"
    );
    assert_eq!(env.requests(), 0, "not the test's own sandbox");
    let _ = Command::new("kill")
        .args(["-TERM", &sandbox.id().to_string()])
        .status();
    assert!(sandbox.wait().unwrap().success());
}
