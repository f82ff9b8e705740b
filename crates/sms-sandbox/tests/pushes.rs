//! Delivery receipts and handset-reply pushes, received by a real local HTTP server.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{DEADLINE, Receiver, code, parse_form, post_json};
use sms_sandbox::{DEFAULT_ACCOUNT, DEFAULT_KEY, InboundReply, Product, PushKind, Sandbox};
use tokio::time::timeout;

async fn submit(sb: &Sandbox, product: Product, mobile: &str, content: &str) -> serde_json::Value {
    post_json(
        &format!("{}?method=Submit", sb.url(product)),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", mobile),
            ("content", content),
        ],
    )
    .await
}

fn is_report_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[tokio::test]
async fn receipt_is_posted_after_the_delay_with_every_field() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&receiver.url)
        .receipt_delay(Duration::from_millis(80))
        .spawn()
        .await
        .unwrap();
    let v = submit(&sb, Product::IhuyiSms, "13800138000", "hello").await;
    let accepted = Instant::now();
    assert_eq!(code(&v), "2");
    let received = receiver.next().await;
    assert!(
        accepted.elapsed() >= Duration::from_millis(70),
        "arrived too early"
    );
    assert!(
        received
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    );
    let fields = parse_form(&received.body, false);
    assert_eq!(fields["code"], "2");
    assert_eq!(fields["msg"], "DELIVRD");
    assert_eq!(fields["mobilephone"], "13800138000");
    assert_eq!(fields["smsid"], v["smsid"].as_str().unwrap());
    assert!(
        is_report_time(&fields["report_time"]),
        "{}",
        fields["report_time"]
    );

    let pushes = timeout(DEADLINE, sb.wait_for_pushes(1)).await.unwrap();
    assert_eq!(pushes[0].kind, PushKind::Receipt);
    assert!(pushes[0].succeeded);
    assert_eq!(pushes[0].attempts, 1);
    assert!(sb.messages()[0].delivered);
}

#[tokio::test]
async fn undelivered_share_is_reported_in_receipts() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&receiver.url)
        .receipt_delay(Duration::from_millis(1))
        .undelivered_ratio(1.0)
        .spawn()
        .await
        .unwrap();
    submit(&sb, Product::IhuyiSms, "13800138000", "hello").await;
    let fields = parse_form(&receiver.next().await.body, false);
    assert_ne!(fields["code"], "2");
    assert_eq!(fields["msg"], "UNDELIV");
    assert!(!sb.messages()[0].delivered);
}

#[tokio::test]
async fn voice_and_international_messages_get_receipts_too() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&receiver.url)
        .receipt_delay(Duration::from_millis(1))
        .spawn()
        .await
        .unwrap();
    let v = submit(&sb, Product::IhuyiVoice, "13800138000", "5678").await;
    let fields = parse_form(&receiver.next().await.body, false);
    assert_eq!(fields["smsid"], v["voiceid"].as_str().unwrap());
    let v = submit(&sb, Product::IhuyiInternational, "1 2025550123", "hi").await;
    let fields = parse_form(&receiver.next().await.body, false);
    assert_eq!(fields["smsid"], v["smsid"].as_str().unwrap());
    assert_eq!(fields["mobilephone"], "1 2025550123");
}

#[tokio::test]
async fn a_failing_receiver_is_retried_a_bounded_number_of_times() {
    let always_down = Receiver::start(usize::MAX, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&always_down.url)
        .receipt_delay(Duration::from_millis(1))
        .push_retries(2)
        .spawn()
        .await
        .unwrap();
    submit(&sb, Product::IhuyiSms, "13800138000", "hello").await;
    let pushes = timeout(DEADLINE, sb.wait_for_pushes(1)).await.unwrap();
    assert_eq!(pushes[0].attempts, 3);
    assert!(!pushes[0].succeeded);
    assert_eq!(always_down.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_receiver_that_recovers_gets_the_receipt() {
    let recovering = Receiver::start(2, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&recovering.url)
        .receipt_delay(Duration::from_millis(1))
        .spawn()
        .await
        .unwrap();
    submit(&sb, Product::IhuyiSms, "13800138000", "hello").await;
    let pushes = timeout(DEADLINE, sb.wait_for_pushes(1)).await.unwrap();
    assert_eq!((pushes[0].attempts, pushes[0].succeeded), (3, true));
    assert_eq!(recovering.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn reset_cancels_pending_receipts() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&receiver.url)
        .receipt_delay(Duration::from_millis(150))
        .spawn()
        .await
        .unwrap();
    submit(&sb, Product::IhuyiSms, "13800138000", "before reset").await;
    sb.reset();
    let v = submit(&sb, Product::IhuyiSms, "13800138001", "after reset").await;
    // Had the first receipt survived, it would have arrived first.
    let fields = parse_form(&receiver.next().await.body, false);
    assert_eq!(fields["smsid"], v["smsid"].as_str().unwrap());
}

#[tokio::test]
async fn juxiang_replies_are_pushed_in_gbk_and_need_a_zero_answer() {
    let mut receiver = Receiver::start(0, 200, "0").await;
    let sb = Sandbox::builder()
        .upstream_url(Product::Juxiang, &receiver.url)
        .spawn()
        .await
        .unwrap();
    sb.inject_inbound(
        InboundReply::new(Product::Juxiang, "13900000001", "退订 谢谢").service_number("1069000012"),
    );
    let received = receiver.next().await;
    assert!(received.content_type.contains("gbk"), "{}", received.content_type);
    let fields = parse_form(&received.body, true);
    assert_eq!(fields["src"], "13900000001");
    assert_eq!(fields["dst"], "1069000012");
    assert_eq!(fields["msg"], "退订 谢谢");
    let pushes = timeout(DEADLINE, sb.wait_for_pushes(1)).await.unwrap();
    assert_eq!((pushes[0].kind, pushes[0].succeeded), (PushKind::Upstream, true));
}

#[tokio::test]
async fn a_juxiang_receiver_answering_anything_but_zero_has_failed() {
    let receiver = Receiver::start(0, 200, "<html>ok</html>").await;
    let sb = Sandbox::builder()
        .upstream_url(Product::Juxiang, &receiver.url)
        .push_retries(1)
        .spawn()
        .await
        .unwrap();
    sb.inject_inbound(InboundReply::new(Product::Juxiang, "13900000001", "hi"));
    let pushes = timeout(DEADLINE, sb.wait_for_pushes(1)).await.unwrap();
    assert_eq!((pushes[0].attempts, pushes[0].succeeded), (2, false));
}

#[tokio::test]
async fn ihuyi_replies_are_pushed_as_utf8_forms() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .upstream_url(Product::IhuyiSms, &receiver.url)
        .spawn()
        .await
        .unwrap();
    sb.inject_inbound(InboundReply::new(Product::IhuyiSms, "13900000002", "好的 👍"));
    let fields = parse_form(&receiver.next().await.body, false);
    assert_eq!(fields["mobile"], "13900000002");
    assert_eq!(fields["content"], "好的 👍");
    assert!(is_report_time(&fields["time"]));
}

/// Apps often test with a paused Tokio clock: receipts then arrive without waiting in real time,
/// and idle keep-alive connections survive the jumps of the clock. (No Tokio timeouts here: a
/// paused clock would jump straight to them.)
#[tokio::test(start_paused = true)]
async fn receipts_follow_a_paused_tokio_clock() {
    let mut receiver = Receiver::start(0, 200, "ok").await;
    let sb = Sandbox::builder()
        .receipt_url(&receiver.url)
        .receipt_delay(Duration::from_secs(600))
        .spawn()
        .await
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}?method=Submit", sb.url(Product::IhuyiSms));
    let send = |mobile: &'static str| {
        let request = http.post(&url).form(&[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", mobile),
            ("content", "hello"),
            ("format", "json"),
        ]);
        async move {
            let body = request.send().await.unwrap().text().await.unwrap();
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let started = Instant::now();
    let v = send("13800138000").await;
    let received = receiver.rx.recv().await.unwrap();
    let fields = parse_form(&received.body, false);
    assert_eq!(fields["smsid"], v["smsid"].as_str().unwrap());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "real time, not the paused clock"
    );
    // The pooled connection sat idle for ten virtual minutes and still works.
    assert_eq!(code(&send("13800138001").await), "2");
}
