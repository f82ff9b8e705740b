//! Cost and abuse protection in a message's life: destinations and velocity screened once at its
//! start, and each request's parts and money reserved against the caps before it goes out and settled
//! with what was billed after.

use std::time::Duration;

use sms_core::{Error, ErrorKind, Operation, PhoneNumber, Receipt, RecipientOutcome};

use super::Delivery;
use crate::CHAIN_NAME;
use crate::limits::LimitWindow;
use crate::provider::Provider;
use crate::sender::Spend;
use crate::spend::{CapScope, CapUnit, NotMobile, SpendCap, SpendWarning, beijing_minute, check_mobile};
use crate::state::{Adjustment, Admission, Charge, SpendAdmission};

/// A reservation held for one request: each charge with the cap it counts for, and per recipient
/// (by position in the request) its parts and money.
pub(super) struct Held {
    charges: Vec<(SpendCap, Charge)>,
    parts: Vec<u64>,
    money: Vec<u64>,
}

/// How many counters to keep a period after it ends (for usage reports of the day before).
const KEEP_AFTER_PERIOD: u64 = 24 * 60 * 60;

impl Delivery<'_> {
    fn spend(&self) -> Option<&Spend> {
        self.chain.spend.as_ref()
    }

    /// Refuses, before anything is sent, the recipients the destinations policy forbids and those
    /// over a velocity window of their number range or country.
    ///
    /// # Errors
    /// The limiter's error when it cannot answer: nothing is sent then.
    pub(super) async fn screen(&self) -> Result<(), Error> {
        let Some(spend) = self.spend() else {
            return Ok(());
        };
        let open = self.ledger().open_indices();
        for index in open {
            let recipient = self.recipient(index);
            if recipient.is_mainland() {
                continue;
            }
            let code = recipient.country_code();
            let refusal = if !spend.policy.allows(code) {
                Some(format!(
                    "international sends to +{code} are not allowed (the destination allowlist has {}); \
                     {} not sent",
                    allowlist(&spend.policy.allowed),
                    recipient.masked()
                ))
            } else {
                match check_mobile(code, recipient.national_number()) {
                    Ok(()) => None,
                    Err(NotMobile::UnknownPlan) => Some(format!(
                        "no mobile number plan is known for +{code}; {} not sent",
                        recipient.masked()
                    )),
                    Err(NotMobile::Mismatch { country, expected }) => Some(format!(
                        "{} is not a mobile number of {country} (expected {expected}); not sent",
                        recipient.masked()
                    )),
                }
            };
            if let Some(message) = refusal {
                tracing::info!(recipient = %recipient.masked(), country = code, "destination refused");
                let error = Error::new(ErrorKind::InvalidRecipient, Operation::Send)
                    .with_provider(CHAIN_NAME)
                    .with_message(message);
                self.ledger().finalize(
                    index,
                    RecipientOutcome::failed(recipient.clone(), CHAIN_NAME, error),
                );
            }
        }
        let Some(velocity) = &spend.policy.velocity else {
            return Ok(());
        };
        let open = self.ledger().open_indices();
        for index in open {
            let recipient = self.recipient(index).clone();
            if recipient.is_mainland() && !velocity.mainland {
                continue;
            }
            let national = recipient.national_number();
            let digits = velocity.prefix_digits.min(national.len());
            let range = format!("+{}{}", recipient.country_code(), &national[..digits]);
            let country = format!("+{}", recipient.country_code());
            for (what, key, windows) in [
                ("range", range, &velocity.per_prefix),
                ("country", country, &velocity.per_country),
            ] {
                if windows.is_empty() {
                    continue;
                }
                let scope = format!("velocity:{what}:{key}");
                let answer = self
                    .chain
                    .limiter
                    .admit(&scope, std::slice::from_ref(velocity_key()), windows)
                    .await?;
                if let Some(Admission::Refused { window, wait }) = answer.first().copied() {
                    tracing::warn!(recipient = %recipient.masked(), range = %masked_range(&key), what, "velocity window full: not sent");
                    let error = velocity_error(&recipient, what, &key, window, wait);
                    self.ledger().finalize(
                        index,
                        RecipientOutcome::failed(recipient.clone(), CHAIN_NAME, error),
                    );
                    break;
                }
            }
        }
        Ok(())
    }

    /// Reserves the caps' parts and money for a request of `recipients` to `provider`, all or nothing.
    /// `Ok(None)`: there are no caps. `Err(())`: refused; the recipients are ended (an overall or
    /// country cap) or held back for the next provider (an account cap), and nothing is sent here.
    pub(super) async fn reserve_spend(
        &self,
        provider: &Provider,
        recipients: &[usize],
    ) -> Result<Option<Held>, ()> {
        let Some(spend) = self.spend() else {
            return Ok(None);
        };
        if spend.policy.caps.is_empty() {
            return Ok(None);
        }
        let now = spend.wall.unix_seconds();
        let mut parts = Vec::with_capacity(recipients.len());
        let mut money = Vec::with_capacity(recipients.len());
        for &index in recipients {
            let recipient = self.recipient(index);
            let count = self.message.parts_for(recipient).map_or(1, |n| n as u64);
            let price = spend
                .policy
                .prices
                .price(&provider.name, recipient.country_code());
            let price = match price {
                Some(price) => price,
                None if spend.policy.has_money_caps() => {
                    let error = Error::new(ErrorKind::Configuration, Operation::Send)
                        .with_provider(provider.name.clone())
                        .with_message(format!(
                            "no price per part is configured for {} to +{}, and a money cap needs it; \
                             not sent there",
                            provider.name,
                            recipient.country_code()
                        ));
                    self.hold_back(provider, recipients, error);
                    return Err(());
                }
                None => 0,
            };
            parts.push(count);
            money.push(count.saturating_mul(price));
        }
        let mut charges = Vec::new();
        for cap in &spend.policy.caps {
            let amounts = match cap.unit {
                CapUnit::Parts => &parts,
                CapUnit::Money => &money,
            };
            let amount: u64 = match &cap.scope {
                CapScope::Overall => amounts.iter().sum(),
                CapScope::Account(name) if *name == provider.name => amounts.iter().sum(),
                CapScope::Account(_) => continue,
                CapScope::Country(code) => recipients
                    .iter()
                    .zip(amounts)
                    .filter(|(index, _)| self.recipient(**index).country_code() == *code)
                    .map(|(_, amount)| amount)
                    .sum(),
            };
            if amount == 0 {
                continue;
            }
            let (period, ends) = cap.period.at(now);
            charges.push((
                cap.clone(),
                Charge {
                    counter: cap.counter(&period),
                    amount,
                    limit: cap.limit,
                    expires_at: ends + KEEP_AFTER_PERIOD,
                },
            ));
        }
        if charges.is_empty() {
            return Ok(None);
        }
        let plain: Vec<Charge> = charges.iter().map(|(_, charge)| charge.clone()).collect();
        match spend.ledger.charge(&plain, now).await {
            Ok(SpendAdmission::Reserved { used }) => {
                for ((cap, charge), used) in charges.iter().zip(used) {
                    self.warn_if_crossed(spend, cap, charge, used, now);
                }
                Ok(Some(Held {
                    charges,
                    parts,
                    money,
                }))
            }
            Ok(SpendAdmission::Refused { index, used }) => {
                let Some((cap, charge)) = charges.get(index) else {
                    self.state_failed(
                        recipients,
                        crate::state::backend_unavailable(
                            "spend ledger",
                            "spend caps",
                            "an unknown cap refused",
                        ),
                    );
                    return Err(());
                };
                let (period, ends) = cap.period.at(now);
                let error = Error::new(ErrorKind::BudgetExceeded, Operation::Send)
                    .with_provider(match &cap.scope {
                        CapScope::Account(name) => name.clone(),
                        _ => CHAIN_NAME.to_owned(),
                    })
                    .with_message(format!(
                        "{} ({period}) has {used} used and this send needs {}; it resets \
                         at {} Beijing time; not sent",
                        cap.describe(),
                        charge.amount,
                        beijing_minute(ends)
                    ))
                    .with_retry_after(Duration::from_secs(ends.saturating_sub(now)));
                tracing::warn!(cap = %cap.describe(), period = %period, used, needed = charge.amount, "budget exceeded: not sent");
                if matches!(cap.scope, CapScope::Account(_)) {
                    // Another account may still have budget.
                    self.hold_back(provider, recipients, error);
                } else {
                    let mut ledger = self.ledger();
                    for &index in recipients {
                        let outcome = RecipientOutcome::failed(
                            self.recipient(index).clone(),
                            CHAIN_NAME,
                            error.clone(),
                        );
                        ledger.finalize(index, outcome);
                    }
                    ledger.stop_cause.get_or_insert(error);
                }
                Err(())
            }
            Err(error) => {
                self.state_failed(recipients, error);
                Err(())
            }
        }
    }

    /// Settles a reservation with the request's outcome: a definite failure gives everything back,
    /// an unknown outcome keeps everything, and an answer gives back the refused numbers' share and
    /// corrects the parts to what the provider billed.
    pub(super) async fn settle_spend(
        &self,
        held: Option<Held>,
        recipients: &[usize],
        result: &Result<Receipt, Error>,
    ) {
        let (Some(held), Some(spend)) = (held, self.spend()) else {
            return;
        };
        // Per recipient (by position): true when it is given back.
        let refunded: Vec<bool> = match result {
            Err(error) if error.is_ambiguous() => return,
            Err(_) => vec![true; recipients.len()],
            Ok(receipt) => recipients
                .iter()
                .map(|&index| {
                    let recipient = self.recipient(index);
                    receipt
                        .outcomes
                        .iter()
                        .find(|o| &o.recipient == recipient)
                        .and_then(|o| o.error())
                        .is_some_and(|error| !error.is_ambiguous())
                })
                .collect(),
        };
        let kept_parts: u64 = held
            .parts
            .iter()
            .zip(&refunded)
            .filter(|(_, r)| !**r)
            .map(|(p, _)| p)
            .sum();
        let kept_money: u64 = held
            .money
            .iter()
            .zip(&refunded)
            .filter(|(_, r)| !**r)
            .map(|(m, _)| m)
            .sum();
        // What the provider billed for the kept numbers, when it says.
        let billed = match result {
            Ok(receipt) if kept_parts > 0 => receipt.billed_parts.map(u64::from),
            _ => None,
        };
        let mut adjustments = Vec::new();
        for (cap, charge) in &held.charges {
            let amounts = match cap.unit {
                CapUnit::Parts => &held.parts,
                CapUnit::Money => &held.money,
            };
            let delta: i64 = match &cap.scope {
                CapScope::Country(code) => {
                    let given_back: u64 = recipients
                        .iter()
                        .zip(amounts)
                        .zip(&refunded)
                        .filter(|((index, _), refund)| {
                            **refund && self.recipient(**index).country_code() == *code
                        })
                        .map(|((_, amount), _)| amount)
                        .sum();
                    -signed(given_back)
                }
                _ => {
                    let kept = match (cap.unit, billed) {
                        (CapUnit::Parts, Some(billed)) => billed,
                        // The money of the billed parts, at the kept numbers' average price.
                        (CapUnit::Money, Some(billed)) => u64::try_from(
                            u128::from(kept_money) * u128::from(billed) / u128::from(kept_parts),
                        )
                        .unwrap_or(u64::MAX),
                        (CapUnit::Parts, None) => kept_parts,
                        (CapUnit::Money, None) => kept_money,
                    };
                    signed(kept) - signed(charge.amount)
                }
            };
            if delta != 0 {
                adjustments.push(Adjustment {
                    counter: charge.counter.clone(),
                    delta,
                    expires_at: charge.expires_at,
                });
            }
        }
        if adjustments.is_empty() {
            return;
        }
        if let Err(error) = spend.ledger.settle(&adjustments, spend.wall.unix_seconds()).await {
            // The reservation stays whole: the caps err towards spending less.
            tracing::warn!(error = %error, "could not settle the spend reservation");
        }
    }

    /// Holds recipients back from `provider` (another provider may take them), as an attempt without a
    /// request.
    fn hold_back(&self, provider: &Provider, recipients: &[usize], error: Error) {
        let mut ledger = self.ledger();
        for &index in recipients {
            ledger.note_failure(index, &provider.name, error.clone());
        }
        ledger.attempt(&provider.name, recipients.len(), error, Duration::ZERO);
    }

    fn warn_if_crossed(&self, spend: &Spend, cap: &SpendCap, charge: &Charge, used: u64, now: u64) {
        let Some(threshold) = spend.policy.warn_threshold(cap) else {
            return;
        };
        let before = used.saturating_sub(charge.amount);
        if before < threshold && used >= threshold {
            let (period, _) = cap.period.at(now);
            tracing::warn!(cap = %cap.describe(), period = %period, used, limit = cap.limit, "spend cap warning threshold crossed");
            if let Some(hook) = &spend.policy.on_warning {
                hook(&SpendWarning {
                    cap: cap.clone(),
                    used,
                    period,
                });
            }
        }
    }
}

/// The one key every velocity scope counts under: the scope names the range or country, so that every
/// number of it counts against one log.
fn velocity_key() -> &'static PhoneNumber {
    static KEY: std::sync::OnceLock<PhoneNumber> = std::sync::OnceLock::new();
    KEY.get_or_init(|| PhoneNumber::international(86, "13000000000").expect("a valid mainland number"))
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn allowlist(allowed: &std::collections::BTreeSet<u16>) -> String {
    if allowed.is_empty() {
        return "none: mainland only".to_owned();
    }
    allowed
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A range for logs, with its last three digits hidden.
fn masked_range(range: &str) -> String {
    let keep = range.len().saturating_sub(3);
    format!("{}***", &range[..keep])
}

fn velocity_error(
    recipient: &PhoneNumber,
    what: &str,
    key: &str,
    window: LimitWindow,
    wait: Duration,
) -> Error {
    Error::new(ErrorKind::RecipientThrottled, Operation::Send)
        .with_provider(CHAIN_NAME)
        .with_message(format!(
            "{} not sent: its {what} {} reached the velocity limit of {} message(s) per {:?} (a burst \
             across many numbers, as in SMS pumping); next allowed in {wait:?}",
            recipient.masked(),
            masked_range(key),
            window.count,
            window.period
        ))
        .with_retry_after(wait)
}
