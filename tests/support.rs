//! Shared set-up for the end-to-end tests: a sandbox, real provider clients pointed at it, and a
//! failover chain of ihuyi (primary) and Juxiang (secondary).

use std::sync::Arc;
use std::time::Duration;

use sms::HttpConfig;
use sms::PhoneNumber;
use sms::failover::{
    BreakerConfig, FailoverSender, FailoverSenderBuilder, ProviderEntry, RecipientLimits, RetryPolicy,
};
use sms::ihuyi::{IhuyiClient, IhuyiConfig, PasswordMode};
use sms::juxiang::{JuxiangClient, JuxiangConfig};
use sms::sandbox::{
    DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY, Product, RecordedMessage, Sandbox,
};

/// How long the primary waits for an answer before the outcome counts as ambiguous. Short, so that
/// hang tests take a fraction of a second.
pub const PRIMARY_TIMEOUT: Duration = Duration::from_millis(300);

/// A sandbox with both providers' clients pointed at it.
pub struct Bed {
    /// The simulator.
    pub sandbox: Sandbox,
    /// ihuyi SMS client (primary).
    pub ihuyi: IhuyiClient,
    /// Juxiang client (secondary).
    pub juxiang: JuxiangClient,
}

impl Bed {
    /// Starts a sandbox and builds clients with the default sandbox credentials.
    pub async fn start() -> Self {
        Self::start_with_ihuyi(DEFAULT_KEY, PasswordMode::Dynamic).await
    }

    /// Like [`Bed::start`] with another ihuyi key and password mode. A wrong key is refused as
    /// unauthorized: 40502 with the dynamic password, 405 with the plain one.
    pub async fn start_with_ihuyi(key: &str, mode: PasswordMode) -> Self {
        Self::start_with(key, mode, HttpConfig::default().unprocessed_statuses).await
    }

    /// Like [`Bed::start`], with the primary configured to treat `statuses` as "not processed"
    /// (see `HttpConfig::unprocessed_statuses`).
    pub async fn start_with_unprocessed_statuses(statuses: Vec<u16>) -> Self {
        Self::start_with(DEFAULT_KEY, PasswordMode::Dynamic, statuses).await
    }

    async fn start_with(key: &str, mode: PasswordMode, unprocessed_statuses: Vec<u16>) -> Self {
        let sandbox = Sandbox::builder().spawn().await.expect("sandbox starts");
        let base = sandbox.base_url();
        let http = HttpConfig {
            request_timeout: PRIMARY_TIMEOUT,
            unprocessed_statuses,
            ..HttpConfig::default()
        };
        let ihuyi = IhuyiClient::new(
            IhuyiConfig::new(DEFAULT_ACCOUNT, key)
                .base_url(base.clone())
                .international_base_url(base.clone())
                .password_mode(mode)
                .http(http),
        )
        .expect("ihuyi client");
        let juxiang = JuxiangClient::new(
            JuxiangConfig::new(DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD).base_url(format!("{base}/send/")),
        )
        .expect("juxiang client");
        Self {
            sandbox,
            ihuyi,
            juxiang,
        }
    }

    /// A chain builder with ihuyi first and Juxiang second, quick retries, and no local per-recipient
    /// limits (each test uses its own numbers; the limiter has its own unit tests).
    pub fn chain_builder(&self) -> FailoverSenderBuilder {
        FailoverSender::builder()
            .provider(ProviderEntry::new(Arc::new(self.ihuyi.clone())).priority(0))
            .provider(ProviderEntry::new(Arc::new(self.juxiang.clone())).priority(1))
            .retry(
                RetryPolicy::default()
                    .max_attempts_per_provider(2)
                    .initial_backoff(Duration::from_millis(10)),
            )
            .circuit_breaker(BreakerConfig::default().failure_threshold(100))
            .recipient_limits(RecipientLimits::disabled())
    }

    /// Accepted messages the sandbox recorded for `number`, any product.
    pub fn delivered_to(&self, number: &PhoneNumber) -> Vec<RecordedMessage> {
        self.sandbox
            .messages()
            .into_iter()
            .filter(|m| m.recipients.iter().any(|r| r.ends_with(number.national_number())))
            .collect()
    }

    /// Requests the sandbox received for ihuyi SMS.
    pub fn primary_requests(&self) -> u64 {
        self.sandbox.request_count(Product::IhuyiSms)
    }

    /// Requests the sandbox received for Juxiang.
    pub fn secondary_requests(&self) -> u64 {
        self.sandbox.request_count(Product::Juxiang)
    }
}

/// A mainland number from a small index, distinct per test.
pub fn number(index: u32) -> PhoneNumber {
    format!("1370000{index:04}").parse().expect("valid number")
}
