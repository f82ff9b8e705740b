//! Thousands of malformed requests: every one gets a 4xx with a JSON error, nothing panics, nothing
//! is sent or stored.

mod harness;

use harness::{ADMIN_KEY, Harness, READ_KEY, SEND_KEY, TOKEN};
use serde_json::{Value, json};

/// A random JSON value, `depth` levels deep at most.
fn random_json(rng: &mut fastrand::Rng, depth: u32) -> Value {
    match rng.u8(0..if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => json!(rng.i64(..)),
        3 => json!(rng.f64() * 1e6),
        4 => Value::String((0..rng.usize(0..12)).map(|_| rng.char(..)).collect()),
        5 => Value::Array(
            (0..rng.usize(0..4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "to",
                "text",
                "template",
                "voice_code",
                "mms",
                "reference",
                "schedule",
                "policy",
                "x",
            ];
            Value::Object(
                (0..rng.usize(0..5))
                    .map(|_| {
                        (
                            keys[rng.usize(..keys.len())].to_owned(),
                            random_json(rng, depth - 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

/// Answers `status` with a JSON error whose code is a non-empty string.
async fn assert_json_error(response: reqwest::Response, what: &str) -> (u16, String) {
    let (status, code, _) = assert_json_error_text(response, what).await;
    (status, code)
}

/// [`assert_json_error`], with the body's text.
async fn assert_json_error_text(response: reqwest::Response, what: &str) -> (u16, String, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.unwrap();
    assert!((400..500).contains(&status), "{what}: {status} {text}");
    assert_eq!(content_type, "application/json", "{what}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {text}"));
    assert!(!code.is_empty());
    (status, code.to_owned(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_requests_get_json_4xx_and_change_nothing() {
    let h = Harness::start().await;
    let mut rng = fastrand::Rng::with_seed(13);
    let messages = h.url("/v1/messages");

    // Random JSON documents: none is a valid send (no valid number in them).
    for i in 0..1500 {
        let body = random_json(&mut rng, 3);
        let r = h
            .http
            .post(&messages)
            .bearer_auth(SEND_KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_json_error(r, &format!("random json {i}: {body}")).await;
    }
    // Random bytes.
    for i in 0..500 {
        let bytes: Vec<u8> = (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect();
        let r = h
            .http
            .post(&messages)
            .bearer_auth(SEND_KEY)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_json_error(r, &format!("random bytes {i}")).await;
    }
    // Wrong types in an otherwise good request.
    for body in [
        json!({"to": 13800138000_u64, "text": "x"}),
        json!({"to": "13800138000", "text": ["x"]}),
        json!({"to": "13800138000", "template": "7"}),
        json!({"to": "13800138000", "mms": {"package_id": 1, "product_id": 2}}),
        json!({"to": "13800138000", "text": "x", "policy": 1}),
        json!({"to": {"a": 1}, "text": "x"}),
        json!(["13800138000", "x"]),
        json!("text"),
    ] {
        let (status, _) = assert_json_error(
            h.http
                .post(&messages)
                .bearer_auth(SEND_KEY)
                .json(&body)
                .send()
                .await
                .unwrap(),
            &body.to_string(),
        )
        .await;
        assert!(status == 400 || status == 422, "{body}");
    }
    // Huge bodies, wrong content types, bad idempotency keys.
    let huge = format!(
        "{{\"to\": \"13800138000\", \"text\": \"{}\"}}",
        "x".repeat(100_000)
    );
    let r = h
        .http
        .post(&messages)
        .bearer_auth(SEND_KEY)
        .header("content-type", "application/json")
        // The server answers 413 without reading the body and closes the connection: keep this
        // connection out of the client's pool, or the next request may be written to it as it
        // closes (a transport error under load, not an answer).
        .header("connection", "close")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json_error(r, "huge").await,
        (413, "payload_too_large".to_owned())
    );
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "",
    ] {
        let mut request = h
            .http
            .post(&messages)
            .bearer_auth(SEND_KEY)
            .body(r#"{"to":"13800138000","text":"x"}"#);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let (status, code) = assert_json_error(request.send().await.unwrap(), content_type).await;
        assert_eq!(
            (status, code.as_str()),
            (415, "unsupported_media_type"),
            "{content_type}"
        );
    }
    let r = h
        .http
        .post(&messages)
        .bearer_auth(SEND_KEY)
        .header("idempotency-key", "x".repeat(300))
        .json(&json!({"to": "13800138000", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json_error(r, "long key").await.0, 400);
    // Unknown routes, wrong methods, bad query parameters.
    for (method, path) in [
        (reqwest::Method::GET, "/nope"),
        (reqwest::Method::PUT, "/v1/messages"),
        (reqwest::Method::DELETE, "/v1/balances"),
        (reqwest::Method::GET, "/v1/messages"),
        (reqwest::Method::GET, "/v1/suppressions?limit=0"),
        (reqwest::Method::GET, "/v1/suppressions?limit=%FF"),
        (reqwest::Method::DELETE, "/v1/suppressions/not-a-number"),
        (reqwest::Method::POST, "/webhooks/x/ihuyi/receipt"),
    ] {
        let r = h
            .http
            .request(method.clone(), h.url(path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_json_error(r, &format!("{method} {path}")).await;
    }
    // Webhooks: bad tokens, unknown providers, pushes a vendor does not make, unreadable pushes.
    let good_receipt = "code=2&msg=DELIVRD&mobilephone=13800138000&smsid=1";
    for (path, body) in [
        (
            "/webhooks/wrong-token-0123456789/ihuyi/receipt".to_owned(),
            good_receipt.to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}x/ihuyi/receipt"),
            good_receipt.to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/nobody/receipt"),
            good_receipt.to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/juxiang/receipt"),
            good_receipt.to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/mms-10658/reply"),
            "mobile=1&content=x".to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/ihuyi/receipt"),
            "code=2&msg=DELIVRD".to_owned(),
        ),
        (format!("/webhooks/{TOKEN}/ihuyi/receipt"), String::new()),
        (
            format!("/webhooks/{TOKEN}/ihuyi/reply"),
            "content=no-sender".to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/ihuyi-voice/receipt"),
            "[1,2]".to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/juxiang/reply"),
            "src=13900000001&msg=%FF%FF".to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/juxiang/reply"),
            "dst=1&msg=0000".to_owned(),
        ),
        (
            format!("/webhooks/{TOKEN}/ihuyi/receipt"),
            format!("smsid=1&msg={}", "x".repeat(10_000)),
        ),
    ] {
        let r = h.http.post(h.url(&path)).body(body.clone()).send().await.unwrap();
        assert_json_error(r, &format!("{path} {body:.40}")).await;
    }
    // Webhook paths whose token or provider is not UTF-8 once percent-decoded: the gateway's JSON
    // 400, like a bad path segment of /v1, and the token is never echoed.
    for (method, path) in [
        (reqwest::Method::POST, "/webhooks/%FF/ihuyi/receipt".to_owned()),
        (reqwest::Method::POST, "/webhooks/%FF/ihuyi/reply".to_owned()),
        (reqwest::Method::GET, "/webhooks/%C3%28/juxiang/reply".to_owned()),
        (
            reqwest::Method::POST,
            format!("/webhooks/{TOKEN}%FF/ihuyi/receipt"),
        ),
        (reqwest::Method::POST, format!("/webhooks/{TOKEN}/%FF/receipt")),
        (reqwest::Method::POST, format!("/webhooks/{TOKEN}/ihuyi%FE/reply")),
        (
            reqwest::Method::GET,
            format!("/webhooks/{TOKEN}/%80juxiang/reply"),
        ),
    ] {
        let r = h
            .http
            .request(method.clone(), h.url(&path))
            .body(good_receipt)
            .send()
            .await
            .unwrap();
        let what = format!("{method} {path}");
        let (status, code, text) = assert_json_error_text(r, &what).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_parameter"),
            "{what}: {text}"
        );
        assert!(!text.contains(TOKEN), "{what}: the token is echoed: {text}");
    }
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..rng.usize(0..100)).map(|_| rng.u8(..)).collect();
        for path in [
            "ihuyi/receipt",
            "ihuyi/reply",
            "juxiang/reply",
            "ihuyi-voice/receipt",
        ] {
            let r = h
                .http
                .post(h.url(&format!("/webhooks/{TOKEN}/{path}")))
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            // Random bytes may happen to be a readable push; then it is stored and acknowledged.
            if status != 200 {
                assert_json_error(r, path).await;
            }
        }
    }
    let r = h
        .http
        .get(h.url(&format!("/webhooks/{TOKEN}/ihuyi/reply?mobile=1&content=x")))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json_error(r, "GET ihuyi reply").await.0, 405);

    // Nothing was sent, nothing suppressed; the bad pushes above left no receipt or reply.
    assert!(h.sandbox.messages().is_empty());
    let (_, list) = h.get(READ_KEY, "/v1/suppressions").await;
    assert_eq!(list["suppressions"], json!([]), "{list}");
    let store = sms_store::open(
        &h.dir.join("sms.db").to_string_lossy(),
        sms_store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let receipts = store.unmatched_receipts(100_000).await.unwrap();
    assert!(
        receipts.iter().all(|r| r.provider_message_id != "1"),
        "bad receipts were not stored: {receipts:?}"
    );
    let replies = store.inbound_since(0, 100_000).await.unwrap();
    assert!(
        replies
            .iter()
            .all(|r| r.text.as_deref() != Some("no-sender") && r.sender != "13900000001"),
        "bad replies were not stored"
    );
    // The gateway still answers.
    assert_eq!(h.http.get(h.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_key_configured_the_first_start_creates_an_admin_key_once() {
    let sandbox = sms_sandbox::Sandbox::builder().spawn().await.unwrap();
    let dir = harness::temp_dir();
    let text = harness::config_text(&sandbox.base_url(), &dir.join("sms.db"), false, "");
    let load = || {
        sms_config::Config::from_toml_str(
            &text,
            &sms_config::LoadOptions::new().env_vars::<String, String>([]),
        )
        .unwrap()
    };
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let first = sms_gateway::Gateway::builder(load())
        .listen("127.0.0.1:0".parse().unwrap())
        .spawn()
        .await
        .unwrap();
    let key = first
        .new_admin_key()
        .expect("a key is created")
        .expose()
        .to_owned();
    let secrets = std::fs::read_to_string(dir.join("gateway-secrets.json")).unwrap();
    assert!(!secrets.contains(&key), "only the hash is stored");
    let r = http
        .get(format!("{}/v1/providers", first.base_url()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{}/v1/providers", first.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the API never runs open");
    first.shutdown().await;
    let second = sms_gateway::Gateway::builder(load())
        .listen("127.0.0.1:0".parse().unwrap())
        .spawn()
        .await
        .unwrap();
    assert!(second.new_admin_key().is_none(), "printed once only");
    let r = http
        .get(format!("{}/v1/providers", second.base_url()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the first key still works");
    second.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
