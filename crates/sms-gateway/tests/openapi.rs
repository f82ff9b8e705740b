//! `/v1/openapi.json` is served without a key, and every operation it documents is routed (none
//! falls through to the JSON 404 for unknown endpoints or to 405).

mod harness;

use harness::{ADMIN_KEY, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let h = Harness::start().await;
    let r = h.http.get(h.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 14, "{}", paths.len());
    for (path, item) in paths {
        let concrete = path
            .replace("{token}", "wrong-token-0123456789")
            .replace("{provider}", "ihuyi")
            .replace("{id}", "no-such-id")
            .replace("{number}", "13800138000");
        for method in item.as_object().unwrap().keys() {
            let r = h
                .http
                .request(method.to_uppercase().parse().unwrap(), h.url(&concrete))
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path}: {body}");
            assert!(
                !body.contains("no such endpoint"),
                "{method} {path} is documented but not routed"
            );
        }
    }
}
