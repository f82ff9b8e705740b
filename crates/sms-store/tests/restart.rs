//! Crashes: a process killed with SIGKILL and started again.
//!
//! The killed process is this test binary run again as a child (`child_process` below, which does
//! nothing unless `SMS_STORE_CHILD` says what to do); the sandbox runs in the parent, so its log of
//! accepted messages survives every child.

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use sms_core::{ErrorKind, InboundMessage, Message, MessageSender};
use sms_store::{MessageStore, NewMessage, SqliteStore, Status, StoreOptions, StoreState};
use support::TempDb;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BULK: u32 = 10_000;
const CHILD_ENV: &str = "SMS_STORE_CHILD";

fn spawn_child(mode: &str, db: &str, sandbox: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env("SMS_STORE_DB", db)
        .env("SMS_STORE_SANDBOX", sandbox)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the child")
}

/// Reads the child's stdout until a line holds `marker`; returns the line from the marker on (the
/// test harness may print `test child_process ... ` before it on the same line).
async fn wait_for_line(child: &mut Child, marker: &str) -> String {
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read the child's output") {
            if let Some(at) = line.find(marker) {
                return Some(line[at..].to_owned());
            }
        }
        None
    })
    .await
    .expect("the child answers in time");
    found.unwrap_or_else(|| panic!("the child ended without printing {marker}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_killed_midway_ends_accepted_failed_or_unknown_and_nothing_goes_out_twice() {
    let sandbox = support::sandbox_for(i64::from(BULK)).await;
    let db = TempDb::new("restart-bulk");
    {
        let store = SqliteStore::open(db.path(), StoreOptions::default())
            .await
            .unwrap();
        let records: Vec<NewMessage> = (0..BULK)
            .map(|i| {
                NewMessage::new(Message::text(support::bulk_number(i), "【Test】bulk")).in_batch("crash")
            })
            .collect();
        store.enqueue(&records, None).await.unwrap();
        store.close().await;
    }

    let mut first = spawn_child("bulk", db.path(), &sandbox.base_url());
    // Kill it mid-bulk, while requests are in flight.
    tokio::time::timeout(Duration::from_secs(120), async {
        while sandbox.messages().len() < (BULK / 4) as usize {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first worker gets going");
    first.start_kill().expect("SIGKILL");
    let status = first.wait().await.unwrap();
    assert!(!status.success(), "killed, not finished: {status:?}");
    let at_kill = sandbox.messages().len();
    assert!(at_kill < BULK as usize, "killed before the end ({at_kill} sent)");

    let mut second = spawn_child("bulk", db.path(), &sandbox.base_url());
    let line = wait_for_line(&mut second, "DRAINED").await;
    assert!(
        second.wait().await.unwrap().success(),
        "the restarted worker finishes: {line}"
    );

    let store = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    let counts = store.status_counts("crash").await.unwrap();
    let total: u64 = counts.values().sum();
    assert_eq!(total, u64::from(BULK), "none lost: {counts:?}");
    assert!(
        counts
            .keys()
            .all(|s| matches!(s, Status::Accepted | Status::Failed | Status::Unknown)),
        "every message ends accepted, failed or unknown: {counts:?}"
    );
    let sent = support::sandbox_counts(&sandbox);
    assert!(sent.values().all(|n| *n == 1), "none sent twice");
    let accepted = counts.get(&Status::Accepted).copied().unwrap_or(0);
    let unknown = counts.get(&Status::Unknown).copied().unwrap_or(0);
    // Everything accepted reached the provider; what is unknown may or may not have.
    assert!(
        accepted as usize <= sent.len() && sent.len() <= (accepted + unknown) as usize,
        "accepted {accepted}, unknown {unknown}, provider saw {}",
        sent.len()
    );
    for i in (0..BULK).step_by(97) {
        let number = support::bulk_number(i);
        let history = store.history(&number, 0, i64::MAX, 5).await.unwrap();
        assert_eq!(history.len(), 1);
        let on_wire = sent.contains_key(number.national_number());
        match history[0].status {
            Status::Accepted => assert!(on_wire, "{number} accepted but not sent"),
            Status::Failed => assert!(!on_wire, "{number} failed but sent"),
            _ => {}
        }
    }
    println!("killed after {at_kill} sent; final {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_learnt_before_a_kill_is_honoured_after_the_restart() {
    let sandbox = support::sandbox_for(10).await;
    let db = TempDb::new("restart-optout");
    let mut learner = spawn_child("learn-opt-out", db.path(), &sandbox.base_url());
    wait_for_line(&mut learner, "LEARNT").await;
    learner.start_kill().expect("SIGKILL");
    learner.wait().await.unwrap();

    let mut sender = spawn_child("send-after-restart", db.path(), &sandbox.base_url());
    let line = wait_for_line(&mut sender, "OUTCOME").await;
    assert!(sender.wait().await.unwrap().success());
    assert_eq!(
        line, "OUTCOME recipient opted out",
        "refused by the durable opt-out list"
    );
    assert!(sandbox.messages().is_empty(), "no request reached the provider");
}

/// The other side of the tests above: runs only when the parent sets `SMS_STORE_CHILD`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = std::env::var("SMS_STORE_DB").expect("db path");
    let base = std::env::var("SMS_STORE_SANDBOX").expect("sandbox url");
    let store: Arc<dyn MessageStore> =
        Arc::new(SqliteStore::open(&db, StoreOptions::default()).await.unwrap());
    let opted_out = support::bulk_number(9_999_999);
    match mode.as_str() {
        "bulk" => {
            let chain = support::chain(&base, Some(Arc::new(StoreState::new(store.clone()))));
            // A short lease, so that the restarted worker gets the dead one's claims back quickly.
            let sent =
                support::drain_outbox(store.as_ref(), &chain, "crash-worker", Duration::from_secs(2)).await;
            println!("DRAINED {sent}");
        }
        "learn-opt-out" => {
            let state = StoreState::new(store.clone());
            let reply = InboundMessage {
                provider: "juxiang".into(),
                sender: opted_out.national_number().into(),
                service_number: None,
                text: "0000".into(),
                received_at: None,
                opt_out: true,
                raw: Default::default(),
            };
            use sms_failover::state::SuppressionList;
            assert!(state.observe_inbound(&reply).await.unwrap());
            println!("LEARNT");
            // Wait to be killed.
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        "send-after-restart" => {
            let chain = support::chain(&base, Some(Arc::new(StoreState::new(store.clone()))));
            let receipt = chain.send(&Message::text(opted_out, "【Test】hello")).await;
            let kind = match receipt {
                Ok(receipt) => receipt
                    .outcomes
                    .first()
                    .and_then(|o| o.error().map(|e| e.kind()))
                    .map_or("accepted".to_owned(), |k| k.to_string()),
                Err(error) if error.kind() == ErrorKind::RecipientOptedOut => error.kind().to_string(),
                Err(error) => format!("error {error}"),
            };
            println!("OUTCOME {kind}");
        }
        other => panic!("unknown child mode {other}"),
    }
}
