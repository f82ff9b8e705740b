//! Spend caps' counters, written together: concurrent charges and settlements on one store share one
//! transaction (on PostgreSQL through `sms_failover::state::CallGroup`, on SQLite in the writer
//! loop's turn). Every send under `[spend]` charges its caps before its first request; one
//! transaction per charge (a read and a write per counter, then a commit) made the store's one SQLite
//! writer the gateway's bottleneck, and on PostgreSQL made instances queue on the counters' row locks.
//! A batch reads every counter it names once, applies its jobs in order in memory (each charge all or
//! nothing, as alone), and writes each changed counter once.

use std::collections::BTreeMap;

use sms_failover::state::{Adjustment, Charge, SpendAdmission};

/// The calls on one store's ledger waiting to be written together.
#[cfg(feature = "postgres")]
pub(crate) type SpendGroup = sms_failover::state::CallGroup<SpendJob, SpendAnswer, crate::StoreError>;

/// Most jobs in one transaction.
#[cfg(feature = "postgres")]
pub(crate) const MAX_JOBS: usize = 256;

/// One call on the ledger.
#[derive(Debug, Clone)]
pub(crate) enum SpendJob {
    /// `spend_charge`: every charge or none.
    Charge(Vec<Charge>, u64),
    /// `spend_settle`: each adjustment, clamped at zero.
    Settle(Vec<Adjustment>, u64),
}

impl SpendJob {
    fn now(&self) -> u64 {
        match self {
            Self::Charge(_, now) | Self::Settle(_, now) => *now,
        }
    }

    fn counters(&self) -> impl Iterator<Item = (&str, u64)> {
        let (charges, adjustments) = match self {
            Self::Charge(charges, _) => (charges.as_slice(), &[][..]),
            Self::Settle(adjustments, _) => (&[][..], adjustments.as_slice()),
        };
        charges
            .iter()
            .map(|c| (c.counter.as_str(), c.expires_at))
            .chain(adjustments.iter().map(|a| (a.counter.as_str(), a.expires_at)))
    }
}

/// A job's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpendAnswer {
    /// A charge's admission.
    Charged(SpendAdmission),
    /// A settlement was applied.
    Settled,
}

/// `items` cut for multi-row statements whose texts the connection caches: pieces of 256, 64 or 16
/// rows while that many remain, then the rest (under 16) in one piece, so at most 18 texts per
/// statement exist. (Padding, as the group commit does, cannot work here: an upsert's rows must
/// name distinct counters.)
pub(crate) fn statement_chunks<T>(mut items: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let size = [256, 64, 16]
            .into_iter()
            .find(|size| items.len() >= *size)
            .unwrap_or(items.len());
        let (chunk, rest) = items.split_at(size);
        chunks.push(chunk);
        items = rest;
    }
    chunks
}

/// A counter as the batch sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counter {
    pub(crate) used: u64,
    pub(crate) expires_at: u64,
    /// Whether the batch changed it (and must write it back).
    pub(crate) changed: bool,
}

/// The batch's clock: its latest job's (time only moves forward, and the calls are concurrent).
pub(crate) fn batch_now(jobs: &[SpendJob]) -> u64 {
    jobs.iter().map(SpendJob::now).max().unwrap_or(0)
}

/// Every counter the jobs name, in name order (the order rows are locked in, so that transactions
/// of several instances never wait on each other in a circle), with the expiry a new (or expired)
/// row starts with: the first job's that names it.
pub(crate) fn counters_named(jobs: &[SpendJob]) -> Vec<(String, u64)> {
    let mut named: BTreeMap<&str, u64> = BTreeMap::new();
    for (counter, expires_at) in jobs.iter().flat_map(SpendJob::counters) {
        named.entry(counter).or_insert(expires_at);
    }
    named.into_iter().map(|(c, e)| (c.to_owned(), e)).collect()
}

/// Applies the jobs in order to `counters` (each named counter present, as read at the start of the
/// transaction): one answer per job.
pub(crate) fn apply(jobs: &[SpendJob], counters: &mut BTreeMap<String, Counter>) -> Vec<SpendAnswer> {
    jobs.iter().map(|job| apply_one(job, counters)).collect()
}

fn apply_one(job: &SpendJob, counters: &mut BTreeMap<String, Counter>) -> SpendAnswer {
    match job {
        SpendJob::Charge(charges, _) => {
            let used_of =
                |counters: &BTreeMap<String, Counter>, name: &str| counters.get(name).map_or(0, |c| c.used);
            // Every counter a charge names may be named twice in it: add up per counter first.
            let mut needed: BTreeMap<&str, u64> = BTreeMap::new();
            for (index, charge) in charges.iter().enumerate() {
                let total = needed.entry(&charge.counter).or_insert(0);
                *total = total.saturating_add(charge.amount);
                let used = used_of(counters, &charge.counter);
                if used.saturating_add(*total) > charge.limit {
                    return SpendAnswer::Charged(SpendAdmission::Refused { index, used });
                }
            }
            let used = charges
                .iter()
                .map(|charge| {
                    let counter = counter_mut(counters, &charge.counter, charge.expires_at);
                    counter.used = counter.used.saturating_add(charge.amount);
                    counter.expires_at = counter.expires_at.max(charge.expires_at);
                    counter.changed = true;
                    counter.used
                })
                .collect();
            SpendAnswer::Charged(SpendAdmission::Reserved { used })
        }
        SpendJob::Settle(adjustments, _) => {
            for adjustment in adjustments {
                let counter = counter_mut(counters, &adjustment.counter, adjustment.expires_at);
                counter.used = counter.used.saturating_add_signed(adjustment.delta);
                counter.expires_at = counter.expires_at.max(adjustment.expires_at);
                counter.changed = true;
            }
            SpendAnswer::Settled
        }
    }
}

fn counter_mut<'a>(
    counters: &'a mut BTreeMap<String, Counter>,
    name: &str,
    expires_at: u64,
) -> &'a mut Counter {
    counters.entry(name.to_owned()).or_insert(Counter {
        used: 0,
        expires_at,
        changed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(counter: &str, amount: u64, limit: u64) -> Charge {
        Charge {
            counter: counter.to_owned(),
            amount,
            limit,
            expires_at: 1_000,
        }
    }

    fn read(values: &[(&str, u64)]) -> BTreeMap<String, Counter> {
        values
            .iter()
            .map(|(name, used)| {
                (
                    (*name).to_owned(),
                    Counter {
                        used: *used,
                        expires_at: 1_000,
                        changed: false,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn jobs_apply_in_order_each_charge_all_or_nothing() {
        let jobs = [
            SpendJob::Charge(vec![charge("day", 2, 5), charge("month", 2, 100)], 10),
            // Would take "day" to 6: refused, and "month" is left alone.
            SpendJob::Charge(vec![charge("month", 1, 100), charge("day", 4, 5)], 10),
            SpendJob::Charge(vec![charge("day", 3, 5)], 10),
            SpendJob::Charge(vec![charge("day", 1, 5)], 10),
        ];
        let mut counters = read(&[("day", 0), ("month", 50)]);
        let answers = apply(&jobs, &mut counters);
        assert_eq!(
            answers,
            vec![
                SpendAnswer::Charged(SpendAdmission::Reserved { used: vec![2, 52] }),
                SpendAnswer::Charged(SpendAdmission::Refused { index: 1, used: 2 }),
                SpendAnswer::Charged(SpendAdmission::Reserved { used: vec![5] }),
                SpendAnswer::Charged(SpendAdmission::Refused { index: 0, used: 5 }),
            ]
        );
        assert_eq!(counters["day"].used, 5);
        assert_eq!(counters["month"].used, 52);
        assert!(counters["day"].changed && counters["month"].changed);
    }

    #[test]
    fn a_charge_naming_one_counter_twice_counts_both_amounts_against_its_limit() {
        let jobs = [SpendJob::Charge(
            vec![charge("day", 3, 5), charge("day", 3, 5)],
            10,
        )];
        let mut counters = read(&[("day", 0)]);
        assert_eq!(
            apply(&jobs, &mut counters),
            vec![SpendAnswer::Charged(SpendAdmission::Refused {
                index: 1,
                used: 0
            })]
        );
        assert!(!counters["day"].changed, "a refused charge writes nothing");
    }

    #[test]
    fn settlements_clamp_at_zero_and_free_room_for_later_charges() {
        let give_back = |delta| Adjustment {
            counter: "day".to_owned(),
            delta,
            expires_at: 2_000,
        };
        let jobs = [
            SpendJob::Settle(vec![give_back(-10)], 10),
            SpendJob::Charge(vec![charge("day", 5, 5)], 10),
            SpendJob::Settle(vec![give_back(1)], 11),
        ];
        let mut counters = read(&[("day", 4)]);
        let answers = apply(&jobs, &mut counters);
        assert_eq!(
            answers[1],
            SpendAnswer::Charged(SpendAdmission::Reserved { used: vec![5] })
        );
        assert_eq!(counters["day"].used, 6);
        assert_eq!(counters["day"].expires_at, 2_000, "the later expiry wins");
        assert_eq!(batch_now(&jobs), 11);
    }

    #[test]
    fn statement_chunks_use_few_sizes_and_cover_every_item() {
        let items: Vec<u32> = (0..350).collect();
        let sizes: Vec<usize> = statement_chunks(&items).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![256, 64, 16, 14]);
        assert_eq!(statement_chunks(&items).concat(), items);
        assert_eq!(statement_chunks(&items[..3]).len(), 1);
        assert!(statement_chunks::<u32>(&[]).is_empty());
    }

    #[test]
    fn counters_are_named_once_in_name_order_with_the_first_expiry() {
        let mut later = charge("b", 1, 1);
        later.expires_at = 9;
        let jobs = [
            SpendJob::Charge(vec![charge("c", 1, 1), charge("b", 1, 1)], 1),
            SpendJob::Charge(vec![later, charge("a", 1, 1)], 1),
        ];
        assert_eq!(
            counters_named(&jobs),
            vec![
                ("a".to_owned(), 1_000),
                ("b".to_owned(), 1_000),
                ("c".to_owned(), 1_000)
            ]
        );
    }
}
