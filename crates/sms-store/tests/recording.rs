//! A chain wrapped in `RecordingSender`: what it sends is recorded without application code.

mod support;

use std::sync::Arc;

use sms_core::{ErrorKind, Message, MessageSender};
use sms_store::{MessageStore, RecordingSender, SqliteStore, Status, StoreOptions, StoreState};
use support::TempDb;

async fn recorded_chain(
    db: &TempDb,
    base: &str,
) -> (
    Arc<dyn MessageStore>,
    RecordingSender<sms_failover::FailoverSender>,
) {
    let store: Arc<dyn MessageStore> = Arc::new(
        SqliteStore::open(db.path(), StoreOptions::default())
            .await
            .unwrap(),
    );
    let chain = support::chain(base, Some(Arc::new(StoreState::new(store.clone()))));
    (store.clone(), RecordingSender::new(chain, store))
}

#[tokio::test]
async fn sends_are_recorded_with_provider_ids_and_a_repeat_is_answered_from_the_store() {
    let sandbox = support::sandbox_for(100).await;
    let db = TempDb::new("recording");
    let (store, sender) = recorded_chain(&db, &sandbox.base_url()).await;
    let (a, b) = (support::bulk_number(1), support::bulk_number(2));
    let message = Message::text(a.clone(), "【Test】code 4711")
        .with_recipient(b.clone())
        .with_reference("order-7");
    let receipt = sender.send(&message).await.expect("sent");
    assert!(receipt.all_accepted());

    let stored = store
        .message_by_reference("order-7")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(stored.content.as_deref(), Some("【Test】code 4711"));
    let wire = sandbox.messages();
    for r in &stored.recipients {
        assert_eq!(r.status, Status::Accepted);
        assert_eq!(r.provider.as_deref(), Some("ihuyi"));
        let on_wire = wire
            .iter()
            .find(|m| m.recipients.iter().any(|n| r.number.ends_with(n.as_str())))
            .expect("the sandbox took it");
        assert_eq!(
            r.provider_message_id.as_deref(),
            Some(sms_store::normalise::provider_message_id("ihuyi", &on_wire.provider_id).as_str())
        );
        assert_eq!(r.billed_parts, Some(1));
    }

    let requests = sandbox.messages().len();
    let again = sender.send(&message).await.expect("the first outcome again");
    assert!(again.all_accepted());
    assert_eq!(again.message_ids().count(), 2);
    assert_eq!(sandbox.messages().len(), requests, "no second request");
}

#[tokio::test]
async fn nothing_is_sent_when_the_store_cannot_record_it() {
    let sandbox = support::sandbox_for(100).await;
    let db = TempDb::new("recording-down");
    let sqlite = Arc::new(
        SqliteStore::open(db.path(), StoreOptions::default())
            .await
            .unwrap(),
    );
    let store: Arc<dyn MessageStore> = sqlite.clone();
    let sender = RecordingSender::new(support::chain(&sandbox.base_url(), None), store);
    sqlite.close().await;
    let error = sender
        .send(&Message::text(support::bulk_number(3), "【Test】x"))
        .await
        .expect_err("the store is closed");
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    assert_eq!(error.provider(), Some(sms_store::STORE_NAME));
    assert!(error.is_retryable());
    assert!(sandbox.messages().is_empty(), "no request without a record");
}

#[tokio::test]
async fn a_refused_recipient_and_an_opted_out_one_are_recorded_failed() {
    let sandbox = support::sandbox_for(100).await;
    let db = TempDb::new("recording-failed");
    let (store, sender) = recorded_chain(&db, &sandbox.base_url()).await;
    let out = support::bulk_number(4);
    store.suppress(&out, "manual", "test").await.unwrap();
    let error = sender
        .send(&Message::text(out.clone(), "【Test】x").with_reference("order-8"))
        .await
        .expect_err("opted out");
    assert_eq!(error.kind(), ErrorKind::RecipientOptedOut);
    let stored = store.message_by_reference("order-8").await.unwrap().unwrap();
    assert_eq!(stored.recipients[0].status, Status::Failed);
    assert_eq!(
        stored.recipients[0].error_kind.as_deref(),
        Some("recipient opted out")
    );
    assert!(sandbox.messages().is_empty());
    let again = sender
        .send(&Message::text(out, "【Test】x").with_reference("order-8"))
        .await
        .expect_err("the recorded failure again");
    assert_eq!(again.kind(), ErrorKind::RecipientOptedOut);
}

#[tokio::test]
async fn failed_attempts_before_the_outcome_are_recorded_for_direct_and_queued_sends() {
    use sms_sandbox::{Fault, FaultKind, FaultTarget, Product};
    let sandbox = support::sandbox_for(100).await;
    let db = TempDb::new("recording-attempts");
    let (store, sender) = recorded_chain(&db, &sandbox.base_url()).await;
    sandbox.inject_fault(
        Fault::new(FaultKind::HttpStatus(503))
            .target(FaultTarget::Product(Product::IhuyiSms))
            .next(1),
    );
    sender
        .send(&Message::text(support::bulk_number(5), "【Test】x").with_reference("order-9"))
        .await
        .expect("accepted on the retry");
    let stored = store.message_by_reference("order-9").await.unwrap().unwrap();
    assert_eq!(stored.recipients[0].status, Status::Accepted);
    assert_eq!(stored.attempts.len(), 1, "{:?}", stored.attempts);
    assert_eq!(stored.attempts[0].provider, "ihuyi");

    let queued = sms_store::NewMessage::new(Message::text(support::bulk_number(6), "【Test】y"));
    store.enqueue(std::slice::from_ref(&queued), None).await.unwrap();
    sandbox.inject_fault(
        Fault::new(FaultKind::HttpStatus(503))
            .target(FaultTarget::Product(Product::IhuyiSms))
            .next(1),
    );
    let claims = store
        .claim("w", 10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let chain = support::chain(&sandbox.base_url(), None);
    let done = sms_store::deliver_claims(store.as_ref(), &chain, claims, 4)
        .await
        .unwrap();
    assert!(matches!(done[0].1, Some(Ok(_))));
    let stored = store.message(&queued.id).await.unwrap().unwrap();
    assert_eq!(stored.recipients[0].status, Status::Accepted);
    assert_eq!(stored.attempts.len(), 1, "{:?}", stored.attempts);
}

#[tokio::test]
async fn the_record_handed_back_is_what_the_store_reads() {
    use sms_sandbox::{Fault, FaultKind, FaultTarget, Product};
    let sandbox = support::sandbox_for(100).await;
    let db = TempDb::new("recording-handed-back");
    let (store, sender) = recorded_chain(&db, &sandbox.base_url()).await;
    let out = support::bulk_number(12);
    store.suppress(&out, "manual", "test").await.unwrap();
    sandbox.inject_fault(
        Fault::new(FaultKind::HttpStatus(503))
            .target(FaultTarget::Product(Product::IhuyiSms))
            .next(1),
    );
    let sends = [
        // Two recipients, the second sorting first; one attempt failed before the acceptance.
        Message::text(support::bulk_number(11), "【Test】a").with_recipient(support::bulk_number(10)),
        // Refused before any request.
        Message::text(out, "【Test】b"),
        Message::text(support::bulk_number(13), "【Test】c"),
    ];
    let mut records = Vec::new();
    for message in &sends {
        let sent = sender.send_recorded(message).await;
        let record = sent.record.expect("the record is known without reading it");
        let stored = store.message(&record.id).await.unwrap().expect("recorded");
        assert_eq!(record, stored);
        records.push(record);
    }
    assert_eq!(records[0].recipients.len(), 2);
    assert_eq!(records[0].attempts.len(), 1, "{:?}", records[0].attempts);
    assert_eq!(records[1].recipients[0].status, Status::Failed);
    assert_eq!(records[2].recipients[0].status, Status::Accepted);
    // A repeat is answered from the store: its record is not known without reading.
    let again = sender.send_recorded(&sends[2]).await;
    assert!(again.result.is_ok());
    assert!(again.record.is_none());
}
