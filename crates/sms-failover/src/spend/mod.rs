//! Cost and abuse protection: spend caps in billed parts and money (per provider account, per
//! destination country and overall, per Beijing day and month), the destinations a chain may send to,
//! and velocity windows per number range and country that stop SMS pumping.
//!
//! Every check runs before any request: a send that would cross a cap fails with
//! [`sms_core::ErrorKind::BudgetExceeded`] naming the cap and when it resets; a destination outside
//! the allowlist, or an international number that is not a mobile number of its country, fails with
//! [`sms_core::ErrorKind::InvalidRecipient`]; a range over its velocity window fails with
//! [`sms_core::ErrorKind::RecipientThrottled`].

mod calendar;
mod mobile;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use calendar::{CapPeriod, ManualWallClock, SystemWallClock, WallClock, beijing_minute};
pub use mobile::has_mobile_plan;
pub(crate) use mobile::{NotMobile, check as check_mobile};

use crate::limits::LimitWindow;

/// Mainland China's country code.
pub const MAINLAND: u16 = 86;

/// The default warning threshold: a cap 80 % used is announced.
pub const DEFAULT_WARN_PERCENT: u8 = 80;

/// The default length of a number range for velocity windows: the first 7 digits of the national
/// number.
pub const DEFAULT_PREFIX_DIGITS: usize = 7;

/// What a cap counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapUnit {
    /// Billed parts (a long text is several).
    Parts,
    /// Money in thousandths of the currency unit (厘 for CNY: 0.001 yuan), from the [`PriceTable`].
    Money,
}

impl CapUnit {
    /// `"parts"` or `"money"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parts => "parts",
            Self::Money => "money",
        }
    }
}

/// Whose spending a cap counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CapScope {
    /// Every provider account of the chain together.
    Overall,
    /// One provider account (a chain member, by its [`crate::ProviderEntry::name`]). A send it would
    /// take over its cap goes to the next provider instead.
    Account(String),
    /// Sends to one destination country code.
    Country(u16),
}

impl fmt::Display for CapScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overall => f.write_str("overall"),
            Self::Account(name) => write!(f, "account {name}"),
            Self::Country(code) => write!(f, "country +{code}"),
        }
    }
}

/// One cap: at most `limit` of `unit` per `period`, counted over `scope`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpendCap {
    /// Whose spending counts.
    pub scope: CapScope,
    /// The calendar period (Beijing time).
    pub period: CapPeriod,
    /// Parts or money.
    pub unit: CapUnit,
    /// The most the period may reach.
    pub limit: u64,
}

impl SpendCap {
    /// A cap.
    pub fn new(scope: CapScope, period: CapPeriod, unit: CapUnit, limit: u64) -> Self {
        Self {
            scope,
            period,
            unit,
            limit,
        }
    }

    /// The ledger counter for the period named `period_name`.
    pub(crate) fn counter(&self, period_name: &str) -> String {
        let scope = match &self.scope {
            CapScope::Overall => "overall".to_owned(),
            CapScope::Account(name) => format!("account={name}"),
            CapScope::Country(code) => format!("country={code}"),
        };
        format!(
            "{scope}:{}:{}:{period_name}",
            self.unit.as_str(),
            self.period.as_str()
        )
    }

    /// "the daily cap of 10 parts for account ihuyi".
    pub(crate) fn describe(&self) -> String {
        let period = match self.period {
            CapPeriod::Day => "daily",
            CapPeriod::Month => "monthly",
        };
        let amount = match self.unit {
            CapUnit::Parts => format!("{} parts", self.limit),
            CapUnit::Money => format!("{} (thousandths of the currency unit)", self.limit),
        };
        format!("the {period} cap of {amount} for {}", self.scope)
    }
}

/// Per-part prices in thousandths of the currency unit, per provider account and destination
/// country. Every price is an integer: money is never a float.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    prices: BTreeMap<(String, u16), u64>,
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `provider`'s price of one part to `country_code`.
    #[must_use]
    pub fn with_price(mut self, provider: impl Into<String>, country_code: u16, per_part: u64) -> Self {
        self.prices.insert((provider.into(), country_code), per_part);
        self
    }

    /// `provider`'s price of one part to `country_code`, if known.
    pub fn price(&self, provider: &str, country_code: u16) -> Option<u64> {
        self.prices.get(&(provider.to_owned(), country_code)).copied()
    }
}

/// Sliding windows per number range (the first `prefix_digits` digits of the national number) and
/// per country, across all numbers: the signature of SMS pumping is many numbers of one range in a
/// short time, which per-number limits never see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Velocity {
    /// Digits of the national number that make a range (default 7).
    pub prefix_digits: usize,
    /// Windows per range.
    pub per_prefix: Vec<LimitWindow>,
    /// Windows per country.
    pub per_country: Vec<LimitWindow>,
    /// Whether mainland numbers are counted too (default: international numbers only).
    pub mainland: bool,
}

impl Default for Velocity {
    /// 10 messages per range per 10 minutes and 100 per country per hour, international only.
    fn default() -> Self {
        Self {
            prefix_digits: DEFAULT_PREFIX_DIGITS,
            per_prefix: vec![LimitWindow {
                count: 10,
                period: Duration::from_secs(600),
            }],
            per_country: vec![LimitWindow {
                count: 100,
                period: Duration::from_secs(3600),
            }],
            mainland: false,
        }
    }
}

/// What a warning says: a cap crossed its warning threshold with a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendWarning {
    /// The cap.
    pub cap: SpendCap,
    /// What the period has used, with the reservation that crossed the threshold.
    pub used: u64,
    /// The period's name (`2026-11-28`, `2026-11`).
    pub period: String,
}

/// A callback for warnings (a metric, an alert).
pub type WarningHook = Arc<dyn Fn(&SpendWarning) + Send + Sync>;

/// A cap's use in the current period, as [`crate::FailoverSender::spend_usage`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapUsage {
    /// The cap.
    pub cap: SpendCap,
    /// The period's name.
    pub period: String,
    /// Used so far (reserved and not given back).
    pub used: u64,
    /// When the period ends: Unix seconds.
    pub resets_at: u64,
}

impl CapUsage {
    /// What is left before the cap.
    pub fn remaining(&self) -> u64 {
        self.cap.limit.saturating_sub(self.used)
    }
}

/// A chain's cost and abuse protection: caps, prices, destinations and velocity.
///
/// The default allows mainland numbers only, has no caps and no prices, warns at 80 %, and has
/// [`Velocity::default`] windows for international numbers.
///
/// ```
/// use sms_failover::{CapPeriod, CapScope, CapUnit, PriceTable, SpendCap, SpendPolicy};
/// let policy = SpendPolicy::default()
///     .allow_country(852)
///     .with_cap(SpendCap::new(CapScope::Overall, CapPeriod::Day, CapUnit::Parts, 10_000))
///     .with_cap(SpendCap::new(CapScope::Country(852), CapPeriod::Day, CapUnit::Parts, 200))
///     .with_prices(PriceTable::new().with_price("ihuyi", 86, 35).with_price("ihuyi", 852, 450));
/// assert!(policy.allows(852) && policy.allows(86) && !policy.allows(44));
/// ```
#[derive(Clone)]
pub struct SpendPolicy {
    pub(crate) caps: Vec<SpendCap>,
    pub(crate) prices: PriceTable,
    pub(crate) warn_percent: u8,
    pub(crate) allowed: BTreeSet<u16>,
    pub(crate) velocity: Option<Velocity>,
    pub(crate) on_warning: Option<WarningHook>,
}

impl fmt::Debug for SpendPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpendPolicy")
            .field("caps", &self.caps)
            .field("prices", &self.prices)
            .field("warn_percent", &self.warn_percent)
            .field("allowed", &self.allowed)
            .field("velocity", &self.velocity)
            .field("on_warning", &self.on_warning.is_some())
            .finish()
    }
}

impl Default for SpendPolicy {
    fn default() -> Self {
        Self {
            caps: Vec::new(),
            prices: PriceTable::new(),
            warn_percent: DEFAULT_WARN_PERCENT,
            allowed: BTreeSet::new(),
            velocity: Some(Velocity::default()),
            on_warning: None,
        }
    }
}

impl SpendPolicy {
    /// Adds a cap.
    #[must_use]
    pub fn with_cap(mut self, cap: SpendCap) -> Self {
        self.caps.push(cap);
        self
    }

    /// Sets the prices (needed for money caps: a send whose price is unknown is refused when there is
    /// a money cap).
    #[must_use]
    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// Allows international sends to `country_code` (mainland is always allowed).
    #[must_use]
    pub fn allow_country(mut self, country_code: u16) -> Self {
        self.allowed.insert(country_code);
        self
    }

    /// Sets the warning threshold in percent of each cap (default 80; 0 or above 100: never).
    #[must_use]
    pub fn warn_at_percent(mut self, percent: u8) -> Self {
        self.warn_percent = percent;
        self
    }

    /// Sets the velocity windows (`None`: none).
    #[must_use]
    pub fn velocity(mut self, velocity: Option<Velocity>) -> Self {
        self.velocity = velocity;
        self
    }

    /// Calls `hook` for each warning, besides the `WARN` log line.
    #[must_use]
    pub fn on_warning(mut self, hook: WarningHook) -> Self {
        self.on_warning = Some(hook);
        self
    }

    /// True when sends to `country_code` are allowed.
    pub fn allows(&self, country_code: u16) -> bool {
        country_code == MAINLAND || self.allowed.contains(&country_code)
    }

    /// The caps.
    pub fn caps(&self) -> &[SpendCap] {
        &self.caps
    }

    /// The prices.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// True when some cap counts money.
    pub(crate) fn has_money_caps(&self) -> bool {
        self.caps.iter().any(|cap| cap.unit == CapUnit::Money)
    }

    /// The threshold of a cap, when it warns.
    pub(crate) fn warn_threshold(&self, cap: &SpendCap) -> Option<u64> {
        (1..=100).contains(&self.warn_percent).then(|| {
            // Rounded up: 80 % of 10 is 8.
            (u128::from(cap.limit) * u128::from(self.warn_percent))
                .div_ceil(100)
                .try_into()
                .unwrap_or(u64::MAX)
        })
    }
}
