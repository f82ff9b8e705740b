//! `POST /v1/batches` and `GET /v1/batches/{id}` over real HTTP, with the sandbox as the providers.

mod harness;

use harness::{Harness, READ_KEY, SEND_KEY};
use serde_json::{Value, json};

async fn post_batch(h: &Harness, key: &str, idempotency: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = h.http.post(h.url("/v1/batches")).bearer_auth(key).json(&body);
    if let Some(k) = idempotency {
        request = request.header("Idempotency-Key", k);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_queued_sent_once_and_its_progress_counts_every_recipient() {
    let h = Harness::start().await;
    let rows = json!({"rows": [
        {"to": ["13800138000", "13800138001"], "text": "【测试】a", "reference": "b-1"},
        {"to": "13800138002", "text": "【测试】b"},
        {"to": "13800138003", "template": {"id": "7", "text": "code {c}", "variables": {"c": "1"}}},
    ]});
    let (status, body) = post_batch(&h, SEND_KEY, Some("batch-key-1"), rows.clone()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["messages"].as_u64(), body["recipients"].as_u64()),
        (Some(3), Some(4))
    );
    let id = body["id"].as_str().unwrap().to_owned();
    // The same key and body: the first answer, nothing queued again.
    let (status, again) = post_batch(&h, SEND_KEY, Some("batch-key-1"), rows).await;
    assert_eq!((status, &again), (202, &body));
    // The workers send every message; the sandbox pushes the receipts.
    let path = format!("/v1/batches/{id}");
    h.eventually(|| async {
        let (_, p) = h.get(READ_KEY, &path).await;
        p["counts"]["delivered"] == 4
    })
    .await;
    let (status, progress) = h.get(READ_KEY, &path).await;
    assert_eq!(status, 200, "{progress}");
    assert_eq!(progress["recipients"], 4);
    assert_eq!(progress["done"], true);
    assert_eq!(progress["counts"]["queued"], 0);
    assert_eq!(progress["billed_parts"], 4, "{progress}");
    assert_eq!(progress["billed"][0]["provider"], "ihuyi", "{progress}");
    let sent: Vec<String> = h
        .sandbox
        .messages()
        .into_iter()
        .flat_map(|m| m.recipients)
        .collect();
    assert_eq!(sent.len(), 4, "each recipient sent exactly once: {sent:?}");
    // Each message is readable, and belongs to the batch.
    let (_, m) = h.get(READ_KEY, "/v1/messages?reference=b-1").await;
    assert_eq!(m["batch_id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_recipients_of_one_body_are_one_batch() {
    let h = Harness::start().await;
    let to: Vec<String> = (0..20).map(|i| format!("139{i:08}")).collect();
    let (status, body) = post_batch(&h, SEND_KEY, None, json!({"to": to, "text": "【测试】all"})).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["messages"].as_u64(), body["recipients"].as_u64()),
        (Some(1), Some(20))
    );
    let path = format!("/v1/batches/{}", body["id"].as_str().unwrap());
    h.eventually(|| async { h.get(READ_KEY, &path).await.1["done"] == true })
        .await;
    let (_, progress) = h.get(READ_KEY, &path).await;
    let counts = progress["counts"].as_object().unwrap();
    assert_eq!(counts.values().filter_map(Value::as_u64).sum::<u64>(), 20);
    assert_eq!(counts["failed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_batches_are_refused_and_queue_nothing() {
    let h = Harness::start().await;
    let cases = [
        (json!({"rows": []}), 422, "invalid_request"),
        (
            json!({"rows": [{"to": "13800138000", "text": "a"}, {"to": "1", "text": "b"}]}),
            422,
            "invalid_request",
        ),
        (
            json!({"rows": [{"to": "13800138000"}], "to": "13800138000"}),
            400,
            "invalid_json",
        ),
        (json!({"text": "no one"}), 400, "invalid_json"),
        (
            json!({"rows": [{"to": "13800138000", "text": "a", "reference": "dup"},
                         {"to": "13800138001", "text": "b", "reference": "dup"}]}),
            409,
            "duplicate_reference",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post_batch(&h, SEND_KEY, None, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} -> {answer}"
        );
    }
    let (got, answer) = post_batch(&h, READ_KEY, None, json!({"to": "13800138000", "text": "a"})).await;
    assert_eq!((got, answer["error"]["code"].as_str()), (403, Some("forbidden")));
    let (got, answer) = h.get(READ_KEY, "/v1/batches/nope").await;
    assert_eq!((got, answer["error"]["code"].as_str()), (404, Some("not_found")));
    let (_, m) = h.get(READ_KEY, "/v1/messages?reference=dup").await;
    assert_eq!(
        m["error"]["code"], "not_found",
        "an all-or-nothing batch left nothing: {m}"
    );
}
