//! The order in which a chain tries its providers for one message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// How a chain picks the first provider for a message. Whatever the first, the others follow in
/// priority order (lowest [`crate::ProviderEntry::priority`] first, then the order they were added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Always start with the highest-priority provider. The default.
    #[default]
    Priority,
    /// Start with a provider picked at random in proportion to its
    /// [`crate::ProviderEntry::weight`] (a weight of 0 is never picked first).
    WeightedRandom,
    /// Rotate the first provider from one message to the next.
    RoundRobin,
    /// Start with a provider picked at random in proportion to weights learned from its send errors
    /// and delivery receipts ([`crate::adaptive`]): a provider that delivers late or fails loses
    /// traffic to the healthy ones, down to a floor that keeps probing it, and gets it back when all
    /// is well. Settings: [`crate::FailoverSenderBuilder::adaptive`].
    Adaptive,
}

/// Computes provider orders; holds the rotation counter and the random source.
#[derive(Debug)]
pub(crate) struct Router {
    strategy: Strategy,
    next: AtomicUsize,
    rng: Mutex<fastrand::Rng>,
}

impl Router {
    pub(crate) fn new(strategy: Strategy, seed: Option<u64>) -> Self {
        Self {
            strategy,
            next: AtomicUsize::new(0),
            rng: Mutex::new(seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed)),
        }
    }

    /// A random number for jitter.
    pub(crate) fn seed(&self) -> u64 {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner).u64(..)
    }

    /// The order to try `candidates` (indices already in priority order), given each index's weight.
    pub(crate) fn order(&self, candidates: &[usize], weight: impl Fn(usize) -> u32) -> Vec<usize> {
        let first = match self.strategy {
            _ if candidates.len() < 2 => None,
            Strategy::Priority => None,
            Strategy::RoundRobin => {
                Some(candidates[self.next.fetch_add(1, Ordering::Relaxed) % candidates.len()])
            }
            Strategy::WeightedRandom | Strategy::Adaptive => {
                let total: u64 = candidates.iter().map(|&i| u64::from(weight(i))).sum();
                if total == 0 {
                    None
                } else {
                    let mut ticket = self
                        .rng
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .u64(0..total);
                    candidates.iter().copied().find(|&i| {
                        let w = u64::from(weight(i));
                        if ticket < w {
                            true
                        } else {
                            ticket -= w;
                            false
                        }
                    })
                }
            }
        };
        match first {
            Some(first) => std::iter::once(first)
                .chain(candidates.iter().copied().filter(|&i| i != first))
                .collect(),
            None => candidates.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_keeps_the_order() {
        let router = Router::new(Strategy::Priority, Some(1));
        for _ in 0..3 {
            assert_eq!(router.order(&[0, 1, 2], |_| 1), [0, 1, 2]);
        }
    }

    #[test]
    fn round_robin_rotates_the_first_then_falls_back_in_priority_order() {
        let router = Router::new(Strategy::RoundRobin, Some(1));
        let orders: Vec<Vec<usize>> = (0..4).map(|_| router.order(&[0, 1, 2], |_| 1)).collect();
        assert_eq!(
            orders,
            [vec![0, 1, 2], vec![1, 0, 2], vec![2, 0, 1], vec![0, 1, 2]]
        );
    }

    #[test]
    fn weighted_random_follows_the_weights() {
        let router = Router::new(Strategy::WeightedRandom, Some(7));
        let weights = [1, 3, 0];
        let mut firsts = [0usize; 3];
        for _ in 0..4000 {
            let order = router.order(&[0, 1, 2], |i| weights[i]);
            firsts[order[0]] += 1;
            let rest: Vec<usize> = order[1..].to_vec();
            let mut sorted = rest.clone();
            sorted.sort_unstable();
            assert_eq!(rest, sorted, "the rest in priority order");
        }
        assert_eq!(firsts[2], 0, "weight 0 is never first");
        assert!((800..1200).contains(&firsts[0]), "{firsts:?}");
        assert!((2800..3200).contains(&firsts[1]), "{firsts:?}");
    }

    #[test]
    fn all_zero_weights_fall_back_to_priority() {
        let router = Router::new(Strategy::WeightedRandom, Some(7));
        assert_eq!(router.order(&[0, 1], |_| 0), [0, 1]);
    }

    #[test]
    fn same_seed_same_orders() {
        let a = Router::new(Strategy::WeightedRandom, Some(42));
        let b = Router::new(Strategy::WeightedRandom, Some(42));
        for _ in 0..20 {
            assert_eq!(a.order(&[0, 1, 2], |_| 1), b.order(&[0, 1, 2], |_| 1));
        }
    }
}
