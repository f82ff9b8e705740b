//! The dashboard over real HTTP: every page rendered from a store filled by real sends through the
//! sandbox, and its security (sessions, scopes, CSRF, origins, numbers kept out of URLs).

mod harness;

use std::sync::Arc;
use std::time::Duration;

use harness::{ADMIN_KEY, READ_KEY, SEND_KEY, TOKEN};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;
use sms_config::{Config, LoadOptions};
use sms_core::Message;
use sms_gateway::Gateway;
use sms_sandbox::{InboundReply, Product, Sandbox};
use sms_store::{MessageStore, NewMessage, SqliteStore, StoreOptions};

/// A gateway with the sandbox as every provider, on a SQLite store the test can also reach.
struct Dash {
    sandbox: Sandbox,
    gateway: Option<Gateway>,
    store: Arc<dyn MessageStore>,
    http: reqwest::Client,
    base: String,
    dir: std::path::PathBuf,
}

impl Drop for Dash {
    fn drop(&mut self) {
        self.gateway.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A logged-in browser: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

impl Dash {
    async fn start() -> Self {
        Self::start_with("").await
    }

    /// A gateway whose config ends with `extra` (e.g. a `[chain]` section).
    async fn start_with(extra: &str) -> Self {
        Self::start_seeded(extra, async |_| {}).await
    }

    /// As [`Dash::start_with`], with `seed` run on the store before the gateway starts (what other
    /// instances, or this one before a restart, left there).
    async fn start_seeded(extra: &str, seed: impl AsyncFnOnce(&dyn MessageStore)) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sandbox = Sandbox::builder()
            .receipt_url(format!("{base}/webhooks/{TOKEN}/ihuyi/receipt"))
            .receipt_delay(Duration::ZERO)
            .push_retries(0)
            .undelivered_ratio(0.0)
            .upstream_url(Product::Juxiang, format!("{base}/webhooks/{TOKEN}/juxiang/reply"))
            .spawn()
            .await
            .unwrap();
        let dir = harness::temp_dir();
        let db = dir.join("sms.db");
        let mut text = harness::config_text(&sandbox.base_url(), &db, true, "");
        text.push_str(extra);
        let config =
            Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([])).unwrap();
        let store: Arc<dyn MessageStore> = Arc::new(
            SqliteStore::open(db.to_str().unwrap(), StoreOptions::default())
                .await
                .unwrap(),
        );
        seed(store.as_ref()).await;
        let gateway = Gateway::builder(config)
            .store(store.clone())
            .listener(listener)
            .spawn()
            .await
            .unwrap();
        Self {
            sandbox,
            gateway: Some(gateway),
            store,
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base,
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in with `key`; the login answer.
    async fn login_raw(&self, key: &str) -> reqwest::Response {
        self.http
            .post(self.url("/dashboard/login"))
            .header(ORIGIN, &self.base)
            .form(&[("key", key)])
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, key: &str) -> Browser {
        let r = self.login_raw(key).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()[LOCATION], "/dashboard/providers");
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/dashboard"] {
            assert!(set.contains(part), "{set}");
        }
        let cookie = set.split(';').next().unwrap().to_owned();
        let mut browser = Browser {
            cookie,
            csrf: String::new(),
        };
        let (status, page) = self.get(&browser, "/dashboard/providers").await;
        assert_eq!(status, 200, "{page}");
        browser.csrf = csrf_of(&page);
        browser
    }

    async fn get(&self, browser: &Browser, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path))
            .header(COOKIE, &browser.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts a form from the dashboard's own pages (same origin, the session's CSRF token).
    async fn post(&self, browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("csrf", browser.csrf.as_str())];
        form.extend_from_slice(fields);
        self.http
            .post(self.url(path))
            .header(COOKIE, &browser.cookie)
            .header(ORIGIN, &self.base)
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn send(&self, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .http
            .post(self.url("/v1/messages"))
            .bearer_auth(SEND_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Waits (real time: the sandbox pushes over real HTTP) until `check` holds, 10 s at most.
    async fn eventually<F, Fut>(&self, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        harness::eventually("condition", check).await;
    }
}

fn csrf_of(page: &str) -> String {
    let start = page.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// The values of `attr="…"` attributes that start with `prefix`.
fn attrs<'a>(page: &'a str, attr: &str, prefix: &str) -> Vec<&'a str> {
    let needle = format!(r#"{attr}="{prefix}"#);
    page.match_indices(&needle)
        .map(|(i, _)| {
            let start = i + attr.len() + 2;
            &page[start..start + page[start..].find('"').unwrap()]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_shows_what_real_sends_recorded() {
    let d = Dash::start().await;
    // A direct send, delivered by the sandbox's receipt.
    let sent = d
        .send(json!({"to": "13800138000", "text": "【测试】code 4711", "reference": "dash-1"}))
        .await;
    let id = sent["id"].as_str().unwrap().to_owned();
    let other = d
        .send(json!({"to": "13800138111", "text": "【测试】hello"}))
        .await;
    // A bulk of three, queued and sent by the gateway's outbox workers.
    let bulk: Vec<NewMessage> = (0..3)
        .map(|i| {
            NewMessage::new(Message::text(
                format!("1390000010{i}").parse::<sms_core::PhoneNumber>().unwrap(),
                "【测试】bulk",
            ))
            .in_batch("bulk-1")
        })
        .collect();
    d.store.enqueue(&bulk, None).await.unwrap();
    // A reply.
    d.sandbox
        .inject_inbound(InboundReply::new(Product::Juxiang, "13900000002", "hello there"));
    d.eventually(|| async {
        let counts = d.store.status_counts("bulk-1").await.unwrap();
        let delivered = counts.get(&sms_store::Status::Delivered).copied().unwrap_or(0);
        let message = d.store.message(&id).await.unwrap().unwrap();
        let replies = d.store.inbound_since(0, 10).await.unwrap();
        delivered == 3 && message.recipients[0].status == sms_store::Status::Delivered && replies.len() == 1
    })
    .await;

    let admin = d.login(ADMIN_KEY).await;

    // Providers: every configured provider, the chart, 100 % delivery for ihuyi over the last hour.
    let (status, page) = d.get(&admin, "/dashboard/providers").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"data-provider="ihuyi""#), "{page}");
    assert!(page.contains("<svg"), "{page}");
    assert!(
        page.contains("<polyline") || page.contains("<circle"),
        "a delivery line: {page}"
    );
    assert!(page.contains("ihuyi delivery"), "{page}");
    // Not adaptive: the weights are the configured ones, and the page says so.
    assert!(page.contains("fixed weights (strategy priority)"), "{page}");
    assert!(!page.contains("weight-changes"), "{page}");
    let ihuyi_row = &page[page.find(r#"data-provider="ihuyi""#).unwrap()..];
    let ihuyi_row = &ihuyi_row[..ihuyi_row.find("</tr>").unwrap()];
    // Five sends accepted in the last hour, none failed, all delivered.
    assert!(
        ihuyi_row.contains(r#"<td class="num">5</td><td class="num">0.0%</td><td class="num">100.0%</td>"#),
        "{ihuyi_row}"
    );
    assert!(ihuyi_row.contains("closed"), "{ihuyi_row}");

    // Messages: newest first, numbers masked, a timeline link for each.
    let (status, page) = d.get(&admin, "/dashboard/messages").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("138****8000") && page.contains("138****8111"),
        "{page}"
    );
    assert!(
        !page.contains("13800138000") && !page.contains("13800138111"),
        "{page}"
    );
    let links = attrs(&page, "href", "/dashboard/messages/");
    assert_eq!(links.len(), 5, "{page}");
    assert!(links.contains(&format!("/dashboard/messages/{id}").as_str()));

    // Search by number: a POST, then a URL with an opaque token only.
    let r = d
        .post(&admin, "/dashboard/messages", &[("number", "13800138000")])
        .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/dashboard/messages?q="), "{location}");
    assert!(
        // The token is random hex: it may hold any 3 digits by chance, never the number.
        !location.contains("13800138000") && !location.contains("8613800138000"),
        "{location}"
    );
    let (status, page) = d.get(&admin, &location).await;
    assert_eq!(status, 200);
    assert_eq!(
        attrs(&page, "href", "/dashboard/messages/"),
        vec![format!("/dashboard/messages/{id}")]
    );
    assert!(page.contains("number 138****8000"), "{page}");
    // By status and provider.
    let r = d
        .post(
            &admin,
            "/dashboard/messages",
            &[
                ("status", "delivered"),
                ("provider", "ihuyi"),
                ("reference", "dash-1"),
            ],
        )
        .await;
    let (_, page) = d.get(&admin, r.headers()[LOCATION].to_str().unwrap()).await;
    assert_eq!(attrs(&page, "href", "/dashboard/messages/").len(), 1, "{page}");
    // The token means nothing in another session.
    let reader = d.login(READ_KEY).await;
    let (_, page) = d.get(&reader, &location).await;
    assert!(page.contains("no longer known"), "{page}");

    // The timeline: recorded, sending, accepted with the provider id, delivered with the receipt.
    let (status, page) = d.get(&admin, &format!("/dashboard/messages/{id}")).await;
    assert_eq!(status, 200);
    let events: Vec<&str> = ["recorded", "sending", "accepted", "delivered"]
        .into_iter()
        .filter(|e| page.contains(&format!("<td>{e}</td>")))
        .collect();
    assert_eq!(events, ["recorded", "sending", "accepted", "delivered"], "{page}");
    assert!(page.contains("dash-1") && page.contains("138****8000"), "{page}");
    assert!(
        !page.contains("13800138000") && !page.contains("code 4711"),
        "{page}"
    );
    assert!(
        page.contains(r#"id="receipts""#) && page.contains("DELIVRD"),
        "{page}"
    );
    // An admin reveals the number and content by a POST; the answer shows them.
    let r = d
        .post(&admin, &format!("/dashboard/messages/{id}/reveal"), &[])
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("+8613800138000") && page.contains("code 4711"),
        "{page}"
    );
    let (_, page) = d.get(&reader, &format!("/dashboard/messages/{id}")).await;
    assert!(!page.contains(r#"id="reveal""#), "a reader gets no reveal button");
    let (status, _) = d.get(&admin, "/dashboard/messages/nosuchid").await;
    assert_eq!(status, 404);
    let _ = other;

    // Bulk runs: the bulk with its three delivered recipients.
    let (status, page) = d.get(&admin, "/dashboard/batches").await;
    assert_eq!(status, 200);
    let row = &page[page.find("<td>bulk-1</td>").expect("the bulk")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(r#"<td class="num">100.0%</td>"#), "{row}");
    assert!(page.contains(r#"<strong id="outbox">0</strong>"#), "{page}");

    // Replies: the sender masked, the text shown.
    let (status, page) = d.get(&admin, "/dashboard/replies").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("139****0002") && page.contains("hello there"),
        "{page}"
    );
    assert!(!page.contains("13900000002"), "{page}");

    // Suppressions: add, see masked, remove by token.
    let r = d
        .post(
            &admin,
            "/dashboard/suppressions/add",
            &[("number", "13700000001"), ("reason", "asked")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let number: sms_core::PhoneNumber = "13700000001".parse().unwrap();
    assert_eq!(
        d.store.suppressed(std::slice::from_ref(&number)).await.unwrap(),
        [true]
    );
    let (_, page) = d.get(&admin, "/dashboard/suppressions").await;
    assert!(
        page.contains("137****0001") && page.contains("asked") && page.contains("dashboard:admin"),
        "{page}"
    );
    assert!(
        !page.contains("13700000001"),
        "no number in the clear, not even in a form: {page}"
    );
    let token = {
        let start = page.find(r#"name="token" value=""#).unwrap() + r#"name="token" value=""#.len();
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    };
    let r = d
        .post(&admin, "/dashboard/suppressions/remove", &[("token", &token)])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(d.store.suppressed(&[number]).await.unwrap(), [false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_pages_follow_an_opaque_cursor() {
    let d = Dash::start().await;
    // 60 queued messages held back by a far schedule: recorded, never sent.
    let later = sms_store::Millis::MAX / 2;
    let records: Vec<NewMessage> = (0..60)
        .map(|i| {
            NewMessage::new(Message::text(
                format!("139{i:08}").parse::<sms_core::PhoneNumber>().unwrap(),
                "x",
            ))
        })
        .collect();
    d.store.enqueue(&records, Some(later)).await.unwrap();
    let admin = d.login(ADMIN_KEY).await;
    let (_, first) = d.get(&admin, "/dashboard/messages").await;
    let first_links = attrs(&first, "href", "/dashboard/messages/");
    assert_eq!(first_links.len(), 50);
    let older = attrs(&first, "href", "/dashboard/messages?q=");
    assert_eq!(older.len(), 1, "{first}");
    let (_, second) = d.get(&admin, older[0]).await;
    let second_links = attrs(&second, "href", "/dashboard/messages/");
    assert_eq!(second_links.len(), 10);
    assert!(
        second_links.iter().all(|l| !first_links.contains(l)),
        "no row twice"
    );
    assert!(attrs(&second, "href", "/dashboard/messages?q=").is_empty());
    assert_eq!(d.sandbox.messages().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_every_page_redirects_to_login() {
    let d = Dash::start().await;
    let none = Browser {
        cookie: "sms_dashboard=".to_owned() + &"ab".repeat(32),
        csrf: "x".into(),
    };
    for path in [
        "/dashboard",
        "/dashboard/providers",
        "/dashboard/messages",
        "/dashboard/messages/abc",
        "/dashboard/batches",
        "/dashboard/replies",
        "/dashboard/suppressions",
    ] {
        let r = d.http.get(d.url(path)).send().await.unwrap();
        assert_eq!((path, r.status().as_u16()), (path, 303));
        assert_eq!(r.headers()[LOCATION], "/dashboard/login");
        let r = d
            .http
            .get(d.url(path))
            .header(COOKIE, &none.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!((path, r.status().as_u16()), (path, 303), "an unknown session");
    }
    for path in [
        "/dashboard/suppressions/add",
        "/dashboard/messages",
        "/dashboard/logout",
    ] {
        let r = d.post(&none, path, &[("number", "13700000001")]).await;
        assert_eq!((path, r.status().as_u16()), (path, 303));
    }
    assert!(d.store.suppressions(None, 10).await.unwrap().is_empty());
    let (status, page) = (
        d.http
            .get(d.url("/dashboard/login"))
            .send()
            .await
            .unwrap()
            .status(),
        d.http
            .get(d.url("/dashboard/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert!(page.contains(r#"type="password""#));

    // Wrong keys: no session.
    let r = d.login_raw("nope").await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert!(!r.text().await.unwrap().contains("nope"), "the key is not echoed");
    let r = d.login_raw(SEND_KEY).await;
    assert_eq!(r.status(), 403, "a send-only key cannot read");
    // A login posted from another site.
    let r = d
        .http
        .post(d.url("/dashboard/login"))
        .header(ORIGIN, "http://evil.example")
        .form(&[("key", ADMIN_KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get(SET_COOKIE).is_none());

    // Logging out ends the session on the server.
    let admin = d.login(ADMIN_KEY).await;
    let r = d.post(&admin, "/dashboard/logout", &[]).await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let (status, _) = d.get(&admin, "/dashboard/providers").await;
    assert_eq!(status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_need_admin_scope_the_csrf_token_and_this_origin() {
    let d = Dash::start().await;
    d.store
        .suppress(&"13700000009".parse().unwrap(), "manual", "test")
        .await
        .unwrap();
    let sent = d.send(json!({"to": "13800138000", "text": "【测试】hi"})).await;
    let id = sent["id"].as_str().unwrap();

    // A read key sees but cannot change.
    let reader = d.login(READ_KEY).await;
    let (status, page) = d.get(&reader, "/dashboard/suppressions").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("137****0009") && page.contains("(read only)"),
        "{page}"
    );
    assert!(
        !page.contains(r#"id="add""#) && !page.contains(r#"name="token""#),
        "{page}"
    );
    let r = d
        .post(
            &reader,
            "/dashboard/suppressions/add",
            &[("number", "13700000001")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = d
        .post(&reader, &format!("/dashboard/messages/{id}/reveal"), &[])
        .await;
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains("13800138000"));

    // An admin, but the form comes from elsewhere: no token, a wrong token, another origin, or a
    // browser saying cross-site.
    let admin = d.login(ADMIN_KEY).await;
    let add = |csrf: &str| vec![("csrf", csrf.to_owned()), ("number", "13700000001".to_owned())];
    let cases = [
        (add(""), Some(d.base.clone()), None),
        (add("wrong"), Some(d.base.clone()), None),
        (add(&reader.csrf), Some(d.base.clone()), None),
        (add(&admin.csrf), Some("http://evil.example".to_owned()), None),
        (add(&admin.csrf), Some("null".to_owned()), None),
        (add(&admin.csrf), None, Some("cross-site")),
    ];
    for (form, origin, fetch_site) in cases {
        let mut request = d
            .http
            .post(d.url("/dashboard/suppressions/add"))
            .header(COOKIE, &admin.cookie)
            .form(&form);
        if let Some(origin) = &origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 403, "{form:?} {origin:?} {fetch_site:?}");
    }
    let r = d.post(&admin, "/dashboard/messages", &[]).await;
    assert_eq!(r.status(), 303, "an empty search is allowed");
    // A removal token from another session removes nothing.
    let (_, page) = d.get(&admin, "/dashboard/suppressions").await;
    let start = page.find(r#"name="token" value=""#).unwrap() + r#"name="token" value=""#.len();
    let token = page[start..start + page[start..].find('"').unwrap()].to_owned();
    let other_admin = d.login(ADMIN_KEY).await;
    let r = d
        .post(
            &other_admin,
            "/dashboard/suppressions/remove",
            &[("token", &token)],
        )
        .await;
    assert_eq!(r.status(), 400);
    let list = d.store.suppressions(None, 10).await.unwrap();
    assert_eq!(
        list.iter().map(|s| s.number.as_str()).collect::<Vec<_>>(),
        ["+8613700000009"],
        "nothing changed"
    );
    // Bad input gets a page, not a 500.
    let r = d
        .post(
            &admin,
            "/dashboard/suppressions/add",
            &[("number", "not a number")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = d.post(&admin, "/dashboard/messages", &[("status", "lost")]).await;
    assert_eq!(r.status(), 400);
}

/// Under adaptive routing the providers page shows the router's weights, its change with the reason
/// and evidence, and the weight history as step lines in the chart with the change marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_weight_changes_show_with_their_reason_and_in_the_chart() {
    let d = Dash::start_with(
        "\n[chain]\nstrategy = \"adaptive\"\n[chain.adaptive]\ninterval = \"1s\"\nerror_threshold = 1\n",
    )
    .await;
    let admin = d.login(ADMIN_KEY).await;
    let (status, page) = d.get(&admin, "/dashboard/providers").await;
    assert_eq!(status, 200);
    // Four providers of weight 1 rest at 25 points each; nothing has moved yet.
    let row = row_of(&page, "ihuyi");
    assert!(row.contains(r#"<td class="num resting-weight">25</td>"#), "{row}");
    assert!(page.contains("No weight change stored."), "{page}");
    assert!(
        page.contains("ihuyi weight"),
        "the weight series in the legend: {page}"
    );

    // The first provider tried answers 503 once: one send error, the threshold, so the decider
    // demotes it at its next evaluation.
    d.sandbox
        .inject_fault(sms_sandbox::Fault::new(sms_sandbox::FaultKind::HttpStatus(503)).next(1));
    d.send(json!({"to": "13800138000", "text": "【测试】hello"}))
        .await;
    // The decider runs every second; the page shows its change once it has made one.
    let page = std::sync::Mutex::new(String::new());
    d.eventually(|| async {
        let (_, p) = d.get(&admin, "/dashboard/providers").await;
        let changed = p.contains(r#"id="weight-changes""#);
        *page.lock().unwrap() = p;
        changed
    })
    .await;
    let page = page.into_inner().unwrap();
    let changes = &page[page.find(r#"id="weight-changes""#).unwrap()..];
    let changes = &changes[..changes.find("</table>").unwrap()];
    assert!(
        changes.contains(r#"<td class="reason">demoted</td>"#),
        "{changes}"
    );
    assert!(changes.contains("1 send errors"), "the evidence: {changes}");
    // The demoted provider is down from 25 and its current weight says so.
    assert!(changes.contains("25 → "), "{changes}");
    // The chart: step lines for the weights and the change marked, its reason in the tooltip.
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
    assert!(svg.contains(r#"<polyline class="step""#), "{svg}");
    assert!(svg.contains(r#"<line class="mark""#), "{svg}");
    assert!(svg.contains("<title>demoted at "), "{svg}");
}

/// The weight changes come from the store's log, not the router's memory: a fresh gateway on a store
/// where changes were recorded (by another instance, or before a restart) shows every one of them
/// with its reason, though its own router has decided nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_gateway_shows_the_weight_changes_stored_before_it_started() {
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    // Weights of the four providers (25 points each at rest), before and after.
    let change = |minutes_ago: u64, reason: &str, before: [u32; 4], after: [u32; 4], errors: u32| {
        let providers: Vec<serde_json::Value> = ["ihuyi", "juxiang", "ihuyi-voice", "mms-10658"]
            .iter()
            .zip(before.iter().zip(after))
            .map(|(name, (before, after))| {
                json!({"name": name, "resting": 25, "before": before, "after": after,
                       "send_errors": if *name == "ihuyi" { errors } else { 0 }})
            })
            .collect();
        json!({"at_ms": now_ms - minutes_ago * 60_000, "reason": reason, "providers": providers}).to_string()
    };
    let demoted = change(90, "demoted", [25; 4], [7, 31, 31, 31], 4);
    let drifted = change(30, "drifted", [7, 31, 31, 31], [16, 28, 28, 28], 0);
    // An hour between decisions: this gateway's router decides nothing during the test.
    let d = Dash::start_seeded(
        "\n[chain]\nstrategy = \"adaptive\"\n[chain.adaptive]\ninterval = \"1h\"\n",
        async |store| {
            store.record_weight_change("demoted", &demoted).await.unwrap();
            store.record_weight_change("drifted", &drifted).await.unwrap();
        },
    )
    .await;
    let admin = d.login(ADMIN_KEY).await;
    let (status, page) = d.get(&admin, "/dashboard/providers").await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("No weight change stored."), "{page}");
    let changes = &page[page.find(r#"id="weight-changes""#).expect("the changes table")..];
    let changes = &changes[..changes.find("</table>").unwrap()];
    // Newest first, both of them: the router would have adopted only the latest.
    let demoted_at = changes
        .find(r#"<td class="reason">demoted</td>"#)
        .unwrap_or_else(|| panic!("{changes}"));
    let drifted_at = changes
        .find(r#"<td class="reason">drifted</td>"#)
        .unwrap_or_else(|| panic!("{changes}"));
    assert!(drifted_at < demoted_at, "newest first: {changes}");
    assert!(changes.contains("25 → 7"), "{changes}");
    assert!(changes.contains("7 → 16"), "{changes}");
    assert!(changes.contains("4 send errors"), "the evidence: {changes}");
    // Both changes are marked on the chart, their reasons in the tooltips.
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
    assert!(svg.contains("<title>demoted at "), "{svg}");
    assert!(svg.contains("<title>drifted at "), "{svg}");
}

/// The row of `provider` in the providers table.
fn row_of<'a>(page: &'a str, provider: &str) -> &'a str {
    let row = &page[page.find(&format!(r#"data-provider="{provider}""#)).unwrap()..];
    &row[..row.find("</tr>").unwrap()]
}
