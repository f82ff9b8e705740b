//! Two workers with their own connections to one PostgreSQL database drain one outbox of 20,000
//! messages: each message goes out exactly once (the sandbox's log), and the store says accepted.

mod support;

use std::time::Duration;

use sms_core::Message;
use sms_store::{MessageStore, NewMessage, PostgresStore, Status, StoreOptions};
use sms_test_support::TestDatabase;

const MESSAGES: u32 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_each_of_20000_queued_messages_exactly_once() {
    let db = TestDatabase::create("sms_store_test_workers").await;
    let sandbox = support::sandbox_for(i64::from(MESSAGES)).await;
    let base = sandbox.base_url();

    let setup = PostgresStore::connect(&db.url(), StoreOptions::default())
        .await
        .expect("connect");
    let records: Vec<NewMessage> = (0..MESSAGES)
        .map(|i| NewMessage::new(Message::text(support::bulk_number(i), "【Test】bulk")).in_batch("b20k"))
        .collect();
    setup
        .enqueue(&records, None)
        .await
        .expect("enqueue in one transaction");
    assert_eq!(setup.outbox_depth().await.unwrap(), u64::from(MESSAGES));

    let worker = |name: &'static str| {
        let (url, base) = (db.url(), base.clone());
        tokio::spawn(async move {
            let store = PostgresStore::connect(&url, StoreOptions::default())
                .await
                .expect("connect");
            let chain = support::chain(&base, None);
            support::drain_outbox(&store, &chain, name, Duration::from_secs(120)).await
        })
    };
    let (one, two) = (worker("w1"), worker("w2"));
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    assert_eq!(one + two, MESSAGES as usize, "w1 sent {one}, w2 sent {two}");
    assert!(one > 0 && two > 0, "both workers took part: w1 {one}, w2 {two}");

    let counts = support::sandbox_counts(&sandbox);
    assert_eq!(
        counts.len(),
        MESSAGES as usize,
        "every number reached the provider"
    );
    assert!(counts.values().all(|n| *n == 1), "nothing sent twice");
    let by_status = setup.status_counts("b20k").await.unwrap();
    assert_eq!(
        by_status.get(&Status::Accepted).copied(),
        Some(u64::from(MESSAGES)),
        "{by_status:?}"
    );
    assert_eq!(setup.outbox_depth().await.unwrap(), 0);
    setup.close().await;
    db.drop_now().await;
}
