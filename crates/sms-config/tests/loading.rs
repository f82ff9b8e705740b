//! Loading: environment overrides and references, several accounts of one vendor, profiles, the
//! lookup order, masked secrets, and the effective configuration.

use std::path::PathBuf;
use std::time::Duration;

use sms_config::{
    Config, FoundBy, LoadOptions, ProviderSettings, StateBackend, StoreBackend, Vendor, locate,
};
use sms_core::AmbiguityPolicy;
use sms_failover::Strategy;

fn no_env() -> LoadOptions {
    LoadOptions::new().env_vars::<&str, &str>([])
}

/// A fresh empty directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sms-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn well_known_variables_override_the_file_and_env_references_fill_it() {
    let text = r#"
        [providers.ihuyi]
        account = "from-file"
        key = "file-key-secret"
        [providers.juxiang]
        login = "jx"
        password = { env = "MY_JX_PASSWORD" }
        [providers.ihuyi-backup]
        type = "ihuyi"
        account = "backup"
        key = "backup-file-key"
    "#;
    let options = LoadOptions::new().env_vars([
        ("SMS_IHUYI_ACCOUNT", "from-env"),
        ("SMS_IHUYI_API_KEY", "env-key-secret"),
        ("SMS_IHUYI_BACKUP_BASE_URL", "http://127.0.0.1:9"),
        ("MY_JX_PASSWORD", "jx-password-secret"),
        ("SMS_STATE_URL", "redis://:redis-pw-secret@127.0.0.1:6379/0"),
        ("SMS_STORE_URL", "postgres://sms:pg-pw-secret@127.0.0.1:5432/sms"),
        ("SMS_GATEWAY_LISTEN", "127.0.0.1:9999"),
    ]);
    let config = Config::from_toml_str(text, &options).unwrap();
    let effective = config.effective_toml();
    assert!(effective.contains("account = \"from-env\""), "{effective}");
    assert!(
        effective.contains("base_url = \"http://127.0.0.1:9\""),
        "{effective}"
    );
    let ProviderSettings::Ihuyi(_) = &config.provider("ihuyi").unwrap().settings else {
        panic!("ihuyi settings");
    };
    let StateBackend::Redis { url, key_prefix, .. } = &config.state().backend else {
        panic!("SMS_STATE_URL selects redis: {:?}", config.state());
    };
    assert_eq!(url.expose(), "redis://:redis-pw-secret@127.0.0.1:6379/0");
    assert_eq!(key_prefix, "sms:");
    let StoreBackend::Postgres { url, .. } = &config.store().backend else {
        panic!("SMS_STORE_URL selects postgres: {:?}", config.store());
    };
    assert_eq!(url.expose(), "postgres://sms:pg-pw-secret@127.0.0.1:5432/sms");
    assert_eq!(config.gateway().listen, "127.0.0.1:9999".parse().unwrap());
    // No secret anywhere a user could see: the effective config, Debug of the config and parts.
    let debug = format!("{config:?} {:?} {:?}", config.providers(), config.state());
    for secret in [
        "file-key-secret",
        "env-key-secret",
        "jx-password-secret",
        "redis-pw-secret",
        "pg-pw-secret",
        "backup-file-key",
    ] {
        assert!(!effective.contains(secret), "{secret} in {effective}");
        assert!(!debug.contains(secret), "{secret} in Debug");
        assert!(!config.effective_json().to_string().contains(secret));
    }
}

#[tokio::test]
async fn the_env_key_is_what_goes_on_the_wire() {
    let sandbox = sms_sandbox::Sandbox::builder().spawn().await.unwrap();
    let base = sandbox.base_url();
    let text =
        format!("[providers.ihuyi]\naccount = \"sandbox\"\nkey = \"wrong-key\"\nbase_url = \"{base}\"\n");
    // The file's key is wrong; the override is the sandbox's: the send succeeds only if the
    // override won.
    let options = LoadOptions::new().env_vars([("SMS_IHUYI_API_KEY", sms_sandbox::DEFAULT_KEY)]);
    let chain = Config::from_toml_str(&text, &options)
        .unwrap()
        .build_chain()
        .unwrap();
    let message = sms_core::Message::text(
        "13800138000".parse::<sms_core::PhoneNumber>().unwrap(),
        "您的验证码是1234",
    );
    let receipt = sms_core::MessageSender::send(&chain, &message).await.unwrap();
    assert_eq!(receipt.providers(), ["ihuyi"]);
    assert_eq!(sandbox.messages().len(), 1);
}

#[test]
fn several_accounts_of_one_vendor_have_their_own_names_and_variables() {
    let text = r#"
        [providers.ihuyi-a]
        type = "ihuyi"
        account = "A"
        key = "ka"
        priority = 1
        [providers.ihuyi-b]
        type = "ihuyi"
        account = "B"
        key = "kb"
        priority = 0
        weight = 3
    "#;
    let options = LoadOptions::new().env_vars([("SMS_IHUYI_B_ACCOUNT", "B-env")]);
    let config = Config::from_toml_str(text, &options).unwrap();
    assert!(config.providers().iter().all(|p| p.vendor == Vendor::Ihuyi));
    assert!(config.effective_toml().contains("account = \"B-env\""));
    assert!(config.effective_toml().contains("account = \"A\""));
    let chain = config.build_chain().unwrap();
    let order: Vec<String> = chain.health().into_iter().map(|h| h.name).collect();
    assert_eq!(order, ["ihuyi-b", "ihuyi-a"]);
    assert_eq!(config.provider("ihuyi-b").unwrap().weight, 3);

    // Two names that would share variables are refused.
    let clash = "[providers.a-b]\ntype=\"ihuyi\"\naccount=\"1\"\nkey=\"k\"\n[providers.a_b]\ntype=\"ihuyi\"\naccount=\"2\"\nkey=\"k\"\n";
    let error = Config::from_toml_str(clash, &no_env()).unwrap_err();
    assert!(error.to_string().contains("SMS_A_B_*"), "{error}");
}

#[test]
fn every_chain_knob_is_read() {
    let text = r#"
        [providers.ihuyi]
        account = "C1"
        key = "k"
        [chain]
        strategy = "round-robin"
        ambiguity = "at-least-once"
        part_concurrency = 3
        health_window = 7
        random_seed = 42
        [chain.retry]
        max_attempts_per_provider = 2
        initial_backoff = "50ms"
        max_backoff = "1s"
        jitter = false
        deadline = "1m"
        attempt_timeout = "off"
        [chain.breaker]
        failure_threshold = 9
        cool_down = "1h"
        slow_call_threshold = "off"
        [chain.limits]
        scope = "chain"
        windows = [{ count = 2, period = "1m" }, { count = 10, period = "1d" }]
    "#;
    let config = Config::from_toml_str(text, &no_env()).unwrap();
    let chain = config.chain();
    assert_eq!(chain.strategy, Strategy::RoundRobin);
    assert_eq!(chain.ambiguity, AmbiguityPolicy::AtLeastOnce);
    assert_eq!(
        (chain.part_concurrency, chain.health_window, chain.random_seed),
        (3, 7, Some(42))
    );
    let r = chain.retry;
    assert_eq!(r.max_attempts_per_provider, 2);
    assert_eq!(
        (r.initial_backoff, r.max_backoff),
        (Duration::from_millis(50), Duration::from_secs(1))
    );
    assert!(!r.jitter);
    assert_eq!((r.deadline, r.attempt_timeout), (Duration::from_secs(60), None));
    let b = chain.breaker;
    assert_eq!(
        (b.failure_threshold, b.cool_down, b.slow_call_threshold),
        (9, Duration::from_secs(3600), None)
    );
    let windows = chain.limits.windows();
    assert_eq!(windows.len(), 2);
    assert_eq!(
        (windows[0].count, windows[0].period),
        (2, Duration::from_secs(60))
    );
    assert_eq!(
        (windows[1].count, windows[1].period),
        (10, Duration::from_secs(86_400))
    );
    // And the limits are off with an empty list.
    let off = Config::from_toml_str(
        "[providers.ihuyi]\naccount=\"C1\"\nkey=\"k\"\n[chain.limits]\nwindows = []\n",
        &no_env(),
    )
    .unwrap();
    assert!(off.chain().limits.is_disabled());
}

#[test]
fn a_profile_is_laid_over_the_base() {
    let text = r#"
        [providers.ihuyi]
        account = "prod"
        key = "k"
        [chain.retry]
        deadline = "30s"
        max_attempts_per_provider = 2
        [profiles.staging.providers.ihuyi]
        account = "staging"
        base_url = "http://127.0.0.1:8080"
        [profiles.staging.chain.retry]
        deadline = "5s"
    "#;
    let base = Config::from_toml_str(text, &no_env()).unwrap();
    assert_eq!(base.chain().retry.deadline, Duration::from_secs(30));
    assert_eq!(base.profile(), None);
    let staging = Config::from_toml_str(text, &no_env().profile("staging")).unwrap();
    assert_eq!(staging.profile(), Some("staging"));
    assert_eq!(staging.chain().retry.deadline, Duration::from_secs(5));
    assert_eq!(
        staging.chain().retry.max_attempts_per_provider,
        2,
        "kept from the base"
    );
    let effective = staging.effective_toml();
    assert!(
        effective.contains("account = \"staging\"") && effective.contains("http://127.0.0.1:8080"),
        "{effective}"
    );
    // SMS_PROFILE selects it when nothing else does.
    let by_env =
        Config::from_toml_str(text, &LoadOptions::new().env_vars([("SMS_PROFILE", "staging")])).unwrap();
    assert_eq!(by_env.chain().retry.deadline, Duration::from_secs(5));
}

#[test]
fn the_lookup_order_is_explicit_then_sms_config_then_local_then_user_dir() {
    let dir = temp_dir("lookup");
    let (explicit, by_env, local_dir, user_dir) = (
        dir.join("explicit.toml"),
        dir.join("env.toml"),
        dir.join("cwd"),
        dir.join("home"),
    );
    std::fs::create_dir_all(&local_dir).unwrap();
    std::fs::create_dir_all(user_dir.join("sms")).unwrap();
    for path in [
        &explicit,
        &by_env,
        &local_dir.join("sms.toml"),
        &user_dir.join("sms").join("config.toml"),
    ] {
        std::fs::write(path, "[providers.ihuyi]\naccount = \"C1\"\nkey = \"k\"\n").unwrap();
    }
    let env = [("SMS_CONFIG", by_env.display().to_string())];
    let options = LoadOptions::new()
        .env_vars(env.clone())
        .working_dir(&local_dir)
        .user_config_dir(&user_dir);
    let found = |explicit: Option<&std::path::Path>, options: &LoadOptions| {
        locate(explicit, options).unwrap().map(|l| (l.path, l.found_by))
    };
    assert_eq!(
        found(Some(&explicit), &options),
        Some((explicit.clone(), FoundBy::Explicit))
    );
    assert_eq!(found(None, &options), Some((by_env.clone(), FoundBy::EnvVar)));
    let options = LoadOptions::new()
        .env_vars::<&str, &str>([])
        .working_dir(&local_dir)
        .user_config_dir(&user_dir);
    assert_eq!(
        found(None, &options),
        Some((local_dir.join("sms.toml"), FoundBy::WorkingDir))
    );
    std::fs::remove_file(local_dir.join("sms.toml")).unwrap();
    assert_eq!(
        found(None, &options),
        Some((user_dir.join("sms/config.toml"), FoundBy::UserConfigDir))
    );
    std::fs::remove_file(user_dir.join("sms/config.toml")).unwrap();
    assert_eq!(found(None, &options), None);
    assert!(
        Config::discover(None, &options).unwrap().is_none(),
        "no file: the caller runs the sandbox"
    );
    // SMS_CONFIG naming a missing file is an error, not a fallback.
    let options =
        LoadOptions::new().env_vars([("SMS_CONFIG", dir.join("missing.toml").display().to_string())]);
    assert!(locate(None, &options).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn store_state_and_gateway_sections_are_typed() {
    let dir = temp_dir("sections");
    let path = dir.join("sms.toml");
    std::fs::write(
        &path,
        r#"
        [providers.ihuyi]
        account = "C1"
        key = "k"
        [store]
        path = "data/sms.db"
        content = "digest"
        retention = "90d"
        redact_after = "30d"
        [state]
        backend = "redis"
        url = "redis://127.0.0.1:6379"
        key_prefix = "test:"
        command_timeout = "250ms"
        fail_open = ["opt_outs", "spend"]
        [gateway]
        listen = "0.0.0.0:9000"
        outbox_lease = "20s"
        public_url = "https://sms.example.com"
        webhook_token = "0123456789abcdef-token"
        allowed_sources = ["203.0.113.0/24", "::1"]
        [[gateway.api_keys]]
        name = "backend"
        hash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        scopes = ["send", "read"]
        [gateway.callbacks]
        url = "https://app.example.com/events"
        secret = "whsec_callback-secret"
        "#,
    )
    .unwrap();
    let config = Config::load_with(&path, &no_env()).unwrap();
    assert_eq!(
        config.store().backend,
        StoreBackend::Sqlite {
            path: dir.join("data/sms.db"),
            busy_timeout: Duration::from_secs(5)
        }
    );
    assert_eq!(config.store().retention, Some(Duration::from_secs(90 * 86_400)));
    assert_eq!(
        config.store().redact_after,
        Some(Duration::from_secs(30 * 86_400))
    );
    let fail_open = config.state().fail_open;
    assert_eq!(fail_open.names(), ["opt_outs", "spend"]);
    assert!(fail_open.any() && !fail_open.is_all() && !fail_open.limits);
    let StateBackend::Redis {
        key_prefix,
        command_timeout,
        ..
    } = &config.state().backend
    else {
        panic!("redis");
    };
    assert_eq!(
        (key_prefix.as_str(), *command_timeout),
        ("test:", Duration::from_millis(250))
    );
    let gateway = config.gateway();
    assert_eq!(gateway.listen, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(gateway.outbox_lease, Duration::from_secs(20));
    assert!(gateway.allowed_sources[0].contains("203.0.113.77".parse().unwrap()));
    assert!(!gateway.allowed_sources[0].contains("203.0.114.1".parse().unwrap()));
    assert_eq!(gateway.api_keys[0].scopes.len(), 2);
    assert_eq!(gateway.callbacks.as_ref().unwrap().retry_schedule.len(), 6);
    assert_eq!(gateway.otlp_endpoint, None);
    // Not given: the balances are read every 5 minutes.
    assert_eq!(gateway.balance_interval, Some(Duration::from_secs(300)));
    for (text, expected) in [("\"90s\"", Some(90)), ("\"off\"", None), ("false", None)] {
        let config = Config::from_toml_str(
            &format!(
                "[providers.ihuyi]\naccount = \"C1\"\nkey = \"k\"\n[gateway]\nbalance_interval = {text}\n"
            ),
            &no_env(),
        )
        .unwrap();
        assert_eq!(
            config.gateway().balance_interval,
            expected.map(Duration::from_secs),
            "{text}"
        );
    }
    let effective = config.effective_toml();
    assert!(
        !effective.contains("callback-secret") && !effective.contains("-token"),
        "{effective}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_effective_configuration_loads_again_once_secrets_are_put_back() {
    let text = "[providers.ihuyi]\naccount = \"C1\"\nkey = \"k1\"\n[providers.juxiang]\nlogin=\"j\"\npassword=\"p\"\nlong_sms = true\n[chain]\nstrategy = \"weighted-random\"\n";
    let config = Config::from_toml_str(text, &no_env()).unwrap();
    let again = config.effective_toml().replace("\"[redacted]\"", "\"put-back\"");
    let reloaded = Config::from_toml_str(&again, &no_env()).unwrap();
    assert_eq!(reloaded.chain(), config.chain());
    assert_eq!(reloaded.effective_toml(), config.effective_toml());
}

#[tokio::test]
async fn the_sandbox_configuration_sends_on_a_running_sandbox() {
    assert_eq!(
        (
            sms_sandbox::DEFAULT_ACCOUNT,
            sms_sandbox::DEFAULT_KEY,
            sms_sandbox::DEFAULT_JUXIANG_PASSWORD
        ),
        ("sandbox", "sandbox-key", "sandbox-pwd"),
        "Config::sandbox uses these accounts"
    );
    let sandbox = sms_sandbox::Sandbox::builder().spawn().await.unwrap();
    let config = Config::sandbox(&sandbox.base_url()).unwrap();
    assert!(config.is_sandbox());
    let chain = config.build_chain().unwrap();
    let to: sms_core::PhoneNumber = "13900139000".parse().unwrap();
    let receipt = sms_core::MessageSender::send(&chain, &sms_core::Message::text(to, "您的验证码是4321"))
        .await
        .unwrap();
    assert_eq!(receipt.providers(), ["ihuyi"]);
    let to: sms_core::PhoneNumber = "13700137000".parse().unwrap();
    let voice = sms_core::Message::voice_code(to, "482913").unwrap();
    let receipt = sms_core::MessageSender::send(&chain, &voice).await.unwrap();
    assert_eq!(
        receipt.providers(),
        ["ihuyi-voice"],
        "voice codes go to the voice vendor"
    );
    for provider in config.providers() {
        let balance = provider.client.balance_query().balance().await;
        assert!(balance.is_ok(), "{}: {balance:?}", provider.name);
    }
    assert!(config.provider("juxiang").unwrap().client.inbound().is_some());
    assert!(Config::sandbox_toml(&sandbox.base_url()).contains("[providers.juxiang]"));
}

#[test]
fn the_deprecated_price_per_part_is_the_mainland_price_unless_spend_prices_has_the_provider() {
    let text = "[providers.ihuyi]\naccount = \"C1\"\nkey = \"k\"\nprice_per_part = 0.045\n\
                [providers.juxiang]\nlogin = \"jx\"\npassword = \"p\"\nprice_per_part = 0.05\n\
                [spend.prices.juxiang]\n86 = 38\n";
    let config = Config::from_toml_str(text, &no_env()).unwrap();
    let prices = &config.spend().prices;
    assert_eq!(
        prices.price("ihuyi", 86),
        Some(45),
        "0.045 yuan is 45 thousandths"
    );
    assert_eq!(prices.price("juxiang", 86), Some(38), "[spend.prices] wins");
    // A money cap is satisfied by the alias for mainland.
    let capped = format!("{text}[[spend.caps]]\nmoney = 1000\n");
    let config = Config::from_toml_str(&capped, &no_env()).unwrap();
    assert_eq!(config.spend().prices.price("ihuyi", 86), Some(45));
}
