//! Numbers that must get no more messages: people who unsubscribed (Juxiang's `0000` reply) or whom the
//! application suppressed.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use sms_core::{Error, InboundMessage, PhoneNumber};

/// An opt-out list a failover chain consults before every send: a listed number gets a
/// [`sms_core::ErrorKind::RecipientOptedOut`] outcome and costs no request.
///
/// [`InMemorySuppressionList`] keeps the list in this process; a shared backend (Redis, a database)
/// makes an opt-out learnt by one instance honoured by all.
///
/// # Errors
/// Every method fails when the backend cannot answer; the chain then sends nothing (see
/// [`crate::state::backend_unavailable`]).
#[async_trait]
pub trait SuppressionList: Send + Sync {
    /// For each of `numbers`, in order, true when it must get no message. One call for a whole batch.
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error>;

    /// Adds `number` to the list.
    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error>;

    /// Takes `number` off the list (it subscribed again). True when it was listed.
    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error>;

    /// True when `number` must get no message.
    async fn is_suppressed(&self, number: &PhoneNumber) -> Result<bool, Error> {
        let answer = self.suppressed(std::slice::from_ref(number)).await?;
        Ok(answer.first().copied().unwrap_or(false))
    }

    /// Records the sender of a handset reply that unsubscribes ([`InboundMessage::opt_out`], e.g. the
    /// Juxiang `0000` reply). True when a number was added; false for other replies and for senders
    /// that are not valid numbers.
    async fn observe_inbound(&self, message: &InboundMessage) -> Result<bool, Error> {
        match (message.opt_out, message.sender_number()) {
            (true, Some(number)) => {
                self.suppress(&number).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl std::fmt::Debug for dyn SuppressionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppressionList")
    }
}

/// A [`SuppressionList`] held in memory: lost on restart and not shared with other processes. It never
/// fails.
///
/// ```
/// use sms_failover::{InMemorySuppressionList, SuppressionList};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let list = InMemorySuppressionList::new();
/// let number: sms_core::PhoneNumber = "13800138000".parse().unwrap();
/// list.suppress(&number).await.unwrap();
/// assert!(list.is_suppressed(&"+86 138 0013 8000".parse().unwrap()).await.unwrap());
/// assert!(list.unsuppress(&number).await.unwrap());
/// assert!(list.is_empty());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemorySuppressionList {
    numbers: Mutex<HashSet<PhoneNumber>>,
}

impl InMemorySuppressionList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list holding `numbers`.
    pub fn with_numbers(numbers: impl IntoIterator<Item = PhoneNumber>) -> Self {
        Self {
            numbers: Mutex::new(numbers.into_iter().collect()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<PhoneNumber>> {
        self.numbers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many numbers are listed.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no number is listed.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The listed numbers, sorted.
    pub fn numbers(&self) -> Vec<PhoneNumber> {
        let mut numbers: Vec<PhoneNumber> = self.lock().iter().cloned().collect();
        numbers.sort();
        numbers
    }
}

#[async_trait]
impl SuppressionList for InMemorySuppressionList {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        let list = self.lock();
        if list.is_empty() {
            return Ok(vec![false; numbers.len()]);
        }
        Ok(numbers.iter().map(|n| list.contains(n)).collect())
    }

    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        self.lock().insert(number.clone());
        Ok(())
    }

    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        Ok(self.lock().remove(number))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn reply(sender: &str, text: &str, opt_out: bool) -> InboundMessage {
        InboundMessage {
            provider: "juxiang".into(),
            sender: sender.into(),
            service_number: None,
            text: text.into(),
            received_at: None,
            opt_out,
            raw: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn unsubscribe_replies_add_their_sender() {
        let list = InMemorySuppressionList::new();
        assert!(
            list.observe_inbound(&reply("13800138000", "0000", true))
                .await
                .unwrap()
        );
        assert!(
            list.is_suppressed(&"+8613800138000".parse().expect("number"))
                .await
                .unwrap()
        );
        assert_eq!(list.len(), 1);
    }

    #[tokio::test]
    async fn other_replies_and_unreadable_senders_are_ignored() {
        let list = InMemorySuppressionList::new();
        assert!(
            !list
                .observe_inbound(&reply("13800138000", "你好", false))
                .await
                .unwrap()
        );
        assert!(
            !list
                .observe_inbound(&reply("1380013****", "0000", true))
                .await
                .unwrap()
        );
        assert!(list.is_empty());
    }
}
