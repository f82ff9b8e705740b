//! Cost and abuse protection: spend caps reserved exactly before any request and settled after,
//! Beijing day and month boundaries, destinations, and velocity windows that stop a pumping burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use sms_core::testkit::StubOutcome;
use sms_core::{ErrorKind, MessageSender, PhoneNumber};
use sms_failover::state::{InMemorySpendLedger, SpendLedger};
use sms_failover::{
    CapPeriod, CapScope, CapUnit, FailoverSender, FailoverSenderBuilder, ManualWallClock, PriceTable,
    SpendCap, SpendPolicy, SpendWarning, Velocity,
};

use crate::support::*;

/// 2026-11-29 23:59:00 in Beijing (15:59:00 UTC).
const LAST_MINUTE_OF_NOV_29: u64 = 1_795_967_940;
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn parts_cap(scope: CapScope, period: CapPeriod, limit: u64) -> SpendCap {
    SpendCap::new(scope, period, CapUnit::Parts, limit)
}

fn with_policy(
    builder: FailoverSenderBuilder,
    policy: SpendPolicy,
    wall: &Arc<ManualWallClock>,
) -> FailoverSender {
    build(builder.spend_policy(policy).wall_clock(wall.clone()))
}

fn uk(national: &str) -> PhoneNumber {
    PhoneNumber::international(44, national).expect("a valid UK number")
}

#[tokio::test(start_paused = true)]
async fn fifty_concurrent_sends_against_a_cap_of_ten_parts_send_exactly_ten() {
    let a = Arc::new(
        sms_core::testkit::StubSender::new("a").always(StubOutcome::Accept.after(Duration::from_millis(50))),
    );
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29 - 3600));
    let policy = SpendPolicy::default().with_cap(parts_cap(CapScope::Overall, CapPeriod::Day, 10));
    let chain = with_policy(chain_of(&[&a]), policy, &wall);
    let to = numbers(50);
    let messages: Vec<_> = to.iter().map(|n| text_to(n.clone())).collect();
    let results = join_all(messages.iter().map(|m| chain.send(m))).await;
    let sent = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(sent, 10, "exactly ten one-part messages fit");
    assert_eq!(a.call_count(), 10, "the refused 40 cost no request");
    let refused = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .inspect(|e| assert_eq!(e.kind(), ErrorKind::BudgetExceeded, "{e}"))
        .count();
    assert_eq!(refused, 40);
    let error = results.iter().find_map(|r| r.as_ref().err()).expect("a refusal");
    let text = error.to_string();
    assert!(text.contains("daily cap of 10 parts for overall"), "{text}");
    assert!(text.contains("resets at 2026-11-30 00:00 Beijing time"), "{text}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3660)));
    let usage = chain.spend_usage().await.expect("usage");
    assert_eq!(
        (usage[0].used, usage[0].remaining(), usage[0].period.as_str()),
        (10, 0, "2026-11-29")
    );
}

#[tokio::test(start_paused = true)]
async fn an_account_over_its_cap_hands_the_send_to_the_next_provider() {
    let (a, b) = (stub("a"), stub("b"));
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29));
    let policy =
        SpendPolicy::default().with_cap(parts_cap(CapScope::Account("a".into()), CapPeriod::Month, 2));
    let chain = with_policy(chain_of(&[&a, &b]), policy, &wall);
    for n in numbers(3) {
        chain.send(&text_to(n)).await.expect("sent by a or b");
    }
    assert_eq!((a.call_count(), b.call_count()), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_definite_failure_gives_the_reservation_back_and_an_unknown_outcome_keeps_it() {
    let a = stub("a");
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29));
    let ledger: Arc<dyn SpendLedger> = Arc::new(InMemorySpendLedger::new());
    let policy = SpendPolicy::default().with_cap(parts_cap(CapScope::Overall, CapPeriod::Day, 6));
    let chain = with_policy(chain_of(&[&a]).spend_ledger(ledger), policy, &wall);
    let used = || async { chain.spend_usage().await.expect("usage")[0].used };

    a.push(StubOutcome::fail(ErrorKind::ContentRejected));
    chain.send(&text_to(numbers(1))).await.expect_err("rejected");
    assert_eq!(used().await, 0, "nothing went out: nothing is spent");

    a.push(StubOutcome::fail(ErrorKind::Ambiguous));
    chain.send(&text_to(numbers(1))).await.expect_err("unknown");
    assert_eq!(used().await, 1, "it may have gone out: it stays spent");

    // A long text of three parts to one number, and a batch of two where one is refused.
    let long = sms_core::Message::text(numbers(1), "【示例】".to_owned() + &"长".repeat(150));
    chain.send(&long).await.expect("sent");
    assert_eq!(used().await, 4);
    let to = numbers(2);
    a.push(StubOutcome::AcceptOnly(
        vec![to[0].clone()],
        error(ErrorKind::RecipientRejected),
    ));
    chain.send(&text_to(to)).await.expect("one taken");
    assert_eq!(used().await, 5, "the refused number's part is given back");
}

#[tokio::test(start_paused = true)]
async fn caps_reset_at_beijing_day_and_month_boundaries() {
    let a = stub("a");
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29));
    let policy = SpendPolicy::default()
        .with_cap(parts_cap(CapScope::Overall, CapPeriod::Day, 1))
        .with_cap(parts_cap(CapScope::Overall, CapPeriod::Month, 2));
    let chain = with_policy(chain_of(&[&a]), policy, &wall);
    let chain = &chain;
    let send = || {
        let message = text_to(numbers(1));
        async move { chain.send(&message).await }
    };

    send().await.expect("the first of Nov 29");
    let day = send().await.expect_err("the day is spent");
    assert!(
        day.to_string().contains("daily cap") && day.to_string().contains("2026-11-30 00:00"),
        "{day}"
    );

    wall.advance(Duration::from_secs(60)); // 2026-11-30 00:00 Beijing: a new day, same month.
    send().await.expect("the first of Nov 30");
    wall.advance(DAY); // 2026-12-01 00:00 Beijing: a new day and a new month.
    send().await.expect("Dec 1: a new day and month");
    let month = send().await.expect_err("the day is spent again");
    assert!(month.to_string().contains("2026-12-02 00:00"), "{month}");
    assert_eq!(a.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_monthly_cap_holds_across_days_until_the_month_ends() {
    let a = stub("a");
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29 - 2 * 86_400));
    let policy = SpendPolicy::default().with_cap(parts_cap(CapScope::Overall, CapPeriod::Month, 2));
    let chain = with_policy(chain_of(&[&a]), policy, &wall);
    chain.send(&text_to(numbers(1))).await.expect("Nov 27");
    wall.advance(DAY);
    chain.send(&text_to(numbers(1))).await.expect("Nov 28");
    wall.advance(DAY);
    let error = chain
        .send(&text_to(numbers(1)))
        .await
        .expect_err("Nov 29: the month is spent");
    assert!(
        error.to_string().contains("monthly cap of 2 parts")
            && error.to_string().contains("2026-12-01 00:00"),
        "{error}"
    );
    wall.advance(Duration::from_secs(60) + DAY);
    chain
        .send(&text_to(numbers(1)))
        .await
        .expect("Dec 1: a new month");
    assert_eq!(a.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn money_caps_use_the_price_per_provider_and_country() {
    let a = stub("a");
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29));
    // 0.035 yuan per mainland part, 0.450 per Hong Kong part; a cap of 1.000 yuan a day.
    let policy = SpendPolicy::default()
        .allow_country(852)
        .with_prices(
            PriceTable::new()
                .with_price("a", 86, 35)
                .with_price("a", 852, 450),
        )
        .with_cap(SpendCap::new(
            CapScope::Overall,
            CapPeriod::Day,
            CapUnit::Money,
            1000,
        ));
    let chain = with_policy(chain_of(&[&a]), policy, &wall);
    let hk = PhoneNumber::international(852, "51234567").expect("valid");
    chain.send(&text_to(hk.clone())).await.expect("450");
    chain.send(&text_to(hk.clone())).await.expect("900");
    let over = chain.send(&text_to(hk)).await.expect_err("1350 > 1000");
    assert_eq!(over.kind(), ErrorKind::BudgetExceeded);
    chain
        .send(&text_to(numbers(1)))
        .await
        .expect("935: a mainland part still fits");
    assert_eq!(chain.spend_usage().await.expect("usage")[0].used, 935);
}

#[tokio::test(start_paused = true)]
async fn the_warning_threshold_fires_once_when_crossed() {
    let a = stub("a");
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29));
    let seen = Arc::new(std::sync::Mutex::new(Vec::<SpendWarning>::new()));
    let hook = {
        let seen = seen.clone();
        Arc::new(move |w: &SpendWarning| seen.lock().expect("lock").push(w.clone()))
    };
    let policy = SpendPolicy::default()
        .with_cap(parts_cap(CapScope::Overall, CapPeriod::Day, 10))
        .on_warning(hook);
    let chain = with_policy(chain_of(&[&a]), policy, &wall);
    for n in numbers(9) {
        chain.send(&text_to(n)).await.expect("sent");
    }
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1, "once, at 8 of 10");
    assert_eq!((seen[0].used, seen[0].period.as_str()), (8, "2026-11-29"));
}

#[tokio::test(start_paused = true)]
async fn international_numbers_need_the_allowlist_and_a_mobile_number() {
    let a = stub("a");
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29));
    let mainland_only = with_policy(chain_of(&[&a]), SpendPolicy::default(), &wall);
    let error = mainland_only
        .send(&text_to(uk("7700900123")))
        .await
        .expect_err("not allowed");
    assert_eq!(error.kind(), ErrorKind::InvalidRecipient);
    assert!(
        error
            .to_string()
            .contains("+44 are not allowed (the destination allowlist has none"),
        "{error}"
    );
    mainland_only
        .send(&text_to(numbers(1)))
        .await
        .expect("mainland is always allowed");

    let uk_allowed = with_policy(chain_of(&[&a]), SpendPolicy::default().allow_country(44), &wall);
    uk_allowed
        .send(&text_to(uk("7700900123")))
        .await
        .expect("a UK mobile");
    let fixed = uk_allowed
        .send(&text_to(uk("2079460123")))
        .await
        .expect_err("a London fixed line");
    assert!(
        fixed
            .to_string()
            .contains("not a mobile number of United Kingdom"),
        "{fixed}"
    );
    assert_eq!(a.call_count(), 2, "refused destinations cost no request");
}

#[tokio::test(start_paused = true)]
async fn a_pumping_burst_to_one_foreign_range_is_stopped_while_other_ranges_continue() {
    let a = stub("a");
    let wall = Arc::new(ManualWallClock::at(LAST_MINUTE_OF_NOV_29));
    let velocity = Velocity {
        per_country: vec![sms_failover::LimitWindow {
            count: 10_000,
            period: Duration::from_secs(3600),
        }],
        ..Velocity::default()
    };
    let policy = SpendPolicy::default().allow_country(44).velocity(Some(velocity));
    let chain = with_policy(
        chain_of(&[&a]).clock(Arc::new(sms_failover::TokioClock)),
        policy,
        &wall,
    );
    let (admitted, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (other_admitted, other_refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    for i in 0..2000 {
        // Two code requests to each of 1000 numbers of the range +44 7700900.
        let to = uk(&format!("7700900{:03}", i % 1000));
        match chain.send(&text_to(to)).await {
            Ok(_) => admitted.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::RecipientThrottled, "{e}");
                refused.fetch_add(1, Ordering::Relaxed)
            }
        };
        if i % 200 == 0 {
            // Normal traffic to other ranges, one number each.
            let other = uk(&format!("79{:02}123456", i / 200));
            match chain.send(&text_to(other)).await {
                Ok(_) => other_admitted.fetch_add(1, Ordering::Relaxed),
                Err(_) => other_refused.fetch_add(1, Ordering::Relaxed),
            };
        }
    }
    let (admitted, refused) = (admitted.into_inner(), refused.into_inner());
    let (other_admitted, other_refused) = (other_admitted.into_inner(), other_refused.into_inner());
    println!(
        "pumping burst to +44 7700900xxx: {admitted} admitted, {refused} refused; other ranges: \
         {other_admitted} admitted, {other_refused} refused"
    );
    assert_eq!(
        (admitted, refused),
        (10, 1990),
        "the range's window admits its quota of 10"
    );
    assert_eq!((other_admitted, other_refused), (10, 0), "other ranges continue");
    assert_eq!(a.call_count(), 20);
    // The window slides: ten minutes later the range is admitted again.
    tokio::time::advance(Duration::from_secs(601)).await;
    chain
        .send(&text_to(uk("7700900999")))
        .await
        .expect("the window has passed");
}
