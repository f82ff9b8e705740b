//! Per-API-key request rate limits: over its window a key gets 429 `rate_limited` with
//! `Retry-After`, and other keys go on.

mod harness;

use harness::{Harness, READ_KEY};

const LIMITED_KEY: &str = "limited-key-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_continue() {
    let extra = format!(
        "\n[[gateway.api_keys]]\nname = \"limited\"\nhash = {:?}\nscopes = [\"read\"]\n\
         rate_limit = {{ count = 3, period = \"1h\" }}\n",
        sms_gateway::hash_key(LIMITED_KEY)
    );
    let h = Harness::start_with(&extra).await;
    for _ in 0..3 {
        let (status, body) = h.get(LIMITED_KEY, "/v1/usage").await;
        assert_eq!(status, 200, "{body}");
    }
    let response = h
        .http
        .get(format!("{}/v1/usage", h.base))
        .bearer_auth(LIMITED_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((3590..=3600).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let (status, _) = h.get(READ_KEY, "/v1/usage").await;
    assert_eq!(status, 200, "another key is not limited");
}

const CAPPED_KEY: &str = "capped-key-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_daily_parts_is_refused_before_any_request() {
    let extra = format!(
        "\n[[gateway.api_keys]]\nname = \"capped\"\nhash = {:?}\nscopes = [\"send\"]\ndaily_parts = 2\n",
        sms_gateway::hash_key(CAPPED_KEY)
    );
    let h = Harness::start_with(&extra).await;
    let text = "【示例】您的验证码是 123456";
    for i in 0..2 {
        let (status, body) = h
            .send(
                CAPPED_KEY,
                serde_json::json!({"to": [format!("1380013{:04}", 7100 + i)], "text": text}),
            )
            .await;
        assert!(status < 300, "{status}: {body}");
    }
    let response = h
        .http
        .post(format!("{}/v1/messages", h.base))
        .bearer_auth(CAPPED_KEY)
        .json(&serde_json::json!({"to": ["13800137199"], "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("daily cap of 2 parts for this key"),
        "{body}"
    );
    assert_eq!(h.sandbox.messages().len(), 2, "the third cost no request");
    // The cap is the key's own: another key still sends.
    let (status, _) = h
        .send(
            harness::SEND_KEY,
            serde_json::json!({"to": ["13800137198"], "text": text}),
        )
        .await;
    assert!(status < 300, "another key still sends: {status}");
}
