//! 10658 MMS over real HTTP: SendMms, GetNum, CreateMms and their codes.

mod common;

use std::io::Write;

use base64::Engine as _;
use common::{code, post_form, post_json, xml_field};
use serde_json::Value;
use sms_sandbox::{
    Account, DEFAULT_ACCOUNT, DEFAULT_KEY, DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID, Product, Sandbox,
};

fn api(sb: &Sandbox, method: &str) -> String {
    format!("{}?method={method}", sb.url(Product::Mms))
}

async fn send(sb: &Sandbox, mobile: &str, mmsid: &str, pid: &str) -> Value {
    post_json(
        &api(sb, "SendMms"),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", mobile),
            ("mmsid", mmsid),
            ("pid", pid),
        ],
    )
    .await
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut out);
        for (name, content) in files {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap();
    }
    out.into_inner()
}

const SMIL: &[u8] =
    b"<smil><body><par dur=\"5s\"><img src=\"a.jpg\"/><text src=\"a.txt\"/></par></body></smil>";

async fn create(sb: &Sandbox, title: &str, zipfile: &str) -> Value {
    post_json(
        &api(sb, "CreateMms"),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("title", title),
            ("zipfile", zipfile),
        ],
    )
    .await
}

#[tokio::test]
async fn send_mms_with_the_default_product_and_package() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let v = send(
        &sb,
        "13800138000,13800138001",
        DEFAULT_MMS_PACKAGE_ID,
        DEFAULT_MMS_PRODUCT_ID,
    )
    .await;
    assert_eq!(code(&v), "2", "{v}");
    let mmsid = v["mmsid"].as_str().unwrap();
    let m = &sb.messages()[0];
    assert_eq!(m.product, Product::Mms);
    assert_eq!(m.recipients, vec!["13800138000", "13800138001"]);
    assert_eq!(m.text, DEFAULT_MMS_PACKAGE_ID);
    assert_eq!(m.provider_id, mmsid);
    assert_eq!(m.billed, 2, "one per recipient");
    assert_eq!(sb.balance(Product::Mms, DEFAULT_ACCOUNT), Some(9_998));

    let (_, body) = post_form(
        &api(&sb, "SendMms"),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", DEFAULT_KEY),
            ("mobile", "13800138002"),
            ("mmsid", DEFAULT_MMS_PACKAGE_ID),
            ("pid", DEFAULT_MMS_PRODUCT_ID),
            ("time", "2030-01-02 03:04:05"),
        ],
    )
    .await;
    assert!(body.contains("<SendMmsResult xmlns=\""), "{body}");
    assert_eq!(xml_field(&body, "code").as_deref(), Some("2"));
    assert_eq!(sb.messages()[1].scheduled.as_deref(), Some("2030-01-02 03:04:05"));
}

#[tokio::test]
async fn send_mms_codes() {
    let sb = Sandbox::builder()
        .account(
            Product::Mms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY)
                .balance(2)
                .blacklist(["13800000000"]),
        )
        .spawn()
        .await
        .unwrap();
    let p = DEFAULT_MMS_PRODUCT_ID;
    let pkg = DEFAULT_MMS_PACKAGE_ID;
    assert_eq!(code(&send(&sb, "", pkg, p).await), "403");
    assert_eq!(code(&send(&sb, "13800138000", "", p).await), "404");
    assert_eq!(code(&send(&sb, "13800138000", pkg, "").await), "406");
    assert_eq!(code(&send(&sb, "13800138000", pkg, "99").await), "4060");
    assert_eq!(code(&send(&sb, "13800138000", "424242", p).await), "404");
    assert_eq!(code(&send(&sb, "123,13800000000", pkg, p).await), "409");
    assert_eq!(
        code(&send(&sb, "13800138000,13800138001,13800138002", pkg, p).await),
        "4051"
    );
    let v = post_json(
        &api(&sb, "SendMms"),
        &[
            ("account", DEFAULT_ACCOUNT),
            ("password", "x"),
            ("mobile", "13800138000"),
            ("mmsid", pkg),
            ("pid", p),
        ],
    )
    .await;
    assert_eq!(code(&v), "405");
    let v = post_json(&api(&sb, "SendMms"), &[("password", DEFAULT_KEY)]).await;
    assert_eq!(code(&v), "401");
    let v = post_json(&api(&sb, "SendMms"), &[("account", DEFAULT_ACCOUNT)]).await;
    assert_eq!(code(&v), "402");
    assert!(sb.messages().is_empty());

    // Partly valid: the good number goes out, the others are listed as failed.
    let v = send(&sb, "13800138000, 123 ,13800000000", pkg, p).await;
    assert_eq!(code(&v), "2");
    let m = &sb.messages()[0];
    assert_eq!(m.recipients, vec!["13800138000"]);
    assert_eq!(m.failed, vec!["123", "13800000000"]);
    assert_eq!(sb.balance(Product::Mms, DEFAULT_ACCOUNT), Some(1));
}

#[tokio::test]
async fn frozen_mms_account_and_get_num() {
    let sb = Sandbox::builder()
        .account(Product::Mms, Account::new("ice", "k").frozen(true).balance(7))
        .account(Product::Mms, Account::new("ok", "k").balance(7))
        .spawn()
        .await
        .unwrap();
    let v = post_json(&api(&sb, "GetNum"), &[("account", "ok"), ("password", "k")]).await;
    assert_eq!((code(&v), v["num"].clone()), ("2".to_owned(), Value::from(7)));
    let v = post_json(&api(&sb, "GetNum"), &[("account", "ice"), ("password", "k")]).await;
    assert_eq!(code(&v), "4050");
    let v = post_json(&api(&sb, "GetNum"), &[("account", "ok"), ("password", "bad")]).await;
    assert_eq!(code(&v), "405");
    let (_, body) = post_form(&api(&sb, "GetNum"), &[("account", "ok"), ("password", "k")]).await;
    assert!(
        body.contains("<GetNumResult xmlns=\"http://10658.cc/\">"),
        "{body}"
    );
}

#[tokio::test]
async fn create_mms_stores_a_package_that_send_mms_can_use() {
    let sb = Sandbox::builder()
        .account(
            Product::Mms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).sensitive_words(["赌博"]),
        )
        .spawn()
        .await
        .unwrap();
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let good = b64(zip(&[
        ("a.smil", SMIL),
        ("a.txt", "新年快乐".as_bytes()),
        ("a.jpg", b"\xff\xd8\xff"),
    ]));
    let v = create(&sb, "新年", &good).await;
    assert_eq!(code(&v), "2", "{v}");
    let mmsid = v["mmsid"].as_str().unwrap().to_owned();
    let v = send(&sb, "13800138000", &mmsid, DEFAULT_MMS_PRODUCT_ID).await;
    assert_eq!(code(&v), "2");
    assert_eq!(sb.messages()[0].text, mmsid);

    assert_eq!(code(&create(&sb, "", &good).await), "403");
    assert_eq!(code(&create(&sb, "t", "").await), "4040");
    assert_eq!(code(&create(&sb, "t", "not base64 at all!").await), "406");
    assert_eq!(code(&create(&sb, "t", &b64(b"not a zip".to_vec())).await), "406");
    let no_smil = b64(zip(&[("a.txt", b"hello"), ("a.jpg", b"x")]));
    assert_eq!(code(&create(&sb, "t", &no_smil).await), "4060");
    let bad_smil = b64(zip(&[("a.smil", b"<html></html>"), ("a.jpg", b"x")]));
    assert_eq!(code(&create(&sb, "t", &bad_smil).await), "4060");
    let only_smil = b64(zip(&[("a.smil", SMIL)]));
    assert_eq!(code(&create(&sb, "t", &only_smil).await), "404");

    // A package whose text has a sensitive word is stored but refused at sending.
    let gambling = b64(zip(&[("a.smil", SMIL), ("a.txt", "来赌博".as_bytes())]));
    let v = create(&sb, "t", &gambling).await;
    assert_eq!(code(&v), "2");
    let v = send(
        &sb,
        "13800138001",
        v["mmsid"].as_str().unwrap(),
        DEFAULT_MMS_PRODUCT_ID,
    )
    .await;
    assert_eq!(code(&v), "4070");
    assert!(v["msg"].as_str().unwrap().contains("赌博"));
}

#[tokio::test]
async fn create_mms_accepts_a_multipart_upload() {
    let sb = Sandbox::builder().spawn().await.unwrap();
    let zipped = zip(&[("a.smil", SMIL), ("a.txt", b"hi")]);
    let boundary = "XyZboundary42";
    let mut body = Vec::new();
    for (name, value) in [
        ("method", "CreateMms"),
        ("account", DEFAULT_ACCOUNT),
        ("password", DEFAULT_KEY),
        ("title", "t"),
        ("format", "json"),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"zipfile\"; filename=\"m.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(&zipped);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = common::client()
        .post(sb.url(Product::Mms))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(code(&v), "2", "{v}");
}

#[tokio::test]
async fn package_ids_belong_to_their_account() {
    // Two accounts both keep the default stored package: each sends its own, and neither can use
    // a package only the other one created.
    let second = Account::new("second", "second-key");
    let sb = Sandbox::builder()
        .account(Product::Mms, Account::default_for(Product::Mms))
        .account(Product::Mms, second)
        .spawn()
        .await
        .unwrap();
    let answer = send(&sb, "13800138000", DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID).await;
    assert_eq!(code(&answer), "2", "{answer}");
    let second_send = post_json(
        &api(&sb, "SendMms"),
        &[
            ("account", "second"),
            ("password", "second-key"),
            ("mobile", "13800138001"),
            ("mmsid", DEFAULT_MMS_PACKAGE_ID),
            ("pid", DEFAULT_MMS_PRODUCT_ID),
        ],
    )
    .await;
    assert_eq!(code(&second_send), "2", "{second_send}");

    let b64 = base64::engine::general_purpose::STANDARD.encode(zip(&[("a.smil", SMIL), ("a.txt", b"hi")]));
    let created = create(&sb, "mine", &b64).await;
    assert_eq!(code(&created), "2", "{created}");
    let id = created["mmsid"].as_str().unwrap().to_owned();
    let foreign = post_json(
        &api(&sb, "SendMms"),
        &[
            ("account", "second"),
            ("password", "second-key"),
            ("mobile", "13800138002"),
            ("mmsid", &id),
            ("pid", DEFAULT_MMS_PRODUCT_ID),
        ],
    )
    .await;
    assert_eq!(code(&foreign), "404", "{foreign}");
}
