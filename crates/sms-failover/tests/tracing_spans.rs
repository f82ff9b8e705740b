//! The tracing spans of a send: provider, outcome and latency per attempt, numbers masked.
//!
//! Alone in its test binary: a thread-scoped subscriber (`set_default`) can miss events while tests on
//! other threads register the same callsites concurrently.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{Error, ErrorKind, Message, MessageSender, Operation, PhoneNumber};
use sms_failover::{FailoverSender, ProviderEntry, RecipientLimits, TokioClock};

/// Collects formatted log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

#[tokio::test(start_paused = true)]
async fn spans_name_provider_outcome_and_latency_with_masked_numbers() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let a = Arc::new(
        StubSender::new("a").then(
            StubOutcome::Fail(Error::new(ErrorKind::InsufficientBalance, Operation::Send).with_code("4051"))
                .after(Duration::from_millis(40)),
        ),
    );
    let b = Arc::new(StubSender::new("b").then(StubOutcome::Accept.after(Duration::from_millis(25))));
    let chain = FailoverSender::builder()
        .clock(Arc::new(TokioClock))
        .recipient_limits(RecipientLimits::disabled())
        .provider(ProviderEntry::new(a).priority(0))
        .provider(ProviderEntry::new(b).priority(1))
        .build()
        .expect("valid chain");
    let to: PhoneNumber = "13800138000".parse().expect("number");
    chain
        .send(&Message::text(to, "【示例】您的验证码是 123456").with_reference("order-42"))
        .await
        .expect("sent");

    let logs = captured.text();
    assert!(!logs.contains("13800138000"), "numbers are masked:\n{logs}");
    assert!(logs.contains("*******8000"), "{logs}");
    assert!(logs.contains("sms.failover.send{reference=order-42"), "{logs}");
    assert!(
        logs.contains("sms.failover.attempt{provider=a attempt=1"),
        "{logs}"
    );
    assert!(
        logs.contains("sms.failover.attempt{provider=b attempt=1"),
        "{logs}"
    );
    assert!(
        logs.contains("outcome=\"failed\" latency_ms=40 error=insufficient balance code=\"4051\"}"),
        "{logs}"
    );
    assert!(logs.contains("outcome=\"accepted\" latency_ms=25}"), "{logs}");
}
