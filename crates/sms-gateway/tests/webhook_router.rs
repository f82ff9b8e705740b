//! The webhooks mounted in an application's own axum server (`sms_gateway::webhook_router`): the
//! application's routes and the pushes are served side by side, a receipt is stored before it is
//! acknowledged, a Juxiang `0000` reply becomes a suppression, and nothing else of the gateway is
//! served.

mod harness;

use harness::TOKEN;
use sms_core::PhoneNumber;
use sms_gateway::webhook_router;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_serves_the_webhooks_beside_its_own_routes() {
    let dir = harness::temp_dir();
    let store = harness::sqlite_store(&dir.join("sms.db"), None).await;
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "my app" }))
        .merge(webhook_router(harness::app_state(store.clone())));
    let base = harness::serve(app).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    assert_eq!(
        http.get(&base).send().await.unwrap().text().await.unwrap(),
        "my app"
    );
    // An ihuyi receipt for an id no send has: acknowledged with what ihuyi expects, kept unmatched.
    let receipt = http
        .post(format!("{base}/webhooks/{TOKEN}/ihuyi/receipt"))
        .body("code=2&msg=DELIVRD&mobilephone=13800138000&smsid=424242")
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.status(), 200);
    assert_eq!(receipt.text().await.unwrap(), "ok");
    let unmatched = store.unmatched_receipts(10).await.unwrap();
    assert_eq!(unmatched.len(), 1, "{unmatched:?}");
    assert_eq!(unmatched[0].provider_message_id, "424242");
    // A Juxiang unsubscribe reply: acknowledged, and the number is suppressed at once.
    let reply = http
        .get(format!(
            "{base}/webhooks/{TOKEN}/juxiang/reply?src=13900139000&dst=10657&msg=0000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (reply.status().as_u16(), reply.text().await.unwrap()),
        (200, "0".to_owned())
    );
    let number: PhoneNumber = "13900139000".parse().unwrap();
    assert_eq!(store.suppressed(&[number]).await.unwrap(), [true]);
    // The wrong token, and the gateway's API: not served here.
    let wrong = http
        .post(format!("{base}/webhooks/not-the-token-at-all/ihuyi/receipt"))
        .body("code=2&msg=DELIVRD&mobilephone=13800138000&smsid=1")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let api = http.post(format!("{base}/v1/messages")).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(store.unmatched_receipts(10).await.unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
