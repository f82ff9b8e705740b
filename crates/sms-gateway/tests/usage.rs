//! `GET /v1/usage`: spend against every cap, counted by the store-backed ledger as messages go out;
//! a send over a cap is refused before any request.

mod harness;

use harness::{Harness, READ_KEY, SEND_KEY};

/// A daily cap of 3 parts (the `[spend]` section, after the harness's `[gateway]` keys).
const SPEND: &str = "\n[[spend.caps]]\nscope = \"overall\"\nperiod = \"day\"\nparts = 3\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_shows_spend_against_every_cap_and_a_send_over_it_is_refused() {
    let h = Harness::start_with(SPEND).await;
    let (status, usage) = h.get(READ_KEY, "/v1/usage").await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["caps"][0]["limit"], 3, "{usage}");
    assert_eq!(usage["caps"][0]["used"], 0, "{usage}");
    for i in 0..3 {
        let (status, body) = h
            .send(
                SEND_KEY,
                serde_json::json!({"to": [format!("1380013{:04}", 7000 + i)], "text": "【示例】您的验证码是 123456"}),
            )
            .await;
        assert!(status < 300, "{status}: {body}");
    }
    let (status, refused) = h
        .send(
            SEND_KEY,
            serde_json::json!({"to": ["13800137009"], "text": "【示例】您的验证码是 123456"}),
        )
        .await;
    assert!(
        refused.to_string().contains("budget exceeded"),
        "{status}: {refused}"
    );
    let (_, usage) = h.get(READ_KEY, "/v1/usage").await;
    let cap = &usage["caps"][0];
    assert_eq!(
        (cap["used"].as_u64(), cap["remaining"].as_u64()),
        (Some(3), Some(0)),
        "{usage}"
    );
    assert_eq!(cap["scope"], "overall");
    assert!(
        cap["resets_at"]
            .as_str()
            .is_some_and(|t| t.ends_with("00:00 +08:00")),
        "{usage}"
    );
    assert_eq!(h.sandbox.messages().len(), 3, "the fourth cost no request");
    let (status, _) = h.get("no-such-key", "/v1/usage").await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_each_caps_use_and_count_its_warnings() {
    // A daily cap of 5 parts warns at 80 %: with the fourth part.
    let h = Harness::start_with("\n[[spend.caps]]\nscope = \"overall\"\nperiod = \"day\"\nparts = 5\n").await;
    let metrics = |h: &Harness| {
        let request = h.http.get(h.url("/metrics"));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    for i in 0..3 {
        let (status, body) = h
            .send(
                SEND_KEY,
                serde_json::json!({"to": [format!("1380013{:04}", 7100 + i)], "text": "【示例】您好"}),
            )
            .await;
        assert!(status < 300, "{status}: {body}");
    }
    let before = metrics(&h).await;
    assert!(
        before.contains("sms_spend_used_ratio{cap=\"overall\",period=\"day\",unit=\"parts\"} 0.6"),
        "{before}"
    );
    assert!(
        !before.contains("sms_spend_warning_total"),
        "no warning below 80 %: {before}"
    );
    let (status, body) = h
        .send(
            SEND_KEY,
            serde_json::json!({"to": ["13800137104"], "text": "【示例】您好"}),
        )
        .await;
    assert!(status < 300, "{status}: {body}");
    let after = metrics(&h).await;
    assert!(
        after.contains("sms_spend_warning_total{cap=\"overall\",period=\"day\",unit=\"parts\"} 1"),
        "{after}"
    );
    assert!(
        after.contains("sms_spend_used_ratio{cap=\"overall\",period=\"day\",unit=\"parts\"} 0.8"),
        "{after}"
    );
}
