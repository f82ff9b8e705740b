//! The bulk run's budget check: a file whose estimated parts (or money) exceed what any cap that
//! applies leaves is refused before anything is sent, saying by how much for each such cap.
//!
//! The estimate sends every row through the route's first provider: overall caps and that
//! provider's account caps count the whole file, a country cap the rows to that country. Money is
//! priced per destination country at that provider's `[spend.prices]` (integer thousandths).

use std::collections::BTreeMap;

use sms::failover::{CapScope, CapUnit, PriceTable};

use crate::backend::Backend;
use crate::commands::usage::{scope_name, spend_usage};
use crate::exit::Failure;

/// A file's billed parts per destination country, and the provider expected to carry them.
pub(super) struct Estimate<'a> {
    /// The route's first provider (`None`: no provider sends the kind).
    pub account: Option<&'a str>,
    /// Billed parts per destination country code.
    pub parts_by_country: &'a BTreeMap<u16, u64>,
}

impl Estimate<'_> {
    /// Parts and money (`None` when some country has no price) of the rows `country` selects.
    fn needs(&self, prices: &PriceTable, country: Option<u16>) -> (u64, Option<u64>) {
        let mut parts = 0u64;
        let mut money = Some(0u64);
        for (&code, &n) in self.parts_by_country {
            if country.is_some_and(|c| c != code) {
                continue;
            }
            parts = parts.saturating_add(n);
            let price = self.account.and_then(|a| prices.price(a, code));
            money = money
                .zip(price)
                .map(|(total, price)| total.saturating_add(price.saturating_mul(n)));
        }
        (parts, money)
    }

    /// The estimated cost in thousandths of the currency unit (`None` when some price is unknown).
    pub(super) fn cost(&self, prices: &PriceTable) -> Option<u64> {
        self.needs(prices, None).1
    }
}

/// Refuses when the file does not fit in what every applicable cap leaves.
///
/// # Errors
/// A [`Failure`] naming each cap crossed, what it leaves and how far over the file is; or the
/// ledger's error.
pub(super) async fn check(backend: &Backend, estimate: &Estimate<'_>) -> Result<(), Failure> {
    let (usage, _) = spend_usage(backend).await?;
    let prices = &backend.config.spend().prices;
    let mut over = Vec::new();
    for cap in &usage {
        let country = match &cap.cap.scope {
            CapScope::Overall => None,
            CapScope::Account(name) if Some(name.as_str()) == estimate.account => None,
            CapScope::Account(_) => continue,
            CapScope::Country(code) => Some(*code),
        };
        let (parts, money) = estimate.needs(prices, country);
        let (needed, what) = match (cap.cap.unit, money) {
            (CapUnit::Parts, _) => (parts, "billed parts"),
            (CapUnit::Money, Some(money)) => (money, "thousandths of the currency (estimated cost)"),
            (CapUnit::Money, None) => continue,
        };
        if needed > cap.remaining() {
            let rows = match country {
                Some(code) => format!("the rows to +{code} need"),
                None => "the file needs".to_owned(),
            };
            over.push(format!(
                "{rows} {needed} {what}, but the {} {} cap of {} leaves {} ({} used in {}): {} over",
                scope_name(&cap.cap.scope),
                cap.cap.period.as_str(),
                cap.cap.limit,
                cap.remaining(),
                cap.used,
                cap.period,
                needed - cap.remaining()
            ));
        }
    }
    if over.is_empty() {
        return Ok(());
    }
    over.push("nothing was sent".to_owned());
    Err(Failure::error(over.join(";\n")))
}
