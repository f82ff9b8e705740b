//! `sms inbound --follow`: JSON lines as replies arrive, each provider pulled at its own interval,
//! and a clean stop on Ctrl-C (SIGINT).

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use sms_sandbox::{InboundReply, Product};
use support::Env;

#[tokio::test(flavor = "multi_thread")]
async fn follow_prints_json_lines_as_replies_arrive_and_stops_cleanly_on_ctrl_c() {
    let env = Env::new().await;
    env.sandbox
        .inject_inbound(InboundReply::new(Product::Juxiang, "13800138000", "收到，谢谢"));
    let mut child = env
        .command(&["--json", "inbound", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sms runs");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Generous bounds only against a hung binary; the lines come as soon as the pulls answer.
    let next = |what: &str| -> serde_json::Value {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no line for {what}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
    };

    let first = next("the waiting reply");
    assert_eq!(first["provider"], "juxiang");
    assert_eq!(first["from"], "13800138000");
    assert_eq!(first["text"], "收到，谢谢");
    assert_eq!(first["opt_out"], false);

    // A reply that arrives while it follows: printed on a later pull (Juxiang's interval apart).
    env.sandbox
        .inject_inbound(InboundReply::new(Product::Juxiang, "13900139000", "0000"));
    let second = next("the reply injected while following");
    assert_eq!(second["from"], "13900139000");
    assert_eq!(second["opt_out"], true, "a Juxiang 0000 is an opt-out");

    let pulls = env.sandbox.request_count(Product::Juxiang);
    assert!(pulls >= 2, "at least one pull per reply: {pulls}");

    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "Ctrl-C ends a follow cleanly");
    let rest: Vec<String> = lines.iter().collect();
    assert!(rest.is_empty(), "nothing but the replies on stdout: {rest:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("error"), "{stderr}");
}
