//! A gateway on 127.0.0.1:0 with the in-process sandbox as every provider; the sandbox pushes its
//! receipts and replies to the gateway's webhooks.

#![allow(dead_code)]

pub mod receiver;

use std::path::PathBuf;
use std::time::Duration;

use sms_config::{Config, LoadOptions};
use sms_gateway::{Gateway, hash_key};
use sms_sandbox::{Product, Sandbox};

pub const TOKEN: &str = "test-webhook-token-0123456789";
pub const READ_KEY: &str = "read-key-for-tests";
pub const SEND_KEY: &str = "send-key-for-tests";
pub const ADMIN_KEY: &str = "admin-key-for-tests";

pub struct Harness {
    pub sandbox: Sandbox,
    pub gateway: Option<Gateway>,
    pub http: reqwest::Client,
    pub base: String,
    pub dir: PathBuf,
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sms-gateway-test-{}", sms_store::new_id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `text` as a config file, with no environment variables.
pub fn config(text: &str) -> Config {
    Config::from_toml_str(text, &LoadOptions::new().env_vars::<String, String>([])).unwrap()
}

/// The wall clock now, in milliseconds: where a test's manual clock starts.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The SQLite store at `db`, on `clock` (the system's when `None`).
pub async fn sqlite_store(
    db: &std::path::Path,
    clock: Option<std::sync::Arc<sms_store::ManualWallClock>>,
) -> std::sync::Arc<dyn sms_store::MessageStore> {
    let mut options = sms_store::StoreOptions::default();
    if let Some(clock) = clock {
        options.clock = clock;
    }
    std::sync::Arc::new(
        sms_store::SqliteStore::open(db.to_str().unwrap(), options)
            .await
            .unwrap(),
    )
}

/// A gateway's state (`sms_gateway::AppState`) on `store`, with the sandbox config's providers at
/// an address never called and the harness's keys and token: for tests that serve a router of
/// their own.
pub fn app_state(store: std::sync::Arc<dyn sms_store::MessageStore>) -> sms_gateway::AppState {
    let config = config(&config_text(
        "http://127.0.0.1:9",
        std::path::Path::new("unused.db"),
        true,
        "",
    ));
    let keys = sms_gateway::ApiKeys::from_config(&config.gateway().api_keys).unwrap();
    let (state, _sends) =
        sms_gateway::AppState::new(config, store, keys, sms_core::Secret::new(TOKEN)).unwrap();
    state
}

/// Serves `app` on 127.0.0.1:0 with each peer's address (for `gateway.allowed_sources`); returns
/// its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    base
}

pub fn config_text(sandbox_base: &str, db: &std::path::Path, keys: bool, extra_gateway: &str) -> String {
    let mut text = Config::sandbox_toml(sandbox_base);
    // `extra_gateway` may set its own sync timeout.
    let timeout = if extra_gateway.contains("sync_timeout") {
        ""
    } else {
        "sync_timeout = \"10s\"\n"
    };
    text.push_str(&format!(
        "\n[store]\npath = {:?}\n\n[gateway]\nwebhook_token = {TOKEN:?}\n{timeout}body_limit = 4096\n{extra_gateway}\n",
        db.display().to_string()
    ));
    if keys {
        // Unlimited request rates: these tests flood on purpose (fuzzing, concurrency); the keys'
        // rate limits are tested in `ratelimit.rs` with keys of their own.
        for (name, key, scope) in [
            ("reader", READ_KEY, "read"),
            ("sender", SEND_KEY, "send"),
            ("admin", ADMIN_KEY, "admin"),
        ] {
            text.push_str(&format!(
                "\n[[gateway.api_keys]]\nname = {name:?}\nhash = {:?}\nscopes = [{scope:?}]\nrate_limit = \"off\"\n",
                hash_key(key)
            ));
        }
    }
    text
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with("").await
    }

    pub async fn start_with(extra_gateway: &str) -> Self {
        Self::start_full(extra_gateway, None).await.0
    }

    /// With `clock`, the store is opened here on that clock and the gateway reads it too; the
    /// store is returned.
    pub async fn start_full(
        extra_gateway: &str,
        clock: Option<std::sync::Arc<sms_store::ManualWallClock>>,
    ) -> (Self, Option<std::sync::Arc<dyn sms_store::MessageStore>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let sandbox = Sandbox::builder()
            .receipt_url(format!("{base}/webhooks/{TOKEN}/ihuyi/receipt"))
            .receipt_delay(Duration::ZERO)
            .push_retries(0)
            .undelivered_ratio(0.0)
            .upstream_url(Product::Juxiang, format!("{base}/webhooks/{TOKEN}/juxiang/reply"))
            .spawn()
            .await
            .unwrap();
        let dir = temp_dir();
        let text = config_text(&sandbox.base_url(), &dir.join("sms.db"), true, extra_gateway);
        let mut builder = Gateway::builder(config(&text)).listener(listener);
        let mut store = None;
        if let Some(clock) = clock {
            let opened = sqlite_store(&dir.join("sms.db"), Some(clock.clone())).await;
            builder = builder.store(opened.clone()).clock(clock);
            store = Some(opened);
        }
        let gateway = builder.spawn().await.unwrap();
        let harness = Self {
            sandbox,
            gateway: Some(gateway),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base,
            dir,
        };
        (harness, store)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, key: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.url("/v1/messages"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    pub async fn get(&self, key: &str, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// What `/metrics` shows now.
    pub async fn metrics(&self) -> String {
        text_of(&self.http, &self.url("/metrics")).await
    }

    /// Polls (real time: the sandbox pushes over real HTTP) until `check` holds, for at most 10 s.
    pub async fn eventually<F, Fut>(&self, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        eventually("condition", check).await;
    }
}

/// The body of a GET of `url`, as text.
pub async fn text_of(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// Polls (real time: pushes, pollers and balance checks run over real HTTP) until `check` holds,
/// for at most 10 s; `what` names the condition when it fails.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.gateway.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
