//! Slow and failing delivery per product, set through the control API and the Rust API, observed
//! by a real receipt receiver.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, Receiver, client, code, parse_form, post_json};
use serde_json::{Value, json};
use sms_sandbox::{DEFAULT_ACCOUNT, DEFAULT_KEY, DeliveryProfile, Product, Sandbox};
use tokio::time::timeout;

async fn submit(sb: &Sandbox, product: Product, mobile: &str) -> Value {
    post_json(
        &format!("{}?method=Submit", sb.url(product)),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", mobile),
            ("content", "5678"),
        ],
    )
    .await
}

async fn control(sb: &Sandbox, method: reqwest::Method, body: Option<Value>) -> (u16, Value) {
    let mut request = client().request(method, format!("{}/_sandbox/delivery", sb.base_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn id_of(v: &Value) -> String {
    v["smsid"].as_str().or(v["voiceid"].as_str()).unwrap().to_owned()
}

#[tokio::test]
async fn lost_receipts_never_come_and_other_products_are_untouched() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&receiver.url)
        .receipt_delay(Duration::from_millis(1))
        .spawn()
        .await
        .unwrap();
    let (status, _) = control(
        &sb,
        reqwest::Method::POST,
        Some(json!({ "product": "ihuyi_sms", "lost": 1.0 })),
    )
    .await;
    assert_eq!(status, 200);
    for number in ["13800138010", "13800138011", "13800138012"] {
        let v = submit(&sb, Product::IhuyiSms, number).await;
        assert_eq!(code(&v), "2", "the provider keeps accepting");
    }
    let voice = submit(&sb, Product::IhuyiVoice, "13800138001").await;
    let fields = parse_form(&receiver.next().await.body, false);
    assert_eq!(fields["smsid"], id_of(&voice), "only the voice receipt comes");
    let pushes = timeout(DEADLINE, sb.wait_for_pushes(1)).await.unwrap();
    assert_eq!(pushes.len(), 1);
    let sms: Vec<_> = sb
        .messages()
        .into_iter()
        .filter(|m| m.product == Product::IhuyiSms)
        .collect();
    assert_eq!(sms.len(), 3);
    assert!(sms.iter().all(|m| !m.delivered));
}

#[tokio::test]
async fn failure_receipts_come_after_the_profile_delay() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&receiver.url)
        .receipt_delay(Duration::from_millis(1))
        .spawn()
        .await
        .unwrap();
    sb.set_delivery(
        Product::IhuyiSms,
        DeliveryProfile::new()
            .failed(1.0)
            .delay(1, Duration::from_millis(300), Duration::from_millis(300)),
    )
    .unwrap();
    let v = submit(&sb, Product::IhuyiSms, "13800138000").await;
    assert_eq!(code(&v), "2", "{v}");
    let accepted = Instant::now();
    let fields = parse_form(&receiver.next().await.body, false);
    assert!(
        accepted.elapsed() >= Duration::from_millis(290),
        "arrived too early"
    );
    assert_eq!(fields["msg"], "UNDELIV");
    assert_eq!(fields["smsid"], id_of(&v));
    assert!(!sb.messages()[0].delivered);
    // Back to the configured behaviour: delivered at once.
    sb.clear_delivery();
    submit(&sb, Product::IhuyiSms, "13800138001").await;
    assert_eq!(parse_form(&receiver.next().await.body, false)["msg"], "DELIVRD");
}

#[tokio::test]
async fn profiles_are_listed_checked_and_cleared() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let profile = json!({
        "product": "ihuyi_sms",
        "delays": [
            { "weight": 60, "min_ms": 100, "max_ms": 2000 },
            { "weight": 40, "min_ms": 480000, "max_ms": 600000 }
        ],
        "failed": 0.05,
        "lost": 0.01
    });
    assert_eq!(control(&sb, reqwest::Method::POST, Some(profile)).await.0, 200);
    let (status, listed) = control(&sb, reqwest::Method::GET, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["ihuyi_sms"]["delays"][1]["min_ms"], 480000);
    assert_eq!(listed["ihuyi_sms"]["failed"], 0.05);
    let typed: DeliveryProfile = serde_json::from_value(listed["ihuyi_sms"].clone()).unwrap();
    assert_eq!(typed.delays.len(), 2);

    let (status, error) = control(
        &sb,
        reqwest::Method::POST,
        Some(json!({ "product": "ihuyi_sms", "failed": 0.7, "lost": 0.5 })),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error["error"].as_str().unwrap().contains("add up to more than 1"),
        "{error}"
    );
    let (status, error) = control(
        &sb,
        reqwest::Method::POST,
        Some(json!({ "product": "ihuyi_sms", "delays": [{ "weight": 1, "min_ms": 5, "max_ms": 1 }] })),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("delays[0]"), "{error}");
    let (status, _) = control(
        &sb,
        reqwest::Method::POST,
        Some(json!({ "product": "ihuyi_sms", "slow": 1 })),
    )
    .await;
    assert_eq!(status, 400, "unknown fields are refused");
    let (_, listed) = control(&sb, reqwest::Method::GET, None).await;
    assert_eq!(
        listed["ihuyi_sms"]["failed"], 0.05,
        "a refused profile changes nothing"
    );

    assert_eq!(control(&sb, reqwest::Method::DELETE, None).await.0, 200);
    assert_eq!(control(&sb, reqwest::Method::GET, None).await.1, json!({}));
    sb.set_delivery(Product::Mms, DeliveryProfile::new().lost(0.5))
        .unwrap();
    sb.reset();
    assert_eq!(
        control(&sb, reqwest::Method::GET, None).await.1,
        json!({}),
        "reset clears profiles"
    );
}
