//! `sms providers`: breakers, health, adaptive weights, overrides and the latest weight changes
//! with their reasons, read from `[store]` where gateways share them; the real binary.

mod support;

use std::sync::Arc;

use sms::failover::adaptive::{NamedOverrides, ProviderWeight, WeightChange, WeightLog};
use sms::store::{MessageStore, StoreOptions, StoreState};
use support::{Env, Run};

fn config(env: &Env, store: bool) -> std::path::PathBuf {
    let text = format!(
        "{}\n[chain]\nstrategy = \"adaptive\"\n{}",
        sms::config::Config::sandbox_toml(&env.sandbox.base_url()),
        if store {
            "\n[store]\npath = \"sms.db\"\n"
        } else {
            ""
        }
    );
    env.write(if store { "store.toml" } else { "plain.toml" }, &text)
}

fn run(env: &Env, config: &std::path::Path, args: &[&str]) -> Run {
    let mut full = vec!["--config", config.to_str().unwrap()];
    full.extend_from_slice(args);
    let mut command = env.command(&full);
    command.env_remove("SMS_SANDBOX_URL");
    Run(command.output().expect("sms runs"))
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_shows_the_stored_weights_overrides_and_changes() {
    let env = Env::new().await;
    // Without a store: the resting weights of a chain built from the config.
    let plain = json(&run(&env, &config(&env, false), &["--json", "providers"]).expect_code(0));
    assert_eq!(plain["adaptive"], true, "{plain}");
    assert_eq!(plain["shared"], false, "{plain}");
    let rows = plain["providers"].as_array().expect("rows").clone();
    assert!(rows.len() >= 2, "{plain}");
    let names: Vec<String> = rows
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    let resting: Vec<u32> = rows
        .iter()
        .map(|r| u32::try_from(r["resting_weight"].as_u64().expect("resting")).unwrap())
        .collect();
    assert_eq!(resting.iter().sum::<u32>(), 100, "{plain}");
    assert!(rows.iter().all(|r| r["breaker"] == "closed"), "{plain}");
    assert_eq!(plain["weight_changes"], serde_json::json!([]));

    // A gateway on the store decided: the first provider demoted by 10 points, the last drained.
    let config = config(&env, true);
    let store: Arc<dyn MessageStore> =
        sms::store::open(env.path("sms.db").to_str().unwrap(), StoreOptions::default())
            .await
            .expect("store");
    let log = StoreState::new(store);
    let mut after = resting.clone();
    after[0] -= 10;
    after[1] += 10;
    let providers = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut p = ProviderWeight::resting(name, resting[i]);
            p.after = after[i];
            if i == 0 {
                p.evidence.send_errors = 50;
            }
            p
        })
        .collect();
    log.append(&WeightChange::new("demoted", providers))
        .await
        .expect("stored");
    let last = names.last().unwrap().clone();
    log.set_overrides(&NamedOverrides {
        pin: None,
        drained: vec![last.clone()],
    })
    .await
    .expect("stored");

    let doc = json(&run(&env, &config, &["--json", "providers"]).expect_code(0));
    assert_eq!(doc["shared"], true, "{doc}");
    let rows = doc["providers"].as_array().unwrap();
    assert_eq!(rows[0]["learned_weight"], after[0], "{doc}");
    assert_eq!(rows[1]["learned_weight"], after[1], "{doc}");
    assert_eq!(rows.last().unwrap()["weight"], 0, "drained: {doc}");
    assert_eq!(rows.last().unwrap()["drained"], true, "{doc}");
    assert_eq!(doc["overrides"]["drained"], serde_json::json!([last]));
    assert_eq!(doc["weight_changes"][0]["reason"], "demoted", "{doc}");
    assert_eq!(
        doc["weight_changes"][0]["providers"][0]["send_errors"], 50,
        "{doc}"
    );

    let table = run(&env, &config, &["providers"]).expect_code(0).stdout();
    let line = table
        .lines()
        .find(|l| l.starts_with(names[0].as_str()))
        .unwrap_or_else(|| panic!("{table}"))
        .to_owned();
    assert!(line.contains(&format!(" {} ", after[0])), "{line}");
    assert!(table.contains("drained"), "{table}");
    assert!(
        table.contains(&format!(
            "demoted  {} {}->{} (50 errors)",
            names[0], resting[0], after[0]
        )),
        "{table}"
    );
    // Reading never decides: nothing more was stored, and no decider lease was taken.
    let store = sms::store::open(env.path("sms.db").to_str().unwrap(), StoreOptions::default())
        .await
        .expect("store");
    assert_eq!(store.weight_changes(100).await.expect("read").len(), 1);
    let free = store
        .acquire_lease(
            sms::failover::adaptive::DECIDER_LEASE,
            "a-gateway",
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("lease");
    assert!(free, "the CLI never holds the decider's lease");
}
