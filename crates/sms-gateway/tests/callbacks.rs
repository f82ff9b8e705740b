//! Callbacks out: a receiver that is down and then up gets every event, signed, in order, once it
//! answers 2xx; a refusal (4xx other than 429) is not retried. Time is a manual clock: a retry is
//! due only when the test moves it.

mod harness;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use harness::receiver::{Received, Receiver, SECRET};
use harness::{Harness, READ_KEY, SEND_KEY, TOKEN};
use sms_store::{ManualWallClock, MessageStore, WallClock};

async fn start(answer: u16) -> (Harness, Arc<dyn MessageStore>, Receiver, Arc<ManualWallClock>) {
    let clock = Arc::new(ManualWallClock::new(harness::now_ms()));
    let (receiver, url) = Receiver::spawn(Some(clock.clone() as Arc<dyn WallClock>), answer).await;
    let extra = format!("[gateway.callbacks]\nurl = {url:?}\nsecret = {SECRET:?}\n");
    let (h, store) = Harness::start_full(&extra, Some(clock.clone())).await;
    (h, store.unwrap(), receiver, clock)
}

/// `(type, status or opt-out)` of a received event.
fn what(r: &Received) -> String {
    match r.body["type"].as_str() {
        Some("message.status") => format!("status:{}", r.body["data"]["status"].as_str().unwrap_or("?")),
        Some("message.reply") => format!("reply:{}", r.body["data"]["opt_out"]),
        other => format!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_then_up_gets_every_event_signed_and_in_order() {
    let (h, store, receiver, clock) = start(503).await;
    let (status, body) = h
        .send(
            SEND_KEY,
            serde_json::json!({"to": "13800138000", "text": "hello", "reference": "cb-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A reply, not tied to any message: it goes out beside the message's events.
    let r = h
        .http
        .get(h.url(&format!(
            "/webhooks/{TOKEN}/juxiang/reply?src=13900000002&dst=10657&msg=0000"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The sandbox pushes the receipt: accepted, then delivered, are both recorded as events.
    h.eventually(|| async {
        let (_, m) = h.get(READ_KEY, "/v1/messages?reference=cb-1").await;
        m["recipients"][0]["status"] == "delivered"
    })
    .await;
    // Down: the accepted event and the reply were tried once and are waiting for their retry;
    // the delivered event waits behind the accepted one.
    h.eventually(|| async { receiver.got().len() == 2 }).await;
    let first = receiver.got();
    assert!(first.iter().all(|r| r.answered == 503 && r.signed), "{first:?}");
    let mut kinds: Vec<String> = first.iter().map(what).collect();
    kinds.sort();
    assert_eq!(kinds, ["reply:true", "status:accepted"]);
    h.eventually(|| async { store.pending_events().await.unwrap() == 3 })
        .await;
    // Still down (429) at the first retry, 5 s later.
    receiver.answer.store(429, Ordering::SeqCst);
    clock.advance(Duration::from_secs(5));
    h.eventually(|| async { receiver.got().len() == 4 }).await;
    // Up at the second retry, 5 min later: everything arrives, the delivered event last.
    receiver.answer.store(200, Ordering::SeqCst);
    clock.advance(Duration::from_secs(300));
    h.eventually(|| async { receiver.got().len() == 7 }).await;
    // The receiver logs a request before it answers: the outcome is stored just after.
    h.eventually(|| async { store.pending_events().await.unwrap() == 0 })
        .await;
    let got = receiver.got();
    assert!(got.iter().all(|r| r.signed), "every signature verifies: {got:?}");
    let status_events: Vec<(String, String, u16)> = got
        .iter()
        .filter(|r| r.body["type"] == "message.status")
        .map(|r| (r.id.clone(), what(r), r.answered))
        .collect();
    let accepted_id = status_events[0].0.clone();
    assert_eq!(
        status_events
            .iter()
            .map(|(_, w, a)| (w.as_str(), *a))
            .collect::<Vec<_>>(),
        [
            ("status:accepted", 503),
            ("status:accepted", 429),
            ("status:accepted", 200),
            ("status:delivered", 200),
        ]
    );
    // The same event id on every attempt; the body names it and the message.
    assert!(status_events[..3].iter().all(|(id, _, _)| *id == accepted_id));
    assert_ne!(status_events[3].0, accepted_id);
    let delivered = got.iter().rfind(|r| what(r) == "status:delivered").unwrap();
    assert_eq!(delivered.body["id"], delivered.id);
    assert_eq!(delivered.body["data"]["reference"], "cb-1");
    assert_eq!(delivered.body["data"]["number"], "+8613800138000");
    assert_eq!(
        got.iter()
            .filter(|r| what(r) == "reply:true")
            .map(|r| r.answered)
            .collect::<Vec<_>>(),
        [503, 429, 200]
    );
    // Nothing more is due, however late it gets.
    clock.advance(Duration::from_secs(86_400));
    let metrics = h.metrics().await;
    for line in [
        "sms_callbacks_total{outcome=\"delivered\"} 3",
        "sms_callbacks_total{outcome=\"retry\"} 4",
        "sms_callbacks_pending 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_not_retried_and_the_next_event_goes_on() {
    let (h, store, receiver, clock) = start(200).await;
    receiver.script.lock().unwrap().push_back(400);
    let (status, body) = h
        .send(
            SEND_KEY,
            serde_json::json!({"to": "13800138001", "text": "hello", "reference": "cb-2"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The accepted event is refused (400) once and given up; the receiver then takes the
    // delivered one.
    h.eventually(|| async { receiver.got().len() == 2 }).await;
    let got = receiver.got();
    assert_eq!(
        got.iter().map(|r| (what(r), r.answered)).collect::<Vec<_>>(),
        [
            ("status:accepted".to_owned(), 400),
            ("status:delivered".to_owned(), 200)
        ]
    );
    // Given up: nothing is pending, so nothing will be tried again at any time.
    h.eventually(|| async { store.pending_events().await.unwrap() == 0 })
        .await;
    clock.advance(Duration::from_secs(11 * 3600));
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("sms_callbacks_total{outcome=\"gave_up\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sms_callbacks_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
}

/// A receiver that is really down (nothing listens: the connection is refused), then up: the event
/// is retried on its schedule and arrives, signed, once it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_until_the_receiver_listens() {
    let clock = Arc::new(ManualWallClock::new(harness::now_ms()));
    let (socket, addr) = Receiver::down();
    let url = format!("http://{addr}/events");
    let extra = format!("[gateway.callbacks]\nurl = {url:?}\nsecret = {SECRET:?}\n");
    let (h, store) = Harness::start_full(&extra, Some(clock.clone())).await;
    let store = store.unwrap();
    let (status, body) = h
        .send(
            SEND_KEY,
            serde_json::json!({"to": "13800138000", "text": "hello", "reference": "cb-down"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let metric = |outcome: &'static str| {
        let h = &h;
        async move {
            let text = h.metrics().await;
            text.lines()
                .find(|l| l.starts_with(&format!("sms_callbacks_total{{outcome=\"{outcome}\"}}")))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    // Refused: tried, and waiting for its retry.
    h.eventually(|| async { metric("retry").await >= 1 }).await;
    assert_eq!(metric("delivered").await, 0);
    assert!(store.pending_events().await.unwrap() >= 1);
    // Up, and the retry falls due: every event arrives, signed, the accepted one first.
    let (receiver, _) = Receiver::spawn_at(socket, Some(clock.clone() as Arc<dyn WallClock>), 200);
    clock.advance(Duration::from_secs(5));
    h.eventually(|| async { store.pending_events().await.unwrap() == 0 })
        .await;
    let got = receiver.got();
    assert!(
        !got.is_empty() && got.iter().all(|r| r.signed && r.answered == 200),
        "{got:?}"
    );
    let statuses: Vec<String> = got
        .iter()
        .filter(|r| r.body["type"] == "message.status")
        .map(what)
        .collect();
    assert_eq!(
        statuses.first().map(String::as_str),
        Some("status:accepted"),
        "{statuses:?}"
    );
}
