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

    let metrics = h.metrics().await;
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

/// Through the gateway against the sandbox: ihuyi keeps accepting but its receipts come a minute
/// late; the gateway's decider (every second, messages judged after 1 s, a verdict only once all
/// ten are judged) moves weight off it. The measured weights are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_whose_receipts_are_late_loses_weight_through_the_gateway() {
    use reqwest::Method;
    let h = Harness::start_with(
        "\n[chain]\nstrategy = \"adaptive\"\n\n[chain.adaptive]\ninterval = \"1s\"\nlate_after = \"1s\"\n\
         min_sample = 10\ncooldown = \"1s\"\n",
    )
    .await;
    h.sandbox
        .set_delivery(
            sms_sandbox::Product::IhuyiSms,
            sms_sandbox::DeliveryProfile::new().delay(
                1,
                std::time::Duration::from_secs(60),
                std::time::Duration::from_secs(60),
            ),
        )
        .expect("valid profile");
    // Ten messages through ihuyi (pinned for them), then routing is the decider's again.
    let (status, body) = call(&h, Method::POST, ADMIN_KEY, "/v1/providers/ihuyi/pin").await;
    assert_eq!(status, 200, "{body}");
    for i in 0..10 {
        let (status, body) = h
            .send(SEND_KEY, json!({"to": format!("1380013{i:04}"), "text": "hello"}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["recipients"][0]["provider"], "ihuyi", "{body}");
    }
    let (status, _) = call(&h, Method::DELETE, ADMIN_KEY, "/v1/providers/ihuyi/override").await;
    assert_eq!(status, 200);
    let (_, before) = h.get(READ_KEY, "/v1/providers").await;
    assert_eq!(routing_weight(&before, "ihuyi"), 25, "{before}");

    h.eventually(|| async {
        let (_, body) = h.get(READ_KEY, "/v1/providers").await;
        routing_weight(&body, "ihuyi").as_u64().unwrap_or(25) < 25
    })
    .await;
    let (_, seen) = h.get(READ_KEY, "/v1/providers").await;
    // The oldest change: the first demotion.
    let change = &seen["weight_changes"][0];
    assert_eq!(change["reason"], "demoted", "{seen}");
    let ihuyi = change["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ihuyi")
        .unwrap();
    assert_eq!(ihuyi["judged"], 10, "{seen}");
    assert_eq!(ihuyi["late"], 10, "{seen}");
    println!("provider      resting  weight  (after ihuyi's receipts came 60 s late)");
    for p in seen["providers"].as_array().unwrap() {
        if !p["adaptive"].is_null() {
            println!(
                "{:<12} {:>8} {:>7}",
                p["name"].as_str().unwrap(),
                p["adaptive"]["resting_weight"].as_u64().unwrap(),
                p["adaptive"]["weight"].as_u64().unwrap()
            );
        }
    }
}
