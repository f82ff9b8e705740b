//! A simulated day of adaptive routing on a manual clock: three providers, provider "a" delivers 40 %
//! of its messages late from 10:00 to 12:00. Run with `--nocapture` to see the weight table.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sms_core::testkit::StubSender;
use sms_core::{Error, Message, MessageSender, PhoneNumber};
use sms_failover::adaptive::{ReceiptState, SentMessage};
use sms_failover::{
    AdaptiveSettings, FailoverSender, ManualClock, ProviderEntry, ReceiptEvidence, RecipientLimits, Strategy,
};

const MINUTE: Duration = Duration::from_secs(60);
/// The simulation starts at 06:00.
const START_MINUTE: u64 = 6 * 60;

/// Receipts as the providers would push them: each message is delivered a fixed time after it was
/// accepted.
#[derive(Debug)]
struct SimReceipts {
    clock: Arc<ManualClock>,
    /// (provider, accepted at: clock offset, delivered after).
    sent: Mutex<VecDeque<(String, Duration, Duration)>>,
}

impl SimReceipts {
    fn record(&self, provider: &str, delivered_after: Duration) {
        let mut sent = self.sent.lock().expect("sim receipts");
        let now = self.clock.elapsed();
        // Nothing older than an hour is ever asked for.
        while sent.front().is_some_and(|(_, at, _)| now - *at > 60 * MINUTE) {
            sent.pop_front();
        }
        sent.push_back((provider.to_owned(), now, delivered_after));
    }
}

#[async_trait]
impl ReceiptEvidence for SimReceipts {
    async fn sent_within(&self, window: Duration) -> Result<Vec<SentMessage>, Error> {
        let now = self.clock.elapsed();
        let sent = self.sent.lock().expect("sim receipts");
        Ok(sent
            .iter()
            .filter(|(_, at, _)| now - *at <= window)
            .map(|(provider, at, after)| {
                let age = now - *at;
                let receipt = if age >= *after {
                    ReceiptState::Delivered(*after)
                } else {
                    ReceiptState::Pending
                };
                SentMessage::new(provider.clone(), age, receipt)
            })
            .collect())
    }
}

/// A stub provider that says it pushes receipts (so that the router reads them).
fn pushing_receipts(name: &str) -> Arc<StubSender> {
    let stub = StubSender::new(name);
    let capabilities = stub.capabilities().clone().with_receipt_push();
    Arc::new(stub.with_capabilities(capabilities))
}

fn clock_time(minute: u64) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[tokio::test(start_paused = true)]
async fn a_provider_delivering_late_loses_traffic_down_to_the_floor_and_gets_it_back() {
    let clock = Arc::new(ManualClock::new());
    let receipts = Arc::new(SimReceipts {
        clock: clock.clone(),
        sent: Mutex::new(VecDeque::new()),
    });
    let settings = AdaptiveSettings::default();
    let chain = FailoverSender::builder()
        .strategy(Strategy::Adaptive)
        .adaptive(settings.clone())
        .receipt_evidence(receipts.clone())
        .clock(clock.clone())
        .random_seed(14)
        .recipient_limits(RecipientLimits::disabled())
        .without_idempotency()
        .provider(ProviderEntry::new(pushing_receipts("a")))
        .provider(ProviderEntry::new(pushing_receipts("b")))
        .provider(ProviderEntry::new(pushing_receipts("c")))
        .build()
        .expect("valid chain");
    let router = chain.adaptive_router().expect("adaptive chain").clone();
    let resting = router.resting_weights().to_vec();
    assert_eq!(resting, [34, 33, 33]);

    let (sick_from, sick_until) = (10 * 60, 12 * 60);
    let per_minute = 60u64;
    let mut late_counter = 0u64;
    let mut table =
        String::from("time  |  a  |  b  |  c  | a's share of the last 15 min | verdict on a | decision\n");
    let mut first_demotion = None;
    let mut at_floor = None;
    let mut back_at_rest = None;
    // Per minute: messages first sent to a, and all messages.
    let mut recent: VecDeque<(u64, u64)> = VecDeque::new();
    let mut a_share_while_floored = (0u64, 0u64);
    let mut number = 13_000_000_000u64;

    for minute in START_MINUTE..24 * 60 {
        let mut to_a = 0;
        for _ in 0..per_minute {
            clock.advance(Duration::from_secs(1));
            number += 1;
            let to: PhoneNumber = number.to_string().parse().expect("number");
            let receipt = chain
                .send(&Message::text(to, "【示例】您的验证码是 123456"))
                .await
                .expect("sent");
            let provider = receipt.providers()[0].to_owned();
            let late = provider == "a" && (sick_from..sick_until).contains(&minute) && {
                late_counter += 1;
                late_counter % 5 < 2
            };
            receipts.record(&provider, if late { 8 * MINUTE } else { Duration::from_secs(20) });
            if provider == "a" {
                to_a += 1;
            }
        }
        recent.push_back((to_a, per_minute));
        if recent.len() > 15 {
            recent.pop_front();
        }
        let decision = router.evaluate().await.expect("evidence");
        let weights = router.weights();
        assert!(
            weights.iter().all(|&w| w >= settings.floor),
            "{} below the floor: {weights:?}",
            clock_time(minute)
        );
        assert_eq!(weights.iter().sum::<u32>(), 100);
        let now = minute + 1;
        if minute < sick_from {
            assert_eq!(weights, resting, "{}: nothing wrong yet", clock_time(now));
        }
        if weights[0] < resting[0] && first_demotion.is_none() {
            first_demotion = Some(now);
        }
        if weights[0] == settings.floor && at_floor.is_none() {
            at_floor = Some(now);
        }
        if let Some(floored) = at_floor
            && now > floored
            && minute < sick_until
        {
            a_share_while_floored.0 += to_a;
            a_share_while_floored.1 += per_minute;
        }
        if minute >= sick_until && weights == resting && back_at_rest.is_none() {
            back_at_rest = Some(now);
        }
        if let Some(rest) = back_at_rest {
            assert_eq!(
                weights,
                resting,
                "{}: stays at rest once recovered (since {})",
                clock_time(now),
                clock_time(rest)
            );
        }
        if decision.reason.changed() || now % 30 == 0 {
            let (a, all) = recent.iter().fold((0, 0), |(a, all), (x, y)| (a + x, all + y));
            writeln!(
                table,
                "{} | {:>3} | {:>3} | {:>3} | {:>27.1} % | {:<12} | {}",
                clock_time(now),
                weights[0],
                weights[1],
                weights[2],
                100.0 * a as f64 / all as f64,
                format!("{:?}", decision.verdicts[0]),
                decision.reason
            )
            .expect("table");
        }
    }
    println!("{table}");

    let detection = settings.receipt_window;
    let first_demotion = first_demotion.expect("a was demoted");
    assert!(
        first_demotion > sick_from && first_demotion <= sick_from + detection.as_secs() / 60,
        "a demoted at {}, detection time {detection:?}",
        clock_time(first_demotion)
    );
    let at_floor = at_floor.expect("a reached the floor");
    assert!(
        at_floor <= sick_from + 30,
        "a at the floor at {}",
        clock_time(at_floor)
    );
    let share = a_share_while_floored.0 as f64 / a_share_while_floored.1 as f64;
    assert!(
        (0.03..0.07).contains(&share),
        "a kept probe traffic near the 5 % floor: {share}"
    );
    let back = back_at_rest.expect("back at rest");
    assert!(back <= sick_until + 60, "back at rest at {}", clock_time(back));
}
