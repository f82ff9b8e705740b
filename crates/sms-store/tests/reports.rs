//! `StoreReports` on both backends: filtered recipients with a cursor, provider activity in
//! buckets, bulk summaries and the latest replies, from one recorded history on a manual clock.

mod support;

use std::sync::Arc;
use std::time::Duration;

use sms_core::{DeliveryReport, DeliveryStatus, InboundMessage, Message, PhoneNumber};
use sms_store::{
    AttemptRecord, ManualWallClock, MessageStore, NewMessage, OutcomeUpdate, PostgresStore, ProviderBucket,
    RecipientCursor, RecipientQuery, SqliteStore, Status, StoreOptions,
};
use sms_test_support::TestDatabase;
use support::TempDb;

const T0: i64 = 1_700_000_000_000;
const MINUTE: i64 = 60_000;

fn n(i: u32) -> PhoneNumber {
    support::bulk_number(i)
}

fn options(clock: &Arc<ManualWallClock>) -> StoreOptions {
    StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    }
}

fn outcome(id: &str, to: &PhoneNumber, status: Status, provider: &str, pm: Option<&str>) -> OutcomeUpdate {
    let mut o = OutcomeUpdate::new(id, to.e164(), status);
    o.provider = Some(provider.to_owned());
    o.provider_message_id = pm.map(str::to_owned);
    o.billed_parts = pm.map(|_| 1);
    o
}

/// Records the history and checks every report.
async fn check(store: &dyn MessageStore, clock: &ManualWallClock) {
    let a = NewMessage::new(
        Message::text(n(1), "a")
            .with_recipient(n(2))
            .with_reference("ref-a"),
    );
    store.insert_sending(std::slice::from_ref(&a)).await.unwrap();
    clock.advance(Duration::from_secs(60));
    let b = NewMessage::new(Message::text(n(1), "b").with_reference("ref-b")).in_batch("bulk");
    store.insert_sending(std::slice::from_ref(&b)).await.unwrap();
    clock.advance(Duration::from_secs(60));
    let c = NewMessage::new(Message::text(n(3), "c").with_reference("ref-c")).in_batch("bulk");
    store.insert_sending(std::slice::from_ref(&c)).await.unwrap();
    clock.advance(Duration::from_secs(60));
    store
        .record_outcomes(&[
            outcome(&a.id, &n(1), Status::Accepted, "ihuyi", Some("pm-a1")),
            outcome(&a.id, &n(2), Status::Failed, "juxiang", None),
            outcome(&b.id, &n(1), Status::Accepted, "ihuyi", Some("pm-b")),
            outcome(&c.id, &n(3), Status::Unknown, "ihuyi", None),
        ])
        .await
        .unwrap();
    store
        .record_attempts(
            &c.id,
            &[AttemptRecord {
                provider: "juxiang".into(),
                recipients: 1,
                error_kind: "unavailable".into(),
                error_code: None,
                error_message: None,
                elapsed_ms: 5,
            }],
        )
        .await
        .unwrap();
    store
        .record_receipts(&[DeliveryReport {
            provider: "ihuyi".into(),
            message_id: "pm-a1".into(),
            recipient: n(1).e164(),
            status: DeliveryStatus::Delivered,
            code: "DELIVRD".into(),
            description: String::new(),
            reported_at: None,
            raw: Default::default(),
        }])
        .await
        .unwrap();
    for text in ["first", "second"] {
        store
            .record_inbound(&InboundMessage {
                provider: "juxiang".into(),
                sender: "13900000009".into(),
                service_number: None,
                text: text.into(),
                received_at: None,
                opt_out: false,
                raw: Default::default(),
            })
            .await
            .unwrap();
    }

    let reports = store.reports().expect("this store has reports");
    let rows = |query: RecipientQuery, limit| async move {
        reports
            .recipients(&query, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.message_id, r.number))
            .collect::<Vec<_>>()
    };
    let row = |m: &NewMessage, i: u32| (m.id.clone(), n(i).e164());
    // Newest message first, then by number.
    let all = vec![row(&c, 3), row(&b, 1), row(&a, 1), row(&a, 2)];
    assert_eq!(rows(RecipientQuery::default(), 10).await, all);
    let by = |f: fn(&mut RecipientQuery)| {
        let mut q = RecipientQuery::default();
        f(&mut q);
        q
    };
    assert_eq!(
        rows(by(|q| q.number = Some(support::bulk_number(1).e164())), 10).await,
        [row(&b, 1), row(&a, 1)]
    );
    assert_eq!(
        rows(by(|q| q.reference = Some("ref-a".into())), 10).await,
        [row(&a, 1), row(&a, 2)]
    );
    assert_eq!(
        rows(by(|q| q.status = Some(Status::Failed)), 10).await,
        [row(&a, 2)]
    );
    assert_eq!(
        rows(by(|q| q.status = Some(Status::Delivered)), 10).await,
        [row(&a, 1)]
    );
    assert_eq!(
        rows(by(|q| q.provider = Some("ihuyi".into())), 10).await,
        [row(&c, 3), row(&b, 1), row(&a, 1)]
    );
    // Pages follow the cursor without a row twice or missed, also inside one message.
    let mut seen = Vec::new();
    let mut query = RecipientQuery::default();
    loop {
        let page = reports.recipients(&query, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        seen.push((last.message_id.clone(), last.number.clone()));
        query.after = Some(RecipientCursor::after(last));
    }
    assert_eq!(seen, all);

    // All four outcomes were recorded at T0 + 3 min: slot 3 of one-minute buckets from T0.
    let activity = reports.provider_activity(T0, MINUTE).await.unwrap();
    assert_eq!(
        activity.buckets,
        [
            ProviderBucket {
                provider: "ihuyi".into(),
                start: T0 + 3 * MINUTE,
                outcomes: 3,
                errors: 1,
                accepted: 2,
                delivered: 1,
                undelivered: 0,
            },
            ProviderBucket {
                provider: "juxiang".into(),
                start: T0 + 3 * MINUTE,
                outcomes: 1,
                errors: 1,
                accepted: 0,
                delivered: 0,
                undelivered: 0,
            },
        ]
    );
    assert_eq!(activity.failed_attempts, [("juxiang".to_owned(), 1)]);
    let later = reports.provider_activity(T0 + 4 * MINUTE, MINUTE).await.unwrap();
    assert!(
        later.buckets.is_empty() && later.failed_attempts.is_empty(),
        "{later:?}"
    );

    let batches = reports.batches(10).await.unwrap();
    assert_eq!(batches.len(), 1);
    let bulk = &batches[0];
    assert_eq!(
        (
            bulk.batch_id.as_str(),
            bulk.messages,
            bulk.first_created,
            bulk.last_created
        ),
        ("bulk", 2, T0 + MINUTE, T0 + 2 * MINUTE)
    );
    assert_eq!(
        bulk.counts.iter().map(|(s, k)| (*s, *k)).collect::<Vec<_>>(),
        [(Status::Accepted, 1), (Status::Unknown, 1)]
    );
    assert_eq!(bulk.billed_parts, [("ihuyi".to_owned(), 1)]);

    let replies = reports.latest_inbound(1).await.unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text.as_deref(), Some("second"));
}

#[tokio::test]
async fn reports_on_sqlite() {
    let db = TempDb::new("reports");
    let clock = Arc::new(ManualWallClock::new(T0));
    let store = SqliteStore::open(db.path(), options(&clock)).await.unwrap();
    check(&store, &clock).await;
}

#[tokio::test]
async fn reports_on_postgres() {
    let db = TestDatabase::create("sms_store_test_reports").await;
    let clock = Arc::new(ManualWallClock::new(T0));
    let store = PostgresStore::connect(&db.url(), options(&clock)).await.unwrap();
    check(&store, &clock).await;
    store.close().await;
    db.drop_now().await;
}
