//! How long each dashboard page takes with 100,000 messages in the store (release build; loopback;
//! the in-process sandbox as the providers; SQLite in a temporary directory). Each page is fetched
//! over HTTP with a logged-in session, so a figure is the whole request: session, store reads,
//! rendering. The baseline, measured in the same run, is `GET /readyz` (one store round trip).
//!
//! ```text
//! cargo bench -p sms-gateway --bench dashboard_render             # 100,000 messages, 20 runs a page
//! cargo bench -p sms-gateway --bench dashboard_render -- --quick  # 10,000 messages, 5 runs
//! ```
//!
//! The store holds messages over the last 24 h (95 % accepted, 5 % failed; of the accepted, 80 %
//! delivered and 5 % undelivered by receipt), a fifth of them in 20 bulks, 1,000 replies and 500
//! suppressions. Prints min / median per page and the median's ratio to the baseline's; nothing
//! is gated (shared machines).

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sms_config::{Config, LoadOptions};
use sms_core::{DeliveryReport, DeliveryStatus, InboundMessage, Message};
use sms_gateway::Gateway;
use sms_sandbox::Sandbox;
use sms_store::{
    ManualWallClock, MessageStore, NewMessage, OutcomeUpdate, SqliteStore, Status, StoreOptions,
};

const CHUNK: usize = 1000;

fn number(i: usize) -> String {
    // 20,000 distinct numbers, so a number search finds about five messages.
    format!("+861390{:07}", i % 20_000)
}

async fn fill(store: &SqliteStore, clock: &ManualWallClock, messages: usize) {
    let span = Duration::from_secs(24 * 60 * 60);
    let step = span / u32::try_from(messages / CHUNK).unwrap_or(1).max(1);
    for chunk in 0..messages / CHUNK {
        let records: Vec<NewMessage> = (0..CHUNK)
            .map(|j| {
                let i = chunk * CHUNK + j;
                let message = Message::text(
                    number(i).parse::<sms_core::PhoneNumber>().expect("valid"),
                    "【测试】您的验证码是1234",
                );
                let record = NewMessage::new(message);
                if chunk % 5 == 0 {
                    record.in_batch(format!("bulk-{chunk:03}"))
                } else {
                    record
                }
            })
            .collect();
        store.insert_sending(&records).await.expect("insert");
        let outcomes: Vec<OutcomeUpdate> = records
            .iter()
            .enumerate()
            .map(|(j, r)| {
                let to = r.message.recipients()[0].e164();
                if j % 20 == 19 {
                    let mut o = OutcomeUpdate::new(r.id.clone(), to, Status::Failed);
                    o.provider = Some("juxiang".into());
                    o.error_kind = Some("rejected".into());
                    o.error_code = Some("-2".into());
                    o
                } else {
                    let mut o = OutcomeUpdate::new(r.id.clone(), to, Status::Accepted);
                    o.provider = Some("ihuyi".into());
                    o.provider_message_id = Some(format!("pm{}", chunk * CHUNK + j));
                    o.billed_parts = Some(1);
                    o
                }
            })
            .collect();
        store.record_outcomes(&outcomes).await.expect("outcomes");
        let receipts: Vec<DeliveryReport> = outcomes
            .iter()
            .filter(|o| o.status == Status::Accepted)
            .enumerate()
            .filter(|(k, _)| k % 20 < 17)
            .map(|(k, o)| DeliveryReport {
                provider: "ihuyi".into(),
                message_id: o.provider_message_id.clone().expect("id"),
                recipient: o.number.clone(),
                status: if k % 20 == 16 {
                    DeliveryStatus::Undelivered
                } else {
                    DeliveryStatus::Delivered
                },
                code: if k % 20 == 16 {
                    "UNDELIV".into()
                } else {
                    "DELIVRD".into()
                },
                description: String::new(),
                reported_at: None,
                raw: Default::default(),
            })
            .collect();
        store.record_receipts(&receipts).await.expect("receipts");
        clock.advance(step);
    }
    for i in 0..1000 {
        let reply = InboundMessage {
            provider: "juxiang".into(),
            sender: number(i).trim_start_matches("+86").to_owned(),
            service_number: Some("10657".into()),
            text: format!("reply {i}"),
            received_at: None,
            opt_out: false,
            raw: Default::default(),
        };
        store.record_inbound(&reply).await.expect("reply");
    }
    for i in 0..500 {
        let n: sms_core::PhoneNumber = format!("1370{i:07}").parse().expect("valid");
        store.suppress(&n, "manual", "bench").await.expect("suppress");
    }
}

struct Session {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn get(&self, path: &str) -> Duration {
        let start = Instant::now();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200, "{path}");
        let body = r.bytes().await.expect("body");
        let took = start.elapsed();
        assert!(!body.is_empty());
        took
    }

    async fn search(&self, fields: &[(&str, &str)]) -> String {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let r = self
            .http
            .post(format!("{}/dashboard/messages", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
            .form(&form)
            .send()
            .await
            .expect("search");
        assert_eq!(r.status(), 303);
        r.headers()["location"].to_str().expect("location").to_owned()
    }
}

fn summary(mut runs: Vec<Duration>) -> (f64, f64) {
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(runs[0]), ms(runs[runs.len() / 2]))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (messages, runs) = if quick { (10_000, 5) } else { (100_000, 20) };
    let dir = harness::temp_dir();
    let db = dir.join("sms.db");
    let day_ms = 24 * 60 * 60 * 1000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let clock = Arc::new(ManualWallClock::new(now - day_ms));
    let options = StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    };
    let store = SqliteStore::open(db.to_str().expect("utf-8"), options)
        .await
        .expect("store");
    let started = Instant::now();
    fill(&store, &clock, messages).await;
    println!(
        "filled {messages} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let sandbox = Sandbox::builder().spawn().await.expect("sandbox");
    let text = harness::config_text(&sandbox.base_url(), &db, true, "");
    let config =
        Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).expect("config");
    let store: Arc<dyn MessageStore> = Arc::new(store);
    let gateway = Gateway::builder(config)
        .store(store.clone())
        .listener(listener)
        .spawn()
        .await
        .expect("gateway");
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = http
        .post(format!("{base}/dashboard/login"))
        .header("origin", &base)
        .form(&[("key", harness::ADMIN_KEY)])
        .send()
        .await
        .expect("login");
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let page = http
        .get(format!("{base}/dashboard/providers"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    let start = page.find(r#"name="csrf" value=""#).expect("csrf") + 19;
    let csrf = page[start..start + 64].to_owned();
    let session = Session {
        http,
        base: base.clone(),
        cookie,
        csrf,
    };
    let by_number = session.search(&[("number", &number(4242))]).await;
    let by_status = session.search(&[("status", "undelivered")]).await;
    let by_provider = session
        .search(&[("provider", "juxiang"), ("status", "failed")])
        .await;
    let some = store
        .reports()
        .expect("reports")
        .recipients(&Default::default(), 1)
        .await
        .expect("latest");
    let timeline = format!("/dashboard/messages/{}", some[0].message_id);

    let pages: Vec<(&str, String)> = vec![
        ("baseline: GET /readyz", "/readyz".to_owned()),
        ("providers", "/dashboard/providers".to_owned()),
        ("messages (latest 50)", "/dashboard/messages".to_owned()),
        ("messages by number", by_number),
        ("messages by status", by_status),
        ("messages by provider+status", by_provider),
        ("timeline", timeline),
        ("bulk runs", "/dashboard/batches".to_owned()),
        ("replies", "/dashboard/replies".to_owned()),
        ("suppressions", "/dashboard/suppressions".to_owned()),
    ];
    println!("{messages} messages, {runs} runs a page (after one warm-up)");
    println!("| page | min ms | median ms | median / baseline |");
    println!("| --- | --- | --- | --- |");
    let mut baseline = None;
    for (name, path) in &pages {
        session.get(path).await;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            times.push(session.get(path).await);
        }
        let (min, median) = summary(times);
        let base_median = *baseline.get_or_insert(median);
        println!(
            "| {name} | {min:.2} | {median:.2} | {:.1} |",
            median / base_median
        );
    }
    gateway.shutdown().await;
    drop(sandbox);
    let _ = std::fs::remove_dir_all(&dir);
}
