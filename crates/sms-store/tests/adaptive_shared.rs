//! Adaptive routing with several instances on one PostgreSQL database: one decides per period (the
//! lease), every instance routes by the same weights, and every change is stored with its reason and
//! evidence.

mod support;

use std::sync::Arc;
use std::time::Duration;

use sms_failover::adaptive::{Override, Overrides, Period, Reason, WeightChange};
use sms_failover::{AdaptiveRouter, AdaptiveSettings, ManualClock};
use sms_store::{ManualWallClock, MessageStore, PostgresStore, StoreOptions, StoreState};
use sms_test_support::TestDatabase;

fn router(clock: Arc<ManualClock>) -> AdaptiveRouter {
    let providers: Vec<(String, u32)> = ["a", "b", "c"].iter().map(|n| ((*n).to_owned(), 1)).collect();
    AdaptiveRouter::new(&providers, AdaptiveSettings::default(), clock, None).expect("valid router")
}

fn fail(router: &AdaptiveRouter, provider: &str, times: u32) {
    for _ in 0..times {
        router.record_send(provider, true);
    }
}

#[tokio::test]
async fn two_instances_one_decider_same_weights_changes_stored_with_reason() {
    let db = TestDatabase::create("sms_store_test_adaptive_shared").await;
    let wall = Arc::new(ManualWallClock::new(sms_store::conformance::START_MS));
    let options = StoreOptions {
        clock: wall.clone(),
        ..StoreOptions::default()
    };
    let connect = || async {
        Arc::new(
            PostgresStore::connect(&db.url(), options.clone())
                .await
                .expect("connect"),
        ) as Arc<dyn MessageStore>
    };
    // Two gateway instances: each its own connection pool and router, one database.
    let (store_1, store_2) = (connect().await, connect().await);
    let (clock_1, clock_2) = (Arc::new(ManualClock::new()), Arc::new(ManualClock::new()));
    let (one, two) = (router(clock_1.clone()), router(clock_2.clone()));
    one.share(Arc::new(StoreState::new(store_1.clone())), "instance-1")
        .expect("first share");
    two.share(Arc::new(StoreState::new(store_2.clone())), "instance-2")
        .expect("first share");
    let resting = one.weights();
    assert_eq!(resting, two.weights());

    // Period 1: instance 1 comes first and takes the lease; a failed 50 times on it.
    fail(&one, "a", 50);
    let Period::Decided(decision) = one.period().await.expect("period") else {
        panic!("the first instance takes the lease");
    };
    assert!(matches!(decision.reason, Reason::Demoted { .. }), "{decision:?}");
    assert!(one.weights()[0] < resting[0], "{:?}", one.weights());
    // Instance 2 in the same period: it does not decide, it adopts the stored change.
    assert_eq!(
        two.period().await.expect("period"),
        Period::Followed { adopted: true }
    );
    assert_eq!(two.weights(), one.weights(), "both route by the same weights");
    println!(
        "after period 1: instance 1 {:?}, instance 2 {:?}",
        one.weights(),
        two.weights()
    );

    // The change is stored once, with its reason and evidence.
    let stored = store_2.weight_changes(10).await.expect("read");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].reason, "demoted");
    let change = WeightChange::from_json(&stored[0].body).expect("readable");
    assert_eq!(change.providers[0].name, "a");
    assert_eq!(change.providers[0].evidence.send_errors, 50);
    assert_eq!(
        change.providers.iter().map(|p| p.after).collect::<Vec<_>>(),
        one.weights()
    );
    assert_eq!(two.history(), vec![change]);

    // Period 2: b fails on instance 2, but instance 2 does not decide while instance 1 holds the
    // lease; instance 1 renews it and changes nothing inside the cooldown.
    clock_1.advance(Duration::from_secs(60));
    clock_2.advance(Duration::from_secs(60));
    wall.advance(Duration::from_secs(60));
    fail(&two, "b", 50);
    assert_eq!(
        two.period().await.expect("period"),
        Period::Followed { adopted: false }
    );
    let Period::Decided(decision) = one.period().await.expect("period") else {
        panic!("the holder renews its lease");
    };
    assert!(!decision.reason.changed(), "inside the cooldown: {decision:?}");
    assert_eq!(store_1.weight_changes(10).await.expect("read").len(), 1);
    assert_eq!(two.weights(), one.weights());

    // Instance 1 stops; once its lease (twice the interval) has run out, instance 2 decides, and
    // instance 1's weights are where it starts from. Its cooldown ran from the adopted change.
    clock_2.advance(Duration::from_secs(5 * 60));
    wall.advance(Duration::from_secs(121));
    fail(&two, "b", 50);
    let before = two.weights();
    let Period::Decided(decision) = two.period().await.expect("period") else {
        panic!("the lease expired: the other instance decides");
    };
    assert!(matches!(decision.reason, Reason::Demoted { .. }), "{decision:?}");
    let after = two.weights();
    assert!(after[1] < before[1], "b demoted: {before:?} -> {after:?}");
    assert_eq!(after.iter().sum::<u32>(), before.iter().sum::<u32>());
    let stored = store_1.weight_changes(10).await.expect("read");
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored[0].seq > stored[1].seq);
    // Instance 1, back, follows the new decider.
    clock_1.advance(Duration::from_secs(60));
    assert_eq!(
        one.period().await.expect("period"),
        Period::Followed { adopted: true }
    );
    assert_eq!(one.weights(), after);

    // The operator drains c through instance 2: stored, and instance 1 honours it at its next
    // period; c's learned weight stays, its routing weight is 0 on both.
    let drained = two
        .apply_override(&Override::Drain("c".to_owned()))
        .await
        .expect("drained");
    assert_eq!(drained.drained, vec![2]);
    assert_eq!(two.weights()[2], 0);
    assert!(one.weights()[2] > 0, "not yet seen by instance 1");
    clock_1.advance(Duration::from_secs(60));
    one.period().await.expect("period");
    assert_eq!(one.overrides(), drained);
    assert_eq!(one.weights(), two.weights());
    assert_eq!(one.weights()[2], 0);
    assert!(one.learned_weights()[2] > 0);
    // A bad name changes nothing anywhere.
    let error = one
        .apply_override(&Override::Pin("nobody".to_owned()))
        .await
        .expect_err("no such provider");
    assert!(error.to_string().contains("nobody"), "{error}");
    two.apply_override(&Override::Clear).await.expect("cleared");
    one.period().await.expect("period");
    assert_eq!(one.overrides(), Overrides::default());
    assert_eq!(one.weights(), after);
    println!(
        "after the handover: instance 1 {:?}, instance 2 {:?}",
        one.weights(),
        two.weights()
    );
    drop((store_1, store_2));
    db.drop_now().await;
}
