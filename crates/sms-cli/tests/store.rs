//! `[store]` in the CLI: `sms send` and `sms bulk` record into an SQLite file, `sms status` and
//! `sms history` read it back; the real binary against the sandbox.

mod support;

use std::process::Command;

use sms_sandbox::{Fault, FaultKind, FaultTarget, Product};
use support::{Env, Run};

/// A config file for the sandbox with an SQLite store beside it (`sms.db`, relative to the file).
fn with_store(env: &Env) -> std::path::PathBuf {
    let text = format!(
        "{}\n[store]\npath = \"sms.db\"\n",
        sms::config::Config::sandbox_toml(&env.sandbox.base_url())
    );
    env.write("sms-store.toml", &text)
}

/// `sms --config FILE ARGS`, not through `SMS_SANDBOX_URL` (which would win over the file).
fn run(env: &Env, config: &std::path::Path, args: &[&str]) -> Run {
    let mut full = vec!["--config", config.to_str().unwrap()];
    full.extend_from_slice(args);
    let mut command: Command = env.command(&full);
    command.env_remove("SMS_SANDBOX_URL");
    Run(command.output().expect("sms runs"))
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_is_recorded_and_status_and_history_read_it_back() {
    let env = Env::new().await;
    let config = with_store(&env);
    let sent = json(
        &run(
            &env,
            &config,
            &[
                "--json",
                "send",
                "--to",
                "13800138000",
                "--text",
                "【示例】您好",
                "--reference",
                "order-1",
            ],
        )
        .expect_code(0),
    );
    assert!(env.path("sms.db").exists(), "the store file beside the config");
    let store_id = sent["store_id"]
        .as_str()
        .expect("the store's id printed")
        .to_owned();
    let provider_id = env.sandbox.messages()[0].provider_id.clone();

    // By reference, by the store's id and by the provider's id: the same record.
    for args in [
        vec!["--json", "status", "--reference", "order-1"],
        vec!["--json", "status", store_id.as_str()],
        vec!["--json", "status", provider_id.as_str()],
    ] {
        let doc = json(&run(&env, &config, &args).expect_code(0));
        assert_eq!(doc["id"], store_id.as_str(), "{args:?}");
        assert_eq!(doc["reference"], "order-1");
        assert_eq!(doc["content"], "【示例】您好");
        let r = &doc["recipients"][0];
        assert_eq!(r["number"], "+8613800138000");
        assert_eq!(r["status"], "accepted");
        assert_eq!(r["provider"], "ihuyi");
        assert_eq!(r["provider_message_id"], provider_id.as_str());
        assert_eq!(r["billed_parts"], 1);
        assert!(r["timeline"]["sending_ms"].is_i64(), "{r}");
        assert!(r["timeline"]["outcome_ms"].is_i64(), "{r}");
        assert_eq!(r["error"], serde_json::Value::Null, "{r}");
    }
    let human = run(&env, &config, &["status", "--reference", "order-1"]).expect_code(0);
    assert!(
        human
            .stdout()
            .contains(&format!("accepted +8613800138000: via ihuyi (id {provider_id})")),
        "{}",
        human.stdout()
    );
    assert!(
        human.stdout().contains("sending "),
        "the timeline: {}",
        human.stdout()
    );

    // The same reference again is answered from the store: nothing more goes out.
    run(
        &env,
        &config,
        &[
            "send",
            "--to",
            "13800138000",
            "--text",
            "【示例】您好",
            "--reference",
            "order-1",
        ],
    )
    .expect_code(0);
    assert_eq!(
        env.sandbox.messages().len(),
        1,
        "a recorded reference is not sent twice"
    );

    let history = json(
        &run(
            &env,
            &config,
            &["--json", "history", "--to", "13800138000", "--since", "1h"],
        )
        .expect_code(0),
    );
    assert_eq!(history["number"], "+8613800138000");
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history["messages"][0]["message_id"], store_id.as_str());
    let other = json(&run(&env, &config, &["--json", "history", "--to", "13900139000"]).expect_code(0));
    assert_eq!(other["messages"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_attempts_are_recorded_and_shown() {
    let env = Env::new().await;
    let config = with_store(&env);
    // ihuyi refuses outright: the chain fails over to Juxiang.
    env.sandbox
        .inject_fault(Fault::new(FaultKind::HttpStatus(503)).target(FaultTarget::Product(Product::IhuyiSms)));
    run(
        &env,
        &config,
        &[
            "send",
            "--to",
            "13800138000",
            "--text",
            "【示例】您好",
            "--reference",
            "r-failover",
        ],
    )
    .expect_code(0);
    let doc = json(&run(&env, &config, &["--json", "status", "--reference", "r-failover"]).expect_code(0));
    assert_eq!(doc["recipients"][0]["provider"], "juxiang", "{doc}");
    let attempts = doc["attempts"].as_array().unwrap();
    assert!(!attempts.is_empty(), "{doc}");
    assert!(attempts.iter().all(|a| a["provider"] == "ihuyi"), "{doc}");
    let human = run(&env, &config, &["status", "--reference", "r-failover"]).expect_code(0);
    assert!(human.stdout().contains("attempt 1: ihuyi"), "{}", human.stdout());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_run_records_every_row() {
    let env = Env::new().await;
    let config = with_store(&env);
    let csv = env.write("rows.csv", &support::numbers_csv(0, 3));
    run(&env, &config, &["bulk", csv.to_str().unwrap(), "--yes"]).expect_code(0);
    assert_eq!(env.sandbox.messages().len(), 3);
    for i in 0..3 {
        let number = format!("1380{i:07}");
        let doc = json(&run(&env, &config, &["--json", "history", "--to", &number]).expect_code(0));
        let messages = doc["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1, "{number}: {doc}");
        assert_eq!(messages[0]["status"], "accepted");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_without_a_store_or_for_an_unknown_message_says_so() {
    let env = Env::new().await;
    let run_ = env.run(&["status", "--reference", "x"]).expect_code(5);
    assert!(run_.stderr().contains("[store]"), "{}", run_.stderr());
    let config = with_store(&env);
    let missing = run(&env, &config, &["status", "no-such-id"]).expect_code(1);
    assert!(
        missing.stderr().contains("no message with id \"no-such-id\""),
        "{}",
        missing.stderr()
    );
    run(
        &env,
        &config,
        &["history", "--to", "13800138000", "--since", "soon"],
    )
    .expect_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reads_a_client_reference_given_without_the_flag() {
    let env = Env::new().await;
    let config = with_store(&env);
    let reference = "invoice-2026-0042";
    let sent = json(
        &run(
            &env,
            &config,
            &[
                "--json",
                "send",
                "--to",
                "13800138000",
                "--text",
                "【示例】您好",
                "--reference",
                reference,
            ],
        )
        .expect_code(0),
    );
    let store_id = sent["store_id"].as_str().expect("the store's id printed");
    assert_ne!(store_id, reference, "the reference is not also the store's id");

    // `sms status REF`, no `--reference`: the message recorded under that client reference.
    let doc = json(&run(&env, &config, &["--json", "status", reference]).expect_code(0));
    assert_eq!(doc["id"], store_id, "{doc}");
    assert_eq!(doc["reference"], reference, "{doc}");
    assert_eq!(doc["recipients"][0]["status"], "accepted", "{doc}");
    let human = run(&env, &config, &["status", reference]).expect_code(0);
    assert!(
        human
            .stdout()
            .contains(&format!("message {store_id} (reference {reference})")),
        "{}",
        human.stdout()
    );
    assert!(
        human.stdout().contains("accepted +8613800138000"),
        "{}",
        human.stdout()
    );

    // An unknown reference is still not found, as an unknown id always was: exit 1.
    let missing = run(&env, &config, &["status", "invoice-unknown"]).expect_code(1);
    assert!(
        missing
            .stderr()
            .contains("no message with id \"invoice-unknown\" is recorded in the store"),
        "{}",
        missing.stderr()
    );
}
