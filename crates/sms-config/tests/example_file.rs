//! The shipped `sms.example.toml` loads and builds its chain.

use std::path::PathBuf;

use sms_config::{Config, LoadOptions, Vendor};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sms.example.toml")
}

fn secrets() -> LoadOptions {
    LoadOptions::new().env_vars([
        ("IHUYI_KEY", "example-ihuyi-key-1"),
        ("IHUYI_BACKUP_KEY", "example-ihuyi-key-2"),
        ("JUXIANG_PASSWORD", "example-juxiang-pwd"),
        ("VOICE_KEY", "example-voice-key"),
        ("MMS_KEY", "example-mms-key"),
    ])
}

#[test]
fn the_example_file_loads_and_builds_its_chain() {
    let config = Config::load_with(example(), &secrets()).unwrap();
    let names: Vec<&str> = config.providers().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ihuyi", "ihuyi-backup", "juxiang", "voice", "mms"]);
    assert_eq!(config.provider("ihuyi-backup").unwrap().vendor, Vendor::Ihuyi);
    assert_eq!(config.provider("juxiang").unwrap().price_per_part, Some(0.04));
    assert_eq!(config.provider("mms").unwrap().estimated_cost(10), Some(3.0));
    let chain = config.build_chain().unwrap();
    let health: Vec<String> = chain.health().into_iter().map(|h| h.name).collect();
    assert_eq!(
        health,
        ["ihuyi", "voice", "juxiang", "ihuyi-backup"],
        "in_chain and priority order"
    );
    let effective = config.effective_toml();
    for secret in [
        "example-ihuyi-key-1",
        "example-ihuyi-key-2",
        "example-juxiang-pwd",
        "example-voice-key",
        "example-mms-key",
    ] {
        assert!(!effective.contains(secret), "{effective}");
        assert!(!format!("{config:?}").contains(secret));
    }
}

#[test]
fn the_example_file_turns_on_its_spend_caps_prices_and_destinations() {
    use sms_failover::{CapPeriod, CapScope, CapUnit};
    let config = Config::load_with(example(), &secrets()).unwrap();
    let spend = config.spend();
    assert!(spend.enabled);
    assert!(spend.allow_countries.contains(&852));
    assert_eq!(spend.prices.price("juxiang", 852), Some(500));
    let caps: Vec<(CapScope, CapPeriod, CapUnit, u64)> = spend
        .caps
        .iter()
        .map(|c| (c.scope.clone(), c.period, c.unit, c.limit))
        .collect();
    assert!(caps.contains(&(CapScope::Overall, CapPeriod::Month, CapUnit::Money, 5_000_000)));
    assert!(
        caps.contains(&(CapScope::Country(852), CapPeriod::Day, CapUnit::Parts, 500)),
        "the default cap of an allowed country: {caps:?}"
    );
    let chain = config.build_chain().unwrap();
    assert_eq!(chain.spend_policy().map(|p| p.caps().len()), Some(4));
}
