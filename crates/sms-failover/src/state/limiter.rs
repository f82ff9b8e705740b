//! Per-recipient limits' state: the recent messages to each number, checked and recorded in one step.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sms_core::{Error, PhoneNumber};

use crate::clock::Clock;
use crate::limits::LimitWindow;

/// A limiter's answer for one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Under every window: the message is recorded in all of them.
    Admitted,
    /// Over `window`: nothing was recorded in any window. `wait` is how long until the number would be
    /// admitted (the longest wait over the windows it is over).
    Refused {
        /// The window that refused (the one with the longest wait).
        window: LimitWindow,
        /// Time until the number would be admitted.
        wait: Duration,
    },
}

/// The state behind [`crate::RecipientLimits`]: exact sliding windows per number.
///
/// A number is admitted when, in every window, fewer than `count` messages went to it within the last
/// `period`; then one message is recorded for it (in all windows at once). A refusal records nothing
/// anywhere. Numbers are independent: a batch is answered number by number, in order.
///
/// # Errors
/// When the backend cannot answer. A backend that cannot tell whether it recorded the messages (a
/// command that timed out after it may have run) also fails: the slots may be used, and the chain
/// sends nothing.
#[async_trait]
pub trait RecipientLimiter: Send + Sync {
    /// Checks and records one message to each of `numbers` under `windows` (shortest period first;
    /// at least one, each with a positive count and period), counted within `scope` (`"chain"`, or a
    /// provider account's name: see [`crate::LimitScope`]). One answer per number, in order.
    async fn admit(
        &self,
        scope: &str,
        numbers: &[PhoneNumber],
        windows: &[LimitWindow],
    ) -> Result<Vec<Admission>, Error>;
}

impl fmt::Debug for dyn RecipientLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecipientLimiter")
    }
}

/// A sweep of a shard's forgotten numbers runs once this many admissions to the shard, or as many as
/// there were numbers left in it after its previous sweep if more, have passed: the cost stays constant
/// per admission, and memory stays within about twice the numbers seen within the longest window.
const MIN_SWEEP_INTERVAL: usize = 64;

/// The limiter's state is split by number into this many independently locked shards, so that
/// concurrent sends to different numbers rarely wait for one another.
const SHARDS: usize = 16;

/// A time: nanoseconds since the limiter's base instant (its clock's time at construction). Eight bytes
/// instead of an `Instant`'s sixteen, and exact: every age is the same `Duration` as before.
type Nanos = u64;

/// The times of the messages counted to one number within the longest window, oldest first. One log
/// serves every window: a window's messages are the log's suffix within its period, and it is full
/// when its `count`-th most recent time is within its period. The longest window keeps the log to at
/// most its own `count` times.
type Log = VecDeque<Nanos>;

/// A number packed into a `u64`: its country code (at most 999: 10 bits), its national number's
/// length (at most 15 digits: 4 bits) and value (below 10^15 < 2^50: 50 bits). The length keeps
/// leading zeros apart (`0123` from `123`). `None` for a number outside those bounds, which a valid
/// [`PhoneNumber`] never is; such a number is kept whole instead.
fn pack(number: &PhoneNumber) -> Option<u64> {
    const MAX_DIGITS: usize = 15;
    let country_code = u64::from(number.country_code());
    let national = number.national_number().as_bytes();
    if country_code > 999 || national.len() > MAX_DIGITS || !national.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = national
        .iter()
        .fold(0_u64, |value, digit| value * 10 + u64::from(digit - b'0'));
    // At most 15, so the cast is exact.
    let length = national.len() as u64;
    Some(country_code << 54 | length << 50 | value)
}

/// A number as the limiter keys it.
#[derive(Hash)]
enum Key<'a> {
    Packed(u64),
    Whole(&'a PhoneNumber),
}

/// One scope's numbers. Most numbers have a single message within the longest window (a bulk run
/// sends each number one): those cost one 16-byte map entry and no allocation of their own. Only a
/// number with two or more times gets a log.
#[derive(Debug, Default)]
struct Numbers {
    /// Packed number, then the time of its one message.
    once: HashMap<u64, Nanos>,
    /// Packed number, then its log of two or more times.
    more: HashMap<u64, Log>,
    /// The numbers [`pack`] cannot pack (none in practice), with their logs.
    whole: HashMap<PhoneNumber, Log>,
}

impl Numbers {
    fn len(&self) -> usize {
        self.once.len() + self.more.len() + self.whole.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks and records one number's message at `now` (see [`judge`]).
    fn admit(&mut self, key: &Key<'_>, windows: &[LimitWindow], longest: Duration, now: Nanos) -> Admission {
        match *key {
            Key::Whole(number) => {
                let log = match self.whole.get_mut(number) {
                    Some(log) => log,
                    None => self.whole.entry(number.clone()).or_default(),
                };
                admit_to_log(log, windows, longest, now)
            }
            Key::Packed(packed) => {
                if let Some(log) = self.more.get_mut(&packed) {
                    let verdict = admit_to_log(log, windows, longest, now);
                    if log.len() < 2 {
                        // Back to at most one time: no log needed.
                        let single = log.back().copied();
                        self.more.remove(&packed);
                        if let Some(at) = single {
                            self.once.insert(packed, at);
                        }
                    }
                    return verdict;
                }
                // Its one time, unless that has left every window.
                let at = self
                    .once
                    .get(&packed)
                    .copied()
                    .filter(|&at| age(at, now) < longest);
                let verdict = judge(at.as_slice(), windows, now);
                if verdict == Admission::Admitted {
                    match at {
                        Some(at) => {
                            self.once.remove(&packed);
                            self.more.insert(packed, VecDeque::from([at, now]));
                        }
                        None => {
                            self.once.insert(packed, now);
                        }
                    }
                }
                verdict
            }
        }
    }

    /// Forgets the numbers with nothing left within `longest`, and gives back a log that is down to
    /// one time.
    fn sweep(&mut self, longest: Duration, now: Nanos) {
        self.once.retain(|_, at| age(*at, now) < longest);
        let mut singles = Vec::new();
        self.more.retain(|&packed, log| {
            prune(log, longest, now);
            match log.len() {
                0 => false,
                1 => {
                    singles.extend(log.front().map(|&at| (packed, at)));
                    false
                }
                _ => true,
            }
        });
        self.once.extend(singles);
        self.whole.retain(|_, log| {
            prune(log, longest, now);
            !log.is_empty()
        });
        shrink_if_sparse(&mut self.once);
        shrink_if_sparse(&mut self.more);
        shrink_if_sparse(&mut self.whole);
    }
}

/// Gives back a map's memory once it holds far fewer entries than it has room for.
fn shrink_if_sparse<K: Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 2 * map.len() + MIN_SWEEP_INTERVAL {
        map.shrink_to_fit();
    }
}

#[derive(Debug, Default)]
struct Shard {
    /// Scope, then number.
    scopes: HashMap<String, Numbers>,
    admissions_since_sweep: usize,
    numbers_after_sweep: usize,
    /// The longest period seen, for sweeping.
    longest: Duration,
}

/// A [`RecipientLimiter`] in this process's memory, timed by a [`Clock`] (the chain's, by default). It
/// never fails; its numbers are forgotten once nothing is left in their longest window.
///
/// A number seen once within the longest window costs about 20 to 40 bytes (one entry of a hash map
/// from the packed number to the time), so a day of a million distinct numbers fits in a few dozen MiB.
pub struct InMemoryRecipientLimiter {
    clock: Arc<dyn Clock>,
    /// The instant times are counted from.
    base: Instant,
    shards: Vec<Mutex<Shard>>,
    hasher: std::hash::RandomState,
}

impl fmt::Debug for InMemoryRecipientLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryRecipientLimiter")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// How long before `now` the time `at` was (zero for a later one, as `Instant`s saturate).
fn age(at: Nanos, now: Nanos) -> Duration {
    Duration::from_nanos(now.saturating_sub(at))
}

/// Drops the times older than `period`.
fn prune(log: &mut Log, period: Duration, now: Nanos) {
    while log.front().is_some_and(|&at| age(at, now) >= period) {
        log.pop_front();
    }
}

/// Prunes `log` to `longest`, judges it, and records `now` in it when admitted.
fn admit_to_log(log: &mut Log, windows: &[LimitWindow], longest: Duration, now: Nanos) -> Admission {
    prune(log, longest, now);
    // Every window first: a refusal must consume nothing anywhere.
    let (older, newer) = log.as_slices();
    let verdict = judge_parts(older, newer, windows, now);
    if verdict == Admission::Admitted {
        log.push_back(now);
    }
    verdict
}

/// The verdict of `windows` on the times `log` (oldest first) at `now`, without recording anything.
fn judge(log: &[Nanos], windows: &[LimitWindow], now: Nanos) -> Admission {
    judge_parts(log, &[], windows, now)
}

/// [`judge`] on the times `older` then `newer` (a ring buffer's two halves).
fn judge_parts(older: &[Nanos], newer: &[Nanos], windows: &[LimitWindow], now: Nanos) -> Admission {
    let len = older.len() + newer.len();
    let mut refusal: Option<(LimitWindow, Duration)> = None;
    for window in windows {
        let Some(nth_latest) = usize::try_from(window.count)
            .ok()
            .and_then(|count| len.checked_sub(count))
            .and_then(|index| match index.checked_sub(older.len()) {
                None => older.get(index),
                Some(index) => newer.get(index),
            })
        else {
            continue;
        };
        let age = age(*nth_latest, now);
        if age < window.period {
            let wait = window.period - age;
            if refusal.is_none_or(|(_, longest)| wait > longest) {
                refusal = Some((*window, wait));
            }
        }
    }
    match refusal {
        Some((window, wait)) => Admission::Refused { window, wait },
        None => Admission::Admitted,
    }
}

impl InMemoryRecipientLimiter {
    /// An empty limiter timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let base = clock.now();
        Self {
            clock,
            base,
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// The clock's time, as [`Nanos`] (saturating: 584 years after the limiter was made).
    fn now(&self) -> Nanos {
        let since = self.clock.now().saturating_duration_since(self.base);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The shard that holds `key`.
    fn lock(&self, key: &Key<'_>) -> MutexGuard<'_, Shard> {
        use std::hash::BuildHasher;
        // The remainder is below SHARDS, so it fits in usize on every platform.
        let shard = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        self.shards[shard].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks and records one number (see [`RecipientLimiter::admit`]).
    pub fn admit_one(&self, scope: &str, number: &PhoneNumber, windows: &[LimitWindow]) -> Admission {
        let longest = windows.iter().map(|w| w.period).max().unwrap_or(Duration::ZERO);
        if longest.is_zero() {
            return Admission::Admitted;
        }
        let key = pack(number).map_or(Key::Whole(number), Key::Packed);
        let now = self.now();
        let mut shard = self.lock(&key);
        shard.longest = shard.longest.max(longest);
        sweep_if_due(&mut shard, now);
        let numbers = match shard.scopes.get_mut(scope) {
            Some(numbers) => numbers,
            None => shard.scopes.entry(scope.to_owned()).or_default(),
        };
        numbers.admit(&key, windows, longest, now)
    }

    /// How many (scope, number) pairs the limiter remembers.
    pub fn remembered(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
                shard.scopes.values().map(Numbers::len).sum::<usize>()
            })
            .sum()
    }
}

/// Forgets the numbers with no message left in any window, once enough admissions have passed.
fn sweep_if_due(shard: &mut Shard, now: Nanos) {
    shard.admissions_since_sweep += 1;
    if shard.admissions_since_sweep < shard.numbers_after_sweep.max(MIN_SWEEP_INTERVAL) {
        return;
    }
    let longest = shard.longest;
    let mut left = 0;
    shard.scopes.retain(|_, numbers| {
        numbers.sweep(longest, now);
        left += numbers.len();
        !numbers.is_empty()
    });
    shard.admissions_since_sweep = 0;
    shard.numbers_after_sweep = left;
}

#[async_trait]
impl RecipientLimiter for InMemoryRecipientLimiter {
    async fn admit(
        &self,
        scope: &str,
        numbers: &[PhoneNumber],
        windows: &[LimitWindow],
    ) -> Result<Vec<Admission>, Error> {
        Ok(numbers
            .iter()
            .map(|number| self.admit_one(scope, number, windows))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::limits::{DAY, RecipientLimits};

    fn number(s: &str) -> PhoneNumber {
        s.parse().expect("valid number")
    }

    struct Fixture {
        limiter: InMemoryRecipientLimiter,
        clock: Arc<ManualClock>,
        windows: Vec<LimitWindow>,
    }

    impl Fixture {
        fn new(limits: &RecipientLimits) -> Self {
            let clock = Arc::new(ManualClock::new());
            let mut windows = limits.windows().to_vec();
            windows.sort_by_key(|w| w.period);
            Self {
                limiter: InMemoryRecipientLimiter::new(clock.clone()),
                clock,
                windows,
            }
        }

        fn admit(&self, n: &PhoneNumber) -> Admission {
            self.limiter.admit_one("chain", n, &self.windows)
        }
    }

    fn ok(a: Admission) -> bool {
        a == Admission::Admitted
    }

    fn wait(a: Admission) -> Option<Duration> {
        match a {
            Admission::Refused { wait, .. } => Some(wait),
            Admission::Admitted => None,
        }
    }

    #[test]
    fn one_per_second_per_number() {
        let f = Fixture::new(&RecipientLimits::default());
        let a = number("13800138000");
        let b = number("13900139000");
        assert!(ok(f.admit(&a)));
        assert_eq!(wait(f.admit(&a)), Some(Duration::from_secs(1)));
        assert!(ok(f.admit(&b)), "other numbers are independent");
        f.clock.advance(Duration::from_millis(999));
        assert!(!ok(f.admit(&a)));
        f.clock.advance(Duration::from_millis(1));
        assert!(ok(f.admit(&a)));
    }

    #[test]
    fn scopes_count_apart() {
        let f = Fixture::new(&RecipientLimits::default());
        let a = number("13800138000");
        assert!(ok(f.limiter.admit_one("ihuyi", &a, &f.windows)));
        assert!(ok(f.limiter.admit_one("juxiang", &a, &f.windows)));
        assert!(!ok(f.limiter.admit_one("ihuyi", &a, &f.windows)));
    }

    #[test]
    fn five_per_day_per_number() {
        let f = Fixture::new(&RecipientLimits::default());
        let a = number("13800138000");
        for i in 0..5 {
            assert!(ok(f.admit(&a)), "message {i}");
            f.clock.advance(Duration::from_secs(2));
        }
        let refused = f.admit(&a);
        assert!(
            matches!(refused, Admission::Refused { window, .. } if window.count == 5 && window.period == DAY)
        );
        assert_eq!(wait(refused), Some(DAY - Duration::from_secs(10)));
        // No refill in the meantime: the sixth waits until the first is a day old.
        f.clock.advance(DAY - Duration::from_secs(11));
        assert!(!ok(f.admit(&a)));
        f.clock.advance(Duration::from_secs(1));
        assert!(ok(f.admit(&a)), "the first is a day old");
        assert!(!ok(f.admit(&a)), "the second is not");
        f.clock.advance(Duration::from_secs(2));
        assert!(ok(f.admit(&a)), "the second is now a day old");
    }

    #[test]
    fn one_message_a_minute_for_a_day_lets_exactly_five_through() {
        let f = Fixture::new(&RecipientLimits::default());
        let a = number("13800138000");
        let mut passed = Vec::new();
        for minute in 0..24 * 60 {
            if ok(f.admit(&a)) {
                passed.push(minute);
            }
            f.clock.advance(Duration::from_secs(60));
        }
        assert_eq!(passed, [0, 1, 2, 3, 4]);
        assert_eq!(f.clock.elapsed(), DAY);
        assert!(ok(f.admit(&a)), "the sixth, once the first is 24 h old");
        assert!(!ok(f.admit(&a)), "still five within any day");
    }

    #[test]
    fn a_refusal_by_the_long_window_costs_nothing_in_the_short_one() {
        let f = Fixture::new(&RecipientLimits::new(1, 2));
        let a = number("13800138000");
        assert!(ok(f.admit(&a)));
        f.clock.advance(Duration::from_secs(1));
        assert!(ok(f.admit(&a)));
        f.clock.advance(DAY - Duration::from_millis(1500));
        assert_eq!(wait(f.admit(&a)), Some(Duration::from_millis(500)));
        f.clock.advance(Duration::from_millis(500));
        assert!(
            ok(f.admit(&a)),
            "the refused attempt did not use up the per-second allowance"
        );
    }

    #[test]
    fn a_refusal_by_the_short_window_costs_nothing_in_the_long_one() {
        let f = Fixture::new(&RecipientLimits::new(1, 2));
        let a = number("13800138000");
        assert!(ok(f.admit(&a)));
        for _ in 0..10 {
            assert!(!ok(f.admit(&a)), "per second");
        }
        f.clock.advance(Duration::from_secs(1));
        assert!(ok(f.admit(&a)), "the day still has room for a second message");
    }

    #[test]
    fn numbers_are_forgotten_once_their_messages_leave_the_longest_window() {
        let f = Fixture::new(&RecipientLimits::default());
        let pool = |from: u64, n: u64| (from..from + n).map(|i| number(&format!("138{i:08}")));
        for n in pool(0, 3000) {
            assert!(ok(f.admit(&n)));
        }
        assert_eq!(f.limiter.remembered(), 3000, "all within the day");
        f.clock.advance(DAY);
        for n in pool(10_000, 3000) {
            assert!(ok(f.admit(&n)));
        }
        assert!(
            f.limiter.remembered() <= 3000,
            "the first 3000 were swept: {}",
            f.limiter.remembered()
        );
        let recent = number("13800010000");
        assert!(!ok(f.admit(&recent)), "one per second still holds");
    }

    #[test]
    fn packing_keeps_every_number_apart() {
        // Leading zeros, 15 digits, the same digits under other country codes or split differently.
        let mut numbers = [
            (44, "0123"),
            (44, "00123"),
            (44, "1230"),
            (1, "2345678901"),
            (1, "23456789012"),
            (1, "99999999999999"),
            (7, "99999999999999"),
            (7, "0999999999999"),
            (998, "000000000000"),
            (996, "0000"),
            (998, "0000"),
            (1, "0000"),
            (852, "13800138000"),
            (852, "013800138000"),
        ]
        .map(|(cc, national)| PhoneNumber::international(cc, national).unwrap_or_else(|e| panic!("{e}")))
        .to_vec();
        numbers.push(number("13800138000"));
        let packed = numbers
            .iter()
            .map(|n| pack(n).unwrap_or_else(|| panic!("{n:?} packs")))
            .collect::<std::collections::HashSet<_>>();
        assert_eq!(packed.len(), numbers.len(), "one key per number: {numbers:?}");
    }

    #[test]
    fn packing_holds_the_digits() {
        let n = PhoneNumber::international(998, "999999999999").expect("valid: 15 digits");
        let key = pack(&n).expect("packs");
        assert_eq!(key >> 54, 998);
        assert_eq!(key >> 50 & 0xf, 12);
        assert_eq!(key & ((1 << 50) - 1), 999_999_999_999);
        let zeros = pack(&PhoneNumber::international(44, "000000000000").expect("valid"));
        assert_eq!(zeros, Some(44 << 54 | 12 << 50));
    }

    #[test]
    fn waits_are_exact_to_the_nanosecond() {
        let f = Fixture::new(&RecipientLimits::new(2, 3));
        let a = number("13800138000");
        f.clock.advance(Duration::from_nanos(7));
        assert!(ok(f.admit(&a)));
        f.clock.advance(Duration::from_nanos(333_333_333));
        assert!(ok(f.admit(&a)));
        assert_eq!(wait(f.admit(&a)), Some(Duration::from_nanos(666_666_667)));
        f.clock.advance(Duration::from_nanos(666_666_666));
        assert_eq!(wait(f.admit(&a)), Some(Duration::from_nanos(1)));
        f.clock.advance(Duration::from_nanos(1));
        assert!(ok(f.admit(&a)));
        assert_eq!(
            wait(f.admit(&a)),
            Some(DAY - Duration::from_secs(1)),
            "three today: the day waits for the first"
        );
    }

    #[test]
    fn a_number_left_with_one_time_needs_no_log() {
        let f = Fixture::new(&RecipientLimits::default());
        let a = number("13800138000");
        let b = number("13900139000");
        assert!(ok(f.admit(&a)));
        f.clock.advance(Duration::from_secs(1));
        assert!(ok(f.admit(&a)));
        assert!(ok(f.admit(&b)));
        let logs = || -> usize {
            f.limiter
                .shards
                .iter()
                .map(|s| {
                    let s = s.lock().expect("lock");
                    s.scopes
                        .values()
                        .map(|n| n.more.len() + n.whole.len())
                        .sum::<usize>()
                })
                .sum()
        };
        assert_eq!(logs(), 1, "only the number with two times has a log");
        f.clock.advance(DAY - Duration::from_secs(1));
        assert!(
            ok(f.admit(&a)),
            "its first message left the day, its second did not"
        );
        assert_eq!(logs(), 1, "two times again");
        f.clock.advance(DAY);
        assert!(ok(f.admit(&a)));
        assert_eq!(logs(), 0, "back to one time");
        assert_eq!(wait(f.admit(&a)), Some(Duration::from_secs(1)));
        assert_eq!(f.limiter.remembered(), 2);
        assert!(ok(f.admit(&b)), "b's one message left the day");
        assert_eq!(logs(), 0, "b's old time was replaced, not logged");
        assert_eq!(f.limiter.remembered(), 2);
    }

    #[test]
    fn a_number_kept_whole_is_limited_the_same() {
        let mut numbers = Numbers::default();
        let windows = RecipientLimits::default().windows().to_vec();
        let a = number("13800138000");
        let key = Key::Whole(&a);
        let second = 1_000_000_000;
        assert!(ok(numbers.admit(&key, &windows, DAY, 0)));
        assert_eq!(
            wait(numbers.admit(&key, &windows, DAY, 1)),
            Some(Duration::from_nanos(second - 1))
        );
        for i in 1..5 {
            assert!(ok(numbers.admit(&key, &windows, DAY, i * second)));
        }
        assert!(!ok(numbers.admit(&key, &windows, DAY, 5 * second)));
        assert_eq!((numbers.whole.len(), numbers.len()), (1, 1));
        numbers.sweep(DAY, 5 * second + u64::try_from(DAY.as_nanos()).expect("fits"));
        assert!(numbers.is_empty(), "forgotten a day after its last message");
    }
}
