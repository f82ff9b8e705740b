//! One behaviour suite for every [`MessageStore`]: the same checks run against SQLite and
//! PostgreSQL (and any other implementation), each on its own data so they can share a database.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! sms_store::conformance::run(|options| async move {
//!     let store = sms_store::SqliteStore::open("/tmp/conformance.db", options).await.unwrap();
//!     Arc::new(store) as Arc<dyn sms_store::MessageStore>
//! })
//! .await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sms_core::{DeliveryReport, DeliveryStatus, InboundMessage, Message, PhoneNumber};

use crate::{
    BalanceChange, BalanceReading, ContentMode, Event, EventBody, EventOutcome, ManualWallClock,
    MessageStore, NewMessage, OutcomeUpdate, ReceiptDisposition, Reservation, SpendNotice, Status,
    StoreErrorKind, StoreOptions, WallClock,
};

/// A store under test and the clock it reads.
pub struct Env {
    /// The store.
    pub store: Arc<dyn MessageStore>,
    /// Its clock: move it to test expiry, leases and retention.
    pub clock: Arc<ManualWallClock>,
}

/// The wall-clock start of every suite (2025-06-15, UTC): fixed so that runs are repeatable.
pub const START_MS: i64 = 1_750_000_000_000;

/// Runs every check. `open` builds a store with the options given (it is called more than once,
/// e.g. for a digest-only store); stores opened by one run may share one database.
///
/// # Panics
/// On the first check that fails, naming it.
pub async fn run<F, Fut>(open: F)
where
    F: Fn(StoreOptions) -> Fut,
    Fut: Future<Output = Arc<dyn MessageStore>>,
{
    let clock = Arc::new(ManualWallClock::new(START_MS));
    let options = StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    };
    let env = Env {
        store: open(options.clone()).await,
        clock,
    };
    records_and_reads_back(&env).await;
    duplicate_reference_is_refused_whole(&env).await;
    final_states_are_final(&env).await;
    receipt_out_of_order_is_kept_and_ignored(&env).await;
    receipt_duplicated_is_kept_and_ignored(&env).await;
    receipt_ids_match_whatever_their_case(&env).await;
    schedule_policy_and_transition_times_are_kept(&env).await;
    receipt_before_send_is_matched_later(&env).await;
    receipt_for_unknown_id_is_stored_unmatched(&env).await;
    receipt_for_shared_batch_id_uses_the_number(&env).await;
    replies_and_opt_outs(&env).await;
    suppressions_batch_and_paging(&env).await;
    idempotency_is_write_ahead(&env).await;
    outbox_claims_are_exclusive(&env).await;
    sweeper_releases_unstarted_and_marks_started_unknown(&env).await;
    interrupted_direct_send_becomes_unknown_and_accepted_expires(&env).await;
    bulk_counts(&env).await;
    retention_purges_and_redacts(&env).await;
    delivery_evidence_reports_accepted_messages_and_their_receipts(&env).await;
    receipts_and_replies_without_ids_match_by_number_and_time(&env).await;
    let digest_env = Env {
        store: open(StoreOptions {
            content: ContentMode::DigestOnly,
            ..options
        })
        .await,
        clock: env.clock.clone(),
    };
    digest_only_keeps_no_content(&digest_env).await;
    leases_have_one_holder_until_they_expire(&env).await;
    weight_changes_are_kept_newest_first(&env).await;
    // A balance read before events are on moves the flag but records no event.
    balance_low_before_events_records_nothing(&env).await;
    // Last: from here on every change on this database is also an event.
    events_follow_changes_in_order(&env).await;
    balance_low_is_one_event_per_crossing(&env).await;
    spend_warnings_are_one_event_per_cap_and_period(&env).await;
    purge_forgets_old_weight_changes_and_events(&env).await;
}

/// A random mainland number, so checks sharing a database never meet.
pub fn number() -> PhoneNumber {
    format!("139{:08}", fastrand::u32(..100_000_000))
        .parse()
        .expect("a valid number")
}

fn reference(tag: &str) -> String {
    format!("{tag}-{}", crate::new_id())
}

fn pid() -> String {
    // Leading zeros and surrounding space, to check that the store normalises provider ids.
    format!(" 00{}", fastrand::u64(1..u64::MAX / 2))
}

fn report(provider: &str, id: &str, to: &PhoneNumber, status: DeliveryStatus, code: &str) -> DeliveryReport {
    DeliveryReport {
        provider: provider.into(),
        message_id: id.into(),
        recipient: to.national_number().to_owned(),
        status,
        code: code.into(),
        description: format!("report {code}"),
        reported_at: None,
        raw: BTreeMap::new(),
    }
}

async fn sent(env: &Env, message: Message) -> NewMessage {
    let record = NewMessage::new(message);
    env.store
        .insert_sending(std::slice::from_ref(&record))
        .await
        .expect("insert_sending");
    record
}

fn accepted(record: &NewMessage, to: &PhoneNumber, provider: &str, id: &str) -> OutcomeUpdate {
    let mut o = OutcomeUpdate::new(&record.id, to.e164(), Status::Accepted);
    o.provider = Some(provider.into());
    o.provider_message_id = Some(id.into());
    o.billed_parts = Some(1);
    o
}

/// A text to a new number, sent and accepted by ihuyi with a fresh provider id: the record and
/// its number.
async fn sent_and_accepted(env: &Env, text: &str) -> (NewMessage, PhoneNumber) {
    let to = number();
    let record = sent(env, Message::text(to.clone(), text)).await;
    env.store
        .record_outcomes(&[accepted(&record, &to, "ihuyi", &pid())])
        .await
        .unwrap();
    (record, to)
}

/// A Juxiang reply (no service number, no time) from `from`.
fn juxiang_reply(from: &PhoneNumber, text: &str, opt_out: bool) -> InboundMessage {
    InboundMessage {
        provider: "juxiang".into(),
        sender: from.national_number().into(),
        service_number: None,
        text: text.into(),
        received_at: None,
        opt_out,
        raw: BTreeMap::new(),
    }
}

/// Events in words: `message_id:status`, or `reply:opt_out:text`.
fn event_labels(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.body {
            EventBody::Status {
                status, message_id, ..
            } => format!("{message_id}:{status}"),
            EventBody::Reply { opt_out, text, .. } => format!("reply:{opt_out}:{text:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

async fn status_of(env: &Env, record: &NewMessage, to: &PhoneNumber) -> Status {
    env.store
        .message(&record.id)
        .await
        .expect("message")
        .expect("recorded")
        .recipients
        .into_iter()
        .find(|r| r.number == to.e164())
        .expect("recipient")
        .status
}

/// A message, its recipients, outcomes and attempts read back by id, reference, number and
/// provider id.
pub async fn records_and_reads_back(env: &Env) {
    let (a, b) = (number(), number());
    let message = Message::text(a.clone(), "【Test】code 1234")
        .with_recipient(b.clone())
        .with_reference(reference("read"));
    let record = sent(env, message.clone()).await;
    let id = pid();
    let mut failed = OutcomeUpdate::new(&record.id, b.e164(), Status::Failed);
    failed.provider = Some("ihuyi".into());
    failed.error_kind = Some("recipient rejected".into());
    failed.error_code = Some("4085".into());
    env.clock.advance(Duration::from_millis(250));
    let moved = env
        .store
        .record_outcomes(&[accepted(&record, &a, "ihuyi", &id), failed])
        .await
        .expect("record_outcomes");
    assert_eq!(moved, 2, "both recipients move out of sending");
    env.store
        .record_attempts(
            &record.id,
            &[crate::AttemptRecord {
                provider: "juxiang".into(),
                recipients: 2,
                error_kind: "unavailable".into(),
                error_code: Some("503".into()),
                error_message: None,
                elapsed_ms: 40,
            }],
        )
        .await
        .expect("record_attempts");

    let stored = env.store.message(&record.id).await.unwrap().expect("by id");
    assert_eq!(stored.reference, message.reference().as_str());
    assert_eq!(stored.kind, sms_core::MessageKind::Text);
    assert_eq!(stored.content.as_deref(), Some("【Test】code 1234"));
    assert_eq!(stored.content_digest.len(), 64);
    assert_eq!(stored.created_at, env.clock.now_ms() - 250);
    assert_eq!(stored.attempts.len(), 1);
    assert_eq!(stored.attempts[0].provider, "juxiang");
    let ra = stored.recipients.iter().find(|r| r.number == a.e164()).unwrap();
    assert_eq!(ra.status, Status::Accepted);
    assert_eq!(
        ra.provider_message_id.as_deref(),
        Some(id.trim().trim_start_matches('0'))
    );
    assert_eq!(ra.sending_at, Some(stored.created_at));
    assert_eq!(ra.outcome_at, Some(stored.created_at + 250));
    let rb = stored.recipients.iter().find(|r| r.number == b.e164()).unwrap();
    assert_eq!(
        (rb.status, rb.error_code.as_deref()),
        (Status::Failed, Some("4085"))
    );

    let by_ref = env
        .store
        .message_by_reference(message.reference().as_str())
        .await
        .unwrap();
    assert_eq!(by_ref.map(|m| m.id), Some(record.id.clone()));
    assert!(env.store.message("no-such-id").await.unwrap().is_none());
    let by_pid = env
        .store
        .by_provider_id("ihuyi", &format!("0{}", id.trim()))
        .await
        .unwrap();
    assert_eq!(by_pid.len(), 1, "leading zeros do not matter");
    let history = env
        .store
        .history(&a, START_MS - 1, env.clock.now_ms() + 1, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].message_id, record.id);
    let outside = env
        .store
        .history(&a, START_MS - 10, START_MS - 1, 10)
        .await
        .unwrap();
    assert!(outside.is_empty(), "the time range is honoured");
}

/// A batch with one reference already recorded is refused as a whole.
pub async fn duplicate_reference_is_refused_whole(env: &Env) {
    let taken = reference("dup");
    sent(env, Message::text(number(), "first").with_reference(&taken)).await;
    let fresh = NewMessage::new(Message::text(number(), "fresh").with_reference(reference("dup-fresh")));
    let again = NewMessage::new(Message::text(number(), "again").with_reference(&taken));
    let error = env
        .store
        .insert_sending(&[fresh.clone(), again])
        .await
        .expect_err("a duplicate reference is refused");
    assert_eq!(error.kind(), StoreErrorKind::DuplicateReference, "{error}");
    assert!(
        env.store.message(&fresh.id).await.unwrap().is_none(),
        "all or nothing"
    );
}

/// Outcomes never move a final recipient, and only outcome states are accepted as outcomes.
pub async fn final_states_are_final(env: &Env) {
    let to = number();
    let record = sent(env, Message::text(to.clone(), "x")).await;
    let failed = OutcomeUpdate::new(&record.id, to.e164(), Status::Failed);
    assert_eq!(env.store.record_outcomes(&[failed]).await.unwrap(), 1);
    let late = accepted(&record, &to, "ihuyi", &pid());
    assert_eq!(env.store.record_outcomes(&[late]).await.unwrap(), 0);
    assert_eq!(status_of(env, &record, &to).await, Status::Failed);
    let bad = OutcomeUpdate::new(&record.id, to.e164(), Status::Delivered);
    let error = env
        .store
        .record_outcomes(&[bad])
        .await
        .expect_err("delivered is not an outcome");
    assert_eq!(error.kind(), StoreErrorKind::InvalidData);
}

/// "Undelivered" after "delivered" is kept but does not move the recipient back.
pub async fn receipt_out_of_order_is_kept_and_ignored(env: &Env) {
    let to = number();
    let id = pid();
    let record = sent(env, Message::text(to.clone(), "x")).await;
    env.store
        .record_outcomes(&[accepted(&record, &to, "ihuyi", &id)])
        .await
        .unwrap();
    let first = report("ihuyi", &id, &to, DeliveryStatus::Delivered, "DELIVRD");
    let late = report("ihuyi", &id, &to, DeliveryStatus::Undelivered, "EXPIRED");
    let got = env.store.record_receipts(&[first, late]).await.unwrap();
    assert_eq!(got, [ReceiptDisposition::Applied, ReceiptDisposition::Ignored]);
    assert_eq!(status_of(env, &record, &to).await, Status::Delivered);
    let kept = env.store.receipts_for(&record.id).await.unwrap();
    assert_eq!(kept.len(), 2, "the ignored receipt is kept");
    assert_eq!(kept[1].code, "EXPIRED");
}

/// What a message asked for (its schedule and ambiguity policy) is kept, and each transition's time:
/// queued; and sending, accepted, then final on the receipt.
pub async fn schedule_policy_and_transition_times_are_kept(env: &Env) {
    let to = number();
    let at = sms_core::BeijingTime::from_unix_seconds(1_900_000_000);
    let message = Message::text(to.clone(), "x")
        .scheduled_at(at)
        .with_ambiguity_policy(sms_core::AmbiguityPolicy::AtMostOnce);
    let queued = NewMessage::new(message.clone().with_reference(reference("queued-times")));
    let queued_at = env.clock.now_ms();
    env.store
        .enqueue(std::slice::from_ref(&queued), None)
        .await
        .unwrap();
    let stored = env.store.message(&queued.id).await.unwrap().expect("queued");
    assert_eq!(stored.schedule, Some(1_900_000_000_000));
    assert_eq!(stored.policy.as_deref(), Some("at_most_once"));
    assert_eq!(
        (stored.recipients[0].status, stored.recipients[0].queued_at),
        (Status::Queued, Some(queued_at))
    );

    let record = sent(env, message.with_reference(reference("sent-times"))).await;
    let sending_at = env.clock.now_ms();
    env.clock.advance(Duration::from_secs(3));
    let id = pid();
    env.store
        .record_outcomes(&[accepted(&record, &to, "ihuyi", &id)])
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(7));
    let r = report("ihuyi", &id, &to, DeliveryStatus::Delivered, "DELIVRD");
    assert_eq!(
        env.store.record_receipts(&[r]).await.unwrap(),
        [ReceiptDisposition::Applied]
    );
    let stored = env.store.message(&record.id).await.unwrap().expect("kept");
    assert_eq!(stored.policy.as_deref(), Some("at_most_once"));
    let recipient = &stored.recipients[0];
    assert_eq!(recipient.status, Status::Delivered);
    assert_eq!(recipient.queued_at, None);
    assert_eq!(recipient.sending_at, Some(sending_at));
    assert_eq!(recipient.outcome_at, Some(sending_at + 3_000));
    assert_eq!(recipient.final_at, Some(sending_at + 10_000));
}

/// An id with letters, recorded in one case and reported in another, still matches its send.
pub async fn receipt_ids_match_whatever_their_case(env: &Env) {
    let to = number();
    let record = sent(env, Message::text(to.clone(), "x")).await;
    let id = format!("MmS-Ab{}", fastrand::u32(..));
    env.store
        .record_outcomes(&[accepted(&record, &to, "mms-10658", &format!(" {id} "))])
        .await
        .unwrap();
    let r = report(
        "mms-10658",
        &id.to_lowercase(),
        &to,
        DeliveryStatus::Delivered,
        "DELIVRD",
    );
    assert_eq!(
        env.store.record_receipts(&[r]).await.unwrap(),
        [ReceiptDisposition::Applied]
    );
    assert_eq!(status_of(env, &record, &to).await, Status::Delivered);
    let found = env
        .store
        .by_provider_id("mms-10658", &id.to_uppercase())
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "looked up in a third case");
}

/// The same receipt twice: applied once, both kept.
pub async fn receipt_duplicated_is_kept_and_ignored(env: &Env) {
    let to = number();
    let id = pid();
    let record = sent(env, Message::text(to.clone(), "x")).await;
    env.store
        .record_outcomes(&[accepted(&record, &to, "ihuyi", &id)])
        .await
        .unwrap();
    let r = report(
        "ihuyi",
        &id.to_uppercase(),
        &to,
        DeliveryStatus::Undelivered,
        "UNDELIV",
    );
    assert_eq!(
        env.store.record_receipts(std::slice::from_ref(&r)).await.unwrap(),
        [ReceiptDisposition::Applied]
    );
    assert_eq!(
        env.store.record_receipts(&[r]).await.unwrap(),
        [ReceiptDisposition::Ignored]
    );
    assert_eq!(status_of(env, &record, &to).await, Status::Undelivered);
    assert_eq!(env.store.receipts_for(&record.id).await.unwrap().len(), 2);
}

/// A receipt that arrives before its send was recorded is matched when the send lands.
pub async fn receipt_before_send_is_matched_later(env: &Env) {
    let to = number();
    let id = pid();
    let early = report("ihuyi", &id, &to, DeliveryStatus::Delivered, "DELIVRD");
    assert_eq!(
        env.store.record_receipts(&[early]).await.unwrap(),
        [ReceiptDisposition::Unmatched]
    );
    let record = sent(env, Message::text(to.clone(), "x")).await;
    env.store
        .record_outcomes(&[accepted(&record, &to, "ihuyi", &id)])
        .await
        .unwrap();
    assert_eq!(status_of(env, &record, &to).await, Status::Delivered);
    let kept = env.store.receipts_for(&record.id).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].disposition, ReceiptDisposition::Applied);
}

/// A receipt for an id no send has is stored as unmatched, never dropped.
pub async fn receipt_for_unknown_id_is_stored_unmatched(env: &Env) {
    let to = number();
    let id = format!("unknown-{}", crate::new_id());
    let r = report("mms-10658", &id, &to, DeliveryStatus::Undelivered, "X1");
    assert_eq!(
        env.store.record_receipts(&[r]).await.unwrap(),
        [ReceiptDisposition::Unmatched]
    );
    let unmatched = env.store.unmatched_receipts(10_000).await.unwrap();
    let found = unmatched
        .iter()
        .find(|u| u.provider_message_id == id)
        .expect("kept");
    assert_eq!(
        (found.number.as_str(), found.message_id.as_deref()),
        (to.e164().as_str(), None)
    );
}

/// A provider id shared by a batch: the report's number picks the recipient.
pub async fn receipt_for_shared_batch_id_uses_the_number(env: &Env) {
    let (a, b) = (number(), number());
    let id = pid();
    let record = sent(env, Message::text(a.clone(), "x").with_recipient(b.clone())).await;
    env.store
        .record_outcomes(&[
            accepted(&record, &a, "ihuyi", &id),
            accepted(&record, &b, "ihuyi", &id),
        ])
        .await
        .unwrap();
    let r = report("ihuyi", &id, &b, DeliveryStatus::Delivered, "DELIVRD");
    assert_eq!(
        env.store.record_receipts(&[r]).await.unwrap(),
        [ReceiptDisposition::Applied]
    );
    assert_eq!(status_of(env, &record, &a).await, Status::Accepted);
    assert_eq!(status_of(env, &record, &b).await, Status::Delivered);
}

/// Replies are stored with a cursor; an opt-out reply is a suppression at once.
pub async fn replies_and_opt_outs(env: &Env) {
    let who = number();
    let start = env
        .store
        .inbound_since(0, u32::MAX)
        .await
        .unwrap()
        .last()
        .map_or(0, |r| r.id);
    let reply = |text: &str, opt_out| InboundMessage {
        provider: "juxiang".into(),
        sender: who.national_number().into(),
        service_number: Some("10690".into()),
        text: text.into(),
        received_at: None,
        opt_out,
        raw: BTreeMap::new(),
    };
    let hello = env.store.record_inbound(&reply("hello", false)).await.unwrap();
    assert!(!env.store.suppressed(std::slice::from_ref(&who)).await.unwrap()[0]);
    let stop = env.store.record_inbound(&reply("0000", true)).await.unwrap();
    assert!(stop.id > hello.id && hello.id > start);
    assert_eq!(
        env.store.suppressed(std::slice::from_ref(&who)).await.unwrap(),
        [true]
    );
    let since = env.store.inbound_since(hello.id, 10).await.unwrap();
    assert_eq!(
        since.iter().map(|r| r.text.as_deref()).collect::<Vec<_>>(),
        [Some("0000")]
    );
    let listed = env
        .store
        .suppressions(Some(&who.e164()[..who.e164().len() - 1]), 1)
        .await
        .unwrap();
    assert_eq!(
        (listed[0].reason.as_str(), listed[0].source.as_str()),
        ("opt_out", "juxiang")
    );
}

/// Batch lookup, idempotent add, remove, paging.
pub async fn suppressions_batch_and_paging(env: &Env) {
    let (a, b, c) = (number(), number(), number());
    assert!(env.store.suppress(&a, "manual", "test").await.unwrap());
    assert!(
        !env.store.suppress(&a, "again", "test").await.unwrap(),
        "the first record stays"
    );
    assert!(env.store.suppress(&c, "manual", "test").await.unwrap());
    let many: Vec<PhoneNumber> = (0..1200)
        .map(|_| number())
        .chain([a.clone(), b.clone(), c.clone()])
        .collect();
    let flags = env.store.suppressed(&many).await.unwrap();
    assert_eq!(&flags[1200..], [true, false, true]);
    assert!(env.store.unsuppress(&c).await.unwrap());
    assert!(!env.store.unsuppress(&c).await.unwrap());
    assert_eq!(env.store.suppressed(&[c]).await.unwrap(), [false]);
    let page = env.store.suppressions(None, 2).await.unwrap();
    let next = env.store.suppressions(Some(&page[1].number), 2).await.unwrap();
    assert!(next.iter().all(|s| s.number > page[1].number));
}

/// Reserve, pending, complete, completed; the first outcome stays.
pub async fn idempotency_is_write_ahead(env: &Env) {
    let key = reference("idem");
    let day = Duration::from_secs(86_400);
    assert_eq!(
        env.store.reserve(&key, "fp1", day).await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        env.store.reserve(&key, "fp2", day).await.unwrap(),
        Reservation::Pending {
            fingerprint: "fp1".into()
        },
        "a reservation without outcome stays pending (unknown), never free again"
    );
    assert!(env.store.complete(&key, "accepted", day).await.unwrap());
    assert!(!env.store.complete(&key, "failed", day).await.unwrap());
    assert!(
        !env.store.release_reservation(&key).await.unwrap(),
        "a completed reference stays"
    );
    let freed = reference("idem-free");
    assert_eq!(
        env.store.reserve(&freed, "fp", day).await.unwrap(),
        Reservation::Reserved
    );
    assert!(env.store.release_reservation(&freed).await.unwrap());
    assert_eq!(
        env.store.reserve(&freed, "fp", day).await.unwrap(),
        Reservation::Reserved
    );
    assert_eq!(
        env.store.reserve(&key, "fp1", day).await.unwrap(),
        Reservation::Completed {
            fingerprint: "fp1".into(),
            outcome: "accepted".into()
        }
    );
}

/// Two workers never hold the same message; a finished message leaves the outbox.
pub async fn outbox_claims_are_exclusive(env: &Env) {
    // Scheduled far in the suite's future so that other checks' claims never see them.
    let at = env.clock.now_ms() + 1_000;
    let records: Vec<NewMessage> = (0..3)
        .map(|i| NewMessage::new(Message::text(number(), format!("queued {i}"))))
        .collect();
    env.store.enqueue(&records, Some(at)).await.unwrap();
    let waiting = env.store.claim("w0", 10, Duration::from_secs(30)).await.unwrap();
    assert!(
        waiting
            .iter()
            .all(|c| records.iter().all(|r| r.id != c.message_id)),
        "not before available_at"
    );
    env.store.release(&waiting).await.unwrap();
    env.clock.advance(Duration::from_secs(1));
    let mut first = env.store.claim("w1", 2, Duration::from_secs(30)).await.unwrap();
    let second = env.store.claim("w2", 10, Duration::from_secs(30)).await.unwrap();
    first.retain(|c| records.iter().any(|r| r.id == c.message_id));
    let mine: Vec<_> = second
        .iter()
        .filter(|c| records.iter().any(|r| r.id == c.message_id))
        .collect();
    assert_eq!(first.len() + mine.len(), 3, "every message claimed once");
    assert!(
        first
            .iter()
            .all(|f| mine.iter().all(|s| s.message_id != f.message_id))
    );
    let claim = &first[0];
    let original = records.iter().find(|r| r.id == claim.message_id).unwrap();
    assert_eq!(
        claim.message.body(),
        original.message.body(),
        "the payload rebuilds the message"
    );
    assert_eq!(claim.message.reference(), original.message.reference());
    assert_eq!(
        env.store.start(std::slice::from_ref(claim)).await.unwrap(),
        [true]
    );
    let to = &original.message.recipients()[0];
    assert_eq!(status_of(env, original, to).await, Status::Sending);
    env.store
        .finish(
            std::slice::from_ref(claim),
            &[accepted(original, to, "ihuyi", &pid())],
        )
        .await
        .unwrap();
    assert_eq!(status_of(env, original, to).await, Status::Accepted);
    let rest: Vec<_> = first[1..]
        .iter()
        .cloned()
        .chain(mine.into_iter().cloned())
        .collect();
    env.store.release(&rest).await.unwrap();
    let again = env.store.claim("w3", 10, Duration::from_secs(30)).await.unwrap();
    let again_ids: Vec<_> = again.iter().map(|c| c.message_id.clone()).collect();
    assert!(
        !again_ids.contains(&claim.message_id),
        "a finished message is gone"
    );
    assert_eq!(
        again_ids
            .iter()
            .filter(|id| records.iter().any(|r| &r.id == *id))
            .count(),
        2,
        "released claims are claimable"
    );
    let failed: Vec<OutcomeUpdate> = again
        .iter()
        .map(|c| OutcomeUpdate::new(&c.message_id, c.message.recipients()[0].e164(), Status::Failed))
        .collect();
    env.store.finish(&again, &failed).await.unwrap();
    env.clock.advance(Duration::from_secs(60));
    env.store.sweep().await.unwrap();
    let after = env.store.claim("w4", 10, Duration::from_secs(30)).await.unwrap();
    assert!(
        after.iter().all(|c| records.iter().all(|r| r.id != c.message_id)),
        "finished messages never come back, even after their leases ran out"
    );
    env.store.release(&after).await.unwrap();
}

/// An expired lease: not started → claimable again; started → `unknown`, and the old worker may
/// not start it.
pub async fn sweeper_releases_unstarted_and_marks_started_unknown(env: &Env) {
    let records: Vec<NewMessage> = (0..2)
        .map(|_| NewMessage::new(Message::text(number(), "s")))
        .collect();
    env.store.enqueue(&records, None).await.unwrap();
    let claims = env.store.claim("old", 10, Duration::from_secs(30)).await.unwrap();
    let ours: Vec<_> = claims
        .into_iter()
        .filter(|c| records.iter().any(|r| r.id == c.message_id))
        .collect();
    assert_eq!(ours.len(), 2);
    let started = records.iter().position(|r| r.id == ours[0].message_id).unwrap();
    assert_eq!(env.store.start(&ours[..1]).await.unwrap(), [true]);
    assert_eq!(
        env.store.start(&ours[..1]).await.unwrap(),
        [false],
        "started once only"
    );
    env.clock.advance(Duration::from_secs(31));
    assert_eq!(
        env.store.start(&ours[1..]).await.unwrap(),
        [false],
        "an expired lease may not start"
    );
    let swept = env.store.sweep().await.unwrap();
    assert!(swept.released >= 1 && swept.unknown >= 1, "{swept:?}");
    let to = &records[started].message.recipients()[0];
    assert_eq!(status_of(env, &records[started], to).await, Status::Unknown);
    let again = env.store.claim("new", 10, Duration::from_secs(30)).await.unwrap();
    let again: Vec<_> = again.iter().map(|c| c.message_id.clone()).collect();
    assert!(
        again.contains(&ours[1].message_id),
        "the unstarted one is claimable again"
    );
    assert!(
        !again.contains(&ours[0].message_id),
        "the started one is never sent again"
    );
}

/// A direct send left `sending` past the grace time becomes `unknown`; an accepted recipient with no
/// receipt past the expiry becomes `expired`, and a later receipt does not move it.
pub async fn interrupted_direct_send_becomes_unknown_and_accepted_expires(env: &Env) {
    let (a, b) = (number(), number());
    let id = pid();
    let crashed = sent(env, Message::text(a.clone(), "crash")).await;
    let quiet = sent(env, Message::text(b.clone(), "quiet")).await;
    env.store
        .record_outcomes(&[accepted(&quiet, &b, "ihuyi", &id)])
        .await
        .unwrap();
    env.store.sweep().await.unwrap();
    assert_eq!(
        status_of(env, &crashed, &a).await,
        Status::Sending,
        "within the grace time"
    );
    env.clock.advance(Duration::from_secs(11 * 60));
    env.store.sweep().await.unwrap();
    assert_eq!(status_of(env, &crashed, &a).await, Status::Unknown);
    assert_eq!(status_of(env, &quiet, &b).await, Status::Accepted);
    env.clock.advance(Duration::from_secs(72 * 3600));
    assert!(env.store.sweep().await.unwrap().expired >= 1);
    assert_eq!(status_of(env, &quiet, &b).await, Status::Expired);
    let late = report("ihuyi", &id, &b, DeliveryStatus::Delivered, "DELIVRD");
    assert_eq!(
        env.store.record_receipts(&[late]).await.unwrap(),
        [ReceiptDisposition::Ignored]
    );
    // The crashed send's unknown is only replaced by a real outcome, never by a receipt-less sweep.
    let ok = accepted(&crashed, &a, "ihuyi", &pid());
    assert_eq!(
        env.store.record_outcomes(&[ok]).await.unwrap(),
        1,
        "a late real outcome replaces unknown"
    );
}

/// The evidence of adaptive routing: accepted recipients within the window with their age and
/// receipt (delivered after how long, undelivered as failed, none yet as pending); refused ones and
/// those older than the window are left out.
pub async fn delivery_evidence_reports_accepted_messages_and_their_receipts(env: &Env) {
    use sms_failover::adaptive::{ReceiptState, SentMessage};
    let provider = format!("evidence-{}", crate::new_id());
    let ours = |all: Vec<SentMessage>| {
        let mut ours: Vec<(Duration, ReceiptState)> = all
            .into_iter()
            .filter(|m| m.provider == provider)
            .map(|m| (m.age, m.receipt))
            .collect();
        ours.sort_by_key(|(age, receipt)| (*age, format!("{receipt:?}")));
        ours
    };
    let (a, b, c, d) = (number(), number(), number(), number());
    let ids = [pid(), pid(), pid()];
    let mut outcomes = Vec::new();
    for (to, id) in [&a, &b, &c].into_iter().zip(&ids) {
        let record = sent(env, Message::text(to.clone(), "evidence")).await;
        outcomes.push(accepted(&record, to, &provider, id));
    }
    let refused = sent(env, Message::text(d.clone(), "refused")).await;
    let mut failed = OutcomeUpdate::new(&refused.id, d.e164(), Status::Failed);
    failed.provider = Some(provider.clone());
    outcomes.push(failed);
    env.store.record_outcomes(&outcomes).await.unwrap();
    env.clock.advance(Duration::from_secs(60));
    let delivered = report(&provider, &ids[0], &a, DeliveryStatus::Delivered, "DELIVRD");
    let undelivered = report(&provider, &ids[1], &b, DeliveryStatus::Undelivered, "UNDELIV");
    env.store
        .record_receipts(&[delivered, undelivered])
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(5 * 60));
    let six = Duration::from_secs(6 * 60);
    assert_eq!(
        ours(env.store.sent_within(Duration::from_secs(15 * 60)).await.unwrap()),
        [
            (six, ReceiptState::Delivered(Duration::from_secs(60))),
            (six, ReceiptState::Failed),
            (six, ReceiptState::Pending),
        ]
    );
    assert_eq!(
        ours(env.store.sent_within(Duration::from_secs(5 * 60)).await.unwrap()),
        [],
        "older than the window"
    );
}

/// Counts per status for a bulk.
pub async fn bulk_counts(env: &Env) {
    let batch = reference("batch");
    let records: Vec<NewMessage> = (0..5)
        .map(|_| NewMessage::new(Message::text(number(), "bulk")).in_batch(&batch))
        .collect();
    env.store.enqueue(&records, None).await.unwrap();
    let outcomes: Vec<OutcomeUpdate> = records[..2]
        .iter()
        .map(|r| OutcomeUpdate::new(&r.id, r.message.recipients()[0].e164(), Status::Failed))
        .collect();
    env.store.record_outcomes(&outcomes).await.unwrap();
    let counts = env.store.status_counts(&batch).await.unwrap();
    assert_eq!(counts.get(&Status::Queued), Some(&3));
    assert_eq!(counts.get(&Status::Failed), Some(&2));
    assert!(env.store.outbox_depth().await.unwrap() >= 3);
    assert!(env.store.billed_parts(&batch).await.unwrap().is_empty());
    // Sent ones bill parts per provider.
    let direct: Vec<NewMessage> = (0..3)
        .map(|_| NewMessage::new(Message::text(number(), "bulk")).in_batch(&batch))
        .collect();
    env.store.insert_sending(&direct).await.unwrap();
    let mut outcomes: Vec<OutcomeUpdate> = direct
        .iter()
        .zip(["a-provider", "b-provider", "b-provider"])
        .map(|(r, provider)| accepted(r, &r.message.recipients()[0], provider, &pid()))
        .collect();
    outcomes[2].billed_parts = Some(3);
    env.store.record_outcomes(&outcomes).await.unwrap();
    assert_eq!(
        env.store.billed_parts(&batch).await.unwrap(),
        [("a-provider".to_owned(), 1), ("b-provider".to_owned(), 4)]
    );
    assert_eq!(
        env.store
            .status_counts(&batch)
            .await
            .unwrap()
            .get(&Status::Accepted),
        Some(&3)
    );
}

/// Redaction blanks content and reply text but keeps digests; purge deletes old messages, receipts,
/// replies and idempotency records, and keeps suppressions and queued messages.
pub async fn retention_purges_and_redacts(env: &Env) {
    let (old, to) = sent_and_accepted(env, "secret text").await;
    env.store.suppress(&to, "manual", "test").await.unwrap();
    let queued = NewMessage::new(Message::text(number(), "still queued"));
    env.store
        .enqueue(std::slice::from_ref(&queued), Some(i64::MAX / 2))
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(3600));
    let fresh = sent(env, Message::text(number(), "fresh text")).await;

    assert!(env.store.redact(Duration::from_secs(1800)).await.unwrap() >= 1);
    let redacted = env.store.message(&old.id).await.unwrap().unwrap();
    assert_eq!(redacted.content, None);
    assert_eq!(redacted.content_digest.len(), 64, "the digest stays");
    let kept = env.store.message(&fresh.id).await.unwrap().unwrap();
    assert_eq!(kept.content.as_deref(), Some("fresh text"));

    assert!(env.store.purge(Duration::from_secs(1800)).await.unwrap() >= 1);
    assert!(env.store.message(&old.id).await.unwrap().is_none());
    assert!(env.store.message(&fresh.id).await.unwrap().is_some());
    assert!(
        env.store.message(&queued.id).await.unwrap().is_some(),
        "a queued message is not purged"
    );
    assert_eq!(
        env.store.suppressed(&[to]).await.unwrap(),
        [true],
        "suppressions are kept"
    );
}

/// With `ContentMode::DigestOnly` the content is never written, but a queued message can still be
/// sent (its outbox payload carries it until it leaves).
pub async fn digest_only_keeps_no_content(env: &Env) {
    let record = sent(env, Message::text(number(), "do not keep me")).await;
    let stored = env.store.message(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.content, None);
    assert_eq!(stored.content_digest.len(), 64);
    let queued = NewMessage::new(Message::text(number(), "send me"));
    env.store
        .enqueue(std::slice::from_ref(&queued), Some(0))
        .await
        .unwrap();
    let claims = env
        .store
        .claim("digest", 1000, Duration::from_secs(30))
        .await
        .unwrap();
    let claim = claims
        .iter()
        .find(|c| c.message_id == queued.id)
        .expect("claimable");
    assert_eq!(claim.message.body().text(), Some("send me"));
    env.store.release(&claims).await.unwrap();
}

/// With events enabled, status changes and replies become events in the same transaction; a
/// message's events are handed out one at a time in order, a retry waits for its time and holds
/// the later ones back, giving up lets them go, and a lost claim settles nothing.
pub async fn events_follow_changes_in_order(env: &Env) {
    let lease = Duration::from_secs(60);
    // Nothing recorded before events are on.
    let before = sent(env, Message::text(number(), "before")).await;
    env.store.enable_events().await.unwrap();
    env.store.enable_events().await.unwrap();
    // Settle whatever other checks left behind (nothing: they ran before events were on).
    assert!(env.store.claim_events("w", 1000, lease).await.unwrap().is_empty());
    let to = number();
    let record = sent(env, Message::text(to.clone(), "events")).await;
    let id = pid();
    env.store
        .record_outcomes(&[accepted(&record, &to, "ihuyi", &id)])
        .await
        .unwrap();
    let dispositions = env
        .store
        .record_receipts(&[report("ihuyi", &id, &to, DeliveryStatus::Delivered, "DELIVRD")])
        .await
        .unwrap();
    assert_eq!(dispositions, [ReceiptDisposition::Applied]);
    let mut other = OutcomeUpdate::new(&before.id, before.message.recipients()[0].e164(), Status::Failed);
    other.error_kind = Some("rejected".into());
    env.store.record_outcomes(&[other]).await.unwrap();
    env.store
        .record_inbound(&juxiang_reply(&to, "0000", true))
        .await
        .unwrap();
    assert_eq!(env.store.pending_events().await.unwrap(), 4);
    // One per message: accepted (not yet delivered), the other message's failure, the reply.
    let first = env.store.claim_events("w1", 10, lease).await.unwrap();
    assert_eq!(
        event_labels(&first),
        [
            format!("{}:accepted", record.id),
            format!("{}:failed", before.id),
            "reply:true:Some(\"0000\")".to_owned(),
        ]
    );
    assert!(first.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(first[0].id(), format!("evt_{}", first[0].seq));
    if let EventBody::Status {
        reference,
        provider_message_id,
        billed_parts,
        number,
        ..
    } = &first[0].body
    {
        assert_eq!(reference.as_deref(), Some(record.message.reference().as_str()));
        assert_eq!(number, &to.e164());
        assert_eq!(*billed_parts, Some(1));
        assert!(provider_message_id.is_some());
    }
    // Claimed: nobody else gets them.
    assert!(env.store.claim_events("w2", 10, lease).await.unwrap().is_empty());
    // The accepted event is retried in 5 s: the delivered one waits behind it.
    let retry_at = env.clock.now_ms() + 5_000;
    assert!(
        env.store
            .settle_event(
                &first[0],
                &EventOutcome::Retry {
                    at: retry_at,
                    status: Some(503),
                    error: "503".into()
                }
            )
            .await
            .unwrap()
    );
    assert!(
        env.store
            .settle_event(&first[1], &EventOutcome::Delivered { status: 200 })
            .await
            .unwrap()
    );
    assert!(
        env.store
            .settle_event(
                &first[2],
                &EventOutcome::GaveUp {
                    status: Some(410),
                    error: "gone".into()
                }
            )
            .await
            .unwrap()
    );
    // Settling twice changes nothing.
    assert!(
        !env.store
            .settle_event(&first[1], &EventOutcome::Delivered { status: 200 })
            .await
            .unwrap()
    );
    assert!(env.store.claim_events("w1", 10, lease).await.unwrap().is_empty());
    env.clock.advance(Duration::from_secs(5));
    let again = env.store.claim_events("w1", 10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].seq, again[0].attempts), (first[0].seq, 1));
    // A lease that ran out goes to another worker; the first one's settling is refused.
    env.clock.advance(lease);
    let taken = env.store.claim_events("w2", 10, lease).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert!(
        !env.store
            .settle_event(&again[0], &EventOutcome::Delivered { status: 200 })
            .await
            .unwrap()
    );
    assert!(
        env.store
            .settle_event(&taken[0], &EventOutcome::Delivered { status: 204 })
            .await
            .unwrap()
    );
    // Now the delivered event of the same message.
    let last = env.store.claim_events("w2", 10, lease).await.unwrap();
    assert_eq!(last.len(), 1);
    assert!(last[0].seq > first[0].seq);
    assert!(
        matches!(&last[0].body, EventBody::Status { status: Status::Delivered, receipt_code, .. }
        if receipt_code.as_deref() == Some("DELIVRD"))
    );
    assert!(
        env.store
            .settle_event(&last[0], &EventOutcome::Delivered { status: 200 })
            .await
            .unwrap()
    );
    assert_eq!(env.store.pending_events().await.unwrap(), 0);
}

/// A lease has one holder: others are refused until it expires or is released; the holder renews.
pub async fn leases_have_one_holder_until_they_expire(env: &Env) {
    let name = reference("lease");
    let ttl = Duration::from_secs(10);
    assert!(env.store.acquire_lease(&name, "a", ttl).await.unwrap());
    assert!(!env.store.acquire_lease(&name, "b", ttl).await.unwrap());
    env.clock.advance(Duration::from_secs(6));
    // Renewed by its holder: still refused to others after the first term would have ended.
    assert!(env.store.acquire_lease(&name, "a", ttl).await.unwrap());
    env.clock.advance(Duration::from_secs(6));
    assert!(!env.store.acquire_lease(&name, "b", ttl).await.unwrap());
    // Expired: the next one takes it.
    env.clock.advance(Duration::from_secs(5));
    assert!(env.store.acquire_lease(&name, "b", ttl).await.unwrap());
    assert!(!env.store.acquire_lease(&name, "a", ttl).await.unwrap());
    // Released: free at once; releasing what one does not hold does nothing.
    assert!(!env.store.release_lease(&name, "a").await.unwrap());
    assert!(env.store.release_lease(&name, "b").await.unwrap());
    assert!(env.store.acquire_lease(&name, "a", ttl).await.unwrap());
    assert!(
        env.store
            .acquire_lease(&reference("other"), "b", ttl)
            .await
            .unwrap()
    );
}

/// Weight changes come back newest first, with increasing sequence numbers, their reason, body and
/// the store's time.
pub async fn weight_changes_are_kept_newest_first(env: &Env) {
    let before = env.store.weight_changes(1).await.unwrap();
    let first = env
        .store
        .record_weight_change("demoted", "{\"n\":1}")
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(60));
    let second = env
        .store
        .record_weight_change("drifted", "{\"n\":2}")
        .await
        .unwrap();
    assert!(second > first, "{first} then {second}");
    assert!(before.iter().all(|b| b.seq < first), "{before:?}");
    let latest = env.store.weight_changes(2).await.unwrap();
    assert_eq!(latest.len(), 2, "{latest:?}");
    assert_eq!(
        (latest[0].seq, latest[0].reason.as_str(), latest[0].body.as_str()),
        (second, "drifted", "{\"n\":2}")
    );
    assert_eq!(
        (latest[1].seq, latest[1].reason.as_str(), latest[1].body.as_str()),
        (first, "demoted", "{\"n\":1}")
    );
    assert_eq!(latest[0].recorded_at - latest[1].recorded_at, 60_000);
    assert_eq!(env.store.weight_changes(1).await.unwrap(), latest[..1].to_vec());
    // Overrides: none until stored; one stored value, replaced by the next.
    assert_eq!(env.store.weight_overrides().await.unwrap(), None);
    env.store.set_weight_overrides("{\"pin\":\"a\"}").await.unwrap();
    env.store.set_weight_overrides("{}").await.unwrap();
    assert_eq!(env.store.weight_overrides().await.unwrap().as_deref(), Some("{}"));
}

/// Providers whose receipts and replies carry no message id (Juxiang): they find their send by
/// provider, number and time (within the receipt window), receipts in the order of sending.
pub async fn receipts_and_replies_without_ids_match_by_number_and_time(env: &Env) {
    let to = number();
    let accepted_without_id = |record: &NewMessage, provider: &str| {
        let mut o = OutcomeUpdate::new(&record.id, to.e164(), Status::Accepted);
        o.provider = Some(provider.into());
        o
    };
    let first = sent(env, Message::text(to.clone(), "one")).await;
    env.store
        .record_outcomes(&[accepted_without_id(&first, "juxiang")])
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(60));
    let second = sent(env, Message::text(to.clone(), "two")).await;
    env.store
        .record_outcomes(&[accepted_without_id(&second, "juxiang")])
        .await
        .unwrap();
    // The same number through another provider, later: never taken for a Juxiang send.
    env.clock.advance(Duration::from_secs(60));
    let other = sent(env, Message::text(to.clone(), "three")).await;
    env.store
        .record_outcomes(&[accepted(&other, &to, "ihuyi", &pid())])
        .await
        .unwrap();

    let receipt = || report("juxiang", "", &to, DeliveryStatus::Delivered, "DELIVRD");
    assert_eq!(
        env.store.record_receipts(&[receipt()]).await.unwrap(),
        [ReceiptDisposition::Applied]
    );
    assert_eq!(
        status_of(env, &first, &to).await,
        Status::Delivered,
        "the oldest waiting send first"
    );
    assert_eq!(status_of(env, &second, &to).await, Status::Accepted);
    assert_eq!(
        env.store.record_receipts(&[receipt()]).await.unwrap(),
        [ReceiptDisposition::Applied]
    );
    assert_eq!(status_of(env, &second, &to).await, Status::Delivered);
    assert_eq!(
        status_of(env, &other, &to).await,
        Status::Accepted,
        "another provider's send"
    );
    // A third: both are final; kept, linked to the latest, ignored.
    assert_eq!(
        env.store.record_receipts(&[receipt()]).await.unwrap(),
        [ReceiptDisposition::Ignored]
    );
    assert_eq!(env.store.receipts_for(&second.id).await.unwrap().len(), 2);

    // A reply links to the latest send through its provider.
    let reply = env
        .store
        .record_inbound(&juxiang_reply(&to, "ok", false))
        .await
        .unwrap();
    assert_eq!(reply.message_id.as_deref(), Some(second.id.as_str()));

    // A receipt before its send (no id): kept under the number and applied when the send lands.
    let early_to = number();
    let early = report("juxiang", "", &early_to, DeliveryStatus::Undelivered, "UNDELIV");
    assert_eq!(
        env.store.record_receipts(&[early]).await.unwrap(),
        [ReceiptDisposition::Unmatched]
    );
    let late = sent(env, Message::text(early_to.clone(), "late")).await;
    let mut outcome = OutcomeUpdate::new(&late.id, early_to.e164(), Status::Accepted);
    outcome.provider = Some("juxiang".into());
    env.store.record_outcomes(&[outcome]).await.unwrap();
    assert_eq!(status_of(env, &late, &early_to).await, Status::Undelivered);

    // Outside the window (older than the receipt expiry), nothing matches.
    let stale_to = number();
    let stale = sent(env, Message::text(stale_to.clone(), "stale")).await;
    let mut outcome = OutcomeUpdate::new(&stale.id, stale_to.e164(), Status::Accepted);
    outcome.provider = Some("juxiang".into());
    env.store.record_outcomes(&[outcome]).await.unwrap();
    env.clock
        .advance(StoreOptions::default().receipt_expiry + Duration::from_secs(3600));
    let r = report("juxiang", "", &stale_to, DeliveryStatus::Delivered, "DELIVRD");
    assert_eq!(
        env.store.record_receipts(&[r]).await.unwrap(),
        [ReceiptDisposition::Unmatched]
    );
}

/// Purge forgets weight changes older than the age but the newest (the routing in effect, however
/// old), and the callback events of the messages and replies it deletes. Runs with events on.
pub async fn purge_forgets_old_weight_changes_and_events(env: &Env) {
    let age = Duration::from_secs(1800);
    let (_, to) = sent_and_accepted(env, "old").await;
    env.store
        .record_inbound(&juxiang_reply(&to, "old reply", false))
        .await
        .unwrap();
    assert!(env.store.pending_events().await.unwrap() >= 2);
    let change = async |reason: &str, body: &str| env.store.record_weight_change(reason, body).await.unwrap();
    // The sequence numbers of the changes kept, newest first.
    let kept = async || -> Vec<i64> {
        let changes = env.store.weight_changes(1000).await.unwrap();
        changes.iter().map(|c| c.seq).collect()
    };
    let first = change("demoted", "{\"old\":1}").await;
    let newest_old = change("drifted", "{\"old\":2}").await;
    env.clock.advance(Duration::from_secs(3600));
    let (fresh, _) = sent_and_accepted(env, "fresh").await;

    env.store.purge(age).await.unwrap();
    assert_eq!(
        kept().await,
        [newest_old],
        "older changes go ({first} among them); the newest stays though old"
    );
    let events = env
        .store
        .claim_events("purge", 1000, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        event_labels(&events),
        [format!("{}:accepted", fresh.id)],
        "the old message's and the old reply's events went with them"
    );
    for event in &events {
        env.store
            .settle_event(event, &EventOutcome::Delivered { status: 200 })
            .await
            .unwrap();
    }

    // A newer change: the old newest is no longer in effect and goes too; fresh ones stay.
    let fresh_change = change("recovered", "{\"new\":1}").await;
    env.store.purge(age).await.unwrap();
    assert_eq!(kept().await, [fresh_change]);
    env.clock.advance(Duration::from_secs(3600));
    env.store.purge(age).await.unwrap();
    assert_eq!(
        kept().await,
        [fresh_change],
        "the only change is the one in effect"
    );
}

/// With events off, a low balance is stored as low (so turning callbacks on later does not announce
/// an old drop) and nothing else.
pub async fn balance_low_before_events_records_nothing(env: &Env) {
    let provider = reference("quiet");
    let low = BalanceReading::new(&provider, 5, "parts", Some(10));
    assert_eq!(
        env.store.record_balance(&low).await.unwrap(),
        BalanceChange::WentLow
    );
    assert_eq!(
        env.store.record_balance(&low).await.unwrap(),
        BalanceChange::Unchanged
    );
    let stored = env.store.balances().await.unwrap();
    let row = stored.iter().find(|b| b.provider == provider).unwrap();
    assert!(row.low);
    assert_eq!(
        (row.amount, row.threshold, row.unit.as_str()),
        (5, Some(10), "parts")
    );
}

/// A balance going below its threshold is one event; staying low is none, whoever reads it; back up
/// and down again is a second one. No threshold: never low.
pub async fn balance_low_is_one_event_per_crossing(env: &Env) {
    let lease = Duration::from_secs(60);
    let provider = reference("ihuyi");
    let read = |amount| BalanceReading::new(&provider, amount, "parts", Some(100));
    assert_eq!(
        env.store.record_balance(&read(500)).await.unwrap(),
        BalanceChange::Unchanged
    );
    assert_eq!(env.store.pending_events().await.unwrap(), 0);
    assert_eq!(
        env.store.record_balance(&read(99)).await.unwrap(),
        BalanceChange::WentLow
    );
    for amount in [98, 50, 0, -3] {
        assert_eq!(
            env.store.record_balance(&read(amount)).await.unwrap(),
            BalanceChange::Unchanged
        );
    }
    let events = env.store.claim_events("w", 10, lease).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].provider.as_deref(), Some(provider.as_str()));
    assert_eq!(
        events[0].body,
        EventBody::BalanceLow {
            amount: 99,
            threshold: 100,
            unit: "parts".into()
        }
    );
    env.store
        .settle_event(&events[0], &EventOutcome::Delivered { status: 200 })
        .await
        .unwrap();
    assert_eq!(
        env.store.record_balance(&read(100)).await.unwrap(),
        BalanceChange::Recovered
    );
    assert_eq!(
        env.store.record_balance(&read(150)).await.unwrap(),
        BalanceChange::Unchanged
    );
    assert_eq!(
        env.store.record_balance(&read(20)).await.unwrap(),
        BalanceChange::WentLow
    );
    let again = env.store.claim_events("w", 10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    assert!(again[0].seq > events[0].seq);
    assert!(matches!(again[0].body, EventBody::BalanceLow { amount: 20, .. }));
    env.store
        .settle_event(&again[0], &EventOutcome::Delivered { status: 200 })
        .await
        .unwrap();
    // The threshold removed: not low any more, and no event.
    let none = BalanceReading::new(&provider, 20, "parts", None);
    assert_eq!(
        env.store.record_balance(&none).await.unwrap(),
        BalanceChange::Recovered
    );
    assert_eq!(env.store.pending_events().await.unwrap(), 0);
}

/// A spend warning is an event once per cap, unit and period.
pub async fn spend_warnings_are_one_event_per_cap_and_period(env: &Env) {
    let lease = Duration::from_secs(60);
    let cap = reference("account:ihuyi");
    let day = SpendNotice::new(&cap, "day", "2025-06-15", "parts", 80, 100);
    assert!(env.store.record_spend_warning(&day).await.unwrap());
    assert!(!env.store.record_spend_warning(&day).await.unwrap());
    let mut later = day.clone();
    later.used = 95;
    assert!(!env.store.record_spend_warning(&later).await.unwrap());
    let next_day = SpendNotice::new(&cap, "day", "2025-06-16", "parts", 81, 100);
    assert!(env.store.record_spend_warning(&next_day).await.unwrap());
    let events = env.store.claim_events("w", 10, lease).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
        [EventBody::SpendWarning(day), EventBody::SpendWarning(next_day)]
    );
    assert!(events.iter().all(|e| e.provider.is_none()));
    for event in &events {
        env.store
            .settle_event(event, &EventOutcome::Delivered { status: 200 })
            .await
            .unwrap();
    }
    assert_eq!(env.store.pending_events().await.unwrap(), 0);
}
