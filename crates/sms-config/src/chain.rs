//! `[chain]`: how the failover chain routes, retries, breaks circuits and limits each number.

use std::time::Duration;

use sms_core::AmbiguityPolicy;
pub use sms_failover::LimitScope;
use sms_failover::adaptive::TOTAL_POINTS;
use sms_failover::{
    AdaptiveSettings, BreakerConfig, DEFAULT_PART_CONCURRENCY, FailoverSenderBuilder, RecipientLimits,
    RetryPolicy, Strategy,
};

use crate::error::{ConfigError, ConfigErrorKind};
use crate::reader::{Reader, error_at};
use crate::tree::EMPTY;

/// Requests remembered per provider for health reports (the chain's own default).
pub const DEFAULT_HEALTH_WINDOW: usize = 100;

/// The longest deadline or attempt timeout a chain accepts.
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The `[chain]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainConfig {
    /// How the first provider of each message is picked.
    pub strategy: Strategy,
    /// What to do when an attempt's outcome is unknown.
    pub ambiguity: AmbiguityPolicy,
    /// Retries, backoff, the per-message deadline and the attempt timeout.
    pub retry: RetryPolicy,
    /// One circuit breaker per provider.
    pub breaker: BreakerConfig,
    /// Per-number limits.
    pub limits: RecipientLimits,
    /// Whose sends the limits count.
    pub limit_scope: LimitScope,
    /// Requests of one message in flight at once to one provider.
    pub part_concurrency: usize,
    /// Requests per provider summarised in health reports.
    pub health_window: usize,
    /// Seed of the random choices (tests only; unset in production).
    pub random_seed: Option<u64>,
    /// How `strategy = "adaptive"` judges providers and moves weight (`[chain.adaptive]`).
    pub adaptive: AdaptiveSettings,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            ambiguity: AmbiguityPolicy::default(),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            limits: RecipientLimits::default(),
            limit_scope: LimitScope::default(),
            part_concurrency: DEFAULT_PART_CONCURRENCY,
            health_window: DEFAULT_HEALTH_WINDOW,
            random_seed: None,
            adaptive: AdaptiveSettings::default(),
        }
    }
}

impl ChainConfig {
    /// A builder with every setting of this section (and no providers yet).
    pub fn builder(&self) -> FailoverSenderBuilder {
        let mut builder = sms_failover::FailoverSender::builder()
            .strategy(self.strategy)
            .ambiguity_policy(self.ambiguity)
            .retry(self.retry)
            .circuit_breaker(self.breaker)
            .recipient_limits(self.limits.clone())
            .part_concurrency(self.part_concurrency)
            .health_window(self.health_window)
            .adaptive(self.adaptive.clone());
        if let Some(seed) = self.random_seed {
            builder = builder.random_seed(seed);
        }
        builder
    }
}

const CHAIN_KEYS: [&str; 9] = [
    "strategy",
    "ambiguity",
    "part_concurrency",
    "health_window",
    "random_seed",
    "retry",
    "breaker",
    "limits",
    "adaptive",
];

/// Reads `[chain]` (an absent section reads as an empty one: every default).
pub(crate) fn read(mut r: Reader<'_>) -> Result<(ChainConfig, toml::Table), ConfigError> {
    let defaults = ChainConfig::default();
    r.allow_only(&CHAIN_KEYS)?;
    let strategy = r.choice(
        "strategy",
        &[
            ("priority", Strategy::Priority),
            ("weighted-random", Strategy::WeightedRandom),
            ("round-robin", Strategy::RoundRobin),
            ("adaptive", Strategy::Adaptive),
        ],
        Strategy::Priority,
        "priority",
    )?;
    let ambiguity = r.choice(
        "ambiguity",
        &[
            ("at-most-once", AmbiguityPolicy::AtMostOnce),
            ("at-least-once", AmbiguityPolicy::AtLeastOnce),
        ],
        AmbiguityPolicy::AtMostOnce,
        "at-most-once",
    )?;
    let part_concurrency = r.usize_or("part_concurrency", defaults.part_concurrency, 1)?;
    let health_window = r.usize_or("health_window", defaults.health_window, 1)?;
    let random_seed = r.opt_u64("random_seed", 0)?;
    let retry = read_retry(&mut r)?;
    let breaker = read_breaker(&mut r)?;
    let (limits, limit_scope) = read_limits(&mut r)?;
    let adaptive = read_adaptive(&mut r)?;
    let config = ChainConfig {
        strategy,
        ambiguity,
        retry,
        breaker,
        limits,
        limit_scope,
        part_concurrency,
        health_window,
        random_seed,
        adaptive,
    };
    Ok((config, r.finish()))
}

fn read_adaptive(r: &mut Reader<'_>) -> Result<AdaptiveSettings, ConfigError> {
    let d = AdaptiveSettings::default();
    let mut t = sub(r, "adaptive")?;
    t.allow_only(&[
        "interval",
        "receipt_window",
        "late_after",
        "late_percent",
        "min_sample",
        "error_window",
        "error_threshold",
        "step",
        "floor",
        "cooldown",
        "quiet_period",
    ])?;
    let interval = t.duration_or("interval", d.interval, true)?;
    let receipt_window = t.duration_or("receipt_window", d.receipt_window, true)?;
    let late_after = t.duration_or("late_after", d.late_after, true)?;
    if receipt_window <= late_after {
        return Err(t.invalid(
            "receipt_window",
            "must be longer than late_after: no message in it would be old enough to judge",
        ));
    }
    let late_percent = t.u32_or("late_percent", d.late_percent, 1)?;
    if late_percent > 100 {
        return Err(t.invalid("late_percent", "must be 1 to 100"));
    }
    let min_sample = t.u32_or("min_sample", d.min_sample, 1)?;
    let error_window = t.duration_or("error_window", d.error_window, true)?;
    let error_threshold = t.u32_or("error_threshold", d.error_threshold, 1)?;
    let step = t.u32_or("step", d.step, 1)?;
    if step > TOTAL_POINTS {
        return Err(t.invalid("step", "is points of 100: at most 100"));
    }
    let floor = t.u32_or("floor", d.floor, 1)?;
    if floor > TOTAL_POINTS {
        return Err(t.invalid("floor", "is points of 100: at most 100"));
    }
    let settings = AdaptiveSettings {
        interval,
        receipt_window,
        late_after,
        late_percent,
        min_sample,
        error_window,
        error_threshold,
        step,
        floor,
        cooldown: t.duration_or("cooldown", d.cooldown, false)?,
        quiet_period: t.duration_or("quiet_period", d.quiet_period, false)?,
    };
    r.put("adaptive", t.finish());
    Ok(settings)
}

fn sub<'a>(r: &mut Reader<'a>, key: &str) -> Result<Reader<'a>, ConfigError> {
    match r.table(key)? {
        Some(sub) => Ok(sub),
        // An absent section reads as an empty one, so its defaults are shown too.
        None => Reader::new(r.source(), r.key_path(key), &EMPTY),
    }
}

fn read_retry(r: &mut Reader<'_>) -> Result<RetryPolicy, ConfigError> {
    let d = RetryPolicy::default();
    let mut t = sub(r, "retry")?;
    t.allow_only(&[
        "max_attempts_per_provider",
        "initial_backoff",
        "max_backoff",
        "jitter",
        "deadline",
        "attempt_timeout",
    ])?;
    let max_attempts = t.u32_or("max_attempts_per_provider", d.max_attempts_per_provider, 1)?;
    let initial_backoff = t.duration_or("initial_backoff", d.initial_backoff, false)?;
    let max_backoff = t.duration_or("max_backoff", d.max_backoff, false)?;
    let jitter = t.bool_or("jitter", d.jitter)?;
    let deadline = t.duration_or("deadline", d.deadline, true)?;
    if deadline > LONGEST_WAIT {
        return Err(t.invalid("deadline", "must be at most a day (\"1d\")"));
    }
    let attempt_timeout = t.optional_duration("attempt_timeout", d.attempt_timeout, true)?;
    if attempt_timeout.is_some_and(|a| a > LONGEST_WAIT) {
        return Err(t.invalid("attempt_timeout", "must be at most a day (\"1d\"), or \"off\""));
    }
    let mut policy = RetryPolicy::default()
        .max_attempts_per_provider(max_attempts)
        .initial_backoff(initial_backoff)
        .max_backoff(max_backoff)
        .jitter(jitter)
        .deadline(deadline);
    policy.attempt_timeout = attempt_timeout;
    r.put("retry", t.finish());
    Ok(policy)
}

fn read_breaker(r: &mut Reader<'_>) -> Result<BreakerConfig, ConfigError> {
    let d = BreakerConfig::default();
    let mut t = sub(r, "breaker")?;
    t.allow_only(&["failure_threshold", "cool_down", "slow_call_threshold"])?;
    let config = BreakerConfig::default()
        .failure_threshold(t.u32_or("failure_threshold", d.failure_threshold, 1)?)
        .cool_down(t.duration_or("cool_down", d.cool_down, false)?)
        .slow_call_threshold(t.optional_duration("slow_call_threshold", d.slow_call_threshold, true)?);
    r.put("breaker", t.finish());
    Ok(config)
}

fn read_limits(r: &mut Reader<'_>) -> Result<(RecipientLimits, LimitScope), ConfigError> {
    let mut t = sub(r, "limits")?;
    t.allow_only(&["scope", "windows"])?;
    let scope = t.choice(
        "scope",
        &[
            ("chain", LimitScope::Chain),
            ("provider-account", LimitScope::ProviderAccount),
        ],
        LimitScope::Chain,
        "chain",
    )?;
    let limits = match t.array("windows")? {
        None => RecipientLimits::default(),
        Some(items) => {
            let mut limits = RecipientLimits::disabled();
            for (i, item) in items.iter().enumerate() {
                let window = read_window(&t, "windows", i, item, "\"1s\", \"1h\", \"1d\"")?;
                limits = limits.with_limit(window.count, window.period);
            }
            limits
        }
    };
    let windows: Vec<toml::Value> = limits
        .windows()
        .iter()
        .map(|w| {
            let mut table = toml::Table::new();
            table.insert("count".into(), i64::from(w.count).into());
            table.insert("period".into(), crate::reader::format_duration(w.period).into());
            toml::Value::Table(table)
        })
        .collect();
    t.put("windows", toml::Value::Array(windows));
    r.put("limits", t.finish());
    Ok((limits.scope(scope), scope))
}

/// An error about the chain as a whole (from the chain's own builder), at `[chain]`.
pub(crate) fn build_error(src: &crate::source::Source, message: String) -> ConfigError {
    error_at(
        src,
        ConfigErrorKind::InvalidValue,
        "chain",
        &crate::tree::Origin::File(None),
        message,
    )
}

/// One `{ count, period }` window of the list at `key` (item `i`), with errors naming its place;
/// `example` shows periods typical of that list in the error for a missing `period`.
pub(crate) fn read_window(
    parent: &Reader<'_>,
    key: &str,
    i: usize,
    item: &crate::tree::Node,
    example: &str,
) -> Result<sms_failover::LimitWindow, ConfigError> {
    let path = format!("{}[{i}]", parent.key_path(key));
    let mut w = Reader::new(parent.source(), path, item)?;
    w.allow_only(&["count", "period"])?;
    let count = w.opt_u32("count", 1)?.ok_or_else(|| {
        w.error(
            ConfigErrorKind::MissingKey,
            "count",
            "missing key `count`: messages allowed per period",
        )
    })?;
    if w.entries().iter().all(|e| e.key != "period") {
        return Err(w.error(
            ConfigErrorKind::MissingKey,
            "period",
            format!("missing key `period`: the window's length, e.g. {example}"),
        ));
    }
    let period = w.duration_or("period", Duration::ZERO, true)?;
    Ok(sms_failover::LimitWindow { count, period })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;
    use crate::tree::{Node, Origin, Value};

    fn read_text(text: &str) -> ChainConfig {
        let src = Source::new(None, text.to_owned());
        let root = crate::tree::parse(&src).unwrap();
        let node = Node {
            value: Value::Table(root),
            origin: Origin::File(None),
        };
        read(Reader::new(&src, "chain".to_owned(), &node).unwrap())
            .unwrap()
            .0
    }

    /// Every field of the policies is read from the file. The patterns name every field without
    /// `..`, so a field added to `RetryPolicy` or `BreakerConfig` stops this from compiling until
    /// it can be configured here.
    #[test]
    fn every_policy_field_is_configurable() {
        let config = read_text(
            "[retry]\nmax_attempts_per_provider = 4\ninitial_backoff = \"1s\"\nmax_backoff = \"9s\"\n\
             jitter = false\ndeadline = \"2m\"\nattempt_timeout = \"3s\"\n\
             [breaker]\nfailure_threshold = 2\ncool_down = \"7s\"\nslow_call_threshold = \"1500ms\"\n",
        );
        let RetryPolicy {
            max_attempts_per_provider,
            initial_backoff,
            max_backoff,
            jitter,
            deadline,
            attempt_timeout,
        } = config.retry;
        assert_eq!(max_attempts_per_provider, 4);
        assert_eq!(
            (initial_backoff, max_backoff),
            (Duration::from_secs(1), Duration::from_secs(9))
        );
        assert!(!jitter);
        assert_eq!(
            (deadline, attempt_timeout),
            (Duration::from_secs(120), Some(Duration::from_secs(3)))
        );
        let BreakerConfig {
            failure_threshold,
            cool_down,
            slow_call_threshold,
        } = config.breaker;
        assert_eq!((failure_threshold, cool_down), (2, Duration::from_secs(7)));
        assert_eq!(slow_call_threshold, Some(Duration::from_millis(1500)));
        assert_eq!(
            read_text(""),
            ChainConfig::default(),
            "an empty section is every default"
        );
    }

    /// Every adaptive setting is read from `[chain.adaptive]`; an empty section is the defaults.
    #[test]
    fn every_adaptive_setting_is_configurable() {
        let config = read_text(
            "strategy = \"adaptive\"\n[adaptive]\ninterval = \"30s\"\nreceipt_window = \"20m\"\n\
             late_after = \"4m\"\nlate_percent = 20\nmin_sample = 30\nerror_window = \"2m\"\n\
             error_threshold = 40\nstep = 5\nfloor = 2\ncooldown = \"3m\"\nquiet_period = \"10m\"\n",
        );
        assert_eq!(config.strategy, Strategy::Adaptive);
        let AdaptiveSettings {
            interval,
            receipt_window,
            late_after,
            late_percent,
            min_sample,
            error_window,
            error_threshold,
            step,
            floor,
            cooldown,
            quiet_period,
        } = config.adaptive;
        let min = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(
            (interval, receipt_window, late_after),
            (Duration::from_secs(30), min(20), min(4))
        );
        assert_eq!(
            (late_percent, min_sample, error_threshold, step, floor),
            (20, 30, 40, 5, 2)
        );
        assert_eq!((error_window, cooldown, quiet_period), (min(2), min(3), min(10)));
        assert_eq!(read_text("[adaptive]\n").adaptive, AdaptiveSettings::default());
    }

    /// Bad adaptive values name their key and place.
    #[test]
    fn bad_adaptive_values_are_refused_with_their_place() {
        let read_err = |text: &str| {
            let src = Source::new(None, text.to_owned());
            let root = crate::tree::parse(&src).unwrap();
            let node = Node {
                value: Value::Table(root),
                origin: Origin::File(None),
            };
            read(Reader::new(&src, "chain".to_owned(), &node).unwrap())
                .unwrap_err()
                .to_string()
        };
        let error = read_err("[adaptive]\nreceipt_window = \"5m\"\n");
        assert!(
            error.contains("chain.adaptive.receipt_window") && error.contains("old enough to judge"),
            "{error}"
        );
        let error = read_err("[adaptive]\nlate_percent = 101\n");
        assert!(error.contains("chain.adaptive.late_percent"), "{error}");
        let error = read_err("[adaptive]\nfloor = 0\n");
        assert!(error.contains("chain.adaptive.floor"), "{error}");
        let error = read_err("[adaptive]\nflor = 3\n");
        assert!(error.contains("flor"), "{error}");
    }

    /// Both scopes of the limits can be chosen, and the chosen one reaches the chain's limits.
    #[test]
    fn the_limit_scope_is_configurable() {
        let account = read_text("[limits]\nscope = \"provider-account\"\n");
        assert_eq!(account.limit_scope, LimitScope::ProviderAccount);
        assert_eq!(account.limits.limit_scope(), LimitScope::ProviderAccount);
        let chain = read_text("[limits]\nscope = \"chain\"\n");
        assert_eq!(chain.limits.limit_scope(), LimitScope::Chain);
        assert_eq!(read_text("").limits.limit_scope(), LimitScope::Chain);
    }
}
