//! What the caller asks to send: [`Message`] and its parts.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Operation};
use crate::measure::{MeasureError, measure_international, measure_mainland};
use crate::phone::PhoneNumber;
use crate::time::BeijingTime;

/// The kinds of message a provider may support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageKind {
    /// Free text.
    Text,
    /// Text from a provider-registered template.
    Template,
    /// A verification code read aloud by a voice call.
    VoiceCode,
    /// A multimedia message from a stored package.
    Mms,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Template => "template",
            Self::VoiceCode => "voice code",
            Self::Mms => "MMS",
        })
    }
}

/// A verification code for a voice call: 4 to 6 ASCII digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VoiceCode(String);

impl VoiceCode {
    /// Checks and wraps a code.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidContent`] unless the code is 4 to 6 ASCII digits.
    pub fn new(code: impl Into<String>) -> Result<Self, Error> {
        let code = code.into();
        let valid = (4..=6).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
        if valid {
            Ok(Self(code))
        } else {
            Err(
                Error::new(ErrorKind::InvalidContent, Operation::Send).with_message(format!(
                    "a voice code must be 4 to 6 ASCII digits, got {:?}",
                    code
                )),
            )
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VoiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Codes are short-lived credentials: keep them out of logs.
        write!(f, "VoiceCode({} digits)", self.0.len())
    }
}

/// Text filled in from a template registered with the provider.
///
/// Providers that send by template id use [`TemplateText::id`] and the variables; providers that send
/// the final text (ihuyi, Juxiang) use [`TemplateText::rendered`], which must be exactly what the
/// approved template produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateText {
    id: String,
    variables: Vec<(String, String)>,
    rendered: String,
}

impl TemplateText {
    /// A template message with its provider id and the text the handset will show.
    pub fn new(id: impl Into<String>, rendered: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            variables: Vec::new(),
            rendered: rendered.into(),
        }
    }

    /// Adds a variable value, in template order.
    #[must_use]
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.push((name.into(), value.into()));
        self
    }

    /// The provider's template id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Variable names and values, in template order.
    pub fn variables(&self) -> &[(String, String)] {
        &self.variables
    }

    /// The filled-in text.
    pub fn rendered(&self) -> &str {
        &self.rendered
    }
}

/// A stored MMS package to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmsContent {
    /// The provider's id of the stored package.
    pub package_id: String,
    /// The product id the provider bills the send to.
    pub product_id: String,
}

impl MmsContent {
    /// A stored package and the product to bill.
    pub fn new(package_id: impl Into<String>, product_id: impl Into<String>) -> Self {
        Self {
            package_id: package_id.into(),
            product_id: product_id.into(),
        }
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageBody {
    /// Free text, signature included.
    Text(String),
    /// Template-based text.
    Template(TemplateText),
    /// A voice verification code.
    VoiceCode(VoiceCode),
    /// A stored MMS package.
    Mms(MmsContent),
}

impl MessageBody {
    /// The kind of this body.
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Text(_) => MessageKind::Text,
            Self::Template(_) => MessageKind::Template,
            Self::VoiceCode(_) => MessageKind::VoiceCode,
            Self::Mms(_) => MessageKind::Mms,
        }
    }

    /// The text the handset shows, for text and template messages.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Template(template) => Some(template.rendered()),
            Self::VoiceCode(_) | Self::Mms(_) => None,
        }
    }
}

/// What a failover chain may do when an attempt's outcome is unknown (a timeout or reset after the
/// request was written: the message may have gone out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguityPolicy {
    /// Stop and report the ambiguity: a message is never sent twice. The default.
    #[default]
    AtMostOnce,
    /// Try the next provider: the recipient may get the message twice. Fine for verification codes.
    AtLeastOnce,
}

/// A caller-chosen reference that follows a message through every attempt, receipt and report.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClientReference(String);

impl ClientReference {
    /// Wraps a caller's reference (an order id, a request id, …).
    pub fn new(reference: impl Into<String>) -> Self {
        Self(reference.into())
    }

    /// A fresh reference: 32 hex digits, the clock in nanoseconds then 64 bits hashed from the
    /// clock, a process counter, the process id and random state; unique within a process and, for
    /// practical purposes, across processes.
    ///
    /// References made one after the other sort in the order they were made (the clock leads), so
    /// a store's index on them grows at one end instead of touching a page anywhere for every
    /// message.
    pub fn generate() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let random = RandomState::new().hash_one((nanos, count, std::process::id()));
        Self(format!("{nanos:016x}{random:016x}"))
    }

    /// The reference text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One or more recipients; converts from a number, a `Vec`, a slice or an array of numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipients(Vec<PhoneNumber>);

impl Recipients {
    /// The numbers.
    pub fn into_vec(self) -> Vec<PhoneNumber> {
        self.0
    }
}

impl From<PhoneNumber> for Recipients {
    fn from(value: PhoneNumber) -> Self {
        Self(vec![value])
    }
}

impl From<Vec<PhoneNumber>> for Recipients {
    fn from(value: Vec<PhoneNumber>) -> Self {
        Self(value)
    }
}

impl From<&[PhoneNumber]> for Recipients {
    fn from(value: &[PhoneNumber]) -> Self {
        Self(value.to_vec())
    }
}

impl<const N: usize> From<[PhoneNumber; N]> for Recipients {
    fn from(value: [PhoneNumber; N]) -> Self {
        Self(value.into())
    }
}

impl FromIterator<PhoneNumber> for Recipients {
    fn from_iter<T: IntoIterator<Item = PhoneNumber>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// A message to send: a body, its recipients and delivery options.
///
/// ```
/// use sms_core::{Message, PhoneNumber};
/// let to: PhoneNumber = "13800138000".parse().unwrap();
/// let message = Message::text(to, "【示例】您的验证码是 123456").with_reference("order-42");
/// assert_eq!(message.reference().as_str(), "order-42");
/// assert_eq!(message.estimated_parts().unwrap(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    recipients: Vec<PhoneNumber>,
    body: MessageBody,
    schedule: Option<BeijingTime>,
    reference: ClientReference,
    ambiguity: Option<AmbiguityPolicy>,
}

impl Message {
    /// A message with any body; the reference is generated.
    pub fn new(to: impl Into<Recipients>, body: MessageBody) -> Self {
        Self {
            recipients: to.into().into_vec(),
            body,
            schedule: None,
            reference: ClientReference::generate(),
            ambiguity: None,
        }
    }

    /// A free-text SMS (include the signature `【…】` if the provider requires one).
    pub fn text(to: impl Into<Recipients>, content: impl Into<String>) -> Self {
        Self::new(to, MessageBody::Text(content.into()))
    }

    /// A template SMS.
    pub fn template(to: impl Into<Recipients>, template: TemplateText) -> Self {
        Self::new(to, MessageBody::Template(template))
    }

    /// A voice verification code.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidContent`] unless the code is 4 to 6 ASCII digits.
    pub fn voice_code(to: impl Into<Recipients>, code: impl Into<String>) -> Result<Self, Error> {
        Ok(Self::new(to, MessageBody::VoiceCode(VoiceCode::new(code)?)))
    }

    /// An MMS from a stored package.
    pub fn mms(to: impl Into<Recipients>, content: MmsContent) -> Self {
        Self::new(to, MessageBody::Mms(content))
    }

    /// Adds a recipient.
    #[must_use]
    pub fn with_recipient(mut self, recipient: PhoneNumber) -> Self {
        self.recipients.push(recipient);
        self
    }

    /// Sets the client reference.
    #[must_use]
    pub fn with_reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = ClientReference::new(reference);
        self
    }

    /// Schedules the message for a later time (where the provider supports it).
    #[must_use]
    pub fn scheduled_at(mut self, time: BeijingTime) -> Self {
        self.schedule = Some(time);
        self
    }

    /// Overrides the failover chain's ambiguity policy for this message.
    #[must_use]
    pub fn with_ambiguity_policy(mut self, policy: AmbiguityPolicy) -> Self {
        self.ambiguity = Some(policy);
        self
    }

    /// The same message (same reference, body and options) for other recipients: what a batch split
    /// or a failover of the remaining numbers sends.
    pub fn for_recipients(&self, recipients: impl Into<Recipients>) -> Self {
        Self {
            recipients: recipients.into().into_vec(),
            ..self.clone()
        }
    }

    /// The recipients.
    pub fn recipients(&self) -> &[PhoneNumber] {
        &self.recipients
    }

    /// The body.
    pub fn body(&self) -> &MessageBody {
        &self.body
    }

    /// The kind of the body.
    pub fn kind(&self) -> MessageKind {
        self.body.kind()
    }

    /// The scheduled time, if any.
    pub fn schedule(&self) -> Option<BeijingTime> {
        self.schedule
    }

    /// The client reference.
    pub fn reference(&self) -> &ClientReference {
        &self.reference
    }

    /// The per-message ambiguity policy, if the caller set one.
    pub fn ambiguity_policy(&self) -> Option<AmbiguityPolicy> {
        self.ambiguity
    }

    /// True when any recipient is outside mainland China.
    pub fn has_international_recipient(&self) -> bool {
        self.recipients.iter().any(|r| !r.is_mainland())
    }

    /// Billed parts for one recipient: text is measured by the mainland or international rule that
    /// applies to that number; a voice code or an MMS counts one.
    ///
    /// # Errors
    /// [`MeasureError`] when a mainland text contains an emoji.
    pub fn parts_for(&self, recipient: &PhoneNumber) -> Result<usize, MeasureError> {
        match self.body.text() {
            Some(text) if recipient.is_mainland() => Ok(measure_mainland(text)?.parts),
            Some(text) => Ok(measure_international(text).parts),
            None => Ok(1),
        }
    }

    /// Billed parts over all recipients: the cost to show before a bulk send.
    ///
    /// # Errors
    /// [`MeasureError`] when a mainland text contains an emoji.
    pub fn estimated_parts(&self) -> Result<usize, MeasureError> {
        self.recipients.iter().map(|r| self.parts_for(r)).sum()
    }

    /// Checks what every provider requires before anything is sent: at least one recipient, no
    /// recipient twice, and a non-empty text, template id or MMS package.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] naming the problem.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |message: String| {
            Err(Error::new(ErrorKind::InvalidRequest, Operation::Send).with_message(message))
        };
        if self.recipients.is_empty() {
            return invalid("the message has no recipient".to_owned());
        }
        let mut seen = HashSet::with_capacity(self.recipients.len());
        if let Some(twice) = self.recipients.iter().find(|r| !seen.insert(*r)) {
            return invalid(format!("recipient {} is listed twice", twice.masked()));
        }
        match &self.body {
            MessageBody::Text(text) if text.trim().is_empty() => invalid("the text is empty".to_owned()),
            MessageBody::Template(t) if t.rendered().trim().is_empty() && t.id().trim().is_empty() => {
                invalid("the template has neither an id nor text".to_owned())
            }
            MessageBody::Mms(mms) if mms.package_id.trim().is_empty() => {
                invalid("the MMS package id is empty".to_owned())
            }
            MessageBody::Mms(mms) if mms.product_id.trim().is_empty() => {
                invalid("the MMS product id is empty".to_owned())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> PhoneNumber {
        s.parse().unwrap()
    }

    #[test]
    fn voice_codes_are_four_to_six_ascii_digits() {
        for ok in ["1234", "12345", "123456"] {
            assert_eq!(VoiceCode::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["123", "1234567", "12a4", "１２３４", "", "12 34"] {
            let err = VoiceCode::new(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidContent, "{bad}");
        }
        assert_eq!(
            format!("{:?}", VoiceCode::new("9876").unwrap()),
            "VoiceCode(4 digits)"
        );
    }

    #[test]
    fn references_are_generated_unique_and_kept_across_splits() {
        let a = Message::text(number("13800138000"), "hi");
        let b = Message::text(number("13800138000"), "hi");
        assert_ne!(a.reference(), b.reference());
        assert_eq!(a.reference().as_str().len(), 32);
        let batch =
            Message::text(vec![number("13800138000"), number("13900139000")], "hi").with_reference("r1");
        let part = batch.for_recipients(number("13900139000"));
        assert_eq!(part.reference().as_str(), "r1");
        assert_eq!(part.recipients(), &[number("13900139000")]);
    }

    #[test]
    fn generated_references_lead_with_the_clock_so_they_sort_as_made() {
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        };
        let before = now();
        let made: Vec<String> = (0..1_000)
            .map(|_| ClientReference::generate().as_str().to_owned())
            .collect();
        let after = now();
        // The first 16 digits are the clock when each was made: between the readings around them.
        for r in &made {
            let clock = u64::from_str_radix(&r[..16], 16).unwrap();
            assert!(
                (before..=after).contains(&clock),
                "{r} not made between {before} and {after}"
            );
        }
        let unique: std::collections::HashSet<&String> = made.iter().collect();
        assert_eq!(unique.len(), made.len());
        assert!(
            made.iter()
                .all(|r| r.len() == 32 && r.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn validation_catches_empty_and_duplicate_input() {
        let kind = |m: Message| m.validate().unwrap_err().kind();
        assert_eq!(
            kind(Message::text(Vec::<PhoneNumber>::new(), "hi")),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            kind(Message::text(number("13800138000"), "  ")),
            ErrorKind::InvalidRequest
        );
        let twice = Message::text([number("13800138000"), number("+86 138 0013 8000")], "hi");
        let err = twice.validate().unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
        assert!(
            !err.to_string().contains("13800138000"),
            "numbers are masked: {err}"
        );
        assert_eq!(
            kind(Message::mms(number("13800138000"), MmsContent::new("", "1"))),
            ErrorKind::InvalidRequest
        );
        assert!(Message::text(number("13800138000"), "hi").validate().is_ok());
    }

    #[test]
    fn estimated_parts_follow_each_recipients_rule() {
        let text = "a".repeat(100);
        let m = Message::text([number("13800138000"), number("+44 7700 900123")], text);
        // Mainland: 100 characters = 2 parts; international GSM-7: 100 septets = 1 part.
        assert_eq!(m.estimated_parts().unwrap(), 3);
        let voice = Message::voice_code([number("13800138000"), number("13900139000")], "1234").unwrap();
        assert_eq!(voice.estimated_parts().unwrap(), 2);
        assert!(
            Message::text(number("13800138000"), "😀")
                .estimated_parts()
                .is_err()
        );
    }
}
