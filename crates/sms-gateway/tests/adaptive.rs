//! `strategy = "adaptive"` in a running gateway: the weights and their changes in `GET /v1/providers`
//! and `/metrics`.

mod harness;

use harness::{Harness, READ_KEY, SEND_KEY};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_weights_are_shown_in_providers_and_metrics() {
    let h = Harness::start_with("\n[chain]\nstrategy = \"adaptive\"\n").await;
    let (status, _) = h
        .send(SEND_KEY, json!({"to": "13800138000", "text": "hello"}))
        .await;
    assert_eq!(status, 200);

    let (status, body) = h.get(READ_KEY, "/v1/providers").await;
    assert_eq!(status, 200);
    let providers = body["providers"].as_array().unwrap();
    let ihuyi = providers.iter().find(|p| p["name"] == "ihuyi").unwrap();
    // Four providers of weight 1 rest at 25 points each.
    assert_eq!(ihuyi["adaptive"]["weight"], 25, "{body}");
    assert_eq!(ihuyi["adaptive"]["resting_weight"], 25, "{body}");
    assert_eq!(ihuyi["adaptive"]["learned_weight"], 25, "{body}");
    assert_eq!(body["weight_changes"], json!([]), "nothing has moved yet: {body}");

    let metrics = h
        .http
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("# TYPE sms_provider_weight gauge"), "{metrics}");
    assert!(
        metrics.contains("sms_provider_weight{provider=\"ihuyi\"} 25"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sms_provider_resting_weight{provider=\"juxiang\"} 25"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_strategies_show_no_adaptive_weights() {
    let h = Harness::start().await;
    let (status, body) = h.get(READ_KEY, "/v1/providers").await;
    assert_eq!(status, 200);
    assert!(body["providers"][0]["adaptive"].is_null(), "{body}");
    assert!(body.get("weight_changes").is_none(), "{body}");
}
