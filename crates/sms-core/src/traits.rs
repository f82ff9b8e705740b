//! The traits every provider implements, and conveniences on top of them.

use async_trait::async_trait;

use crate::capability::Capabilities;
use crate::error::Error;
use crate::message::Message;
use crate::receipt::{Balance, Receipt};
use crate::report::InboundMessage;

/// Sends messages through one provider (or a chain of them).
///
/// Object-safe: `Arc<dyn MessageSender>` is how failover chains hold providers.
#[async_trait]
pub trait MessageSender: Send + Sync {
    /// A short stable name for logs, receipts and errors (`"ihuyi"`, `"juxiang"`).
    fn name(&self) -> &str;

    /// What this sender can do.
    fn capabilities(&self) -> &Capabilities;

    /// Sends a message to all its recipients.
    ///
    /// Returns a receipt with one outcome per recipient when at least one recipient was accepted (or
    /// left unknown by the provider).
    ///
    /// # Errors
    /// An [`Error`] when nothing was accepted: [`crate::ErrorKind::Unsupported`] for what
    /// [`Self::capabilities`] excludes (before any request), [`crate::ErrorKind::InvalidRequest`]
    /// for a message that fails [`Message::validate`], and otherwise the provider's failure mapped to
    /// the kind that tells whether a retry or another provider can help.
    async fn send(&self, message: &Message) -> Result<Receipt, Error>;
}

/// Queries a provider's remaining credit.
#[async_trait]
pub trait BalanceQuery: Send + Sync {
    /// The remaining credit.
    ///
    /// # Errors
    /// The provider's failure, mapped like [`MessageSender::send`]'s.
    async fn balance(&self) -> Result<Balance, Error>;
}

/// Pulls replies sent by handset users.
#[async_trait]
pub trait InboundSource: Send + Sync {
    /// The next unread reply, or `None` when nothing is waiting. Call it no more often than
    /// [`crate::InboundMode::Pull`] allows; [`crate::inbound_stream`] does the pacing.
    ///
    /// # Errors
    /// The provider's failure, mapped like [`MessageSender::send`]'s.
    async fn next_inbound(&self) -> Result<Option<InboundMessage>, Error>;
}

#[async_trait]
impl<T: MessageSender + ?Sized> MessageSender for std::sync::Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn capabilities(&self) -> &Capabilities {
        (**self).capabilities()
    }
    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        (**self).send(message).await
    }
}

#[async_trait]
impl<T: BalanceQuery + ?Sized> BalanceQuery for std::sync::Arc<T> {
    async fn balance(&self) -> Result<Balance, Error> {
        (**self).balance().await
    }
}

#[async_trait]
impl<T: InboundSource + ?Sized> InboundSource for std::sync::Arc<T> {
    async fn next_inbound(&self) -> Result<Option<InboundMessage>, Error> {
        (**self).next_inbound().await
    }
}

/// Conveniences for every [`MessageSender`].
#[async_trait]
pub trait MessageSenderExt: MessageSender {
    /// Checks a message against the capabilities and [`Message::validate`] without sending it.
    ///
    /// # Errors
    /// The error [`MessageSender::send`] would return before any request.
    fn preflight(&self, message: &Message) -> Result<(), Error> {
        message.validate().map_err(|e| e.with_provider(self.name()))?;
        self.capabilities().check(self.name(), message)
    }

    /// Sends a free-text SMS to one number.
    ///
    /// # Errors
    /// As [`MessageSender::send`].
    async fn send_text(&self, to: crate::PhoneNumber, text: &str) -> Result<Receipt, Error> {
        self.send(&Message::text(to, text)).await
    }
}

impl<T: MessageSender + ?Sized> MessageSenderExt for T {}
