//! `[spend]`: cost and abuse protection (spend caps, prices, destinations, velocity windows), on by
//! default with safe limits.
//!
//! Money is in thousandths of the currency unit (厘 for CNY), always an integer.

use std::collections::BTreeSet;

use sms_failover::{
    CapPeriod, CapScope, CapUnit, DEFAULT_PREFIX_DIGITS, DEFAULT_WARN_PERCENT, LimitWindow, MAINLAND,
    PriceTable, SpendCap, SpendPolicy, Velocity, has_mobile_plan,
};

use crate::error::{ConfigError, ConfigErrorKind};
use crate::reader::{Reader, error_at, format_duration};
use crate::tree::{EMPTY, Node, Value};

/// The currencies prices and money caps may be in.
const CURRENCIES: [&str; 1] = ["CNY"];

/// Default overall cap: billed parts per Beijing day.
pub const DEFAULT_DAILY_PARTS: u64 = 10_000;
/// Default overall cap: billed parts per Beijing month.
pub const DEFAULT_MONTHLY_PARTS: u64 = 200_000;
/// Default cap per allowed international country: billed parts per Beijing day.
pub const DEFAULT_COUNTRY_DAILY_PARTS: u64 = 500;

/// The `[spend]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpendConfig {
    /// False turns every protection off (`enabled = false`).
    pub enabled: bool,
    /// The currency of prices and money caps (`CNY`).
    pub currency: String,
    /// The caps, the default ones included.
    pub caps: Vec<SpendCap>,
    /// Prices per part, per provider and country, in thousandths of the currency unit.
    pub prices: PriceTable,
    /// International country codes allowed besides mainland China.
    pub allow_countries: BTreeSet<u16>,
    /// The warning threshold in percent.
    pub warn_at_percent: u8,
    /// Velocity windows per number range and country (`None`: off).
    pub velocity: Option<Velocity>,
}

impl Default for SpendConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            currency: "CNY".to_owned(),
            caps: vec![
                SpendCap::new(
                    CapScope::Overall,
                    CapPeriod::Day,
                    CapUnit::Parts,
                    DEFAULT_DAILY_PARTS,
                ),
                SpendCap::new(
                    CapScope::Overall,
                    CapPeriod::Month,
                    CapUnit::Parts,
                    DEFAULT_MONTHLY_PARTS,
                ),
            ],
            prices: PriceTable::new(),
            allow_countries: BTreeSet::new(),
            warn_at_percent: DEFAULT_WARN_PERCENT,
            velocity: Some(Velocity::default()),
        }
    }
}

impl SpendConfig {
    /// The chain's policy, or `None` when the section is disabled.
    pub fn policy(&self) -> Option<SpendPolicy> {
        if !self.enabled {
            return None;
        }
        let mut policy = SpendPolicy::default()
            .with_prices(self.prices.clone())
            .warn_at_percent(self.warn_at_percent)
            .velocity(self.velocity.clone());
        for cap in &self.caps {
            policy = policy.with_cap(cap.clone());
        }
        for &code in &self.allow_countries {
            policy = policy.allow_country(code);
        }
        Some(policy)
    }
}

const SPEND_KEYS: [&str; 8] = [
    "enabled",
    "currency",
    "warn_at_percent",
    "allow_countries",
    "country_daily_parts",
    "caps",
    "prices",
    "velocity",
];

/// Reads `[spend]` (absent: every default). `providers` are the chain's provider names, for caps and
/// prices per account.
pub(crate) fn read(
    mut r: Reader<'_>,
    providers: &[&str],
    old_prices: &[(&str, u64)],
) -> Result<(SpendConfig, toml::Table), ConfigError> {
    r.allow_only(&SPEND_KEYS)?;
    let enabled = r.bool_or("enabled", true)?;
    let currency = r.string_or("currency", "CNY")?;
    if !CURRENCIES.contains(&currency.as_str()) {
        return Err(r.invalid(
            "currency",
            format!(
                "unknown currency `{currency}`: prices and money caps are in {} (thousandths of the unit, e.g. \
                 35 = 0.035 yuan)",
                CURRENCIES.join(", ")
            ),
        ));
    }
    let warn = r.u32_or("warn_at_percent", u32::from(DEFAULT_WARN_PERCENT), 0)?;
    if warn > 100 {
        return Err(r.invalid(
            "warn_at_percent",
            format!("{warn} is more than 100 (percent of each cap)"),
        ));
    }
    let allow_countries = read_countries(&mut r)?;
    let country_daily = r
        .opt_u64("country_daily_parts", 1)?
        .unwrap_or(DEFAULT_COUNTRY_DAILY_PARTS);
    r.put(
        "country_daily_parts",
        i64::try_from(country_daily).unwrap_or(i64::MAX),
    );
    let mut caps = read_caps(&mut r, providers)?;
    for &code in &allow_countries {
        if !caps.iter().any(|c| {
            c.scope == CapScope::Country(code) && c.period == CapPeriod::Day && c.unit == CapUnit::Parts
        }) {
            caps.push(SpendCap::new(
                CapScope::Country(code),
                CapPeriod::Day,
                CapUnit::Parts,
                country_daily,
            ));
        }
    }
    let money = caps.iter().any(|c| c.unit == CapUnit::Money);
    let prices = read_prices(&mut r, providers, old_prices, &allow_countries, money)?;
    let velocity = read_velocity(&mut r)?;
    let config = SpendConfig {
        enabled,
        currency,
        caps,
        prices,
        allow_countries,
        // At most 100 by the check above.
        warn_at_percent: u8::try_from(warn).unwrap_or(100),
        velocity,
    };
    Ok((config, r.finish()))
}

fn sub<'a>(r: &Reader<'a>, key: &str) -> Result<Reader<'a>, ConfigError> {
    match r.table(key)? {
        Some(sub) => Ok(sub),
        None => Reader::new(r.source(), r.key_path(key), &EMPTY),
    }
}

/// An integer node as a country code, or an error at it.
fn country_code(r: &Reader<'_>, path: &str, node: &Node) -> Result<u16, ConfigError> {
    let code = match &node.value {
        Value::Int(i) => u16::try_from(*i).ok().filter(|c| (1..=999).contains(c)),
        Value::Str(s) => s
            .trim_start_matches('+')
            .parse::<u16>()
            .ok()
            .filter(|c| (1..=999).contains(c)),
        _ => None,
    };
    code.ok_or_else(|| {
        error_at(
            r.source(),
            ConfigErrorKind::InvalidValue,
            path,
            &node.origin,
            "expected a country calling code from 1 to 999 (86 is mainland China)".to_owned(),
        )
    })
}

fn read_countries(r: &mut Reader<'_>) -> Result<BTreeSet<u16>, ConfigError> {
    let mut allowed = BTreeSet::new();
    if let Some(items) = r.array("allow_countries")? {
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", r.key_path("allow_countries"));
            let code = country_code(r, &path, item)?;
            if code == MAINLAND {
                continue;
            }
            if !has_mobile_plan(code) {
                return Err(error_at(
                    r.source(),
                    ConfigErrorKind::InvalidValue,
                    &path,
                    &item.origin,
                    format!(
                        "+{code} has no mobile number plan in this build, so its numbers cannot be checked \
                         before sending; it cannot be allowed"
                    ),
                ));
            }
            allowed.insert(code);
        }
    }
    let shown: Vec<toml::Value> = allowed
        .iter()
        .map(|c| toml::Value::Integer(i64::from(*c)))
        .collect();
    r.put("allow_countries", toml::Value::Array(shown));
    Ok(allowed)
}

fn read_caps(r: &mut Reader<'_>, providers: &[&str]) -> Result<Vec<SpendCap>, ConfigError> {
    let Some(items) = r.array("caps")? else {
        let caps = SpendConfig::default().caps;
        r.put("caps", toml::Value::Array(caps.iter().map(show_cap).collect()));
        return Ok(caps);
    };
    let mut caps = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", r.key_path("caps"));
        let mut c = Reader::new(r.source(), path, item)?;
        c.allow_only(&["scope", "period", "parts", "money"])?;
        let scope_text = c.string_or("scope", "overall")?;
        let scope = if scope_text == "overall" {
            CapScope::Overall
        } else if let Some(name) = scope_text.strip_prefix("account:") {
            if !providers.contains(&name) {
                return Err(c.invalid(
                    "scope",
                    format!(
                        "no provider named `{name}` in the chain (providers: {})",
                        providers.join(", ")
                    ),
                ));
            }
            CapScope::Account(name.to_owned())
        } else if let Some(code) = scope_text.strip_prefix("country:") {
            match code.trim_start_matches('+').parse::<u16>() {
                Ok(code) if (1..=999).contains(&code) => CapScope::Country(code),
                _ => return Err(c.invalid("scope", format!("`{code}` is not a country calling code"))),
            }
        } else {
            return Err(c.invalid(
                "scope",
                format!("`{scope_text}` is not a scope. Allowed: overall, account:NAME, country:CODE"),
            ));
        };
        let period = c.choice(
            "period",
            &[("day", CapPeriod::Day), ("month", CapPeriod::Month)],
            CapPeriod::Day,
            "day",
        )?;
        let parts = c.opt_u64("parts", 1)?;
        let money = c.opt_u64("money", 1)?;
        let (unit, limit) = match (parts, money) {
            (Some(limit), None) => (CapUnit::Parts, limit),
            (None, Some(limit)) => (CapUnit::Money, limit),
            _ => {
                return Err(c.error(
                    ConfigErrorKind::MissingKey,
                    "",
                    "a cap needs exactly one of `parts` (billed parts) or `money` (thousandths of the currency unit)",
                ));
            }
        };
        caps.push(SpendCap::new(scope, period, unit, limit));
    }
    r.put("caps", toml::Value::Array(caps.iter().map(show_cap).collect()));
    Ok(caps)
}

fn show_cap(cap: &SpendCap) -> toml::Value {
    let mut table = toml::Table::new();
    let scope = match &cap.scope {
        CapScope::Overall => "overall".to_owned(),
        CapScope::Account(name) => format!("account:{name}"),
        CapScope::Country(code) => format!("country:{code}"),
    };
    table.insert("scope".into(), scope.into());
    table.insert("period".into(), cap.period.as_str().into());
    table.insert(
        cap.unit.as_str().into(),
        i64::try_from(cap.limit).unwrap_or(i64::MAX).into(),
    );
    toml::Value::Table(table)
}

/// A decimal amount (the deprecated `price_per_part`) in thousandths of the unit, rounded; `None`
/// when it is not a finite, non-negative amount.
pub(crate) fn thousandths(amount: f64) -> Option<u64> {
    let scaled = (amount * 1000.0).round();
    // Checked finite, non-negative and below 2^53 before the cast.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (scaled.is_finite() && (0.0..9.0e15).contains(&scaled)).then_some(scaled as u64)
}

fn read_prices(
    r: &mut Reader<'_>,
    providers: &[&str],
    old_prices: &[(&str, u64)],
    allowed: &BTreeSet<u16>,
    money_caps: bool,
) -> Result<PriceTable, ConfigError> {
    let t = sub(r, "prices")?;
    t.allow_only(providers)?;
    let mut table = PriceTable::new();
    let mut shown = toml::Table::new();
    let needed: Vec<u16> = std::iter::once(MAINLAND).chain(allowed.iter().copied()).collect();
    for provider in providers {
        let p = sub(&t, provider)?;
        let mut row = toml::Table::new();
        let mut seen = BTreeSet::new();
        for entry in p.entries() {
            let path = p.key_path(&entry.key);
            let key_node = Node {
                value: Value::Str(entry.key.clone()),
                origin: crate::tree::Origin::File(entry.key_span.clone()),
            };
            let code = country_code(&p, &path, &key_node)?;
            let price = match &entry.node.value {
                Value::Int(i) if *i >= 0 => u64::try_from(*i).unwrap_or(0),
                _ => {
                    return Err(error_at(
                        p.source(),
                        ConfigErrorKind::InvalidValue,
                        &path,
                        &entry.node.origin,
                        "expected a price per part as a whole number of thousandths of the currency unit \
                         (35 = 0.035 yuan), never negative"
                            .to_owned(),
                    ));
                }
            };
            seen.insert(code);
            table = table.with_price(*provider, code, price);
            row.insert(code.to_string(), i64::try_from(price).unwrap_or(i64::MAX).into());
        }
        // Without a row here, the provider's deprecated `price_per_part` is its mainland price.
        let alias = if seen.is_empty() {
            old_prices
                .iter()
                .find(|(name, _)| name == provider)
                .map(|(_, price)| *price)
        } else {
            None
        };
        // A provider with prices must price every destination it may be sent to; with money caps every
        // provider must.
        if (money_caps || !seen.is_empty())
            && let Some(missing) = needed
                .iter()
                .find(|code| !(seen.contains(code) || (**code == MAINLAND && alias.is_some())))
        {
            let why = if *missing == MAINLAND {
                "mainland China".to_owned()
            } else {
                "allowed in spend.allow_countries".to_owned()
            };
            return Err(p.error(
                ConfigErrorKind::MissingKey,
                "",
                format!(
                    "the price table of `{provider}` has no price for country {missing} ({why}); add \
                     `{missing} = <thousandths per part>`{}",
                    if money_caps {
                        " (a money cap needs every price)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        if let Some(price) = alias {
            table = table.with_price(*provider, MAINLAND, price);
            row.insert(
                MAINLAND.to_string(),
                i64::try_from(price).unwrap_or(i64::MAX).into(),
            );
        }
        if !row.is_empty() {
            shown.insert((*provider).to_owned(), row.into());
        }
    }
    r.put("prices", shown);
    Ok(table)
}

fn read_windows(
    v: &mut Reader<'_>,
    key: &str,
    default: &[LimitWindow],
) -> Result<Vec<LimitWindow>, ConfigError> {
    let windows = match v.array(key)? {
        None => default.to_vec(),
        Some(items) => {
            let mut windows = Vec::new();
            for (i, item) in items.iter().enumerate() {
                windows.push(crate::chain::read_window(v, key, i, item, "\"10m\", \"1h\"")?);
            }
            windows
        }
    };
    let shown: Vec<toml::Value> = windows
        .iter()
        .map(|w| {
            let mut table = toml::Table::new();
            table.insert("count".into(), i64::from(w.count).into());
            table.insert("period".into(), format_duration(w.period).into());
            toml::Value::Table(table)
        })
        .collect();
    v.put(key, toml::Value::Array(shown));
    Ok(windows)
}

fn read_velocity(r: &mut Reader<'_>) -> Result<Option<Velocity>, ConfigError> {
    let d = Velocity::default();
    let mut v = sub(r, "velocity")?;
    v.allow_only(&[
        "enabled",
        "prefix_digits",
        "mainland",
        "per_prefix",
        "per_country",
    ])?;
    let enabled = v.bool_or("enabled", true)?;
    let prefix_digits = v.usize_or("prefix_digits", DEFAULT_PREFIX_DIGITS, 1)?;
    if prefix_digits > 14 {
        return Err(v.invalid(
            "prefix_digits",
            format!("{prefix_digits} is more digits than a number has"),
        ));
    }
    let mainland = v.bool_or("mainland", d.mainland)?;
    let per_prefix = read_windows(&mut v, "per_prefix", &d.per_prefix)?;
    let per_country = read_windows(&mut v, "per_country", &d.per_country)?;
    r.put("velocity", v.finish());
    Ok(enabled.then_some(Velocity {
        prefix_digits,
        per_prefix,
        per_country,
        mainland,
    }))
}
