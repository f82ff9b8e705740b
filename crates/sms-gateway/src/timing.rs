//! Provider request durations for `/metrics`: every provider of the gateway's chain is wrapped in a
//! [`TimedSender`] that times each send it passes on (`sms_provider_request_duration_seconds`,
//! operation `send`, outcome `ok` or the error's kind); the balance watcher times balance reads.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use sms_core::{Capabilities, Error, Message, MessageSender, Receipt};

use crate::metrics::Metrics;

/// A provider's sender that records how long each of its sends took.
pub(crate) struct TimedSender {
    inner: Arc<dyn MessageSender>,
    /// The provider's name in the chain (the label), which may differ from the client's own.
    provider: String,
    metrics: Arc<Metrics>,
}

impl TimedSender {
    pub(crate) fn wrap(
        inner: Arc<dyn MessageSender>,
        provider: &str,
        metrics: &Arc<Metrics>,
    ) -> Arc<dyn MessageSender> {
        Arc::new(Self {
            inner,
            provider: provider.to_owned(),
            metrics: metrics.clone(),
        })
    }
}

/// `ok`, or the error's kind: a small fixed set, fit for a label.
pub(crate) fn outcome_of<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) => error.kind().as_str(),
    }
}

#[async_trait]
impl MessageSender for TimedSender {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let mut timer = Timer {
            sender: self,
            started: Instant::now(),
            outcome: "cancelled",
        };
        let result = self.inner.send(message).await;
        timer.outcome = outcome_of(&result);
        result
    }
}

/// Records one send when dropped: with its outcome once it has one, as `cancelled` when the chain
/// dropped the send before it answered (its attempt timeout or deadline), so the slowest calls are
/// counted too.
struct Timer<'a> {
    sender: &'a TimedSender,
    started: Instant,
    outcome: &'static str,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.sender.metrics.provider_request(
            &self.sender.provider,
            "send",
            self.outcome,
            self.started.elapsed(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_core::testkit::StubSender;

    #[tokio::test]
    async fn each_send_is_timed_under_the_chain_s_name_with_its_outcome() {
        let metrics = Arc::new(Metrics::default());
        let stub = Arc::new(StubSender::new("ihuyi"));
        let timed = TimedSender::wrap(stub.clone(), "ihuyi-backup", &metrics);
        assert_eq!(timed.name(), "ihuyi");
        let to: sms_core::PhoneNumber = "13800138000".parse().unwrap();
        timed.send(&Message::text(to.clone(), "hi")).await.unwrap();
        stub.push(sms_core::testkit::StubOutcome::fail(
            sms_core::ErrorKind::Unavailable,
        ));
        timed.send(&Message::text(to, "hi")).await.unwrap_err();
        // A send the caller gives up on is counted as cancelled.
        stub.push(sms_core::testkit::StubOutcome::Hang);
        let hung = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            timed.send(&Message::text(
                "13800138000".parse::<sms_core::PhoneNumber>().unwrap(),
                "hi",
            )),
        )
        .await;
        assert!(hung.is_err());
        let mut out = String::new();
        metrics.render_into(&mut out);
        for outcome in ["ok", "unavailable", "cancelled"] {
            let line = format!(
                "sms_provider_request_duration_seconds_count{{provider=\"ihuyi-backup\",operation=\"send\",outcome=\"{outcome}\"}} 1"
            );
            assert!(out.contains(&line), "{line} in\n{out}");
        }
    }
}
