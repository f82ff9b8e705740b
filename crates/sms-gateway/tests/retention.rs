//! `[store] retention` and `redact_after` applied by the gateway: on the store's (manual) clock, a
//! message's content is blanked once it is older than `redact_after` and the message is gone once
//! it is older than `retention`; suppressions stay. Retention runs every few milliseconds here.

mod harness;

use std::sync::Arc;
use std::time::Duration;

use harness::{SEND_KEY, eventually};
use sms_gateway::Gateway;
use sms_sandbox::Sandbox;
use sms_store::{ManualWallClock, WallClock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_content_is_blanked_and_old_messages_are_purged() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let dir = harness::temp_dir();
    let db = dir.join("sms.db");
    let text = harness::config_text(&sandbox.base_url(), &db, true, "").replacen(
        "[store]\n",
        "[store]\nretention = \"2d\"\nredact_after = \"1d\"\n",
        1,
    );
    let clock = Arc::new(ManualWallClock::new(harness::now_ms()));
    let store = harness::sqlite_store(&db, Some(clock.clone())).await;
    let gateway = Gateway::builder(harness::config(&text))
        .listen("127.0.0.1:0".parse().unwrap())
        .store(store.clone())
        .clock(clock.clone() as Arc<dyn WallClock>)
        .retention_interval(Duration::from_millis(5))
        .spawn()
        .await
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let sent: serde_json::Value = http
        .post(format!("{}/v1/messages", gateway.base_url()))
        .bearer_auth(SEND_KEY)
        .json(&serde_json::json!({"to": "13800138000", "text": "【测试】kept a day"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sent["id"].as_str().expect("a message id").to_owned();
    let opted_out: sms_core::PhoneNumber = "13900139000".parse().unwrap();
    store.suppress(&opted_out, "test", "test").await.unwrap();
    let message = store.message(&id).await.unwrap().expect("recorded");
    assert_eq!(message.content.as_deref(), Some("【测试】kept a day"));

    // A day and a bit later: the content is blanked, the digest and the message stay.
    clock.advance(Duration::from_secs(86_400 + 60));
    eventually("the content blanked", || async {
        store
            .message(&id)
            .await
            .unwrap()
            .is_some_and(|m| m.content.is_none())
    })
    .await;
    let redacted = store.message(&id).await.unwrap().expect("still there");
    assert_eq!(redacted.content_digest, message.content_digest);

    // Two days and a bit: the message is gone, the suppression stays.
    clock.advance(Duration::from_secs(86_400));
    eventually("the message purged", || async {
        store.message(&id).await.unwrap().is_none()
    })
    .await;
    assert_eq!(store.suppressed(&[opted_out]).await.unwrap(), [true]);
    gateway.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
