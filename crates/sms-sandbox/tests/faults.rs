//! Injected faults, observed by a real HTTP client.

mod common;

use std::time::{Duration, Instant};

use common::{client, code, form, juxiang, post_form};
use sms_sandbox::{
    DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY, DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID,
    Fault, FaultKind, FaultTarget, Product, Sandbox,
};

fn submit_body(mobile: &str) -> String {
    form(&[
        ("account", DEFAULT_ACCOUNT),
        ("password", DEFAULT_KEY),
        ("mobile", mobile),
        ("content", "hello"),
        ("format", "json"),
    ])
}

/// Sends a Submit; returns the status and body, or the error.
async fn try_submit(sb: &Sandbox, mobile: &str) -> Result<(u16, Vec<u8>), reqwest::Error> {
    try_submit_within(sb, mobile, Duration::from_secs(5)).await
}

async fn try_submit_within(
    sb: &Sandbox,
    mobile: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let response = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap()
        .post(format!("{}?method=Submit", sb.url(Product::IhuyiSms)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(submit_body(mobile))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?.to_vec()))
}

fn json_code(body: &[u8]) -> String {
    code(&serde_json::from_slice(body).unwrap())
}

#[tokio::test]
async fn http_status_for_the_next_n_requests_then_normal() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(
        Fault::new(FaultKind::HttpStatus(503))
            .target(FaultTarget::Product(Product::IhuyiSms))
            .next(2),
    );
    for (i, expected) in [503, 503, 200].into_iter().enumerate() {
        let (status, body) = try_submit(&sb, &format!("1380013800{i}")).await.unwrap();
        assert_eq!(status, expected);
        if status == 503 {
            assert!(String::from_utf8_lossy(&body).contains("503"));
        }
    }
    assert_eq!(sb.messages().len(), 1, "faulted requests are not handled");
    assert_eq!(sb.request_count(Product::IhuyiSms), 3, "but they are counted");
}

#[tokio::test]
async fn statuses_500_and_502_and_clearing() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    for status in [500, 502] {
        sb.inject_fault(Fault::new(FaultKind::HttpStatus(status)));
        assert_eq!(try_submit(&sb, "13800138000").await.unwrap().0, status);
        assert_eq!(
            try_submit(&sb, "13800138000").await.unwrap().0,
            status,
            "sticks until cleared"
        );
        sb.clear_faults();
    }
    assert_eq!(try_submit(&sb, "13800138000").await.unwrap().0, 200);
}

#[tokio::test]
async fn targets_limit_a_fault_to_a_product_or_a_path() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(
        Fault::new(FaultKind::HttpStatus(500)).target(FaultTarget::Path("/send/gsend.asp".into())),
    );
    sb.inject_fault(Fault::new(FaultKind::HttpStatus(502)).target(FaultTarget::Product(Product::Mms)));
    let creds = form(&[("name", DEFAULT_ACCOUNT), ("pwd", DEFAULT_JUXIANG_PASSWORD)]);
    let status = |url: String| {
        let creds = creds.clone();
        async move {
            client()
                .post(url)
                .body(creds)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        status(format!("{}gsend.asp", sb.url(Product::Juxiang))).await,
        500
    );
    assert_eq!(
        status(format!("{}getfee.asp", sb.url(Product::Juxiang))).await,
        200
    );
    assert_eq!(
        status(format!("{}?method=GetNum", sb.url(Product::Mms))).await,
        502
    );
    assert_eq!(try_submit(&sb, "13800138000").await.unwrap().0, 200);
}

#[tokio::test]
async fn probability_zero_never_fires_and_one_always_does() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(Fault::new(FaultKind::HttpStatus(500)).probability(0.0));
    for i in 0..5 {
        assert_eq!(try_submit(&sb, &format!("1380013800{i}")).await.unwrap().0, 200);
    }
    sb.clear_faults();
    sb.inject_fault(Fault::new(FaultKind::HttpStatus(502)).probability(1.0).next(3));
    let statuses: Vec<u16> = futures_util::future::join_all((0..4).map(|i| {
        let sb = &sb;
        async move { try_submit(sb, &format!("1380013801{i}")).await.unwrap().0 }
    }))
    .await;
    assert_eq!(statuses.iter().filter(|s| **s == 502).count(), 3, "{statuses:?}");
}

#[tokio::test]
async fn hang_never_answers() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(Fault::new(FaultKind::Hang).next(1));
    let err = try_submit_within(&sb, "13800138000", Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(sb.messages().is_empty());
    assert_eq!(try_submit(&sb, "13800138000").await.unwrap().0, 200);
}

#[tokio::test]
async fn close_without_response_drops_the_connection() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(Fault::new(FaultKind::CloseWithoutResponse).next(1));
    let err = try_submit(&sb, "13800138000").await.unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert!(sb.messages().is_empty());
}

#[tokio::test]
async fn reset_mid_body_breaks_the_answer_after_handling_the_request() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(Fault::new(FaultKind::ResetMidBody).next(1));
    let response = client()
        .post(format!("{}?method=Submit", sb.url(Product::IhuyiSms)))
        .body(submit_body("13800138000"))
        .send()
        .await
        .expect("status line and headers arrive");
    assert_eq!(response.status(), 200);
    let err = response.bytes().await.unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");
    assert_eq!(sb.messages().len(), 1, "the message went out: the ambiguous case");
}

#[tokio::test]
async fn garbled_truncated_and_oversized_bodies() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(Fault::new(FaultKind::GarbledBody).next(1));
    let (status, body) = try_submit(&sb, "13800138000").await.unwrap();
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    assert!(std::str::from_utf8(&body).is_err() || !String::from_utf8_lossy(&body).contains("code"));

    sb.inject_fault(Fault::new(FaultKind::TruncatedBody).next(1));
    let (status, body) = try_submit(&sb, "13800138001").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        body.starts_with(b"{\"code\":2"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());

    sb.inject_fault(Fault::new(FaultKind::OversizedBody).next(1));
    let response = client()
        .post(format!("{}?method=Submit", sb.url(Product::IhuyiSms)))
        .body(submit_body("13800138002"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.content_length(), Some(10 * 1024 * 1024));
    assert_eq!(response.bytes().await.unwrap().len(), 10 * 1024 * 1024);
    assert_eq!(sb.messages().len(), 3);
}

#[tokio::test]
async fn forced_provider_codes_in_well_formed_answers() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(
        Fault::new(FaultKind::ProviderCode("4051".into())).target(FaultTarget::Product(Product::IhuyiSms)),
    );
    let (status, body) = try_submit(&sb, "13800138000").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(json_code(&body), "4051");
    let (_, xml) = post_form(
        &format!("{}?method=Submit", sb.url(Product::IhuyiSms)),
        &[("account", DEFAULT_ACCOUNT)],
    )
    .await;
    assert!(xml.contains("<code>4051</code><msg>剩余条数不足</msg>"), "{xml}");
    assert!(sb.messages().is_empty());
    assert_eq!(sb.balance(Product::IhuyiSms, DEFAULT_ACCOUNT), Some(10_000));

    sb.inject_fault(
        Fault::new(FaultKind::ProviderCode("6013".into())).target(FaultTarget::Product(Product::Juxiang)),
    );
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
    assert_eq!((answer["num"].as_str(), answer["errid"].as_str()), ("0", "6013"));
    assert_eq!(answer["err"], "余额不足");

    sb.inject_fault(
        Fault::new(FaultKind::ProviderCode("4060".into())).target(FaultTarget::Product(Product::Mms)),
    );
    let v = common::post_json(
        &format!("{}?method=SendMms", sb.url(Product::Mms)),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", "13800138000"),
            ("mmsid", DEFAULT_MMS_PACKAGE_ID),
            ("pid", DEFAULT_MMS_PRODUCT_ID),
        ],
    )
    .await;
    assert_eq!(code(&v), "4060");
    assert!(sb.messages().is_empty());
}

#[tokio::test]
async fn latency_delays_and_combines_with_other_faults() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    sb.inject_fault(
        Fault::new(FaultKind::Latency {
            min: Duration::from_millis(250),
            max: Duration::from_millis(300),
        })
        .next(2),
    );
    sb.inject_fault(Fault::new(FaultKind::HttpStatus(503)).next(1));
    let start = Instant::now();
    assert_eq!(try_submit(&sb, "13800138000").await.unwrap().0, 503);
    assert!(start.elapsed() >= Duration::from_millis(250));
    let start = Instant::now();
    assert_eq!(try_submit(&sb, "13800138001").await.unwrap().0, 200);
    assert!(start.elapsed() >= Duration::from_millis(250));
    let start = Instant::now();
    assert_eq!(try_submit(&sb, "13800138002").await.unwrap().0, 200);
    assert!(start.elapsed() < Duration::from_millis(250), "latency used up");
}

#[tokio::test]
async fn faults_can_be_set_and_cleared_through_the_control_api() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let url = format!("{}/_sandbox/faults", sb.base_url());
    let response = client()
        .post(&url)
        .json(&serde_json::json!({
            "kind": { "http_status": 502 },
            "target": { "product": "ihuyi_sms" },
            "next": 1
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(try_submit(&sb, "13800138000").await.unwrap().0, 502);
    assert_eq!(try_submit(&sb, "13800138001").await.unwrap().0, 200);

    let latency = serde_json::json!({ "kind": { "latency": { "min_ms": 1, "max_ms": 2 } } });
    assert_eq!(
        client().post(&url).json(&latency).send().await.unwrap().status(),
        200
    );
    let forced = serde_json::json!({ "kind": { "provider_code": "4085" }, "probability": 1.0 });
    assert_eq!(
        client().post(&url).json(&forced).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        json_code(&try_submit(&sb, "13800138002").await.unwrap().1),
        "4085"
    );
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 200);
    assert_eq!(json_code(&try_submit(&sb, "13800138003").await.unwrap().1), "2");

    let bad = client()
        .post(&url)
        .body("{\"kind\":\"nonsense\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
