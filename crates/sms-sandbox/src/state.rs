//! Everything the sandbox remembers, shared by the server, the pushes and the handle.
//!
//! Accounts, the message log, per-number usage, queued replies, packages and templates live under
//! one mutex, and a request does all its checks and its bookkeeping in one critical section, so the
//! per-second and per-day limits and the balance are exact under concurrent requests.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{Account, Product, SandboxConfig};
use crate::delivery::{DeliveryProfile, ReceiptFate};
use crate::faults::{Fault, FaultDecision, FaultSet};
use crate::records::{InboundReply, RecordedMessage, RecordedPush};
use crate::targets::PushTargets;

/// State shared by every task of one sandbox.
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    state: Mutex<State>,
    faults: Mutex<FaultSet>,
    faults_active: AtomicBool,
    /// Per product, how receipts behave (none: the configured delay and undelivered ratio).
    delivery: Mutex<std::collections::BTreeMap<Product, DeliveryProfile>>,
    delivery_rng: Mutex<fastrand::Rng>,
    requests: [AtomicU64; 5],
    pushes: Mutex<Vec<RecordedPush>>,
    push_count: watch::Sender<usize>,
    pub(crate) http: reqwest::Client,
    pub(crate) shutdown: watch::Receiver<()>,
    /// Push URLs set at run time (over the configured ones).
    pub(crate) targets: PushTargets,
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig, http: reqwest::Client, shutdown: watch::Receiver<()>) -> Self {
        let state = State::new(&config);
        Shared {
            config,
            state: Mutex::new(state),
            faults: Mutex::new(FaultSet::default()),
            faults_active: AtomicBool::new(false),
            delivery: Mutex::new(std::collections::BTreeMap::new()),
            delivery_rng: Mutex::new(fastrand::Rng::new()),
            requests: Default::default(),
            pushes: Mutex::new(Vec::new()),
            push_count: watch::Sender::new(0),
            http,
            shutdown,
            targets: PushTargets::default(),
        }
    }

    /// The locked state. A panic elsewhere while holding the lock must not take the sandbox down,
    /// so a poisoned lock is used as it is.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn count_request(&self, product: Product) {
        self.requests[product.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request_count(&self, product: Product) -> u64 {
        self.requests[product.index()].load(Ordering::Relaxed)
    }

    pub(crate) fn add_fault(&self, fault: Fault) {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.push(fault);
        self.faults_active.store(!faults.is_empty(), Ordering::Release);
    }

    /// Sets how `product`'s receipts behave.
    ///
    /// # Errors
    /// The profile's own check ([`DeliveryProfile::check`]).
    pub(crate) fn set_delivery(&self, product: Product, profile: DeliveryProfile) -> Result<(), String> {
        profile.check()?;
        self.delivery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(product, profile);
        Ok(())
    }

    /// Every product's profile.
    pub(crate) fn delivery_profiles(&self) -> std::collections::BTreeMap<Product, DeliveryProfile> {
        self.delivery.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Back to the configured receipts for every product.
    pub(crate) fn clear_delivery(&self) {
        self.delivery.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The fate of one accepted message's receipt: from the product's profile, or else the
    /// configured delay and undelivered ratio.
    pub(crate) fn receipt_fate(&self, product: Product) -> ReceiptFate {
        let profiles = self.delivery.lock().unwrap_or_else(|e| e.into_inner());
        let mut rng = self.delivery_rng.lock().unwrap_or_else(|e| e.into_inner());
        match profiles.get(&product) {
            Some(profile) => profile.roll(&mut rng),
            None => {
                let delay = self.config.receipt_delay();
                if rng.f64() >= self.config.undelivered_ratio {
                    ReceiptFate::Delivered(delay)
                } else {
                    ReceiptFate::Undelivered(delay)
                }
            }
        }
    }

    /// Where `product`'s delivery receipts are pushed, if anywhere.
    pub(crate) fn receipt_url(&self, product: Product) -> Option<String> {
        self.targets.receipt_url(&self.config, product)
    }

    /// Where `product`'s handset replies are pushed, if anywhere.
    pub(crate) fn upstream_url(&self, product: Product) -> Option<String> {
        self.targets.upstream_url(&self.config, product)
    }

    pub(crate) fn clear_faults(&self) {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.clear();
        self.faults_active.store(false, Ordering::Release);
    }

    pub(crate) fn decide_faults(&self, product: Product, path: &str) -> FaultDecision {
        if !self.faults_active.load(Ordering::Acquire) {
            return FaultDecision::default();
        }
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let decision = faults.decide(product, path);
        self.faults_active.store(!faults.is_empty(), Ordering::Release);
        decision
    }

    pub(crate) fn record_push(&self, push: RecordedPush) {
        let mut pushes = self.pushes.lock().unwrap_or_else(|e| e.into_inner());
        pushes.push(push);
        let n = pushes.len();
        drop(pushes);
        self.push_count.send_modify(|c| *c = n);
    }

    pub(crate) fn pushes(&self) -> Vec<RecordedPush> {
        self.pushes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) async fn wait_for_pushes(&self, count: usize) -> Vec<RecordedPush> {
        let mut rx = self.push_count.subscribe();
        // The sender lives as long as `self`, so this only ends when the count is reached.
        let _ = rx.wait_for(|n| *n >= count).await;
        self.pushes()
    }

    /// Forgets messages, faults, delivery profiles, counters, pushes and queued replies; accounts back to configured.
    pub(crate) fn reset(&self) {
        {
            let mut state = self.state();
            let generation = state.generation + 1;
            *state = State::new(&self.config);
            state.generation = generation;
        }
        self.clear_faults();
        self.clear_delivery();
        for counter in &self.requests {
            counter.store(0, Ordering::Relaxed);
        }
        self.pushes.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.push_count.send_modify(|c| *c = 0);
    }
}

/// A configured account and what changed at run time.
#[derive(Debug)]
pub(crate) struct AccountState {
    pub(crate) config: Arc<Account>,
    pub(crate) balance: i64,
    /// The current key or password (Juxiang `cpwd.asp` changes it).
    pub(crate) key: String,
}

/// Recent accepted messages to one number of one account.
#[derive(Debug, Default)]
struct NumberUsage {
    recent: VecDeque<Instant>,
    day: i64,
    today: u32,
    codes_today: u32,
}

/// Which per-number limit a message would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitHit {
    Second,
    Day,
    DayCodes,
}

/// A stored MMS package.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    pub(crate) text: String,
    pub(crate) size: usize,
}

/// A registered ihuyi template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) id: String,
    pub(crate) product: Product,
    pub(crate) account: String,
    pub(crate) content: String,
}

/// A handset reply waiting for `readsms.asp`.
#[derive(Debug, Clone)]
pub(crate) struct QueuedReply {
    pub(crate) reply: InboundReply,
    pub(crate) time: SystemTime,
}

/// The mutable state under the one lock.
#[derive(Debug)]
pub(crate) struct State {
    accounts: HashMap<Product, Vec<AccountState>>,
    messages: VecDeque<RecordedMessage>,
    max_messages: usize,
    usage: HashMap<(Product, String, String), NumberUsage>,
    pub(crate) inbound: VecDeque<QueuedReply>,
    /// Stored packages by (account, package id): ids are per account, so two accounts may both
    /// have a package `1000`.
    pub(crate) packages: HashMap<(String, String), Package>,
    pub(crate) templates: Vec<Template>,
    counter: u64,
    /// Bumped by `reset`; pushes scheduled before a reset are dropped.
    pub(crate) generation: u64,
}

impl State {
    fn new(config: &SandboxConfig) -> Self {
        let mut accounts: HashMap<Product, Vec<AccountState>> = HashMap::new();
        let mut packages = HashMap::new();
        for (product, account) in config.accounts() {
            if product == Product::Mms {
                for id in &account.mms_packages {
                    packages.insert(
                        (account.account.clone(), id.clone()),
                        Package {
                            text: String::new(),
                            size: 0,
                        },
                    );
                }
            }
            accounts.entry(product).or_default().push(AccountState {
                balance: account.balance,
                key: account.key.clone(),
                config: Arc::new(account),
            });
        }
        State {
            accounts,
            messages: VecDeque::new(),
            max_messages: config.max_recorded_messages,
            usage: HashMap::new(),
            inbound: VecDeque::new(),
            packages,
            templates: Vec::new(),
            counter: fastrand::u64(1_000..1_000_000),
            generation: 0,
        }
    }

    pub(crate) fn account(&self, product: Product, name: &str) -> Option<&AccountState> {
        self.accounts
            .get(&product)?
            .iter()
            .find(|a| a.config.account == name)
    }

    pub(crate) fn account_mut(&mut self, product: Product, name: &str) -> Option<&mut AccountState> {
        self.accounts
            .get_mut(&product)?
            .iter_mut()
            .find(|a| a.config.account == name)
    }

    /// A fresh number, unique within this sandbox.
    pub(crate) fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Whether another message of `account` to `number` now would break a per-number limit.
    pub(crate) fn limit_hit(
        &mut self,
        product: Product,
        account: &Account,
        number: &str,
        is_code: bool,
        now: Instant,
        today: i64,
    ) -> Option<LimitHit> {
        let usage = self
            .usage
            .get(&(product, account.account.clone(), number.to_owned()))?;
        let window_start = now.checked_sub(Duration::from_secs(1));
        let in_last_second = usage
            .recent
            .iter()
            .filter(|t| window_start.is_none_or(|start| **t > start))
            .count();
        if account.per_second_limit > 0 && in_last_second >= account.per_second_limit as usize {
            return Some(LimitHit::Second);
        }
        let (sent_today, codes_today) = if usage.day == today {
            (usage.today, usage.codes_today)
        } else {
            (0, 0)
        };
        if is_code && account.per_day_code_limit > 0 && codes_today >= account.per_day_code_limit {
            return Some(LimitHit::DayCodes);
        }
        if account.per_day_limit > 0 && sent_today >= account.per_day_limit {
            return Some(LimitHit::Day);
        }
        None
    }

    /// Counts an accepted message against the per-number limits.
    pub(crate) fn note_sent(
        &mut self,
        product: Product,
        account: &Account,
        number: &str,
        is_code: bool,
        now: Instant,
        today: i64,
    ) {
        let usage = self
            .usage
            .entry((product, account.account.clone(), number.to_owned()))
            .or_default();
        if usage.day != today {
            usage.day = today;
            usage.today = 0;
            usage.codes_today = 0;
        }
        usage.today = usage.today.saturating_add(1);
        if is_code {
            usage.codes_today = usage.codes_today.saturating_add(1);
        }
        usage.recent.push_back(now);
        let keep = account.per_second_limit.max(1) as usize;
        while usage.recent.len() > keep {
            usage.recent.pop_front();
        }
    }

    pub(crate) fn record(&mut self, message: RecordedMessage) {
        if self.max_messages == 0 {
            return;
        }
        while self.messages.len() >= self.max_messages {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
    }

    pub(crate) fn messages(&self) -> Vec<RecordedMessage> {
        self.messages.iter().cloned().collect()
    }

    pub(crate) fn set_balance(&mut self, product: Product, account: &str, amount: i64) -> bool {
        match self.account_mut(product, account) {
            Some(a) => {
                a.balance = amount;
                true
            }
            None => false,
        }
    }

    pub(crate) fn balance(&self, product: Product, account: &str) -> Option<i64> {
        self.account(product, account).map(|a| a.balance)
    }

    /// Accounts in a stable order (for the binary's banner and the control API).
    pub(crate) fn account_names(&self) -> Vec<(Product, String)> {
        let mut out: Vec<(Product, String)> = self
            .accounts
            .iter()
            .flat_map(|(p, list)| list.iter().map(|a| (*p, a.config.account.clone())))
            .collect();
        out.sort();
        out
    }
}
