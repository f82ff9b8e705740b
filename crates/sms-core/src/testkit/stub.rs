//! A sender that records what it was asked to send and plays scripted outcomes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::capability::Capabilities;
use crate::error::{Error, ErrorKind, Operation};
use crate::message::{Message, MessageKind};
use crate::phone::PhoneNumber;
use crate::receipt::{Balance, BalanceUnit, Receipt, RecipientOutcome};
use crate::report::InboundMessage;
use crate::traits::{BalanceQuery, InboundSource, MessageSender, MessageSenderExt};

/// What a [`StubSender`] does with the next message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StubOutcome {
    /// Accept every recipient.
    Accept,
    /// Fail the whole send with this error (the stub's name is filled in as provider if absent).
    Fail(Error),
    /// Accept only these recipients and fail the others with the error; if none is accepted the
    /// send fails with the error.
    AcceptOnly(Vec<PhoneNumber>, Error),
    /// Wait, then play the inner outcome (uses tokio time, so paused-time tests stay instant).
    Delay(Duration, Box<StubOutcome>),
    /// Never answer (until the caller's own timeout drops the future).
    Hang,
}

impl StubOutcome {
    /// Fails with a bare error of `kind`.
    pub fn fail(kind: ErrorKind) -> Self {
        Self::Fail(Error::new(kind, Operation::Send))
    }

    /// Plays `self` after `delay`.
    #[must_use]
    pub fn after(self, delay: Duration) -> Self {
        Self::Delay(delay, Box::new(self))
    }
}

/// One call a [`StubSender`] received.
#[derive(Debug, Clone)]
pub struct StubCall {
    /// The message as sent.
    pub message: Message,
    /// When the call arrived (tokio time).
    pub at: Instant,
}

/// A [`MessageSender`] for tests: records every message that passes the capability check, then
/// plays the next scripted [`StubOutcome`] (or the default outcome once the script is empty).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use sms_core::testkit::{StubOutcome, StubSender};
/// use sms_core::{ErrorKind, Message, MessageSender};
/// let stub = StubSender::new("primary").then(StubOutcome::fail(ErrorKind::Unavailable));
/// let message = Message::text("13800138000".parse::<sms_core::PhoneNumber>().unwrap(), "hi");
/// assert_eq!(stub.send(&message).await.unwrap_err().kind(), ErrorKind::Unavailable);
/// assert!(stub.send(&message).await.unwrap().all_accepted());
/// assert_eq!(stub.calls().len(), 2);
/// # });
/// ```
#[derive(Debug)]
pub struct StubSender {
    name: String,
    capabilities: Capabilities,
    script: Mutex<VecDeque<StubOutcome>>,
    default: Mutex<StubOutcome>,
    calls: Mutex<Vec<StubCall>>,
    balance: Mutex<i64>,
    inbound: Mutex<VecDeque<InboundMessage>>,
    next_id: Mutex<u64>,
}

impl StubSender {
    /// A stub that accepts everything: every message kind, batches of up to 100, international
    /// numbers and schedules.
    pub fn new(name: impl Into<String>) -> Self {
        let capabilities = Capabilities::new(&[
            MessageKind::Text,
            MessageKind::Template,
            MessageKind::VoiceCode,
            MessageKind::Mms,
        ])
        .with_max_batch(100)
        .with_international()
        .with_scheduling();
        Self {
            name: name.into(),
            capabilities,
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(StubOutcome::Accept),
            calls: Mutex::new(Vec::new()),
            balance: Mutex::new(1000),
            inbound: Mutex::new(VecDeque::new()),
            next_id: Mutex::new(1),
        }
    }

    /// Replaces the capabilities.
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Appends an outcome to the script.
    #[must_use]
    pub fn then(self, outcome: StubOutcome) -> Self {
        self.push(outcome);
        self
    }

    /// Sets the outcome played once the script is empty (initially [`StubOutcome::Accept`]).
    #[must_use]
    pub fn always(self, outcome: StubOutcome) -> Self {
        self.set_default(outcome);
        self
    }

    /// Appends an outcome to the script of a shared stub.
    pub fn push(&self, outcome: StubOutcome) {
        lock(&self.script).push_back(outcome);
    }

    /// Changes the default outcome of a shared stub.
    pub fn set_default(&self, outcome: StubOutcome) {
        *lock(&self.default) = outcome;
    }

    /// Sets the balance [`BalanceQuery::balance`] reports.
    pub fn set_balance(&self, amount: i64) {
        *lock(&self.balance) = amount;
    }

    /// Queues a reply for [`InboundSource::next_inbound`].
    pub fn push_inbound(&self, message: InboundMessage) {
        lock(&self.inbound).push_back(message);
    }

    /// Every call received, oldest first.
    pub fn calls(&self) -> Vec<StubCall> {
        lock(&self.calls).clone()
    }

    /// Every message received, oldest first.
    pub fn sent(&self) -> Vec<Message> {
        lock(&self.calls).iter().map(|c| c.message.clone()).collect()
    }

    /// How many calls were received.
    pub fn call_count(&self) -> usize {
        lock(&self.calls).len()
    }

    fn next_outcome(&self) -> StubOutcome {
        lock(&self.script)
            .pop_front()
            .unwrap_or_else(|| lock(&self.default).clone())
    }

    fn message_id(&self) -> String {
        let mut next = lock(&self.next_id);
        let id = format!("{}-{}", self.name, *next);
        *next += 1;
        id
    }

    fn named(&self, error: Error) -> Error {
        if error.provider().is_some() {
            error
        } else {
            error.with_provider(self.name.clone())
        }
    }

    async fn play(&self, outcome: StubOutcome, message: &Message) -> Result<Receipt, Error> {
        let mut outcome = outcome;
        loop {
            match outcome {
                StubOutcome::Delay(delay, inner) => {
                    tokio::time::sleep(delay).await;
                    outcome = *inner;
                }
                StubOutcome::Hang => std::future::pending::<()>().await,
                StubOutcome::Accept => {
                    let outcomes = message
                        .recipients()
                        .iter()
                        .map(|r| {
                            RecipientOutcome::accepted(r.clone(), self.name.clone(), Some(self.message_id()))
                        })
                        .collect();
                    return Ok(Receipt::new(message.reference().clone(), outcomes));
                }
                StubOutcome::Fail(error) => return Err(self.named(error)),
                StubOutcome::AcceptOnly(accepted, error) => {
                    let error = self.named(error);
                    if !message.recipients().iter().any(|r| accepted.contains(r)) {
                        return Err(error);
                    }
                    let outcomes = message
                        .recipients()
                        .iter()
                        .map(|r| {
                            if accepted.contains(r) {
                                RecipientOutcome::accepted(
                                    r.clone(),
                                    self.name.clone(),
                                    Some(self.message_id()),
                                )
                            } else {
                                RecipientOutcome::failed(r.clone(), self.name.clone(), error.clone())
                            }
                        })
                        .collect();
                    return Ok(Receipt::new(message.reference().clone(), outcomes));
                }
            }
        }
    }
}

/// Locks a mutex, recovering the data if a test panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl MessageSender for StubSender {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        self.preflight(message)?;
        lock(&self.calls).push(StubCall {
            message: message.clone(),
            at: Instant::now(),
        });
        let outcome = self.next_outcome();
        self.play(outcome, message).await
    }
}

#[async_trait]
impl BalanceQuery for StubSender {
    async fn balance(&self) -> Result<Balance, Error> {
        Ok(Balance {
            provider: self.name.clone(),
            amount: *lock(&self.balance),
            unit: BalanceUnit::Messages,
        })
    }
}

#[async_trait]
impl InboundSource for StubSender {
    async fn next_inbound(&self) -> Result<Option<InboundMessage>, Error> {
        Ok(lock(&self.inbound).pop_front())
    }
}
