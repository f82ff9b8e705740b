//! Numbers that must get no more messages: people who unsubscribed (Juxiang's `0000` reply) or whom the
//! application suppressed.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use sms_core::{InboundMessage, PhoneNumber};

/// An opt-out list a failover chain consults before every send: a listed number gets a
/// [`sms_core::ErrorKind::RecipientOptedOut`] outcome and costs no request.
///
/// Implement it over your own store (a database table, a cache) to share opt-outs between processes;
/// [`InMemorySuppressionList`] keeps them in this process.
pub trait SuppressionList: Send + Sync {
    /// True when `number` must get no message.
    fn is_suppressed(&self, number: &PhoneNumber) -> bool;

    /// Adds `number` to the list.
    fn suppress(&self, number: PhoneNumber);

    /// Records the sender of a handset reply that unsubscribes ([`InboundMessage::opt_out`], e.g. the
    /// Juxiang `0000` reply). Returns true when a number was added; false for other replies and for
    /// senders that are not valid numbers.
    fn observe_inbound(&self, message: &InboundMessage) -> bool {
        match (message.opt_out, message.sender_number()) {
            (true, Some(number)) => {
                self.suppress(number);
                true
            }
            _ => false,
        }
    }
}

impl std::fmt::Debug for dyn SuppressionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppressionList")
    }
}

/// A [`SuppressionList`] held in memory (lost on restart: persist it yourself if it must survive).
///
/// ```
/// use sms_failover::{InMemorySuppressionList, SuppressionList};
/// let list = InMemorySuppressionList::new();
/// let number: sms_core::PhoneNumber = "13800138000".parse().unwrap();
/// list.suppress(number.clone());
/// assert!(list.is_suppressed(&"+86 138 0013 8000".parse().unwrap()));
/// assert!(list.remove(&number));
/// assert!(list.is_empty());
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

    /// Takes `number` off the list (it subscribed again). Returns true when it was listed.
    pub fn remove(&self, number: &PhoneNumber) -> bool {
        self.lock().remove(number)
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

impl SuppressionList for InMemorySuppressionList {
    fn is_suppressed(&self, number: &PhoneNumber) -> bool {
        self.lock().contains(number)
    }

    fn suppress(&self, number: PhoneNumber) {
        self.lock().insert(number);
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

    #[test]
    fn unsubscribe_replies_add_their_sender() {
        let list = InMemorySuppressionList::new();
        assert!(list.observe_inbound(&reply("13800138000", "0000", true)));
        assert!(list.is_suppressed(&"+8613800138000".parse().expect("number")));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn other_replies_and_unreadable_senders_are_ignored() {
        let list = InMemorySuppressionList::new();
        assert!(!list.observe_inbound(&reply("13800138000", "你好", false)));
        assert!(!list.observe_inbound(&reply("1380013****", "0000", true)));
        assert!(list.is_empty());
    }
}
