//! The gateway over real HTTP, with the sandbox as the providers.

mod harness;

use std::time::Duration;

use harness::{ADMIN_KEY, Harness, READ_KEY, SEND_KEY, TOKEN};
use serde_json::json;
use sms_sandbox::{InboundReply, Product};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_is_recorded_and_the_pushed_receipt_makes_it_delivered() {
    let h = Harness::start().await;
    let (status, body) = h
        .send(
            SEND_KEY,
            json!({"to": ["13800138000", "13800138001"], "text": "【测试】hello", "reference": "order-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reference"], "order-1");
    let recipients = body["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 2);
    // Accepted, or already delivered: the sandbox pushes receipts at once and they may win the race.
    assert!(
        recipients
            .iter()
            .all(|r| (r["status"] == "accepted" || r["status"] == "delivered") && r["provider"] == "ihuyi"),
        "{body}"
    );
    let sent: Vec<String> = h
        .sandbox
        .messages()
        .into_iter()
        .flat_map(|m| m.recipients)
        .collect();
    assert_eq!(sent.len(), 2, "each recipient sent once: {sent:?}");
    let id = body["id"].as_str().unwrap().to_owned();

    // The sandbox pushes one receipt per recipient to the gateway's webhook, which acknowledges `ok`.
    let pushes = tokio::time::timeout(Duration::from_secs(10), h.sandbox.wait_for_pushes(2))
        .await
        .unwrap();
    assert!(pushes.iter().all(|p| p.succeeded), "{pushes:?}");
    let (status, message) = h.get(READ_KEY, &format!("/v1/messages/{id}")).await;
    assert_eq!(status, 200);
    let statuses: Vec<_> = message["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert!(statuses.iter().all(|s| s == "delivered"), "{message}");
    assert_eq!(message["receipts"].as_array().unwrap().len(), 2);
    let (status, by_ref) = h.get(READ_KEY, "/v1/messages?reference=order-1").await;
    assert_eq!((status, by_ref["id"].as_str()), (200, Some(id.as_str())));

    // A duplicate receipt and a receipt for an id nobody sent: stored and acknowledged all the same.
    let first = &pushes[0];
    for body in [
        serde_urlencoded_form(&first.fields),
        "code=2&msg=DELIVRD&mobilephone=13800138000&smsid=999999999".to_owned(),
    ] {
        let r = h
            .http
            .post(h.url(&format!("/webhooks/{TOKEN}/ihuyi/receipt")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "ok");
    }
    let (_, again) = h.get(READ_KEY, &format!("/v1/messages/{id}")).await;
    assert_eq!(
        again["recipients"], message["recipients"],
        "a duplicate changes nothing"
    );

    // Metrics: by provider, kind and outcome; receipts by status; never a number or the token.
    let metrics_text = || async { h.metrics().await };
    let metrics = metrics_text().await;
    assert!(
        metrics.contains(
            r#"sms_provider_request_duration_seconds_count{provider="ihuyi",operation="send",outcome="ok"} "#
        ),
        "{metrics}"
    );

    // Four receipts filed: two from the sandbox (applied, or unmatched when one beat the send's own
    // record, then matched), the duplicate and the unknown id.
    let receipts: u64 = metrics
        .lines()
        .filter(|l| l.starts_with(r#"sms_receipts_total{provider="ihuyi",status="delivered""#))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(receipts, 4, "{metrics}");
    assert!(
        metrics.contains(r#"sms_messages_total{provider="ihuyi",kind="text",outcome="#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sms_provider_breaker_state{provider="ihuyi"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/webhooks/{token}/{provider}/receipt""#),
        "{metrics}"
    );
    assert!(metrics.contains("sms_outbox_depth 0"), "{metrics}");
    assert!(
        !metrics.contains("13800138000") && !metrics.contains(TOKEN),
        "{metrics}"
    );
}

fn serde_urlencoded_form(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace(':', "%3A")))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_only_do_what_their_scopes_allow() {
    let h = Harness::start().await;
    let msg = json!({"to": "13800138000", "text": "hi"});
    assert_eq!(h.send(READ_KEY, msg.clone()).await.0, 403);
    assert_eq!(h.send("not-a-key", msg.clone()).await.0, 401);
    let r = h
        .http
        .post(h.url("/v1/messages"))
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    assert!(h.sandbox.messages().is_empty(), "refused requests send nothing");
    let (status, sent) = h.send(SEND_KEY, msg.clone()).await;
    assert_eq!(status, 200);
    let id = sent["id"].as_str().unwrap();
    assert_eq!(h.get(SEND_KEY, &format!("/v1/messages/{id}")).await.0, 403);
    assert_eq!(h.get(READ_KEY, &format!("/v1/messages/{id}")).await.0, 200);
    assert_eq!(h.get(ADMIN_KEY, &format!("/v1/messages/{id}")).await.0, 200);
    assert_eq!(h.get(READ_KEY, "/v1/messages/nope").await.0, 404);

    let add = |key: &'static str| {
        h.http
            .post(h.url("/v1/suppressions"))
            .bearer_auth(key)
            .json(&json!({"number": "13900000009"}))
            .send()
    };
    assert_eq!(add(SEND_KEY).await.unwrap().status(), 403);
    assert_eq!(add(READ_KEY).await.unwrap().status(), 403);
    assert_eq!(add(ADMIN_KEY).await.unwrap().status(), 201);
    assert_eq!(add(ADMIN_KEY).await.unwrap().status(), 200, "already there");
    let (status, list) = h.get(READ_KEY, "/v1/suppressions").await;
    assert_eq!(status, 200);
    assert_eq!(list["suppressions"][0]["number"], "+8613900000009");
    assert_eq!(list["suppressions"][0]["source"], "api:admin");
    // A suppressed number is refused without a request.
    let before = h.sandbox.request_count(Product::IhuyiSms);
    let (status, refused) = h.send(SEND_KEY, json!({"to": "13900000009", "text": "hi"})).await;
    assert_eq!(status, 200, "{refused}");
    assert_eq!(refused["recipients"][0]["status"], "failed", "{refused}");
    assert_eq!(h.sandbox.request_count(Product::IhuyiSms), before);
    let delete = |key: &'static str| {
        h.http
            .delete(h.url("/v1/suppressions/13900000009"))
            .bearer_auth(key)
            .send()
    };
    assert_eq!(delete(READ_KEY).await.unwrap().status(), 403);
    assert_eq!(delete(ADMIN_KEY).await.unwrap().status(), 204);
    assert_eq!(delete(ADMIN_KEY).await.unwrap().status(), 404);

    let (status, balances) = h.get(READ_KEY, "/v1/balances").await;
    assert_eq!(status, 200);
    assert_eq!(balances["balances"].as_array().unwrap().len(), 4, "{balances}");
    assert!(balances["balances"][0]["amount"].is_i64(), "{balances}");
    let (status, providers) = h.get(READ_KEY, "/v1/providers").await;
    assert_eq!(status, 200);
    assert_eq!(providers["providers"][0]["name"], "ihuyi");
    assert_eq!(providers["providers"][0]["breaker"], "closed");
    assert!(providers["providers"][0]["requests"].as_u64().unwrap() >= 1);
    assert_eq!(h.get(SEND_KEY, "/v1/providers").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_from_20_concurrent_clients_sends_once() {
    let h = Harness::start().await;
    let body = json!({"to": "13800138000", "text": "once only"});
    let answers = futures_util::future::join_all((0..20).map(|_| {
        h.http
            .post(h.url("/v1/messages"))
            .bearer_auth(SEND_KEY)
            .header("idempotency-key", "k-1")
            .json(&body)
            .send()
    }))
    .await;
    let ids = message_ids_of(answers).await;
    assert!(ids.len() <= 1, "{ids:?}");
    assert_eq!(h.sandbox.messages().len(), 1, "one send for one key");

    // Once settled, the same key and body get the first answer back, and nothing is sent.
    let again = post_keyed(&h, SEND_KEY, "k-1", &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replay: serde_json::Value = again.json().await.unwrap();
    assert_eq!(
        replay["id"].as_str(),
        ids.iter().next().map(String::as_str).or(replay["id"].as_str())
    );
    assert!(
        replay["recipients"][0]["status"] == "accepted" || replay["recipients"][0]["status"] == "delivered"
    );
    assert_eq!(h.sandbox.messages().len(), 1);
    // The same key with another body is refused.
    let other = post_keyed(
        &h,
        SEND_KEY,
        "k-1",
        &json!({"to": "13800138000", "text": "something else"}),
    )
    .await;
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
    assert_eq!(h.sandbox.messages().len(), 1);
}

/// `POST /v1/messages` of `body` with `api_key` and the `Idempotency-Key` `key`.
async fn post_keyed(h: &Harness, api_key: &str, key: &str, body: &serde_json::Value) -> reqwest::Response {
    h.http
        .post(h.url("/v1/messages"))
        .bearer_auth(api_key)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The message ids of concurrent answers to one keyed send: each is 200 (the message) or 409 (the
/// first still in flight).
async fn message_ids_of(
    answers: Vec<reqwest::Result<reqwest::Response>>,
) -> std::collections::BTreeSet<String> {
    let mut ids = std::collections::BTreeSet::new();
    for answer in answers {
        let answer = answer.unwrap();
        let status = answer.status().as_u16();
        let json: serde_json::Value = answer.json().await.unwrap();
        match status {
            200 => {
                ids.insert(json["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(json["error"]["code"], "idempotency_in_flight", "{json}"),
            other => panic!("unexpected {other}: {json}"),
        }
    }
    ids
}

/// Without an `Idempotency-Key`, the client reference a request names is its key: the same rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_reference_without_a_key_follows_the_idempotency_rules() {
    let h = Harness::start().await;
    let body = json!({"to": "13800138000", "text": "order shipped", "reference": "order-77"});
    let post = |body: serde_json::Value| {
        h.http
            .post(h.url("/v1/messages"))
            .bearer_auth(SEND_KEY)
            .json(&body)
            .send()
    };
    let answers = futures_util::future::join_all((0..20).map(|_| post(body.clone()))).await;
    let ids = message_ids_of(answers).await;
    assert_eq!(ids.len(), 1, "every 200 is the one message: {ids:?}");
    assert_eq!(h.sandbox.messages().len(), 1, "one send for one reference");

    // Settled: the same body gets the first answer back and nothing is sent.
    let again = post(body.clone()).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replay: serde_json::Value = again.json().await.unwrap();
    assert_eq!(replay["id"].as_str(), ids.iter().next().map(String::as_str));
    assert_eq!(replay["reference"], "order-77");
    // Another body under the same reference is refused, and nothing is sent.
    let other = post(json!({"to": "13800138000", "text": "a different text", "reference": "order-77"}))
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
    // A reference first used another way (here under an Idempotency-Key, as a batch or the CLI
    // would record it): the same message is answered from its record, another one is refused.
    let keyed = json!({"to": "13800138078", "text": "first text", "reference": "order-78"});
    let first = post_keyed(&h, SEND_KEY, "k-78", &keyed).await;
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(h.sandbox.messages().len(), 2);
    let same = post(keyed.clone()).await.unwrap();
    assert_eq!(same.status(), 200);
    assert_eq!(same.json::<serde_json::Value>().await.unwrap()["id"], first["id"]);
    let other = post(json!({"to": "13800138078", "text": "second text", "reference": "order-78"}))
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
    let elsewhere = post(json!({"to": "13900139000", "text": "first text", "reference": "order-78"}))
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 422, "another number is another message");
    assert_eq!(h.sandbox.messages().len(), 2);
    // The prefix the gateway keeps these records under is no reference of a client's.
    let reserved = post(json!({"to": "13800138000", "text": "x", "reference": "gw-ref:order-77"}))
        .await
        .unwrap();
    assert_eq!(reserved.status(), 422);
    assert_eq!(h.sandbox.messages().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_juxiang_0000_reply_suppresses_the_number_at_once() {
    let h = Harness::start().await;
    h.sandbox
        .inject_inbound(InboundReply::new(Product::Juxiang, "13900000001", "0000"));
    let pushes = tokio::time::timeout(Duration::from_secs(10), h.sandbox.wait_for_pushes(1))
        .await
        .unwrap();
    assert!(
        pushes[0].succeeded,
        "the gateway answered exactly `0`: {pushes:?}"
    );
    let (_, list) = h.get(READ_KEY, "/v1/suppressions").await;
    assert_eq!(list["suppressions"][0]["number"], "+8613900000001", "{list}");
    assert_eq!(list["suppressions"][0]["reason"], "opt_out");
    let before = h.sandbox.request_count(Product::IhuyiSms) + h.sandbox.request_count(Product::Juxiang);
    let (_, refused) = h.send(SEND_KEY, json!({"to": "13900000001", "text": "hi"})).await;
    assert_eq!(refused["recipients"][0]["status"], "failed", "{refused}");
    assert_eq!(
        h.sandbox.request_count(Product::IhuyiSms) + h.sandbox.request_count(Product::Juxiang),
        before,
        "refused without a request"
    );

    // The same push by GET, and an ordinary reply by POST in GBK (你好 = C4E3 BAC3).
    let r = h
        .http
        .get(h.url(&format!(
            "/webhooks/{TOKEN}/juxiang/reply?src=13900000002&dst=10657&msg=0000"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "0".to_owned())
    );
    let r = h
        .http
        .post(h.url(&format!("/webhooks/{TOKEN}/juxiang/reply")))
        .body("src=13900000003&dst=10657&msg=%C4%E3%BA%C3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "0".to_owned())
    );
    let (_, list) = h.get(READ_KEY, "/v1/suppressions").await;
    assert_eq!(list["suppressions"].as_array().unwrap().len(), 2, "{list}");
    // An ihuyi reply is stored and acknowledged with `ok`.
    let r = h
        .http
        .post(h.url(&format!("/webhooks/{TOKEN}/ihuyi/reply")))
        .body("mobile=13900000004&content=hello")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ok".to_owned())
    );

    // Every stored reply, oldest first, paged by cursor.
    let (status, page) = h.get(READ_KEY, "/v1/inbound?limit=2").await;
    assert_eq!(status, 200, "{page}");
    let senders: Vec<_> = page["inbound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sender"].clone())
        .collect();
    assert_eq!(senders, [json!("13900000001"), json!("13900000002")], "{page}");
    assert_eq!(page["inbound"][0]["opt_out"], true);
    let (_, rest) = h
        .get(READ_KEY, &format!("/v1/inbound?cursor={}", page["cursor"]))
        .await;
    let rest: Vec<_> = rest["inbound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["sender"].clone(), r["text"].clone()))
        .collect();
    assert_eq!(
        rest,
        [
            (json!("13900000003"), json!("你好")),
            (json!("13900000004"), json!("hello"))
        ]
    );
    assert_eq!(h.get(READ_KEY, "/v1/inbound?cursor=-1").await.0, 400);
    assert_eq!(h.get(SEND_KEY, "/v1/inbound").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_taking_requests() {
    let mut h = Harness::start().await;
    let r = h.http.get(h.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(h.get(READ_KEY, "/readyz").await.0, 200);
    let gateway = h.gateway.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), gateway.shutdown())
        .await
        .unwrap();
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(
        fresh.get(h.url("/healthz")).send().await.is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_send_in_flight_finish() {
    let mut h = Harness::start().await;
    let delay = Duration::from_millis(300);
    h.sandbox.inject_fault(sms_sandbox::Fault::latency(delay));
    let request = h
        .http
        .post(h.url("/v1/messages"))
        .bearer_auth(SEND_KEY)
        .json(&json!({"to": "13800138000", "text": "in flight"}))
        .send();
    let in_flight = tokio::spawn(request);
    // The request reaches the provider (which holds it for 300 ms), then the gateway is told to stop.
    h.eventually(|| async { h.sandbox.request_count(Product::IhuyiSms) > 0 })
        .await;
    let gateway = h.gateway.take().unwrap();
    tokio::time::timeout(Duration::from_secs(10), gateway.shutdown())
        .await
        .unwrap();
    let answer = in_flight.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200, "the send in flight was answered");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["recipients"][0]["status"], "accepted", "{body}");
    assert_eq!(h.sandbox.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_from_outside_the_allowlist_are_refused_and_not_stored() {
    let h = Harness::start_with("allowed_sources = [\"10.0.0.0/8\"]").await;
    let r = h
        .http
        .post(h.url(&format!("/webhooks/{TOKEN}/juxiang/reply")))
        .body("src=13900000001&dst=10657&msg=0000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "source_not_allowed"
    );
    let (_, list) = h.get(READ_KEY, "/v1/suppressions").await;
    assert_eq!(list["suppressions"], json!([]));
    let h = Harness::start_with("allowed_sources = [\"127.0.0.0/8\"]").await;
    let r = h
        .http
        .post(h.url(&format!("/webhooks/{TOKEN}/juxiang/reply")))
        .body("src=13900000001&dst=10657&msg=0000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_slower_than_the_sync_timeout_answers_202_and_completes_its_key() {
    let h = Harness::start_with("sync_timeout = \"100ms\"").await;
    let delay = Duration::from_millis(600);
    h.sandbox.inject_fault(sms_sandbox::Fault::latency(delay));
    let post = |text: &'static str| {
        h.http
            .post(h.url("/v1/messages"))
            .bearer_auth(SEND_KEY)
            .header("idempotency-key", "slow-1")
            .json(&json!({"to": "13800138000", "text": text, "reference": "slow-ref"}))
            .send()
    };
    let first = post("slow").await.unwrap();
    assert_eq!(first.status(), 202);
    let body: serde_json::Value = first.json().await.unwrap();
    assert_eq!(
        (body["reference"].as_str(), body["status"].as_str()),
        (Some("slow-ref"), Some("sending"))
    );
    // While the send goes on, the key is in flight.
    assert_eq!(post("slow").await.unwrap().status(), 409);
    // The send finishes in the background and its answer becomes the key's answer.
    h.eventually(|| async {
        let r = post("slow").await.unwrap();
        r.status() == 200 && r.headers().contains_key("idempotent-replayed")
    })
    .await;
    let (_, message) = h.get(READ_KEY, "/v1/messages?reference=slow-ref").await;
    let status = &message["recipients"][0]["status"];
    assert!(status == "accepted" || status == "delivered", "{message}");
    assert_eq!(h.sandbox.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_send_answers_202_and_the_outbox_sends_it_once() {
    let h = Harness::start().await;
    let (status, body) = h
        .send(
            SEND_KEY,
            json!({"to": ["13800138000", "13800138001"], "text": "queued", "reference": "q-1", "queue": true}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        body["recipients"]
            .as_array()
            .unwrap()
            .iter()
            // Read before the workers are woken; a worker's periodic poll may still claim it first.
            .all(|r| r["status"] == "queued" || r["status"] == "sending"),
        "{body}"
    );
    let id = body["id"].as_str().unwrap().to_owned();
    h.eventually(|| async {
        let (_, m) = h.get(READ_KEY, &format!("/v1/messages/{id}")).await;
        m["recipients"].as_array().is_some_and(|rs| {
            rs.iter()
                .all(|r| r["status"] == "accepted" || r["status"] == "delivered")
        })
    })
    .await;
    let sent: Vec<String> = h
        .sandbox
        .messages()
        .into_iter()
        .flat_map(|m| m.recipients)
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    // Counted by provider, kind and outcome as a synchronous send is (once the worker is done
    // with the claim, just after the store shows it accepted).
    h.eventually(|| async {
        let metrics = h.metrics().await;
        metrics.contains(r#"sms_messages_total{provider="ihuyi",kind="text",outcome="accepted"} 2"#)
    })
    .await;
    // The same request again gets the first answer and queues nothing; the same reference with
    // another body is refused, queued or not.
    let (status, again) = h
        .send(
            SEND_KEY,
            json!({"to": ["13800138000", "13800138001"], "text": "queued", "reference": "q-1", "queue": true}),
        )
        .await;
    assert_eq!(
        (status, again["id"].as_str()),
        (202, Some(id.as_str())),
        "{again}"
    );
    for other in [
        json!({"to": "13800138000", "text": "queued", "reference": "q-1", "queue": true}),
        json!({"to": "13800138000", "text": "queued", "reference": "q-1"}),
    ] {
        let (status, refused) = h.send(SEND_KEY, other).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (422, Some("idempotency_key_reused"))
        );
    }
    assert_eq!(h.sandbox.messages().len(), 2);
}

/// The ihuyi voice receipt is acknowledged with what ihuyi expects and filed; a push larger than
/// `gateway.body_limit` is a JSON 413 and files nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_receipt_is_filed_and_an_oversized_push_is_refused() {
    let h = Harness::start().await;
    let url = h.url(&format!("/webhooks/{TOKEN}/ihuyi-voice/receipt"));
    let r = h
        .http
        .post(&url)
        .body("code=2&msg=DELIVRD&mobilephone=13800138000&smsid=5555")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ok".to_owned())
    );
    let filed = r#"sms_receipts_total{provider="ihuyi-voice",status="delivered",disposition="unmatched"} 1"#;
    let metrics = h.metrics().await;
    assert!(metrics.contains(filed), "{metrics}");

    // The harness's body_limit is 4096 bytes.
    let huge = format!(
        "code=2&msg=DELIVRD&mobilephone=13800138000&smsid=6666&pad={}",
        "x".repeat(8192)
    );
    let r = h.http.post(&url).body(huge).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let error: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], "payload_too_large", "{error}");
    let metrics = h.metrics().await;
    assert!(
        metrics.contains(filed),
        "still one voice receipt filed: {metrics}"
    );
    assert!(!metrics.contains("6666"), "{metrics}");
}

/// Each API key has Idempotency-Keys of its own: another application using the same key (and the
/// same body) sends its own message and never sees the first one's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_belong_to_their_api_key() {
    let h = Harness::start().await;
    let body = json!({"to": "13800138031", "text": "per application"});
    let post = |api_key: &'static str| post_keyed(&h, api_key, "shared-1", &body);
    let first = post(SEND_KEY).await;
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.unwrap();
    let other = post(ADMIN_KEY).await;
    assert_eq!(other.status(), 200);
    assert!(other.headers().get("idempotent-replayed").is_none());
    let other: serde_json::Value = other.json().await.unwrap();
    assert_ne!(other["id"], first["id"], "its own message");
    // Each key still replays its own first answer.
    for (api_key, id) in [(SEND_KEY, &first["id"]), (ADMIN_KEY, &other["id"])] {
        let again = post(api_key).await;
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(&again.json::<serde_json::Value>().await.unwrap()["id"], id);
    }
}
