//! Two real `sms serve` processes on one PostgreSQL database (this test binary's own) and one Redis
//! key prefix, both opened from the config file's `[store]` and `[state]`: a Juxiang `0000` reply
//! pushed to one makes the next send through the other refused without a provider request.

mod support;

use sms_sandbox::Product;
use support::Env;
use support::serve::{REDIS_URL, Serve, get, key_hash, post_json, require_redis};

const SEND_KEY: &str = "smsgw_test_send_key_serve_shared";
const TOKEN: &str = "serve-shared-webhook-token";

fn send(addr: &str, to: &str) -> (u16, serde_json::Value) {
    post_json(
        addr,
        "/v1/messages",
        SEND_KEY,
        &format!(r#"{{"to":"{to}","text":"【测试】hi"}}"#),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_serve_processes_share_redis_state_from_the_config() {
    require_redis();
    let database = sms_test_support::TestDatabase::create("sms_cli_test_serve_shared").await;
    let db = database.url();
    let env = Env::new().await;
    let prefix = format!("sms-cli-test-serve-{}:", std::process::id());
    let mut config = sms::config::Config::sandbox_toml(&env.sandbox.base_url());
    config.push_str(&format!(
        "\n[store]\nbackend = \"postgres\"\nurl = {db:?}\n\n\
         [state]\nbackend = \"redis\"\nurl = {REDIS_URL:?}\nkey_prefix = {prefix:?}\n\n\
         [gateway]\nwebhook_token = {TOKEN:?}\nsync_timeout = \"10s\"\n\n\
         [[gateway.api_keys]]\nname = \"sender\"\nhash = \"{}\"\nscopes = [\"send\"]\n",
        key_hash(SEND_KEY)
    ));
    env.write("sms.toml", &config);

    let a = Serve::start(&env, "sms.toml").await;
    let b = Serve::start(&env, "sms.toml").await;
    for serve in [&a, &b] {
        assert_eq!(serve.printed("state:"), "redis", "{:?}", serve.lines);
        assert_eq!(serve.printed("store:"), "PostgreSQL", "{:?}", serve.lines);
        let (status, body) = get(&serve.addr, "/readyz", None);
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(r#""state":"ok""#), "{body}");
    }

    // B sends to the number: it goes out.
    let (status, sent) = send(&b.addr, "13900000078");
    assert_eq!(status, 200, "{sent}");
    assert_ne!(sent["recipients"][0]["status"], "failed", "{sent}");

    // The opt-out reply reaches A.
    let (status, body) = get(
        &a.addr,
        &format!("/webhooks/{TOKEN}/juxiang/reply?src=13900000078&dst=10657&msg=0000"),
        None,
    );
    assert_eq!((status, body.as_str()), (200, "0"));

    // B refuses the next send to it without a provider request.
    let requests =
        || env.sandbox.request_count(Product::IhuyiSms) + env.sandbox.request_count(Product::Juxiang);
    let before = requests();
    let (_, refused) = send(&b.addr, "13900000078");
    assert_eq!(refused["recipients"][0]["status"], "failed", "{refused}");
    assert_eq!(requests(), before, "refused without a request");
    // Another number still goes out through B.
    let (_, other) = send(&b.addr, "13900000079");
    assert_ne!(other["recipients"][0]["status"], "failed", "{other}");
    assert_eq!(requests(), before + 1);

    a.stop().await;
    b.stop().await;
    database.drop_now().await;
}

/// A start against an unreachable Redis fails with exit 1 saying so (never a silent fallback to
/// per-instance state).
#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_to_start_without_its_redis() {
    let env = Env::new().await;
    // A port nothing listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = sms::config::Config::sandbox_toml(&env.sandbox.base_url());
    config.push_str(&format!(
        "\n[store]\npath = \"sms.db\"\n\n[state]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\nconnect_timeout = \"1s\"\n"
    ));
    env.write("sms.toml", &config);
    let run = support::Run(
        env.command(&["--config", "sms.toml", "serve", "--listen", "127.0.0.1:0"])
            .env_remove("SMS_SANDBOX_URL")
            .output()
            .unwrap(),
    )
    .expect_code(1);
    assert!(
        run.stderr().contains("cannot reach the state backend") && run.stderr().contains("Redis"),
        "{}",
        run.stderr()
    );
}
