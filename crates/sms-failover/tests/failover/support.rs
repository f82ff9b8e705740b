//! Helpers shared by the chain tests.

use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{Error, ErrorKind, Message, MessageSender, Operation, PhoneNumber};
use sms_failover::{
    FailoverSender, FailoverSenderBuilder, ProviderEntry, RecipientLimits, RetryPolicy, TokioClock,
};

pub fn number(text: &str) -> PhoneNumber {
    text.parse().expect("a valid test number")
}

/// `count` distinct mainland numbers.
pub fn numbers(count: usize) -> Vec<PhoneNumber> {
    (0..count)
        .map(|i| number(&format!("1380013{:04}", 8000 + i)))
        .collect()
}

pub fn text_to(to: impl Into<sms_core::Recipients>) -> Message {
    Message::text(to, "【示例】您的验证码是 123456")
}

pub fn stub(name: &str) -> Arc<StubSender> {
    Arc::new(StubSender::new(name))
}

pub fn failing(name: &str, kind: ErrorKind) -> Arc<StubSender> {
    Arc::new(StubSender::new(name).always(StubOutcome::fail(kind)))
}

pub fn error(kind: ErrorKind) -> Error {
    Error::new(kind, Operation::Send)
}

/// Deterministic retries: no jitter, 100 ms doubling, 3 attempts, 30 s deadline.
pub fn plain_retry() -> RetryPolicy {
    RetryPolicy::default()
        .jitter(false)
        .initial_backoff(Duration::from_millis(100))
        .max_backoff(Duration::from_secs(10))
}

/// A new chain's builder, its state where the test binary keeps it (`crate::backend`). The backend
/// comes first, so that the state a test gives its chain itself takes its place.
pub fn builder() -> FailoverSenderBuilder {
    crate::backend::apply(FailoverSender::builder())
}

/// A chain over `providers` in priority order, on tokio's (paused) clock, without recipient limits.
pub fn chain_of(providers: &[&Arc<StubSender>]) -> FailoverSenderBuilder {
    providers.iter().enumerate().fold(
        builder()
            .clock(Arc::new(TokioClock))
            .recipient_limits(RecipientLimits::disabled())
            .retry(plain_retry())
            .random_seed(7),
        |builder, (priority, provider)| {
            let sender: Arc<dyn MessageSender> = Arc::clone(provider) as Arc<dyn MessageSender>;
            builder.provider(ProviderEntry::new(sender).priority(priority as u32))
        },
    )
}

pub fn build(builder: FailoverSenderBuilder) -> FailoverSender {
    builder.build().expect("a valid chain")
}

/// The providers and error kinds of an attempt list.
pub fn attempt_summary(attempts: &[sms_core::Attempt]) -> Vec<(String, ErrorKind)> {
    attempts
        .iter()
        .map(|a| (a.provider.clone(), a.error.kind()))
        .collect()
}

/// Milliseconds of tokio time since `start` for every call a stub received.
pub fn call_offsets_ms(stub: &StubSender, start: tokio::time::Instant) -> Vec<u128> {
    stub.calls().iter().map(|c| (c.at - start).as_millis()).collect()
}
