//! `sms_delivery_latency_seconds`: a delivery receipt applied through the webhook is observed as
//! the time from the provider's acceptance to the receipt, on the store's clock.

mod harness;

use std::sync::Arc;
use std::time::Duration;

use harness::{TOKEN, eventually};
use sms_core::{Message, PhoneNumber};
use sms_gateway::router;
use sms_store::{ManualWallClock, NewMessage, OutcomeUpdate, Status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_receipt_is_observed_from_acceptance_to_delivery() {
    let dir = harness::temp_dir();
    let clock = Arc::new(ManualWallClock::new(1_780_000_000_000));
    let store = harness::sqlite_store(&dir.join("sms.db"), Some(clock.clone())).await;
    // A send ihuyi accepted as 777, recorded as the gateway records one.
    let to: PhoneNumber = "13800138000".parse().unwrap();
    let record = NewMessage::new(Message::text(to.clone(), "【测试】hi"));
    store.insert_sending(std::slice::from_ref(&record)).await.unwrap();
    let mut accepted = OutcomeUpdate::new(&record.id, to.e164(), Status::Accepted);
    accepted.provider = Some("ihuyi".into());
    accepted.provider_message_id = Some("777".into());
    assert_eq!(store.record_outcomes(&[accepted]).await.unwrap(), 1);
    clock.advance(Duration::from_secs(42));

    let base = harness::serve(router(harness::app_state(store.clone()))).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let push = || async {
        let r = http
            .post(format!("{base}/webhooks/{TOKEN}/ihuyi/receipt"))
            .body("code=2&msg=DELIVRD&mobilephone=13800138000&smsid=777")
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "ok");
    };
    let metrics_url = format!("{base}/metrics");
    let metrics = || harness::text_of(&http, &metrics_url);
    push().await;
    let count = r#"sms_delivery_latency_seconds_count{provider="ihuyi"} 1"#;
    eventually("the latency observed", || async {
        metrics().await.contains(count)
    })
    .await;
    // 42 s: above the 15 s bucket, within the 60 s one.
    let text = metrics().await;
    for line in [
        r#"sms_delivery_latency_seconds_bucket{provider="ihuyi",le="15"} 0"#,
        r#"sms_delivery_latency_seconds_bucket{provider="ihuyi",le="60"} 1"#,
        r#"sms_delivery_latency_seconds_sum{provider="ihuyi"} 42"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
