//! `--dry-run` shows the wire: each provider's own client builds its request, captured on loopback;
//! secrets redacted, nothing sent.

mod support;

use support::Env;

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_shows_each_providers_wire_request_with_secrets_redacted() {
    let env = Env::new().await;
    let run = env
        .run(&[
            "--json",
            "send",
            "--dry-run",
            "--to",
            "13800138000",
            "--text",
            "【示例】您好",
        ])
        .expect_code(0);
    assert_eq!(env.requests(), 0, "nothing reached the sandbox");
    let doc: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let wire = doc["wire"].as_array().expect("a wire preview");
    let base = env.sandbox.base_url();

    // ihuyi first: its request as its client writes it, to the sandbox's address.
    assert_eq!(wire[0]["provider"], "ihuyi");
    let ihuyi = &wire[0]["requests"][0];
    assert_eq!(ihuyi["method"], "POST");
    let url = ihuyi["url"].as_str().unwrap();
    assert!(url.starts_with(&base), "{url} at {base}");
    assert!(url.contains("Submit"), "{url}");
    let field = |request: &serde_json::Value, name: &str| {
        request["form"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f[0] == name)
            .map(|f| f[1].as_str().unwrap().to_owned())
    };
    assert_eq!(
        field(ihuyi, "account").as_deref(),
        Some(sms_sandbox::DEFAULT_ACCOUNT)
    );
    assert_eq!(field(ihuyi, "mobile").as_deref(), Some("13800138000"));
    assert_eq!(field(ihuyi, "content").as_deref(), Some("【示例】您好"));
    assert_eq!(field(ihuyi, "password").as_deref(), Some("[redacted]"));

    // Juxiang, the fallback: its GBK form read back as text, its password redacted.
    assert_eq!(wire[1]["provider"], "juxiang");
    let juxiang = &wire[1]["requests"][0];
    assert!(
        juxiang["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/send/")),
        "{juxiang}"
    );
    assert_eq!(field(juxiang, "msg").as_deref(), Some("【示例】您好"));
    assert_eq!(field(juxiang, "pwd").as_deref(), Some("[redacted]"));

    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(!all.contains(sms_sandbox::DEFAULT_KEY), "{all}");
    assert!(!all.contains(sms_sandbox::DEFAULT_JUXIANG_PASSWORD), "{all}");

    // The human form prints the same request.
    let human = env
        .run(&[
            "send",
            "--dry-run",
            "--to",
            "13800138000",
            "--voice-code",
            "482913",
        ])
        .expect_code(0);
    assert!(
        human.stdout().contains("would receive: POST "),
        "{}",
        human.stdout()
    );
    assert!(
        !human.stdout().contains("482913"),
        "the code is masked: {}",
        human.stdout()
    );
    assert!(
        human.stdout().contains("mobile = 13800138000"),
        "{}",
        human.stdout()
    );
    assert_eq!(env.requests(), 0);
}
