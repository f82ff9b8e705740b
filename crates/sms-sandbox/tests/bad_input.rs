//! Malformed requests get a provider error or a 4xx, and the sandbox keeps serving.

mod common;

use std::time::Duration;

use common::{DEADLINE, client, code, post_json};
use sms_sandbox::{DEFAULT_ACCOUNT, DEFAULT_KEY, Product, Sandbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn still_serving(sb: &Sandbox) {
    let v = post_json(
        &format!("{}?method=GetNum", sb.url(Product::IhuyiSms)),
        &[("account", DEFAULT_ACCOUNT), ("password", DEFAULT_KEY)],
    )
    .await;
    assert_eq!(code(&v), "2");
}

/// Writes raw bytes and reads whatever comes back until the server closes or goes quiet.
async fn raw(sb: &Sandbox, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(sb.addr()).await.unwrap();
    let (mut read, mut write) = stream.split();
    let request = request.to_vec();
    let writer = async move {
        // The server may answer and close before everything is written.
        let _ = write.write_all(&request).await;
        let _ = write.shutdown().await;
    };
    let reader = async {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), read.read_to_end(&mut answer)).await;
        answer
    };
    let ((), answer) = tokio::join!(writer, reader);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let get = |path: &str| {
        let url = format!("{}{path}", sb.base_url());
        async move { client().get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("/").await, 404);
    assert_eq!(get("/webservice/nothing.php").await, 404);
    assert_eq!(get("/send/other.asp").await, 404);
    assert_eq!(get("/send/").await, 404);
    let put = client()
        .put(format!("{}?method=Submit", sb.url(Product::IhuyiSms)))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(sb.request_count(Product::IhuyiSms), 1);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let big = format!("account=sandbox&content={}", "x".repeat(2 * 1024 * 1024));
    let response = client()
        .post(format!("{}?method=Submit", sb.url(Product::IhuyiSms)))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // Chunked, without a Content-Length: the cap still holds.
    let small = Sandbox::builder().max_body_bytes(1024).spawn().await.unwrap();
    let mut request =
        b"POST /webservice/sms.php?method=Submit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..8 {
        request.extend_from_slice(b"200\r\n");
        request.extend_from_slice(&[b'a'; 0x200]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(&small, &request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    still_serving(&sb).await;
    still_serving(&small).await;
}

#[tokio::test]
async fn wrong_encodings_are_refused_with_400() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let response = client()
        .post(format!("{}?method=Submit", sb.url(Product::IhuyiSms)))
        .header("content-type", "application/x-www-form-urlencoded")
        // GBK bytes sent to a UTF-8 API.
        .body("account=sandbox&password=sandbox-key&mobile=13800138000&content=%C4%E3%BA%C3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("content"));

    let response = client()
        .post(format!("{}gsend.asp", sb.url(Product::Juxiang)))
        .body("name=sandbox&pwd=sandbox-pwd&dst=13800138000&msg=%FF%FF%FF")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(sb.messages().is_empty());
}

#[tokio::test]
async fn malformed_percent_escapes_are_taken_literally() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let response = client()
        .post(format!("{}?method=Submit&format=json", sb.url(Product::IhuyiSms)))
        .body("account=sandbox&password=sandbox-key&mobile=13800138000&content=100%+sure%zz%4")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = response.json().await.unwrap();
    assert_eq!(code(&v), "2");
    assert_eq!(sb.messages()[0].text, "100% sure%zz%4");
}

#[tokio::test]
async fn garbage_that_is_not_http_does_not_hurt() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let answer = raw(
        &sb,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    let answer = raw(
        &sb,
        b"GET /webservice/sms.php?method=GetNum HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    )
    .await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    still_serving(&sb).await;
}

#[tokio::test]
async fn random_bodies_to_every_endpoint_never_break_the_server() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let paths = [
        "/webservice/sms.php?method=Submit",
        "/webservice/sms.php?method=AddTemplate",
        "/webservice/isms.php?method=Submit",
        "/webservice/voice.php?method=Submit",
        "/webservice/api?method=SendMms",
        "/webservice/api?method=CreateMms",
        "/send/gsend.asp",
        "/send/checkcontent.asp",
        "/send/readsms.asp",
        "/send/cpwd.asp",
        "/_sandbox/faults",
        "/_sandbox/balance",
        "/_sandbox/inbound",
    ];
    let content_types = [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "multipart/form-data",
        "application/json",
        "text/plain",
    ];
    let fragments: [&[u8]; 10] = [
        b"account=sandbox&password=sandbox-key&",
        b"name=sandbox&pwd=sandbox-pwd&",
        b"mobile=13800138000&dst=13800138000,,,&",
        b"content=%E4%BD&msg=%&",
        b"zipfile=UEsDBAo=&title=t&",
        b"--b\r\nContent-Disposition: form-data; name=\"zipfile\"\r\n\r\nPK\x03\x04\r\n--b--",
        b"time=99999999999999999999&",
        b"{\"kind\":{\"latency\":{\"min_ms\":18446744073709551615}}}",
        b"&&==&=&",
        b"\xff\xfe\x00\x01",
    ];
    for _ in 0..300 {
        let path = paths[rng.usize(..paths.len())];
        let mut body = Vec::new();
        for _ in 0..rng.usize(0..5) {
            body.extend_from_slice(fragments[rng.usize(..fragments.len())]);
            if rng.bool() {
                body.extend((0..rng.usize(0..16)).map(|_| rng.u8(..)));
            }
        }
        let response = client()
            .post(format!("{}{path}", sb.base_url()))
            .header("content-type", content_types[rng.usize(..content_types.len())])
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status == 200 || (400..500).contains(&status), "{path}: {status}");
        response.bytes().await.unwrap();
    }
    // Faults injected by the random control calls must not linger into the final check.
    sb.clear_faults();
    tokio::time::timeout(DEADLINE, still_serving(&sb)).await.unwrap();
}
