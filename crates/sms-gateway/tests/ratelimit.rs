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
