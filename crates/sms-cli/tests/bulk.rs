//! `sms bulk`: validation before sending, the results file, the progress bar, and resuming after an
//! interrupted run, through the real binary against the sandbox.

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sms_sandbox::Fault;
use support::{Env, Run, numbers_csv, read};

/// The rows of a results file: (row, status).
fn results(text: &str) -> Vec<(u64, String)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let mut fields = l.split(',');
            (
                fields.next().unwrap().parse().unwrap(),
                fields.nth(1).unwrap().to_owned(),
            )
        })
        .collect()
}

fn final_statuses(text: &str) -> Vec<(u64, String)> {
    let mut last = std::collections::BTreeMap::new();
    for (row, status) in results(text) {
        last.insert(row, status);
    }
    last.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_row_is_reported_with_its_line_and_nothing_is_sent() {
    let env = Env::new().await;
    let csv = env.write(
        "bad.csv",
        &format!(
            "number,text,reference\n13800000001,【示例】好,a\n12345,【示例】好,b\n13800000002,x\n13800000003,{},c\n\
             13800000004,表情😀,d\n13800000005,\"quoted, fine\",e\n",
            "好".repeat(400)
        ),
    );
    let run = env.run(&["bulk", "--yes", csv.to_str().unwrap()]).expect_code(2);
    let err = run.stderr();
    for place in [
        "bad.csv:3: invalid number \"12345\"",
        "bad.csv:4: 2 field(s)",
        "bad.csv:5: ",
        "bad.csv:6: ",
    ] {
        assert!(err.contains(place), "{place} in:\n{err}");
    }
    let line_5 = err.lines().find(|l| l.contains("bad.csv:5: ")).unwrap();
    assert!(line_5.contains("400 characters"), "{line_5}");
    assert!(err.contains("4 bad row(s) of 6: nothing was sent"), "{err}");
    assert_eq!(env.requests(), 0);

    let unknown = env.write("cols.csv", "number,txt\n13800000001,hi\n");
    let run = env
        .run(&["bulk", "--yes", unknown.to_str().unwrap()])
        .expect_code(2);
    assert!(
        run.stderr().contains("cols.csv:1: unknown column \"txt\""),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_there_is_no_bar_and_the_results_file_is_complete() {
    let env = Env::new().await;
    let csv = env.write("in.csv", &numbers_csv(0, 40));
    let run = env
        .run(&["bulk", "--yes", "--concurrency", "4", csv.to_str().unwrap()])
        .expect_code(0);
    assert!(
        !run.stderr().contains("rows,"),
        "no bar off a terminal: {}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("40 recipient(s), 40 billed part(s)"),
        "{}",
        run.stderr()
    );
    let statuses = final_statuses(&read(&env.path("in.results.csv")));
    assert_eq!(statuses.len(), 40);
    assert!(statuses.iter().all(|(_, s)| s == "accepted"));
    let recorded: HashSet<_> = env.recorded_numbers().into_iter().collect();
    assert_eq!(recorded.len(), 40);
    assert_eq!(env.sandbox.messages().len(), 40, "each row once");

    let json = env.run(&[
        "--json",
        "bulk",
        "--yes",
        "--results",
        "second.csv",
        csv.to_str().unwrap(),
    ]);
    let lines = json.expect_code(0).json_lines();
    assert_eq!(lines.iter().filter(|l| l["status"] == "accepted").count(), 40);
    assert_eq!(lines.last().unwrap()["accepted"], 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_terminal_the_bar_shows_rate_and_counts() {
    let env = Env::new().await;
    let csv = env.write("in.csv", &numbers_csv(0, 30));
    let command = format!("{} bulk --yes {}", env!("CARGO_BIN_EXE_sms"), csv.display());
    // `script` gives the command a pseudo-terminal and copies what it draws to our stdout.
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &command, "/dev/null"]);
    script
        .current_dir(&env.dir)
        .env("SMS_SANDBOX_URL", env.sandbox.base_url())
        .stdin(Stdio::null());
    let run = Run(script.output().expect("script runs")).expect_code(0);
    let screen = run.stdout();
    assert!(screen.contains("30/30 rows"), "the bar: {screen}");
    assert!(
        screen.contains("accepted 30 failed 0 unknown 0"),
        "the counts: {screen}"
    );
    assert_eq!(env.sandbox.messages().len(), 30);
}

/// Waits until the results file has at least `rows` outcome lines.
fn wait_for_outcomes(path: &std::path::Path, rows: usize) {
    let start = Instant::now();
    loop {
        let done = std::fs::read_to_string(path)
            .map(|t| results(&t).iter().filter(|(_, s)| s != "sending").count())
            .unwrap_or(0);
        if done >= rows {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no progress in {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_cleanly_and_resume_sends_exactly_the_missing_rows() {
    let env = Env::new().await;
    // Slow answers, so that the run is still going when it is interrupted.
    let delay = Duration::from_millis(30);
    env.sandbox.inject_fault(Fault::latency(delay));
    let csv = env.write("in.csv", &numbers_csv(0, 200));
    let results_path = env.path("in.results.csv");
    let mut child = env
        .command(&["bulk", "--yes", "--concurrency", "2", csv.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_for_outcomes(&results_path, 10);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(3), "interrupted after some rows: partly sent");

    let first = final_statuses(&read(&results_path));
    assert!(first.len() < 200, "interrupted before the end");
    assert!(
        first.iter().all(|(_, s)| s == "accepted"),
        "in-flight rows finished and were recorded: {first:?}"
    );
    assert_eq!(
        env.sandbox.messages().len(),
        first.len(),
        "the file matches what went out"
    );

    env.sandbox.clear_faults();
    env.run(&[
        "bulk",
        "--yes",
        csv.to_str().unwrap(),
        "--resume",
        results_path.to_str().unwrap(),
    ])
    .expect_code(0);
    let recorded = env.recorded_numbers();
    let distinct: HashSet<_> = recorded.iter().collect();
    assert_eq!(
        recorded.len(),
        200,
        "the resumed run sent exactly the missing rows"
    );
    assert_eq!(distinct.len(), 200, "no row twice");
    let all = final_statuses(&read(&results_path));
    assert_eq!(all.len(), 200);
    assert!(all.iter().all(|(_, s)| s == "accepted"));
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_kill_rows_in_flight_are_unknown_and_never_resent() {
    let env = Env::new().await;
    let delay = Duration::from_millis(200);
    env.sandbox.inject_fault(Fault::latency(delay));
    let csv = env.write("in.csv", &numbers_csv(0, 100));
    let results_path = env.path("in.results.csv");
    let mut child = env
        .command(&["bulk", "--yes", "--concurrency", "4", csv.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_for_outcomes(&results_path, 4);
    child.kill().unwrap(); // SIGKILL: no chance to finish the rows in flight
    child.wait().unwrap();
    let killed = read(&results_path);
    let in_flight: Vec<u64> = final_statuses(&killed)
        .into_iter()
        .filter(|(_, s)| s == "sending")
        .map(|(r, _)| r)
        .collect();
    assert!(!in_flight.is_empty(), "rows were in flight when killed: {killed}");

    env.sandbox.clear_faults();
    let run = env.run(&[
        "--json",
        "bulk",
        "--yes",
        csv.to_str().unwrap(),
        "--resume",
        results_path.to_str().unwrap(),
    ]);
    let run = run.expect_code(4);
    let summary = run.json_lines().pop().unwrap();
    assert_eq!(summary["unknown"], in_flight.len());
    let recorded = env.recorded_numbers();
    let distinct: HashSet<_> = recorded.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        recorded.len(),
        "no number went out twice: {recorded:?}"
    );
    let finals = final_statuses(&read(&results_path));
    assert_eq!(finals.len(), 100);
    for (row, status) in &finals {
        let number = format!("1380{:07}", row - 1);
        if in_flight.contains(row) {
            assert_eq!(status, "unknown");
        } else {
            assert_eq!(status, "accepted");
            assert!(distinct.contains(&number), "row {row} went out");
        }
    }
}
