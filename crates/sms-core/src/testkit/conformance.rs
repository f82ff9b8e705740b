//! The contract every [`MessageSender`] must meet, written once and run against every provider
//! (through the sandbox) and against [`super::StubSender`].
//!
//! ```no_run
//! # async fn demo(sender: &dyn sms_core::MessageSender) {
//! use sms_core::testkit::conformance::{run, Fixture};
//! run(sender, &Fixture::new()).await.assert_passed();
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorKind};
use crate::message::{Message, MessageKind, MmsContent, TemplateText};
use crate::phone::PhoneNumber;
use crate::receipt::Receipt;
use crate::time::BeijingTime;
use crate::traits::MessageSender;

/// What the suite sends. Every send goes to a fresh number from a pool, so per-number limits of a
/// real provider or the sandbox never interfere.
#[derive(Debug)]
pub struct Fixture {
    next_number: AtomicU64,
    /// Text for text messages (signature included).
    pub text: String,
    /// A voice code.
    pub voice_code: String,
    /// A template message, for providers that support templates.
    pub template: Option<TemplateText>,
    /// A stored MMS package valid at the provider (the sandbox's defaults), for MMS providers.
    pub mms: Option<MmsContent>,
    /// An international number the provider accepts, for international providers.
    pub international: Option<PhoneNumber>,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// Numbers from `139 0000 0000` upward, a mainland text with a signature, voice code `123456`,
    /// a UK number for international sends, no template and no MMS package.
    pub fn new() -> Self {
        Self::with_first_number(13_900_000_000)
    }

    /// Like [`Fixture::new`] with numbers counting up from `first` (an 11-digit mainland number), so
    /// that suites run against one shared sandbox do not share numbers.
    pub fn with_first_number(first: u64) -> Self {
        Self {
            next_number: AtomicU64::new(first),
            text: "【测试】您的验证码是1234。请不要把验证码泄露给其他人。".to_owned(),
            voice_code: "123456".to_owned(),
            template: None,
            mms: None,
            international: PhoneNumber::parse("+44 7700 900123").ok(),
        }
    }

    /// Adds a template message.
    #[must_use]
    pub fn with_template(mut self, template: TemplateText) -> Self {
        self.template = Some(template);
        self
    }

    /// Adds an MMS package.
    #[must_use]
    pub fn with_mms(mut self, mms: MmsContent) -> Self {
        self.mms = Some(mms);
        self
    }

    /// A number not used before by this fixture.
    pub fn fresh_number(&self) -> PhoneNumber {
        let n = self.next_number.fetch_add(1, Ordering::Relaxed);
        // The pool stays inside 1[3-9]xxxxxxxxx for any sane start.
        PhoneNumber::parse(&n.to_string()).unwrap_or_else(|_| {
            PhoneNumber::parse("13900000000").unwrap_or_else(|e| unreachable!("fixed number: {e}"))
        })
    }

    fn message(&self, kind: MessageKind, to: Vec<PhoneNumber>) -> Option<Message> {
        match kind {
            MessageKind::Text => Some(Message::text(to, self.text.clone())),
            MessageKind::Template => self.template.clone().map(|t| Message::template(to, t)),
            MessageKind::VoiceCode => Message::voice_code(to, self.voice_code.clone()).ok(),
            MessageKind::Mms => self.mms.clone().map(|m| Message::mms(to, m)),
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// `Err` with the violation.
    pub result: Result<(), String>,
}

/// The results of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    fn record(&mut self, name: impl Into<String>, result: Result<(), String>) {
        self.checks.push(Check {
            name: name.into(),
            result,
        });
    }

    /// The failed checks.
    pub fn violations(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.result.is_err()).collect()
    }

    /// Panics listing every violation; for use in tests.
    ///
    /// # Panics
    /// When any check failed, or when no check ran.
    pub fn assert_passed(&self) {
        assert!(!self.checks.is_empty(), "the conformance suite ran no check");
        let violations: Vec<String> = self
            .violations()
            .iter()
            .map(|c| {
                format!(
                    "- {}: {}",
                    c.name,
                    c.result.as_ref().err().map_or("", String::as_str)
                )
            })
            .collect();
        assert!(
            violations.is_empty(),
            "conformance violations:\n{}",
            violations.join("\n")
        );
    }
}

/// Runs every check against `sender`, which must be configured to succeed (valid credentials,
/// balance) for the kinds it supports.
pub async fn run(sender: &dyn MessageSender, fixture: &Fixture) -> Report {
    let mut report = Report::default();
    let name = sender.name().to_owned();
    report.record(
        "name is non-empty and stable",
        ensure(!name.is_empty() && sender.name() == name, || {
            format!("name {name:?}")
        }),
    );
    let caps = sender.capabilities().clone();
    report.record(
        "capabilities are sane",
        ensure(caps.max_batch >= 1 && !caps.kinds.is_empty(), || {
            format!("{caps:?}")
        }),
    );

    let empty = Message::text(Vec::<PhoneNumber>::new(), fixture.text.clone());
    report.record(
        "a message without recipients is an invalid request",
        expect_error(
            sender,
            &empty,
            &[ErrorKind::InvalidRequest, ErrorKind::Unsupported],
        )
        .await,
    );
    if caps.supports(MessageKind::Text) {
        let blank = Message::text(fixture.fresh_number(), "   ");
        report.record(
            "an empty text is an invalid request",
            expect_error(sender, &blank, &[ErrorKind::InvalidRequest]).await,
        );
    }

    for kind in [
        MessageKind::Text,
        MessageKind::Template,
        MessageKind::VoiceCode,
        MessageKind::Mms,
    ] {
        let Some(message) = fixture.message(kind, vec![fixture.fresh_number()]) else {
            continue;
        };
        if caps.supports(kind) {
            report.record(
                format!("a {kind} message is accepted"),
                expect_receipt(sender, &message).await,
            );
        } else {
            report.record(
                format!("an unsupported {kind} message is refused as unsupported"),
                expect_error(sender, &message, &[ErrorKind::Unsupported]).await,
            );
        }
    }

    let primary_kind = [
        MessageKind::Text,
        MessageKind::VoiceCode,
        MessageKind::Mms,
        MessageKind::Template,
    ]
    .into_iter()
    .find(|k| caps.supports(*k) && fixture.message(*k, Vec::new()).is_some());
    let Some(kind) = primary_kind else {
        report.record(
            "the fixture can build a message the sender supports",
            Err(format!("no fixture content for {:?}", caps.kinds)),
        );
        return report;
    };

    if let Some(abroad) = fixture.international.clone()
        && let Some(message) = fixture.message(kind, vec![abroad])
    {
        if caps.international {
            report.record(
                "an international number is accepted",
                expect_receipt(sender, &message).await,
            );
        } else {
            report.record(
                "an international number is refused as unsupported",
                expect_error(sender, &message, &[ErrorKind::Unsupported]).await,
            );
        }
    }

    if let Some(message) = fixture.message(kind, vec![fixture.fresh_number()]) {
        let tomorrow = BeijingTime::from_unix_seconds(BeijingTime::now().unix_seconds() + 86_400);
        let scheduled = message.scheduled_at(tomorrow);
        if caps.scheduled {
            report.record(
                "a scheduled message is accepted",
                expect_receipt(sender, &scheduled).await,
            );
        } else {
            report.record(
                "a scheduled message is refused as unsupported",
                expect_error(sender, &scheduled, &[ErrorKind::Unsupported]).await,
            );
        }
    }

    // More recipients than one request carries (when small), so that splitting is exercised too.
    let batch_size = if caps.max_batch < 3 { caps.max_batch + 1 } else { 3 };
    let batch: Vec<PhoneNumber> = (0..batch_size).map(|_| fixture.fresh_number()).collect();
    if let Some(message) = fixture.message(kind, batch) {
        report.record(
            "a batch gets one outcome per recipient, in order",
            expect_receipt(sender, &message).await,
        );
    }
    report
}

fn ensure(ok: bool, detail: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(detail()) }
}

/// The error contract: right kind, provider named, consistent classification.
async fn expect_error(
    sender: &dyn MessageSender,
    message: &Message,
    kinds: &[ErrorKind],
) -> Result<(), String> {
    match sender.send(message).await {
        Ok(receipt) => Err(format!("expected {kinds:?}, got a receipt: {receipt:?}")),
        Err(error) => {
            check_error_consistency(&error)?;
            ensure(kinds.contains(&error.kind()), || {
                format!("expected {kinds:?}, got {error:?}")
            })?;
            ensure(error.provider() == Some(sender.name()), || {
                format!("the error must name provider {:?}: {error:?}", sender.name())
            })
        }
    }
}

/// The receipt contract: same reference, one accepted outcome per recipient in order, named provider.
async fn expect_receipt(sender: &dyn MessageSender, message: &Message) -> Result<(), String> {
    let receipt: Receipt = match sender.send(message).await {
        Ok(receipt) => receipt,
        Err(error) => {
            check_error_consistency(&error)?;
            return Err(format!("expected a receipt, got {error}"));
        }
    };
    ensure(&receipt.reference == message.reference(), || {
        format!(
            "receipt reference {:?} differs from the message's {:?}",
            receipt.reference,
            message.reference()
        )
    })?;
    let recipients: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
    let expected: Vec<&PhoneNumber> = message.recipients().iter().collect();
    ensure(recipients == expected, || {
        format!("outcomes are for {recipients:?}, expected {expected:?}")
    })?;
    for outcome in &receipt.outcomes {
        ensure(outcome.provider == sender.name(), || {
            format!(
                "outcome names provider {:?}, expected {:?}",
                outcome.provider,
                sender.name()
            )
        })?;
        ensure(outcome.is_accepted(), || {
            format!("outcome not accepted: {outcome:?}")
        })?;
        ensure(outcome.message_id.as_deref() != Some(""), || {
            "empty message id".to_owned()
        })?;
    }
    Ok(())
}

fn check_error_consistency(error: &Error) -> Result<(), String> {
    ensure(!(error.is_ambiguous() && error.can_failover()), || {
        format!("an ambiguous error must not allow failover: {error:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::Capabilities;
    use crate::testkit::{StubOutcome, StubSender};

    #[tokio::test]
    async fn the_stub_conforms() {
        run(
            &StubSender::new("stub"),
            &Fixture::new().with_mms(MmsContent::new("1", "1")),
        )
        .await
        .assert_passed();
        let text_only = StubSender::new("narrow").with_capabilities(Capabilities::new(&[MessageKind::Text]));
        let report = run(&text_only, &Fixture::new()).await;
        report.assert_passed();
        let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
        assert!(
            names.contains(&"an unsupported voice code message is refused as unsupported"),
            "{names:?}"
        );
        assert!(
            names.contains(&"an international number is refused as unsupported"),
            "{names:?}"
        );
        assert!(
            names.contains(&"a scheduled message is refused as unsupported"),
            "{names:?}"
        );
    }

    #[tokio::test]
    async fn a_broken_sender_is_caught() {
        // A sender that fails everything with an error that claims to be ambiguous and failover-safe
        // cannot exist, but one that fails every send must be reported.
        let failing = StubSender::new("down").always(StubOutcome::fail(ErrorKind::Unavailable));
        let report = run(&failing, &Fixture::new()).await;
        let violations = report.violations();
        assert!(
            violations.iter().any(|c| c.name == "a text message is accepted"),
            "{report:?}"
        );
        let caught = std::panic::catch_unwind(|| report.assert_passed());
        assert!(caught.is_err());
    }
}
