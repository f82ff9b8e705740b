//! `sms send`, `--dry-run` and the exit codes, through the real binary against the sandbox.

mod support;

use sms_sandbox::{Fault, FaultKind, FaultTarget, Product};
use support::{Env, Run};

#[tokio::test(flavor = "multi_thread")]
async fn a_text_goes_out_once_and_the_output_names_who_took_it() {
    let env = Env::new().await;
    let run = env
        .run(&[
            "send",
            "--to",
            "13800138000,13900139000",
            "--text",
            "【示例】您的验证码是482913。",
        ])
        .expect_code(0);
    let messages = env.sandbox.messages();
    let ids: Vec<_> = messages.iter().map(|m| m.provider_id.clone()).collect();
    let mut numbers = env.recorded_numbers();
    numbers.sort();
    assert_eq!(numbers, ["13800138000", "13900139000"]);
    for id in &ids {
        assert!(
            run.stdout().contains(id.as_str()),
            "message id {id} printed: {}",
            run.stdout()
        );
    }
    assert!(run.stdout().contains("ihuyi"), "{}", run.stdout());
    assert!(run.stdout().contains("billed parts: 2"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_is_one_document_with_the_sandbox_ids() {
    let env = Env::new().await;
    let run = env
        .run(&["--json", "send", "--to", "13800138000", "--text", "【示例】您好"])
        .expect_code(0);
    let docs = run.json_lines();
    assert_eq!(docs.len(), 1);
    let outcome = &docs[0]["outcomes"][0];
    assert_eq!(outcome["status"], "accepted");
    assert_eq!(outcome["recipient"], "+8613800138000");
    assert_eq!(
        outcome["message_id"].as_str().unwrap(),
        env.sandbox.messages()[0].provider_id
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_voice_codes_and_mms_reach_their_products() {
    let env = Env::new().await;
    env.run(&[
        "send",
        "--to",
        "13800138000",
        "--template",
        "1",
        "--template-text",
        "【示例】验证码{code}",
        "--var",
        "code=4821",
    ])
    .expect_code(0);
    env.run(&["send", "--to", "13800138001", "--voice-code", "482913"])
        .expect_code(0);
    env.run(&[
        "send",
        "--to",
        "13800138002",
        "--mms",
        sms_sandbox::DEFAULT_MMS_PACKAGE_ID,
        "--product",
        sms_sandbox::DEFAULT_MMS_PRODUCT_ID,
    ])
    .expect_code(0);
    let messages = env.sandbox.messages();
    let products: Vec<_> = messages.iter().map(|m| m.product).collect();
    assert_eq!(products, [Product::IhuyiSms, Product::IhuyiVoice, Product::Mms]);
    assert_eq!(messages[0].text, "【示例】验证码4821");
    assert_eq!(messages[1].text, "482913");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_sends_nothing_and_masks_secrets() {
    let env = Env::new().await;
    let run = env
        .run(&[
            "send",
            "--dry-run",
            "--to",
            "13800138000",
            "--voice-code",
            "482913",
        ])
        .expect_code(0);
    let csv = env.write("in.csv", &support::numbers_csv(0, 5));
    let bulk = env
        .run(&["--json", "bulk", "--dry-run", csv.to_str().unwrap()])
        .expect_code(0);
    assert_eq!(env.requests(), 0, "a dry run makes no request");
    assert!(env.sandbox.messages().is_empty());
    let all = format!(
        "{}{}{}{}",
        run.stdout(),
        run.stderr(),
        bulk.stdout(),
        bulk.stderr()
    );
    assert!(!all.contains(sms_sandbox::DEFAULT_KEY), "no secret in: {all}");
    assert!(!all.contains("482913"), "the voice code is masked: {all}");
    let lines = bulk.json_lines();
    let rows: Vec<_> = lines.iter().filter(|l| l["dry_run"] == true).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[4]["to"][0], "+8613800000004");
    assert_eq!(rows[4]["provider"], "ihuyi");
    assert!(
        !env.path("in.results.csv").exists(),
        "a dry run writes no results"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_2_for_bad_input_and_usage_with_nothing_sent() {
    let env = Env::new().await;
    let bad_number = env
        .run(&["send", "--to", "13800138000,12345", "--text", "hi"])
        .expect_code(2);
    assert!(
        bad_number.stderr().contains("\"12345\""),
        "{}",
        bad_number.stderr()
    );
    let long = "好".repeat(301);
    let too_long = env
        .run(&["send", "--to", "13800138000", "--text", &long])
        .expect_code(2);
    assert!(
        too_long.stderr().contains("301 characters"),
        "{}",
        too_long.stderr()
    );
    let gbk = env
        .run(&["send", "--to", "13800138000", "--text", "ok \u{0E01}"])
        .expect_code(2);
    assert!(
        gbk.stderr().contains("GBK") && gbk.stderr().contains("position 3"),
        "{}",
        gbk.stderr()
    );
    env.run(&["send", "--to", "13800138000"]).expect_code(2);
    env.run(&["send", "--nonsense"]).expect_code(2);
    assert_eq!(env.requests(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_6_when_every_provider_refuses_the_content() {
    let env = Env::new().await;
    let run = env
        .run(&["send", "--to", "13800138000", "--text", "【示例】博彩优惠"])
        .expect_code(6);
    // Every attempt is listed.
    assert!(run.stderr().contains("attempt 1 on ihuyi"), "{}", run.stderr());
    assert!(run.stderr().contains("juxiang"), "{}", run.stderr());
    assert!(env.sandbox.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_7_when_every_provider_is_down() {
    let env = Env::new().await;
    env.sandbox.inject_fault(Fault::new(FaultKind::HttpStatus(503)));
    let run = env
        .run(&["send", "--to", "13800138000", "--text", "【示例】您好"])
        .expect_code(7);
    assert!(run.stderr().contains("503"), "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_4_when_the_answer_is_lost_after_the_provider_took_it() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::new(FaultKind::ResetMidBody).target(FaultTarget::Product(Product::IhuyiSms)));
    let run = env
        .run(&["send", "--to", "13800138000", "--text", "【示例】您好"])
        .expect_code(4);
    assert!(run.stderr().contains("do not resend"), "{}", run.stderr());
    // At most once: the sandbox took it once, and nobody tried Juxiang.
    assert_eq!(env.recorded_numbers(), ["13800138000"]);
    assert_eq!(env.sandbox.request_count(Product::Juxiang), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_3_when_only_some_rows_go_out_and_exit_1_for_a_missing_file() {
    let env = Env::new().await;
    let csv = env.write(
        "mixed.csv",
        "number,text\n13800000001,【示例】您好\n13800000002,【示例】博彩\n13800000003,【示例】再见\n",
    );
    env.run(&["bulk", "--yes", csv.to_str().unwrap()]).expect_code(3);
    let mut numbers = env.recorded_numbers();
    numbers.sort();
    assert_eq!(numbers, ["13800000001", "13800000003"]);
    env.run(&["bulk", "--yes", "missing.csv"]).expect_code(1);
}

#[tokio::test(flavor = "multi_thread")]
async fn balance_lists_every_provider() {
    let env = Env::new().await;
    let run = env.run(&["--json", "balance"]).expect_code(0);
    let doc = &run.json_lines()[0];
    let names: Vec<_> = doc["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["provider"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ihuyi", "juxiang", "ihuyi-voice", "mms-10658"],
        "every provider, in the chain or not"
    );
    assert_eq!(doc["balances"][0]["amount"], sms_sandbox::DEFAULT_BALANCE);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_any_config_the_built_in_sandbox_runs_and_says_so() {
    let env = Env::new().await;
    let run = Run(env
        .command(&["send", "--to", "13800138000", "--text", "【示例】您好"])
        .env_remove("SMS_SANDBOX_URL")
        .output()
        .unwrap())
    .expect_code(0);
    assert!(run.stderr().contains("built-in sandbox"), "{}", run.stderr());
    assert_eq!(env.requests(), 0, "the test's sandbox was not used");
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_registered_and_content_is_checked() {
    let env = Env::new().await;
    let added = env
        .run(&["--json", "template", "add", "【示例】您的验证码是{code}"])
        .expect_code(0);
    let id = added.json_lines()[0]["template_id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    env.run(&["check-content", "【示例】您好"]).expect_code(0);
    let refused = env.run(&["check-content", "【示例】博彩"]).expect_code(6);
    assert!(refused.stdout().contains("博彩"), "{}", refused.stdout());
}

#[tokio::test(flavor = "multi_thread")]
async fn inbound_pulls_replies_and_marks_opt_outs() {
    let env = Env::new().await;
    env.sandbox.inject_inbound(sms_sandbox::InboundReply::new(
        Product::Juxiang,
        "13800138000",
        "0000",
    ));
    // Juxiang allows one pull per interval: the reply, then (one interval later) the empty answer.
    let run = env.run(&["--json", "inbound"]).expect_code(0);
    let replies = run.json_lines();
    assert_eq!(replies.len(), 1, "{}", run.stdout());
    assert_eq!(replies[0]["provider"], "juxiang");
    assert_eq!(replies[0]["text"], "0000");
    assert_eq!(replies[0]["opt_out"], true);
}
