//! Spend caps on the store survive a restart: what was spent before the store was closed still
//! counts against the cap when it is opened again, as the sandbox's log shows.

mod support;

use std::sync::Arc;

use sms_core::{ErrorKind, Message, MessageSender};
use sms_failover::{
    CapPeriod, CapScope, CapUnit, FailoverSender, ManualWallClock, ProviderEntry, RecipientLimits, SpendCap,
    SpendPolicy,
};
use sms_store::{SqliteStore, StoreOptions, StoreState};
use support::TempDb;

/// 2026-11-29 12:00 in Beijing.
const NOON: u64 = 1_795_924_800;

fn chain(base: &str, state: Arc<StoreState>, wall: &Arc<ManualWallClock>) -> FailoverSender {
    FailoverSender::builder()
        .provider(ProviderEntry::new(
            Arc::new(support::ihuyi(base)) as Arc<dyn MessageSender>
        ))
        .recipient_limits(RecipientLimits::disabled())
        .spend_ledger(state)
        .wall_clock(wall.clone())
        .spend_policy(SpendPolicy::default().with_cap(SpendCap::new(
            CapScope::Overall,
            CapPeriod::Day,
            CapUnit::Parts,
            5,
        )))
        .build()
        .expect("chain")
}

fn text(i: u32) -> Message {
    Message::text(support::bulk_number(i), "【Test】您的验证码是 123456")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spent_amount_survives_a_restart() {
    let sandbox = support::sandbox_for(100).await;
    let base = sandbox.base_url();
    let db = TempDb::new("spend-restart");
    let wall = Arc::new(ManualWallClock::at(NOON));
    {
        let store = Arc::new(
            SqliteStore::open(db.path(), StoreOptions::default())
                .await
                .expect("open"),
        );
        let chain = chain(&base, Arc::new(StoreState::new(store.clone())), &wall);
        for i in 0..3 {
            chain.send(&text(i)).await.expect("within the cap");
        }
        store.close().await;
    }
    let store = Arc::new(
        SqliteStore::open(db.path(), StoreOptions::default())
            .await
            .expect("reopen"),
    );
    let chain = chain(&base, Arc::new(StoreState::new(store)), &wall);
    assert_eq!(
        chain.spend_usage().await.expect("usage")[0].used,
        3,
        "read back after the restart"
    );
    for i in 3..5 {
        chain.send(&text(i)).await.expect("4 and 5 of 5");
    }
    let error = chain.send(&text(5)).await.expect_err("the sixth crosses the cap");
    assert_eq!(error.kind(), ErrorKind::BudgetExceeded, "{error}");
    let parts: u32 = sandbox.messages().iter().map(|m| m.parts).sum();
    assert_eq!(parts, 5, "the sandbox got exactly the cap, across the restart");
}
