//! Test helpers shared by the ihuyi crates' integration tests (`sms-ihuyi-voice` includes this file
//! by path): the exact-wire server from `sms_core::testkit::wire`, an ihuyi Submit answer, a log
//! capture and md5.

#![allow(dead_code, unused_imports)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
pub use sms_core::testkit::wire::{CapturedRequest, Reply, WireServer, refused_base_url};

/// An XML Submit answer with `code`, `msg` and `smsid`.
pub fn submit_xml(code: &str, msg: &str, id: &str) -> Reply {
    Reply::xml(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<SubmitResult xmlns=\"http://106.ihuyi.com/\"><code>{code}</code><msg>{msg}</msg><smsid>{id}</smsid></SubmitResult>"
    ))
}

/// Lowercase hex md5 of the concatenated parts, computed here, independently of the library.
pub fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that `time` is 10-digit Unix seconds close to now.
pub fn assert_fresh_time(time: &str) {
    assert_eq!(time.len(), 10, "{time}");
    let sent: u64 = time.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(sent) <= 5, "time {sent} vs now {now}");
}

/// Every log line (all targets, TRACE and up) written while the guard lives, on this thread.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
