//! Every class of configuration error names its place (file, line, column, key path) and what is
//! allowed, and none quotes a secret.

use std::io::Write;

use sms_config::{Config, ConfigError, ConfigErrorKind, LoadOptions, Position};

const IHUYI: &str = "[providers.ihuyi]\naccount = \"C1\"\nkey = \"secret-key-123\"\n";

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, &LoadOptions::new().env_vars::<&str, &str>([]))
}

fn err(text: &str) -> ConfigError {
    let error = load(text).expect_err("the configuration must be refused");
    assert!(!error.to_string().contains("secret-key-123"), "{error}");
    assert!(!format!("{error:?}").contains("secret-key-123"), "{error:?}");
    error
}

fn at(line: usize, column: usize) -> Option<Position> {
    Some(Position { line, column })
}

#[test]
fn a_syntax_error_names_the_file_line_and_column() {
    let mut file = tempfile();
    write!(file.1, "{IHUYI}[chain]\nstrategy = \"priority\n").unwrap();
    let error = Config::load(&file.0).unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Syntax);
    assert_eq!(error.position().map(|p| p.line), Some(5));
    let text = error.to_string();
    assert!(text.starts_with(&format!("{}:5:", file.0.display())), "{text}");
    let _ = std::fs::remove_file(&file.0);
}

#[test]
fn an_unknown_key_suggests_the_closest_and_lists_what_is_allowed() {
    let error = err("[providers.ihuyi]\naccount = \"C1\"\nkye = \"secret-key-123\"\n");
    assert_eq!(error.kind(), ConfigErrorKind::UnknownKey);
    assert_eq!(error.key_path(), Some("providers.ihuyi.kye"));
    assert_eq!(error.position(), at(3, 1));
    let text = error.to_string();
    assert!(text.contains("did you mean `key`?"), "{text}");
    assert!(
        text.contains("Allowed here: ") && text.contains("account") && text.contains("base_url"),
        "{text}"
    );

    let error = err(&format!("{IHUYI}[chain.retry]\ndeadlin = \"5s\"\n"));
    assert_eq!(error.key_path(), Some("chain.retry.deadlin"));
    assert!(error.to_string().contains("did you mean `deadline`?"), "{error}");
    assert_eq!(error.position(), at(5, 1));

    let error = err(&format!("{IHUYI}[chian]\n"));
    assert_eq!(error.key_path(), Some("chian"));
    assert!(error.to_string().contains("did you mean `chain`?"), "{error}");
}

#[test]
fn a_wrong_type_says_what_was_expected_and_found() {
    let error = err(&format!("{IHUYI}priority = \"first\"\n"));
    assert_eq!(error.kind(), ConfigErrorKind::WrongType);
    assert_eq!(error.key_path(), Some("providers.ihuyi.priority"));
    assert_eq!(error.position(), at(4, 12));
    assert!(
        error.message().contains("expected an integer, found a string"),
        "{error}"
    );

    let error = err(&format!("{IHUYI}[chain.breaker]\ncool_down = [1]\n"));
    assert_eq!(error.kind(), ConfigErrorKind::WrongType);
    assert!(error.message().contains("expected a duration"), "{error}");
}

#[test]
fn a_missing_variable_is_named() {
    let error = err("[providers.ihuyi]\naccount = \"C1\"\nkey = { env = \"IHUYI_KEY_NOT_SET\" }\n");
    assert_eq!(error.kind(), ConfigErrorKind::MissingEnv);
    assert_eq!(error.key_path(), Some("providers.ihuyi.key"));
    assert_eq!(error.position(), at(3, 7));
    assert!(
        error
            .to_string()
            .contains("environment variable IHUYI_KEY_NOT_SET is not set"),
        "{error}"
    );
}

#[test]
fn invalid_values_are_refused_with_their_place() {
    let cases: &[(&str, &str, &str)] = &[
        ("base_url = \"ftp://x\"\n", "providers.ihuyi.base_url", "http"),
        (
            "base_url = \"not a url\"\n",
            "providers.ihuyi.base_url",
            "not a URL",
        ),
        (
            "[providers.ihuyi.http]\nrequest_timeout = \"0s\"\n",
            "providers.ihuyi.http.request_timeout",
            "greater than zero",
        ),
        (
            "[providers.ihuyi.http]\npool_idle_timeout = \"90s\"\n",
            "providers.ihuyi.http.pool_idle_timeout",
            "under 60 s",
        ),
        (
            "[providers.ihuyi.http]\nunprocessed_statuses = [404]\n",
            "providers.ihuyi.http.unprocessed_statuses",
            "5xx",
        ),
        (
            "format = \"yaml\"\n",
            "providers.ihuyi.format",
            "Allowed: xml, json",
        ),
        (
            "price_per_part = -1\n",
            "providers.ihuyi.price_per_part",
            "0 or more",
        ),
        (
            "[chain]\nstrategy = \"round_robin\"\n",
            "chain.strategy",
            "did you mean `round-robin`?",
        ),
        (
            "[chain.retry]\ndeadline = 0\n",
            "chain.retry.deadline",
            "greater than zero",
        ),
        (
            "[chain.retry]\ndeadline = \"2d\"\n",
            "chain.retry.deadline",
            "at most a day",
        ),
        (
            "[chain.retry]\nmax_attempts_per_provider = 0\n",
            "chain.retry.max_attempts_per_provider",
            "allowed 1",
        ),
        (
            "[chain.retry]\nattempt_timeout = \"soon\"\n",
            "chain.retry.attempt_timeout",
            "invalid duration",
        ),
        (
            "[chain.breaker]\nslow_call_threshold = \"0ms\"\n",
            "chain.breaker.slow_call_threshold",
            "greater than zero",
        ),
        (
            "[chain]\npart_concurrency = 0\n",
            "chain.part_concurrency",
            "allowed 1",
        ),
        (
            "[chain.limits]\nwindows = [{ count = 0, period = \"1s\" }]\n",
            "chain.limits.windows[0].count",
            "allowed 1",
        ),
        (
            "[chain.limits]\nwindows = [{ count = 3 }]\n",
            "chain.limits.windows[0].period",
            "missing key `period`",
        ),
        (
            "[store]\nbackend = \"postgres\"\nurl = \"mysql://u:pw-secret-key-123@h/db\"\n",
            "store.url",
            "postgres or postgresql",
        ),
        ("[state]\nurl = \"http://h\"\n", "state.url", "redis or rediss"),
        (
            "[state]\nfail_open = [\"opt_outs\", \"retries\"]\n",
            "state.fail_open",
            "unknown check `retries`",
        ),
        ("[state]\nfail_open = 1\n", "state.fail_open", "true or false"),
        ("[gateway]\nlisten = \"localhost\"\n", "gateway.listen", "IP:PORT"),
        (
            "[gateway]\noutbox_lease = \"500ms\"\n",
            "gateway.outbox_lease",
            "at least 1s",
        ),
        (
            "[gateway]\noutbox_lease = \"0s\"\n",
            "gateway.outbox_lease",
            "greater than zero",
        ),
        (
            "[gateway]\nallowed_sources = [\"10.0.0.0/33\"]\n",
            "gateway.allowed_sources",
            "prefix length",
        ),
        (
            "[[gateway.api_keys]]\nname = \"a\"\nhash = \"secret-key-123\"\nscopes = [\"send\"]\n",
            "gateway.api_keys[0].hash",
            "sha256",
        ),
        (
            "[gateway]\nbalance_interval = \"2s\"\n",
            "gateway.balance_interval",
            "at least 10s",
        ),
        (
            "[gateway]\nbalance_interval = \"0s\"\n",
            "gateway.balance_interval",
            "greater than zero",
        ),
        (
            "[gateway]\nbalance_interval = \"soon\"\n",
            "gateway.balance_interval",
            "soon",
        ),
        (
            "[gateway]\notlp_endpoint = \"collector:4318\"\n",
            "gateway.otlp_endpoint",
            "http",
        ),
    ];
    for (extra, path, needle) in cases {
        let text = format!("{IHUYI}{extra}");
        let error = err(&text);
        assert_eq!(error.key_path(), Some(*path), "{extra}: {error}");
        assert!(error.to_string().contains(needle), "{extra}: {error}");
        assert!(error.position().is_some(), "{extra}: {error}");
        assert!(!error.to_string().contains("pw-secret"), "{error}");
    }
}

#[test]
fn missing_required_keys_and_providers_are_reported() {
    let error = err("[providers.ihuyi]\naccount = \"C1\"\n");
    assert_eq!(error.kind(), ConfigErrorKind::MissingKey);
    assert_eq!(error.key_path(), Some("providers.ihuyi.key"));
    assert_eq!(error.position(), at(1, 1));
    let error = err("[providers.main]\naccount = \"C1\"\nkey = \"k\"\n");
    assert!(error.to_string().contains("missing key `type`"), "{error}");
    assert!(
        error
            .to_string()
            .contains("ihuyi, ihuyi-voice, mms-10658, juxiang"),
        "{error}"
    );
    let error = err("[chain]\n");
    assert!(error.to_string().contains("[providers]"), "{error}");
    let error = err(&format!("{IHUYI}in_chain = false\n"));
    assert!(error.to_string().contains("in_chain"), "{error}");
}

#[test]
fn weighted_routing_with_every_weight_zero_is_refused_at_load() {
    let error = err(&format!(
        "{IHUYI}weight = 0\n[chain]\nstrategy = \"weighted-random\"\n"
    ));
    assert_eq!(error.key_path(), Some("chain.strategy"));
    assert!(error.to_string().contains("positive weight"), "{error}");
    assert_eq!(error.position().map(|p| p.line), Some(6));
}

#[test]
fn an_unknown_profile_is_named_with_the_ones_there_are() {
    let text = format!("{IHUYI}[profiles.staging.chain]\nstrategy = \"round-robin\"\n");
    let error = Config::from_toml_str(
        &text,
        &LoadOptions::new().env_vars::<&str, &str>([]).profile("stagin"),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::ProfileNotFound);
    assert!(error.to_string().contains("did you mean `staging`?"), "{error}");
    assert!(error.to_string().contains("Profiles: staging"), "{error}");
}

#[test]
fn a_bad_value_from_an_override_names_the_variable() {
    let options = LoadOptions::new().env_vars([("SMS_IHUYI_BASE_URL", "nonsense")]);
    let error = Config::from_toml_str(IHUYI, &options).unwrap_err();
    assert_eq!(error.key_path(), Some("providers.ihuyi.base_url"));
    assert_eq!(error.env_var(), Some("SMS_IHUYI_BASE_URL"));
    assert!(
        error
            .to_string()
            .contains("(value from environment variable SMS_IHUYI_BASE_URL)"),
        "{error}"
    );
}

#[test]
fn a_missing_explicit_file_is_an_error_not_a_fallback() {
    let error = Config::discover(
        Some(std::path::Path::new("/nonexistent/sms.toml")),
        &LoadOptions::new(),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Io);
    assert!(error.to_string().contains("/nonexistent/sms.toml"), "{error}");
}

fn tempfile() -> (std::path::PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!(
        "sms-config-test-{}-{}.toml",
        std::process::id(),
        fastrand_like()
    ));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}

fn fastrand_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[test]
fn a_price_table_without_an_allowed_country_names_the_provider_table() {
    let text = format!(
        "{IHUYI}[spend]\nallow_countries = [852]\n[[spend.caps]]\nperiod = \"month\"\nmoney = 100000\n\
         [spend.prices.ihuyi]\n86 = 35\n"
    );
    let error = err(&text);
    assert_eq!(error.kind(), ConfigErrorKind::MissingKey, "{error}");
    assert_eq!(error.key_path(), Some("spend.prices.ihuyi"));
    assert_eq!(error.position(), at(9, 1), "{error}");
    let text = error.to_string();
    assert!(text.contains("no price for country 852"), "{text}");
    assert!(text.contains("line 9, column 1"), "{text}");
}

#[test]
fn a_money_cap_without_any_price_table_is_refused() {
    let error = err(&format!("{IHUYI}[[spend.caps]]\nmoney = 100000\n"));
    assert_eq!(error.kind(), ConfigErrorKind::MissingKey, "{error}");
    assert!(error.to_string().contains("no price for country 86"), "{error}");
}

#[test]
fn a_negative_cap_is_out_of_range_at_its_value() {
    let error = err(&format!(
        "{IHUYI}[[spend.caps]]\nscope = \"overall\"\nparts = -5\n"
    ));
    assert_eq!(error.kind(), ConfigErrorKind::InvalidValue, "{error}");
    assert_eq!(error.key_path(), Some("spend.caps[0].parts"));
    assert_eq!(error.position(), at(6, 9), "{error}");
    assert!(error.to_string().contains("-5 is out of range"), "{error}");

    let error = err(&format!("{IHUYI}[spend.prices.ihuyi]\n86 = -35\n"));
    assert_eq!(error.key_path(), Some("spend.prices.ihuyi.86"));
    assert_eq!(error.position(), at(5, 6), "{error}");
    assert!(error.to_string().contains("never negative"), "{error}");
}

#[test]
fn an_unknown_currency_is_refused_at_its_value() {
    let error = err(&format!("{IHUYI}[spend]\ncurrency = \"USD\"\n"));
    assert_eq!(error.kind(), ConfigErrorKind::InvalidValue, "{error}");
    assert_eq!(error.key_path(), Some("spend.currency"));
    assert_eq!(error.position(), at(5, 12), "{error}");
    assert!(error.to_string().contains("unknown currency `USD`"), "{error}");
}

#[test]
fn spend_scopes_and_countries_are_checked() {
    let error = err(&format!(
        "{IHUYI}[[spend.caps]]\nscope = \"account:nobody\"\nparts = 5\n"
    ));
    assert_eq!(error.key_path(), Some("spend.caps[0].scope"));
    assert!(
        error.to_string().contains("no provider named `nobody`"),
        "{error}"
    );
    let error = err(&format!("{IHUYI}[spend]\nallow_countries = [882]\n"));
    assert_eq!(error.key_path(), Some("spend.allow_countries[0]"));
    assert_eq!(error.position(), at(5, 20), "{error}");
    assert!(error.to_string().contains("no mobile number plan"), "{error}");
    let error = err(&format!("{IHUYI}[[spend.caps]]\nparts = 5\nmoney = 5\n"));
    assert!(error.to_string().contains("exactly one of `parts`"), "{error}");
}

#[test]
fn spend_is_on_by_default_with_safe_limits() {
    let config = load(IHUYI).expect("loads");
    let spend = config.spend();
    assert!(spend.enabled && spend.allow_countries.is_empty());
    assert_eq!(spend.caps.len(), 2, "{:?}", spend.caps);
    assert!(spend.velocity.is_some());
    let chain = config.build_chain().expect("builds");
    assert!(
        chain
            .spend_policy()
            .is_some_and(|p| !p.allows(44) && p.allows(86))
    );
    let effective = config.effective_toml();
    assert!(
        effective.contains("[spend]") && effective.contains("parts = 10000"),
        "{effective}"
    );
    let again = load(&effective.replace("[redacted]", "secret-key-123")).expect("the effective file loads");
    assert_eq!(again.spend(), spend);
    let off = load(&format!("{IHUYI}[spend]\nenabled = false\n")).expect("loads");
    assert!(off.build_chain().expect("builds").spend_policy().is_none());
}
