//! `sms usage` and the budget check of `sms bulk`, through the real binary against the sandbox.

mod support;

use sms::config::Config;
use support::{Env, Run, numbers_csv};

/// The sandbox's config with a store and a daily cap of 5 parts.
fn config(env: &Env) -> std::path::PathBuf {
    let text = format!(
        "{}\n[store]\npath = {:?}\n\n[[spend.caps]]\nscope = \"overall\"\nperiod = \"day\"\nparts = 5\n",
        Config::sandbox_toml(&env.sandbox.base_url()),
        env.path("sms.db").display().to_string()
    );
    env.write("spend.toml", &text)
}

fn run(env: &Env, args: &[&str]) -> Run {
    let mut command = env.command(args);
    command.env_remove("SMS_SANDBOX_URL");
    Run(command.output().expect("sms runs"))
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_refuses_a_file_over_what_the_caps_leave_and_says_by_how_much() {
    let env = Env::new().await;
    let config = config(&env);
    let csv = env.write("in.csv", &numbers_csv(0, 8));
    let refused = run(
        &env,
        &[
            "--config",
            config.to_str().unwrap(),
            "bulk",
            "--yes",
            csv.to_str().unwrap(),
        ],
    );
    assert_ne!(refused.code(), 0, "{}", refused.stderr());
    let err = refused.stderr();
    assert!(
        err.contains("the file needs 8 billed parts, but the overall day cap of 5 leaves 5")
            && err.contains(": 3 over"),
        "{err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(env.requests(), 0, "refused before any request");

    let fits = env.write("small.csv", &numbers_csv(100, 5));
    run(
        &env,
        &[
            "--config",
            config.to_str().unwrap(),
            "bulk",
            "--yes",
            fits.to_str().unwrap(),
        ],
    )
    .expect_code(0);
    assert_eq!(env.recorded_numbers().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_prints_every_cap() {
    let env = Env::new().await;
    let config = config(&env);
    let table = run(&env, &["--config", config.to_str().unwrap(), "usage"]).expect_code(0);
    let line = table
        .stdout()
        .lines()
        .find(|l| l.starts_with("overall"))
        .map(str::to_owned);
    let line = line.unwrap_or_else(|| panic!("{}", table.stdout()));
    assert!(
        line.contains(" day ") && line.contains(" parts ") && line.contains(" 5 "),
        "{line}"
    );
    let json = run(&env, &["--json", "--config", config.to_str().unwrap(), "usage"]).expect_code(0);
    let doc = &json.json_lines()[0];
    assert_eq!(doc["durable"], true, "{doc}");
    assert_eq!(doc["caps"][0]["limit"], 5, "{doc}");
    assert_eq!(doc["caps"][0]["used"], 0, "{doc}");
    assert!(
        doc["caps"][0]["resets_at"]
            .as_str()
            .is_some_and(|t| t.ends_with("00:00 +08:00")),
        "{doc}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn caps_hold_across_send_runs_in_the_store() {
    let env = Env::new().await;
    let config = config(&env);
    let config = config.to_str().unwrap();
    let send = |to: &str| {
        run(
            &env,
            &[
                "--json",
                "--config",
                config,
                "send",
                "--to",
                to,
                "--text",
                "【示例】您好",
            ],
        )
    };
    // 3 of the 5 parts in a first process.
    send("13800138000,13800138001,13800138002").expect_code(0);
    assert_eq!(env.recorded_numbers().len(), 3);
    // A second process sees those 3: of 3 more (one message each), 2 fit and the third is refused
    // before its request.
    let crossing = send("13800138003,13800138004,13800138005");
    let said = format!("{}{}", crossing.stdout(), crossing.stderr());
    assert_ne!(crossing.code(), 0, "{said}");
    assert!(said.contains("budget exceeded"), "{said}");
    assert!(said.contains("the daily cap of 5 parts for overall"), "{said}");
    assert_eq!(env.recorded_numbers().len(), 5, "{said}");
    // A third process: the cap is used up, nothing reaches the provider.
    let refused = send("13800138006");
    let said = format!("{}{}", refused.stdout(), refused.stderr());
    assert_ne!(refused.code(), 0, "{said}");
    assert!(said.contains("budget exceeded"), "{said}");
    assert_eq!(env.recorded_numbers().len(), 5, "{said}");
    assert_eq!(env.requests(), 5, "{said}");
    let json = run(&env, &["--json", "--config", config, "usage"]).expect_code(0);
    let doc = &json.json_lines()[0];
    assert_eq!(doc["durable"], true, "{doc}");
    assert_eq!(doc["caps"][0]["used"], 5, "{doc}");
    assert_eq!(doc["caps"][0]["remaining"], 0, "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_checks_account_and_country_caps_and_prices_each_destination() {
    let env = Env::new().await;
    let text = format!(
        "{}\n[store]\npath = {:?}\n\n[spend]\nallow_countries = [852]\n\
         [[spend.caps]]\nscope = \"overall\"\nparts = 100\n\
         [[spend.caps]]\nscope = \"account:ihuyi\"\nparts = 3\n\
         [[spend.caps]]\nscope = \"country:852\"\nparts = 2\n\
         [spend.prices.ihuyi]\n86 = 40\n852 = 300\n",
        Config::sandbox_toml(&env.sandbox.base_url()),
        env.path("sms.db").display().to_string()
    );
    let config = env.write("caps.toml", &text);
    let csv = env.write(
        "mixed.csv",
        "number,text\n13800000001,【示例】通知\n13800000002,【示例】通知\n\
         +85291234561,【示例】通知\n+85291234562,【示例】通知\n+85291234563,【示例】通知\n",
    );
    let refused = run(
        &env,
        &[
            "--config",
            config.to_str().unwrap(),
            "bulk",
            "--yes",
            csv.to_str().unwrap(),
        ],
    );
    let err = refused.stderr();
    assert_ne!(refused.code(), 0, "{err}");
    // 2 × 0.040 + 3 × 0.300 yuan.
    assert!(
        err.contains("5 billed part(s), estimated cost: 0.980 CNY"),
        "{err}"
    );
    assert!(
        err.contains("the file needs 5 billed parts, but the account:ihuyi day cap of 3 leaves 3")
            && err.contains(": 2 over"),
        "{err}"
    );
    assert!(
        err.contains("the rows to +852 need 3 billed parts, but the country:852 day cap of 2 leaves 2")
            && err.contains(": 1 over"),
        "{err}"
    );
    assert!(
        !err.contains("overall day cap"),
        "the overall cap is not crossed: {err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    assert_eq!(env.requests(), 0, "refused before any request");
}
