//! Two real `sms serve` processes on one PostgreSQL database (this test binary's own) and one Redis
//! key prefix drain a 20,000-message queue together; one is killed with SIGKILL mid-run and the
//! other finishes, the killed one's claims included once their lease ends. Each number reaches the
//! sandbox at most once, and exactly once when the store says accepted.

mod support;

use std::time::Duration;

use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_KEY, Product, Sandbox};
use support::Env;
use support::serve::{
    REDIS_URL, Serve, audit, get, key_hash, post_json, require_redis, rows_body, statuses_in_postgres,
    wait_until,
};

/// Two batches of the most rows one batch may hold.
const BATCH: usize = 10_000;
const KEY: &str = "smsgw_test_key_serve_instances";
const TOKEN: &str = "serve-instances-webhook-token";
/// Outbox workers per instance.
const WORKERS: u64 = 4;
/// Messages one worker claims at once (`sms_gateway`'s worker): the killed instance held at most
/// `WORKERS` claims of this many, so at most that many can end unknown.
const CLAIM: u64 = 16;
/// The outbox metric each instance counts its sends in, by outcome.
const SENDS: &str = "sms_outbox_sends_total";
const ACCEPTED: &str = "outcome=\"accepted\"";

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_drain_one_queue_once_and_the_survivor_of_a_kill_finishes() {
    require_redis();
    let database = sms_test_support::TestDatabase::create("sms_cli_test_serve_instances").await;
    let db = database.url();
    let env = Env::with(Sandbox::builder().account(
        Product::IhuyiSms,
        Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).balance(4 * BATCH as i64),
    ))
    .await;
    let prefix = format!("sms-cli-test-instances-{}:", std::process::id());
    let mut config = sms::config::Config::sandbox_toml(&env.sandbox.base_url());
    // The default daily cap (10,000 parts) would refuse part of the bulk: a higher one.
    // A short lease: the survivor takes the killed instance's claims two seconds after they were
    // made, and its sweeper runs every second.
    config.push_str(&format!(
        "\n[store]\nbackend = \"postgres\"\nurl = {db:?}\n\n\
         [state]\nbackend = \"redis\"\nurl = {REDIS_URL:?}\nkey_prefix = {prefix:?}\n\n\
         [gateway]\nwebhook_token = {TOKEN:?}\nbody_limit = 2000000\nworkers = {WORKERS}\noutbox_lease = \"2s\"\n\n\
         [[gateway.api_keys]]\nname = \"bulk\"\nhash = \"{}\"\nscopes = [\"send\", \"read\"]\nrate_limit = \"off\"\n\n\
         [[spend.caps]]\nscope = \"overall\"\nperiod = \"day\"\nparts = 1000000\n",
        key_hash(KEY)
    ));
    env.write("sms.toml", &config);
    let numbers: Vec<String> = (0..2 * BATCH).map(|i| format!("1360{i:07}")).collect();

    let clock = std::time::Instant::now();
    let a = Serve::start(&env, "sms.toml").await;
    let b = Serve::start(&env, "sms.toml").await;
    for serve in [&a, &b] {
        assert_eq!(serve.printed("store:"), "PostgreSQL", "{:?}", serve.lines);
        assert_eq!(serve.printed("state:"), "redis", "{:?}", serve.lines);
    }
    // One batch through each: both queue into the one outbox.
    let mut batches = Vec::new();
    for (serve, numbers) in [(&a, &numbers[..BATCH]), (&b, &numbers[BATCH..])] {
        let (status, batch) = post_json(
            &serve.addr,
            "/v1/batches",
            KEY,
            &rows_body(numbers, "【测试】two"),
        );
        assert_eq!(status, 202, "{batch}");
        batches.push(batch["id"].as_str().unwrap().to_owned());
    }

    // Both work the outbox; A is killed a quarter of the way through.
    let sent = || env.sandbox.request_count(Product::IhuyiSms) as usize;
    wait_until(
        "both instances send, a quarter is out",
        Duration::from_secs(120),
        || sent() >= numbers.len() / 4 && a.counter(SENDS, ACCEPTED) > 0 && b.counter(SENDS, ACCEPTED) > 0,
    )
    .await;
    let by_a = a.counter(SENDS, ACCEPTED);
    a.kill().await;
    let at_kill = sent();
    let killed_at = clock.elapsed();
    assert!(at_kill < numbers.len(), "killed before the end ({at_kill} sent)");

    // B finishes both batches.
    for id in &batches {
        let path = format!("/v1/batches/{id}");
        wait_until(
            "the survivor finishes the queue",
            Duration::from_secs(180),
            || {
                let (status, body) = get(&b.addr, &path, Some(KEY));
                assert_eq!(status, 200, "{body}");
                serde_json::from_str::<serde_json::Value>(&body).unwrap()["done"] == true
            },
        )
        .await;
    }
    let by_b = b.counter(SENDS, ACCEPTED);
    let finished_at = clock.elapsed();
    b.stop().await;

    let store = sms::store::PostgresStore::connect(&db, sms::store::StoreOptions::default())
        .await
        .unwrap();
    let statuses = statuses_in_postgres(&db).await;
    let audit = audit(&store, &batches, &numbers, &statuses, &env.sandbox).await;
    let audited_at = clock.elapsed();
    store.close().await;
    database.drop_now().await;
    assert_eq!(audit.failed, 0, "nothing was refused: {audit:?}");
    // Unknown: only what the killed instance had started and not recorded.
    assert!(audit.unknown <= WORKERS * CLAIM, "{audit:?}");
    // Accepted: all B counted, and at least what A had counted when last asked before its death.
    assert!(
        by_a > 0 && by_b > 0 && by_a + by_b <= audit.accepted,
        "A {by_a}, B {by_b}: {audit:?}"
    );
    println!(
        "A accepted {by_a}+ then was killed ({at_kill} out, {killed_at:?}); B accepted {by_b} \
         (done at {finished_at:?}, audited at {audited_at:?}); {audit:?}"
    );
}
