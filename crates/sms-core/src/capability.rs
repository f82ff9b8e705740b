//! What a provider can do, so that callers and failover chains route only what it supports.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Operation};
use crate::measure::measure_mainland;
use crate::message::{Message, MessageKind};

/// How a provider delivers handset replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InboundMode {
    /// No replies.
    None,
    /// The caller pulls replies, no more often than `min_interval`.
    Pull {
        /// The shortest allowed time between two pulls.
        min_interval: Duration,
    },
    /// The provider pushes replies to a URL the customer configures.
    Push,
}

/// A provider's abilities.
///
/// ```
/// use sms_core::{Capabilities, MessageKind};
/// let caps = Capabilities::new(&[MessageKind::Text]).with_max_batch(99).with_scheduling();
/// assert!(caps.supports(MessageKind::Text));
/// assert!(!caps.supports(MessageKind::VoiceCode));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Message kinds it sends.
    pub kinds: Vec<MessageKind>,
    /// Most recipients one provider request carries (the client splits larger messages itself).
    pub max_batch: usize,
    /// Whether it can schedule a send for later.
    pub scheduled: bool,
    /// Whether it reaches numbers outside mainland China.
    pub international: bool,
    /// The longest text, in characters, it accepts (signature included), if it has a limit.
    pub max_text_chars: Option<usize>,
    /// How it delivers handset replies.
    pub inbound: InboundMode,
    /// Whether it pushes delivery reports.
    pub receipt_push: bool,
}

impl Capabilities {
    /// Sends `kinds`, one recipient per request, mainland only, no scheduling, no length limit, no
    /// inbound, no receipt push. Widen with the `with_*` methods.
    pub fn new(kinds: &[MessageKind]) -> Self {
        Self {
            kinds: kinds.to_vec(),
            max_batch: 1,
            scheduled: false,
            international: false,
            max_text_chars: None,
            inbound: InboundMode::None,
            receipt_push: false,
        }
    }

    /// Sets the most recipients per request.
    #[must_use]
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// Marks scheduled sends as supported.
    #[must_use]
    pub fn with_scheduling(mut self) -> Self {
        self.scheduled = true;
        self
    }

    /// Marks international numbers as supported.
    #[must_use]
    pub fn with_international(mut self) -> Self {
        self.international = true;
        self
    }

    /// Sets the longest accepted text.
    #[must_use]
    pub fn with_max_text_chars(mut self, chars: usize) -> Self {
        self.max_text_chars = Some(chars);
        self
    }

    /// Sets how replies arrive.
    #[must_use]
    pub fn with_inbound(mut self, inbound: InboundMode) -> Self {
        self.inbound = inbound;
        self
    }

    /// Marks delivery-report pushes as supported.
    #[must_use]
    pub fn with_receipt_push(mut self) -> Self {
        self.receipt_push = true;
        self
    }

    /// True when `kind` is sent.
    pub fn supports(&self, kind: MessageKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Checks a message against these abilities before any request, so that asking for what a
    /// provider cannot do is a typed error and never a silent no-op.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] for a kind, an international recipient or a schedule it cannot
    /// handle; [`ErrorKind::InvalidContent`] for text longer than `max_text_chars`. The error names
    /// `provider`.
    pub fn check(&self, provider: &str, message: &Message) -> Result<(), Error> {
        let unsupported = |what: String| {
            Err(Error::new(ErrorKind::Unsupported, Operation::Send)
                .with_provider(provider)
                .with_message(what))
        };
        if !self.supports(message.kind()) {
            return unsupported(format!("{provider} does not send {} messages", message.kind()));
        }
        if !self.international && message.has_international_recipient() {
            return unsupported(format!(
                "{provider} does not send to numbers outside mainland China"
            ));
        }
        if !self.scheduled && message.schedule().is_some() {
            return unsupported(format!("{provider} cannot schedule messages"));
        }
        if let (Some(limit), Some(text)) = (self.max_text_chars, message.body().text()) {
            let chars = measure_mainland(text).map_or_else(|_| text.chars().count(), |m| m.characters);
            if chars > limit {
                return Err(Error::new(ErrorKind::InvalidContent, Operation::Send)
                    .with_provider(provider)
                    .with_message(format!(
                        "the text has {chars} characters; {provider} accepts at most {limit}"
                    )));
            }
        }
        Ok(())
    }
}
