//! The in-memory recipient limiter's memory per remembered number, and its admission throughput, with
//! the default windows (1 per second, 5 per day) and N distinct numbers (a bulk run's day).
//!
//! ```text
//! cargo bench -p sms-failover --bench limiter_memory              # 1,000,000 numbers, 3 rounds
//! cargo bench -p sms-failover --bench limiter_memory -- 100000    # 100,000 numbers
//! ```
//!
//! Each measurement runs in its own child process (peak RSS, `VmHWM`, only grows within a process):
//! - `baseline`: the same loop (parse each number, time it) without a limiter;
//! - `previous`: a copy of the limiter's previous layout (`HashMap<PhoneNumber, VecDeque<Instant>>`
//!   per scope and shard), kept here for comparison;
//! - `limiter`: [`InMemoryRecipientLimiter`].
//!
//! A limiter's bytes per number are (its peak RSS − the baseline's) / N. Throughput is admissions per
//! second of the whole loop, as a ratio to the previous layout's in the same round. Prints min / median
//! over the rounds; nothing is gated but that the limiter admits every distinct number.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sms_core::PhoneNumber;
use sms_failover::state::{Admission, InMemoryRecipientLimiter};
use sms_failover::{Clock, LimitWindow, RecipientLimits, SystemClock};

const ROUNDS: usize = 3;
const MODES: [&str; 3] = ["baseline", "previous", "limiter"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    assert!(numbers <= 100_000_000, "at most 10^8 distinct 138… numbers");
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], numbers);
        return;
    }

    // Per mode: peak RSS in KiB and elapsed time, one per round.
    let mut figures: HashMap<&str, Vec<(u64, Duration)>> = HashMap::new();
    for _ in 0..ROUNDS {
        for mode in MODES {
            figures.entry(mode).or_default().push(spawn(mode, numbers));
        }
    }
    let base = &figures["baseline"];
    let per_number = |mode: &str| -> Vec<f64> {
        figures[mode]
            .iter()
            .zip(base)
            .map(|((kib, _), (base_kib, _))| (kib.saturating_sub(*base_kib) * 1024) as f64 / numbers as f64)
            .collect()
    };
    let rate = |(_, elapsed): &(u64, Duration)| numbers as f64 / elapsed.as_secs_f64();
    println!("limiter_memory: {numbers} distinct numbers, default windows, {ROUNDS} rounds (min / median)");
    for mode in MODES {
        let kib: Vec<f64> = figures[mode].iter().map(|(k, _)| *k as f64).collect();
        let rates: Vec<f64> = figures[mode].iter().map(rate).collect();
        println!(
            "  {mode:<9} peak RSS {:>8.1} / {:>8.1} MiB, {:>10.0} / {:>10.0} numbers/s",
            min(&kib) / 1024.0,
            median(&kib) / 1024.0,
            min(&rates),
            median(&rates)
        );
    }
    for mode in ["previous", "limiter"] {
        let bytes = per_number(mode);
        println!(
            "  {mode:<9} bytes per number {:>6.1} / {:>6.1}",
            min(&bytes),
            median(&bytes)
        );
    }
    let ratios: Vec<f64> = figures["limiter"]
        .iter()
        .zip(&figures["previous"])
        .map(|(new, old)| rate(new) / rate(old))
        .collect();
    println!(
        "  limiter throughput / previous layout's {:.2} / {:.2}",
        min(&ratios),
        median(&ratios)
    );
    let memory: Vec<f64> = per_number("limiter")
        .iter()
        .zip(per_number("previous"))
        .map(|(new, old)| new / old)
        .collect();
    println!(
        "  limiter bytes per number / previous layout's {:.2} / {:.2}",
        min(&memory),
        median(&memory)
    );
}

/// Runs one measurement in a child process: its peak RSS in KiB and the loop's time.
fn spawn(mode: &str, numbers: u64) -> (u64, Duration) {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["--child", mode, &numbers.to_string()])
        .output()
        .expect("the bench runs itself");
    assert!(
        out.status.success(),
        "{mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().expect("a number"));
    let (Some(kib), Some(nanos)) = (fields.next(), fields.next()) else {
        panic!("{mode}: unexpected output {text:?}");
    };
    (kib, Duration::from_nanos(nanos))
}

/// One measurement: prints the peak RSS in KiB and the loop's nanoseconds.
fn child(mode: &str, numbers: u64) {
    let mut windows = RecipientLimits::default().windows().to_vec();
    windows.sort_by_key(|w| w.period);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let limiter = InMemoryRecipientLimiter::new(clock.clone());
    let previous = PreviousLimiter::new(clock);
    let start = Instant::now();
    let mut admitted = 0_u64;
    for i in 0..numbers {
        let number = PhoneNumber::parse(&format!("138{i:08}")).expect("valid");
        let admission = match mode {
            "baseline" => std::hint::black_box(Admission::Admitted),
            "previous" => previous.admit_one("chain", &number, &windows),
            "limiter" => limiter.admit_one("chain", &number, &windows),
            other => panic!("unknown mode {other}"),
        };
        admitted += u64::from(admission == Admission::Admitted);
    }
    let elapsed = start.elapsed();
    assert_eq!(admitted, numbers, "{mode}: every distinct number is admitted");
    let remembered = match mode {
        "previous" => previous.remembered(),
        "limiter" => limiter.remembered(),
        _ => 0,
    };
    std::hint::black_box(remembered);
    println!("{} {}", peak_rss_kib(), elapsed.as_nanos());
}

/// This process's peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The limiter's previous layout, for comparison: a `String` per number and a heap log of 16-byte
/// `Instant`s, per scope, in 16 shards, swept the same way.
struct PreviousLimiter {
    clock: Arc<dyn Clock>,
    shards: Vec<Mutex<PreviousShard>>,
    hasher: std::hash::RandomState,
}

#[derive(Default)]
struct PreviousShard {
    scopes: HashMap<String, HashMap<PhoneNumber, VecDeque<Instant>>>,
    admissions_since_sweep: usize,
    numbers_after_sweep: usize,
    longest: Duration,
}

impl PreviousLimiter {
    fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            shards: (0..16).map(|_| Mutex::new(PreviousShard::default())).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    fn remembered(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .expect("lock")
                    .scopes
                    .values()
                    .map(HashMap::len)
                    .sum::<usize>()
            })
            .sum()
    }

    fn admit_one(&self, scope: &str, number: &PhoneNumber, windows: &[LimitWindow]) -> Admission {
        let longest = windows.iter().map(|w| w.period).max().unwrap_or(Duration::ZERO);
        if longest.is_zero() {
            return Admission::Admitted;
        }
        let now = self.clock.now();
        let shard = (self.hasher.hash_one(number) % 16) as usize;
        let mut shard = self.shards[shard].lock().expect("lock");
        shard.longest = shard.longest.max(longest);
        shard.admissions_since_sweep += 1;
        if shard.admissions_since_sweep >= shard.numbers_after_sweep.max(64) {
            let longest = shard.longest;
            let mut left = 0;
            shard.scopes.retain(|_, numbers| {
                numbers.retain(|_, log| {
                    prune(log, longest, now);
                    !log.is_empty()
                });
                if numbers.capacity() > 2 * numbers.len() + 64 {
                    numbers.shrink_to_fit();
                }
                left += numbers.len();
                !numbers.is_empty()
            });
            shard.admissions_since_sweep = 0;
            shard.numbers_after_sweep = left;
        }
        let numbers = match shard.scopes.get_mut(scope) {
            Some(numbers) => numbers,
            None => shard.scopes.entry(scope.to_owned()).or_default(),
        };
        let log = match numbers.get_mut(number) {
            Some(log) => log,
            None => numbers.entry(number.clone()).or_default(),
        };
        prune(log, longest, now);
        let mut refusal: Option<(LimitWindow, Duration)> = None;
        for window in windows {
            let Some(nth_latest) = usize::try_from(window.count)
                .ok()
                .and_then(|count| log.len().checked_sub(count))
                .and_then(|index| log.get(index))
            else {
                continue;
            };
            let age = now.saturating_duration_since(*nth_latest);
            if age < window.period {
                let wait = window.period - age;
                if refusal.is_none_or(|(_, longest)| wait > longest) {
                    refusal = Some((*window, wait));
                }
            }
        }
        match refusal {
            Some((window, wait)) => Admission::Refused { window, wait },
            None => {
                log.push_back(now);
                Admission::Admitted
            }
        }
    }
}

fn prune(log: &mut VecDeque<Instant>, period: Duration, now: Instant) {
    while log
        .front()
        .is_some_and(|&at| now.saturating_duration_since(at) >= period)
    {
        log.pop_front();
    }
}
