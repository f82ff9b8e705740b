//! The builder and the handle of a running sandbox.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Account, Product, SandboxConfig};
use crate::delivery::DeliveryProfile;
use crate::error::SandboxError;
use crate::faults::Fault;
use crate::records::{InboundReply, RecordedMessage, RecordedPush};
use crate::state::Shared;
use crate::{control, pushes, server};

/// Configures a sandbox; [`SandboxBuilder::spawn`] starts it.
#[derive(Debug, Clone, Default)]
pub struct SandboxBuilder {
    config: SandboxConfig,
    listen: Option<SocketAddr>,
}

impl SandboxBuilder {
    /// Adds an account of `product` (replacing one of the same name). A product with at least one
    /// configured account no longer gets its default account.
    pub fn account(mut self, product: Product, account: Account) -> Self {
        self.config.add_account(product, account);
        self
    }

    /// Where ihuyi delivery receipts (SMS, international, voice) are POSTed. Without it, no
    /// receipts are sent.
    pub fn receipt_url(mut self, url: impl Into<String>) -> Self {
        self.config.set_receipt_url(url);
        self
    }

    /// How long after acceptance a receipt is pushed. Default 1 s.
    pub fn receipt_delay(mut self, delay: Duration) -> Self {
        self.config.set_receipt_delay(delay);
        self
    }

    /// Share (0.0 to 1.0) of accepted messages reported undelivered. Default 0.
    pub fn undelivered_ratio(mut self, ratio: f64) -> Self {
        self.config.set_undelivered_ratio(ratio);
        self
    }

    /// How many times a failed push is retried after the first attempt. Default 2.
    pub fn push_retries(mut self, retries: u32) -> Self {
        self.config.set_push_retries(retries);
        self
    }

    /// Where handset replies of `product` are pushed.
    pub fn upstream_url(mut self, product: Product, url: impl Into<String>) -> Self {
        self.config.set_upstream_url(product, url);
        self
    }

    /// Request body cap in bytes (HTTP 413 beyond). Default 1 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.config.set_max_body_bytes(bytes);
        self
    }

    /// How long a connection may take to send a request's headers; an idle keep-alive connection
    /// gets the same time for its next request. Slower connections are closed without an answer; a
    /// body that takes longer than this after its head gets HTTP 408.
    /// Wall-clock time (a paused Tokio clock does not shorten it). Default 30 s.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.set_header_read_timeout(timeout);
        self
    }

    /// Most connections served at once. Further connections are not refused: they wait, unanswered,
    /// in the listen backlog until a served one closes (an idle one closes after the header-read
    /// timeout). Default 512.
    pub fn max_connections(mut self, count: usize) -> Self {
        self.config.set_max_connections(count);
        self
    }

    /// Replaces the whole configuration set so far (later builder calls still apply).
    pub fn config(mut self, config: SandboxConfig) -> Self {
        self.config = config;
        self
    }

    /// Address to listen on. Default `127.0.0.1:0` (a free loopback port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Binds the listener and starts serving on the current Tokio runtime.
    ///
    /// Errors: [`SandboxError::Config`] for an invalid configuration, [`SandboxError::Bind`] when
    /// the address cannot be bound, [`SandboxError::PushClient`] when the push client cannot be
    /// built.
    pub async fn spawn(self) -> Result<Sandbox, SandboxError> {
        self.config.validate()?;
        let addr = self
            .listen
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let listener = TcpListener::bind(addr).await.map_err(SandboxError::Bind)?;
        let addr = listener.local_addr().map_err(SandboxError::Bind)?;
        let http = pushes::client().map_err(SandboxError::PushClient)?;
        let (shutdown_tx, shutdown_rx) = watch::channel(());
        let shared = Arc::new(Shared::new(self.config, http, shutdown_rx));
        tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        tracing::info!(%addr, "sms-sandbox (a simulator: nothing is really sent) listening");
        Ok(Sandbox {
            shared,
            addr,
            _shutdown: shutdown_tx,
        })
    }
}

/// A running sandbox. Dropping it stops the listener, every connection and every pending push.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    /// Dropping the sender is the shutdown signal.
    _shutdown: watch::Sender<()>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("addr", &self.addr).finish()
    }
}

impl Sandbox {
    /// A builder with the default accounts and settings.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The full endpoint URL of `product`, e.g. `http://127.0.0.1:PORT/webservice/sms.php`
    /// (Juxiang: the `/send/` directory).
    pub fn url(&self, product: Product) -> String {
        format!("{}{}", self.base_url(), product.path())
    }

    /// Every accepted message, oldest first (a snapshot).
    pub fn messages(&self) -> Vec<RecordedMessage> {
        self.shared.state().messages()
    }

    /// Requests received for `product` since start or the last reset, failed and faulted ones
    /// included.
    pub fn request_count(&self, product: Product) -> u64 {
        self.shared.request_count(product)
    }

    /// Adds a fault; faults are checked in the order they were added.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.add_fault(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Sets how `product`'s receipts behave from now on (also `POST /_sandbox/delivery`): their delay
    /// distribution, the share that say undelivered, and the share that never come, while the
    /// product keeps accepting every message. Applies to the products that push receipts (ihuyi).
    ///
    /// # Errors
    /// The profile's check ([`DeliveryProfile::check`]) names a bad value; nothing changes then.
    pub fn set_delivery(&self, product: Product, profile: DeliveryProfile) -> Result<(), String> {
        self.shared.set_delivery(product, profile)
    }

    /// From now on, `product`'s delivery receipts are POSTed to `url` (over the configured
    /// `receipt_url`, for this product only). For a receiver that starts after the sandbox, such as
    /// a gateway whose webhook URLs hold a token it makes at start. A reset keeps it.
    pub fn set_receipt_url(&self, product: Product, url: impl Into<String>) {
        self.shared.targets.set_receipt_url(product, url.into());
    }

    /// From now on, `product`'s handset replies are pushed to `url` (over the configured upstream
    /// URL). A reset keeps it.
    pub fn set_upstream_url(&self, product: Product, url: impl Into<String>) {
        self.shared.targets.set_upstream_url(product, url.into());
    }

    /// Every product back to the configured receipt delay and undelivered ratio.
    pub fn clear_delivery(&self) {
        self.shared.clear_delivery();
    }

    /// Injects a handset reply: queued for Juxiang `readsms.asp`, and pushed to the product's
    /// upstream URL if one is configured.
    pub fn inject_inbound(&self, reply: InboundReply) {
        control::inject_inbound(&self.shared, reply);
    }

    /// Sets an account's balance; returns false when there is no such account.
    pub fn set_balance(&self, product: Product, account: &str, amount: i64) -> bool {
        self.shared.state().set_balance(product, account, amount)
    }

    /// An account's balance, or `None` when there is no such account.
    pub fn balance(&self, product: Product, account: &str) -> Option<i64> {
        self.shared.state().balance(product, account)
    }

    /// The accounts in effect, as (product, account name).
    pub fn accounts(&self) -> Vec<(Product, String)> {
        self.shared.state().account_names()
    }

    /// Finished pushes (receipts and replies), in completion order.
    pub fn pushes(&self) -> Vec<RecordedPush> {
        self.shared.pushes()
    }

    /// Waits until at least `count` pushes have finished (all their attempts), then returns them
    /// all. Wrap it in `tokio::time::timeout`.
    pub async fn wait_for_pushes(&self, count: usize) -> Vec<RecordedPush> {
        self.shared.wait_for_pushes(count).await
    }

    /// Forgets messages, faults, request counts, pushes (pending ones are cancelled), queued
    /// replies, created packages and templates; balances and passwords go back to the configured
    /// values.
    pub fn reset(&self) {
        self.shared.reset();
    }
}
