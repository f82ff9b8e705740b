//! The `/_sandbox/` control API over real HTTP.

mod common;

use common::{client, code, juxiang, post_json};
use serde_json::{Value, json};
use sms_sandbox::{
    DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY, Product, RecordedMessage, Sandbox,
};

async fn submit(sb: &Sandbox, mobile: &str) -> Value {
    post_json(
        &format!("{}?method=Submit", sb.url(Product::IhuyiSms)),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", mobile),
            ("content", "hello"),
        ],
    )
    .await
}

#[tokio::test]
async fn messages_are_listed_as_json() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let v = submit(&sb, "13800138000").await;
    let response = client()
        .get(format!("{}/_sandbox/messages", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let listed: Value = response.json().await.unwrap();
    let first = &listed[0];
    assert_eq!(first["product"], "ihuyi_sms");
    assert_eq!(first["account"], DEFAULT_ACCOUNT);
    assert_eq!(first["recipients"], json!(["13800138000"]));
    assert_eq!(first["text"], "hello");
    assert_eq!(first["provider_id"], v["smsid"]);
    assert!(first["time"].as_i64().unwrap() > 1_600_000_000_000);
    let typed: Vec<RecordedMessage> = serde_json::from_value(listed).unwrap();
    assert_eq!(typed, sb.messages());
    assert_eq!(
        sb.request_count(Product::IhuyiSms),
        1,
        "control calls are not counted"
    );
}

#[tokio::test]
async fn reset_forgets_everything_and_restores_balances() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    submit(&sb, "13800138000").await;
    sb.set_balance(Product::Juxiang, DEFAULT_ACCOUNT, 1);
    let response = client()
        .post(format!("{}/_sandbox/reset", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(sb.messages().is_empty());
    assert_eq!(sb.request_count(Product::IhuyiSms), 0);
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), Some(10_000));
    assert_eq!(sb.balance(Product::Juxiang, DEFAULT_ACCOUNT), Some(10_000));
    // Per-number limits are forgotten too: the same number may be used again at once.
    assert_eq!(code(&submit(&sb, "13800138000").await), "2");
}

#[tokio::test]
async fn balance_can_be_set_and_read() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!("{}/_sandbox/balance", sb.base_url());
    let response = client()
        .post(&url)
        .json(&json!({ "product": "juxiang", "account": DEFAULT_ACCOUNT, "amount": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(sb.balance(Product::Juxiang, DEFAULT_ACCOUNT), Some(0));
    let answer = juxiang(
        &format!("{}gsend.asp", sb.url(Product::Juxiang)),
        &[
            ("name", DEFAULT_ACCOUNT),
            ("pwd", DEFAULT_JUXIANG_PASSWORD),
            ("dst", "13800138000"),
            ("msg", "x"),
        ],
    )
    .await;
    assert_eq!(answer["errid"], "6013");

    let read: Value = client()
        .get(format!("{url}?product=juxiang&account={DEFAULT_ACCOUNT}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["balance"], 0);
    let missing = client()
        .post(&url)
        .json(&json!({ "product": "mms", "account": "nobody", "amount": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = client().post(&url).body("amount=3").send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn inbound_replies_can_be_injected_over_http() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let response = client()
        .post(format!("{}/_sandbox/inbound", sb.base_url()))
        .json(&json!({ "product": "juxiang", "from": "13900000009", "text": "收到" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = juxiang(
        &format!("{}readsms.asp", sb.url(Product::Juxiang)),
        &[("name", DEFAULT_ACCOUNT), ("pwd", DEFAULT_JUXIANG_PASSWORD)],
    )
    .await;
    assert_eq!(
        (answer["src"].as_str(), answer["msg"].as_str()),
        ("13900000009", "收到")
    );
}

#[tokio::test]
async fn request_counts_and_errors_of_the_control_api() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    submit(&sb, "13800138000").await;
    let counts: Value = client()
        .get(format!("{}/_sandbox/requests", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["ihuyi_sms"], 1);
    assert_eq!(counts["juxiang"], 0);
    let status = |method: reqwest::Method, path: &str| {
        let url = format!("{}{path}", sb.base_url());
        async move {
            client()
                .request(method, url)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(reqwest::Method::GET, "/_sandbox/nothing").await, 404);
    assert_eq!(status(reqwest::Method::GET, "/_sandbox/reset").await, 405);
    assert_eq!(status(reqwest::Method::DELETE, "/_sandbox/messages").await, 405);
    assert_eq!(status(reqwest::Method::GET, "/_sandbox/pushes").await, 200);
}
