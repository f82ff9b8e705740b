//! A provider as a chain member: the sender, its place in the order, and what the chain tracks about it.

use std::fmt;
use std::sync::Arc;

use sms_core::{BalanceQuery, Capabilities, MessageSender};

use crate::breaker::CircuitBreaker;
use crate::health::{HealthRecorder, ProviderHealth};

/// One provider of a chain, as given to [`crate::FailoverSenderBuilder::provider`].
///
/// ```
/// use std::sync::Arc;
/// use sms_core::MessageSender;
/// use sms_core::testkit::StubSender;
/// use sms_failover::ProviderEntry;
/// let stub = Arc::new(StubSender::new("ihuyi"));
/// let entry = ProviderEntry::new(stub).name("ihuyi-backup").priority(1).weight(3);
/// assert_eq!((entry.provider_name(), entry.priority_value()), ("ihuyi-backup", 1));
/// ```
#[derive(Clone)]
pub struct ProviderEntry {
    pub(crate) sender: Arc<dyn MessageSender>,
    pub(crate) name: Option<String>,
    pub(crate) priority: u32,
    pub(crate) weight: u32,
    pub(crate) balance: Option<Arc<dyn BalanceQuery>>,
}

impl ProviderEntry {
    /// A provider named by [`MessageSender::name`], priority 0, weight 1.
    ///
    /// Give it the client itself (`Arc<IhuyiClient>`, any `Arc<T>` whose `T` sends and answers
    /// balance queries): the chain then has everything the client can do, sending and
    /// [`crate::FailoverSender::balances`]. An `Arc<dyn MessageSender>` (a nested chain, a sender
    /// without a balance) is taken too; it sends only, and its balance answers
    /// [`sms_core::ErrorKind::Unsupported`] unless [`Self::balance`] adds one.
    pub fn new(provider: impl Into<ProviderEntry>) -> Self {
        provider.into()
    }

    /// A sender without a balance query (same as [`Self::new`] with an `Arc<dyn MessageSender>`).
    pub fn send_only(sender: Arc<dyn MessageSender>) -> Self {
        Self {
            sender,
            name: None,
            priority: 0,
            weight: 1,
            balance: None,
        }
    }

    /// A provider that also answers balance queries; the same as [`Self::new`] with such a client.
    pub fn with_balance_query<T>(provider: Arc<T>) -> Self
    where
        T: MessageSender + BalanceQuery + 'static,
    {
        Self::from(provider)
    }

    /// Names the provider in receipts, attempts, logs and health reports (default: the sender's own
    /// name). Needed to tell apart two accounts of the same provider.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the priority: lower is tried earlier; ties keep the order of
    /// [`crate::FailoverSenderBuilder::provider`] calls.
    #[must_use]
    pub fn priority(mut self, priority: u32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the weight for [`crate::Strategy::WeightedRandom`] (0 = never picked first).
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Sets the balance query [`crate::FailoverSender::balances`] asks for this provider.
    #[must_use]
    pub fn balance(mut self, query: Arc<dyn BalanceQuery>) -> Self {
        self.balance = Some(query);
        self
    }

    /// Puts `wrap` around the sender (timing, metrics, tracing), keeping the name, priority, weight
    /// and balance query. The wrapper must send through the sender it is given; the name is fixed
    /// first, so the chain calls the provider what it called it before.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use sms_core::MessageSender;
    /// use sms_core::testkit::StubSender;
    /// use sms_failover::ProviderEntry;
    /// let entry = ProviderEntry::new(Arc::new(StubSender::new("ihuyi")))
    ///     .map_sender(|inner| inner); // a real wrapper times or counts, then calls `inner`
    /// assert_eq!(entry.provider_name(), "ihuyi");
    /// ```
    #[must_use]
    pub fn map_sender(mut self, wrap: impl FnOnce(Arc<dyn MessageSender>) -> Arc<dyn MessageSender>) -> Self {
        self.name = Some(self.provider_name().to_owned());
        self.sender = wrap(self.sender);
        self
    }

    /// The name the chain will use.
    pub fn provider_name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.sender.name())
    }

    /// The priority.
    pub fn priority_value(&self) -> u32 {
        self.priority
    }
}

/// A client that sends and answers balance queries: both are registered.
impl<T> From<Arc<T>> for ProviderEntry
where
    T: MessageSender + BalanceQuery + 'static,
{
    fn from(provider: Arc<T>) -> Self {
        let balance: Arc<dyn BalanceQuery> = provider.clone();
        Self::send_only(provider).balance(balance)
    }
}

/// A sender only (its balance answers `Unsupported` unless [`ProviderEntry::balance`] adds one).
impl From<Arc<dyn MessageSender>> for ProviderEntry {
    fn from(sender: Arc<dyn MessageSender>) -> Self {
        Self::send_only(sender)
    }
}

impl fmt::Debug for ProviderEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderEntry")
            .field("name", &self.provider_name())
            .field("priority", &self.priority)
            .field("weight", &self.weight)
            .field("balance", &self.balance.is_some())
            .finish()
    }
}

/// A chain member at run time.
pub(crate) struct Provider {
    pub(crate) name: String,
    pub(crate) sender: Arc<dyn MessageSender>,
    pub(crate) balance: Option<Arc<dyn BalanceQuery>>,
    pub(crate) weight: u32,
    pub(crate) breaker: CircuitBreaker,
    pub(crate) health: HealthRecorder,
}

impl Provider {
    pub(crate) fn capabilities(&self) -> &Capabilities {
        self.sender.capabilities()
    }

    pub(crate) fn health_snapshot(&self) -> ProviderHealth {
        let (success_rate, average_latency, requests) = self.health.summary();
        ProviderHealth {
            name: self.name.clone(),
            breaker: self.breaker.state(),
            success_rate,
            average_latency,
            requests,
            consecutive_failures: self.breaker.consecutive_failures(),
        }
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("weight", &self.weight)
            .field("breaker", &self.breaker.state())
            .finish()
    }
}
