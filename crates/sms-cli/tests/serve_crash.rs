//! A real `sms serve` on SQLite killed with SIGKILL while its outbox drains a 10,000-message
//! queued bulk, then started again on the same file: each message ends accepted, failed or
//! unknown, none is sent twice (the sandbox's log), none is lost.

mod support;

use std::time::Duration;

use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_KEY, Product, Sandbox};
use support::Env;
use support::serve::{Serve, audit, get, key_hash, post_json, rows_body, statuses_by_history, wait_until};

const BULK: usize = 10_000;
const KEY: &str = "smsgw_test_key_serve_crash";
const TOKEN: &str = "serve-crash-webhook-token";
/// Outbox workers of the instance.
const WORKERS: u64 = 4;
/// Messages one worker claims at once (`sms_gateway`'s worker): the killed instance held at most
/// `WORKERS` claims of this many, so at most that many can end unknown.
const CLAIM: u64 = 16;

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_killed_mid_drain_ends_accepted_failed_or_unknown_and_nothing_goes_out_twice() {
    // Enough balance for the whole bulk on the first provider.
    let env = Env::with(Sandbox::builder().account(
        Product::IhuyiSms,
        Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).balance(BULK as i64 * 2),
    ))
    .await;
    let mut config = sms::config::Config::sandbox_toml(&env.sandbox.base_url());
    // The default daily cap (10,000 parts) would refuse part of the bulk: a higher one.
    // A short lease: the restarted instance takes the killed one's claims back two seconds after
    // they were made, and its sweeper runs every second.
    config.push_str(&format!(
        "\n[store]\npath = \"sms.db\"\n\n\
         [gateway]\nwebhook_token = {TOKEN:?}\nbody_limit = 2000000\nworkers = {WORKERS}\noutbox_lease = \"2s\"\n\n\
         [[gateway.api_keys]]\nname = \"bulk\"\nhash = \"{}\"\nscopes = [\"send\", \"read\"]\nrate_limit = \"off\"\n\n\
         [[spend.caps]]\nscope = \"overall\"\nperiod = \"day\"\nparts = 1000000\n",
        key_hash(KEY)
    ));
    env.write("sms.toml", &config);
    let numbers: Vec<String> = (0..BULK).map(|i| format!("1370{i:07}")).collect();

    let clock = std::time::Instant::now();
    let first = Serve::start(&env, "sms.toml").await;
    assert!(first.printed("store:").starts_with("SQLite"), "{:?}", first.lines);
    let (status, batch) = post_json(
        &first.addr,
        "/v1/batches",
        KEY,
        &rows_body(&numbers, "【测试】crash"),
    );
    assert_eq!(status, 202, "{batch}");
    assert_eq!(batch["recipients"], BULK);
    let id = batch["id"].as_str().unwrap().to_owned();

    // SIGKILL once a quarter has gone out, while the workers are sending.
    let sent = || env.sandbox.request_count(Product::IhuyiSms) as usize;
    wait_until("a quarter of the bulk is sent", Duration::from_secs(120), || {
        sent() >= BULK / 4
    })
    .await;
    first.kill().await;
    let at_kill = sent();
    let killed_at = clock.elapsed();
    assert!(at_kill < BULK, "killed before the end ({at_kill} sent)");

    // Started again on the same file, it finishes the bulk.
    let second = Serve::start(&env, "sms.toml").await;
    let path = format!("/v1/batches/{id}");
    let mut progress = serde_json::Value::Null;
    wait_until(
        "the restarted instance finishes the bulk",
        Duration::from_secs(120),
        || {
            let (status, body) = get(&second.addr, &path, Some(KEY));
            assert_eq!(status, 200, "{body}");
            progress = serde_json::from_str(&body).unwrap();
            progress["done"] == true
        },
    )
    .await;
    assert!(sent() > at_kill, "the restarted instance sent the rest");
    let finished_at = clock.elapsed();
    second.stop().await;

    let store = sms::store::SqliteStore::open(
        env.path("sms.db").to_str().unwrap(),
        sms::store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let statuses = statuses_by_history(&store, &numbers).await;
    let audit = audit(&store, &[id], &numbers, &statuses, &env.sandbox).await;
    assert_eq!(audit.failed, 0, "nothing was refused: {audit:?}");
    // Unknown: only what the killed instance had started and not recorded.
    assert!(audit.unknown <= WORKERS * CLAIM, "{audit:?}");
    assert_eq!(
        progress["counts"]["accepted"], audit.accepted,
        "the API's counts are the store's: {progress}"
    );
    println!(
        "killed after {at_kill} sent ({killed_at:?}), finished at {finished_at:?}, audited at {:?}: {audit:?}",
        clock.elapsed()
    );
}
