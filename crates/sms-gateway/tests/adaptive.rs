//! `strategy = "adaptive"` in a running gateway: the weights and their changes in `GET /v1/providers`
//! and `/metrics`.

mod harness;

use harness::{ADMIN_KEY, Harness, READ_KEY, SEND_KEY};
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

async fn call(h: &Harness, method: reqwest::Method, key: &str, path: &str) -> (u16, serde_json::Value) {
    let r = h
        .http
        .request(method, h.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn routing_weight(body: &serde_json::Value, name: &str) -> serde_json::Value {
    let providers = body["providers"].as_array().unwrap();
    providers.iter().find(|p| p["name"] == name).unwrap()["adaptive"]["weight"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_pin_drain_and_release_providers_through_the_api() {
    let h = Harness::start_with("\n[chain]\nstrategy = \"adaptive\"\n").await;
    use reqwest::Method;
    // Admin scope only.
    let (status, body) = call(&h, Method::POST, READ_KEY, "/v1/providers/ihuyi/drain").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = call(&h, Method::POST, ADMIN_KEY, "/v1/providers/nobody/drain").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");

    let (status, body) = call(&h, Method::POST, ADMIN_KEY, "/v1/providers/ihuyi/drain").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["overrides"], json!({"pin": null, "drained": ["ihuyi"]}));
    let (_, body) = h.get(READ_KEY, "/v1/providers").await;
    assert_eq!(body["overrides"]["drained"], json!(["ihuyi"]), "{body}");
    assert_eq!(routing_weight(&body, "ihuyi"), 0, "{body}");
    // Stored, so that every instance on the database honours it.
    let (status, body) = call(&h, Method::POST, ADMIN_KEY, "/v1/providers/juxiang/pin").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["overrides"]["pin"], "juxiang");
    let (_, body) = h.get(READ_KEY, "/v1/providers").await;
    assert_eq!(routing_weight(&body, "juxiang"), 100, "{body}");

    let (status, body) = call(&h, Method::DELETE, ADMIN_KEY, "/v1/providers/juxiang/override").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["overrides"], json!({"pin": null, "drained": ["ihuyi"]}));
    let (status, body) = call(&h, Method::DELETE, ADMIN_KEY, "/v1/providers/ihuyi/override").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["overrides"], json!({"pin": null, "drained": []}));
    let (_, body) = h.get(READ_KEY, "/v1/providers").await;
    assert_eq!(routing_weight(&body, "ihuyi"), 25, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_need_an_adaptive_chain() {
    let h = Harness::start().await;
    let (status, body) = call(&h, reqwest::Method::POST, ADMIN_KEY, "/v1/providers/ihuyi/pin").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("adaptive"),
        "{body}"
    );
}
