//! The bulk run's budget check: a file whose estimated parts (or money) exceed what the overall caps
//! leave is refused before anything is sent, saying by how much.

use sms::failover::{CapScope, CapUnit};

use crate::backend::Backend;
use crate::commands::usage::{scope_name, spend_usage};
use crate::exit::Failure;

/// Refuses when `parts` (the file's billed parts, `money` their estimated cost in thousandths) do not
/// fit in every overall cap's remainder.
///
/// # Errors
/// A [`Failure`] naming the cap, what it leaves and how far over the file is; or the store's error.
pub(super) async fn check(backend: &Backend, parts: u64, money: Option<u64>) -> Result<(), Failure> {
    let (usage, _) = spend_usage(backend).await?;
    for cap in usage.iter().filter(|u| u.cap.scope == CapScope::Overall) {
        let (needed, what) = match (cap.cap.unit, money) {
            (CapUnit::Parts, _) => (parts, "billed parts"),
            (CapUnit::Money, Some(money)) => (money, "thousandths of the currency (estimated cost)"),
            (CapUnit::Money, None) => continue,
        };
        if needed > cap.remaining() {
            return Err(Failure::error(format!(
                "the file needs {needed} {what}, but the {} {} cap of {} leaves {} ({} used in {}): {} over; \
                 nothing was sent",
                scope_name(&cap.cap.scope),
                cap.cap.period.as_str(),
                cap.cap.limit,
                cap.remaining(),
                cap.used,
                cap.period,
                needed - cap.remaining()
            )));
        }
    }
    Ok(())
}
