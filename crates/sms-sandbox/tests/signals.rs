//! The `sms-sandbox` binary stops cleanly on SIGTERM (what `docker stop`, systemd and `kill` send),
//! not only on Ctrl-C.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn sigterm_stops_the_binary_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sms-sandbox"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("listening on http://127.0.0.1:") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the binary ended before listening"
        );
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let (done, wait) = mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        let _ = done.send((child.wait(), rest));
    });
    let (status, rest) = wait
        .recv_timeout(Duration::from_secs(20))
        .expect("the binary did not stop on SIGTERM");
    let status = status.unwrap();
    assert!(status.success(), "{status:?}: {rest}");
    assert!(rest.contains("terminated, shutting down"), "{rest}");
}
