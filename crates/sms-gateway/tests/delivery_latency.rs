//! `sms_delivery_latency_seconds`: a delivery receipt applied through the webhook is observed as
//! the time from the provider's acceptance to the receipt, on the store's clock.

mod harness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use harness::{TOKEN, eventually};
use sms_config::{Config, LoadOptions};
use sms_core::{Message, PhoneNumber, Secret};
use sms_gateway::{ApiKeys, AppState, router};
use sms_store::{
    ManualWallClock, MessageStore, NewMessage, OutcomeUpdate, SqliteStore, Status, StoreOptions,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_receipt_is_observed_from_acceptance_to_delivery() {
    let dir = harness::temp_dir();
    let db = dir.join("sms.db");
    let text = harness::config_text("http://127.0.0.1:9", &db, true, "");
    let config = Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).unwrap();
    let clock = Arc::new(ManualWallClock::new(1_780_000_000_000));
    let options = StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    };
    let store: Arc<dyn MessageStore> =
        Arc::new(SqliteStore::open(db.to_str().unwrap(), options).await.unwrap());
    // A send ihuyi accepted as 777, recorded as the gateway records one.
    let to: PhoneNumber = "13800138000".parse().unwrap();
    let record = NewMessage::new(Message::text(to.clone(), "【测试】hi"));
    store.insert_sending(std::slice::from_ref(&record)).await.unwrap();
    let mut accepted = OutcomeUpdate::new(&record.id, to.e164(), Status::Accepted);
    accepted.provider = Some("ihuyi".into());
    accepted.provider_message_id = Some("777".into());
    assert_eq!(store.record_outcomes(&[accepted]).await.unwrap(), 1);
    clock.advance(Duration::from_secs(42));

    let keys = ApiKeys::from_config(&config.gateway().api_keys).unwrap();
    let (state, _sends) = AppState::new(config, store.clone(), keys, Secret::new(TOKEN)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
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
