//! What the chain does after an error: one pure function of the error and the ambiguity policy.

use sms_core::{AmbiguityPolicy, Error, ErrorKind};

/// The chain's decision about the recipients of a failed request (or of a refusal in a receipt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A passing refusal (unavailable, rate limited): retry these recipients on the same provider
    /// after a pause, when attempts and time allow and its breaker admits them; otherwise
    /// [`Verdict::LeaveProvider`].
    RetryHere,
    /// This provider refuses these numbers only: they go to the next provider, and the provider may
    /// still take the other parts of the message.
    NextProvider,
    /// The provider cannot take this message now (down, no credit, bad credentials, refused content,
    /// …): these recipients and every part not yet sent there go to the next provider, without another
    /// request to this one.
    LeaveProvider,
    /// The message may have gone out and the policy is at most once: these recipients end unknown and
    /// are never sent again; the rest of the message leaves this provider.
    Unknown,
    /// These recipients cannot get the message from any provider (invalid, throttled, opted out); the
    /// other recipients go on.
    StopRecipients,
    /// Nobody can send this message (invalid request or content): stop it.
    StopMessage,
}

/// The one place the chain decides what an error means.
pub(crate) fn verdict(error: &Error, policy: AmbiguityPolicy) -> Verdict {
    if error.is_ambiguous() || hides_ambiguity(error) {
        return match policy {
            AmbiguityPolicy::AtMostOnce => Verdict::Unknown,
            // An unknown outcome; another provider may still deliver it.
            AmbiguityPolicy::AtLeastOnce => Verdict::LeaveProvider,
        };
    }
    match error.kind() {
        // Nothing was sent and the provider is down: straight to the next one, no pause.
        ErrorKind::Unreachable => Verdict::LeaveProvider,
        _ if error.is_retryable() => Verdict::RetryHere,
        ErrorKind::RecipientRejected => Verdict::NextProvider,
        // A nested chain whose providers all failed cleanly: the providers after it may help.
        ErrorKind::AllProvidersFailed => Verdict::LeaveProvider,
        _ if error.can_failover() => Verdict::LeaveProvider,
        ErrorKind::InvalidRecipient | ErrorKind::RecipientThrottled | ErrorKind::RecipientOptedOut => {
            Verdict::StopRecipients
        }
        _ => Verdict::StopMessage,
    }
}

/// True for failures that will repeat for every number of the message on this provider (the account
/// or its configuration): once seen, even for one number of a batch answer, no further request goes to
/// that provider for this message.
pub(crate) fn repeats_for_every_number(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Unauthorized
            | ErrorKind::AccountSuspended
            | ErrorKind::InsufficientBalance
            | ErrorKind::Configuration
    )
}

/// True for an `AllProvidersFailed` (of a nested chain, at any depth) one of whose attempts may have
/// delivered the message.
pub(crate) fn hides_ambiguity(error: &Error) -> bool {
    error.kind() == ErrorKind::AllProvidersFailed
        && error
            .attempts()
            .iter()
            .any(|a| a.error.is_ambiguous() || hides_ambiguity(&a.error))
}

/// A nested chain's `AllProvidersFailed` after an attempt that may have delivered the message is, to
/// this chain, an unknown outcome: it becomes an ambiguous error (keeping the nested attempts), so that
/// the ambiguity policy decides, and the final error says so.
pub(crate) fn reveal(error: Error, provider: &str) -> Error {
    if !hides_ambiguity(&error) {
        return error;
    }
    Error::new(ErrorKind::Ambiguous, error.operation())
        .with_provider(provider.to_owned())
        .with_message(format!(
            "{}; one of its attempts may have delivered the message",
            error.message()
        ))
        .with_attempts(error.attempts().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_core::{Attempt, Operation};
    use std::time::Duration;

    use AmbiguityPolicy::{AtLeastOnce, AtMostOnce};
    use Verdict::*;

    fn error(kind: ErrorKind) -> Error {
        Error::new(kind, Operation::Send)
    }

    fn nested(inner: ErrorKind) -> Error {
        error(ErrorKind::AllProvidersFailed).with_attempts(vec![Attempt {
            provider: "x".to_owned(),
            recipients: 1,
            error: error(inner),
            elapsed: Duration::ZERO,
        }])
    }

    #[test]
    fn the_table() {
        use ErrorKind as K;
        let rows: &[(Error, Verdict, Verdict)] = &[
            // error, at most once, at least once
            (error(K::Unavailable), RetryHere, RetryHere),
            (error(K::RateLimited), RetryHere, RetryHere),
            (error(K::Unreachable), LeaveProvider, LeaveProvider),
            (error(K::RecipientRejected), NextProvider, NextProvider),
            (error(K::ContentRejected), LeaveProvider, LeaveProvider),
            (error(K::Unauthorized), LeaveProvider, LeaveProvider),
            (error(K::Configuration), LeaveProvider, LeaveProvider),
            (error(K::AccountSuspended), LeaveProvider, LeaveProvider),
            (error(K::InsufficientBalance), LeaveProvider, LeaveProvider),
            (error(K::Unsupported), LeaveProvider, LeaveProvider),
            (error(K::ProviderFault), LeaveProvider, LeaveProvider),
            (error(K::CircuitOpen), LeaveProvider, LeaveProvider),
            (error(K::Ambiguous), Unknown, LeaveProvider),
            (error(K::Protocol), Unknown, LeaveProvider),
            (nested(K::Unavailable), LeaveProvider, LeaveProvider),
            (nested(K::Ambiguous), Unknown, LeaveProvider),
            (nested(K::Protocol), Unknown, LeaveProvider),
            (error(K::InvalidRecipient), StopRecipients, StopRecipients),
            (error(K::RecipientThrottled), StopRecipients, StopRecipients),
            (error(K::RecipientOptedOut), StopRecipients, StopRecipients),
            (error(K::InvalidRequest), StopMessage, StopMessage),
            (error(K::InvalidContent), StopMessage, StopMessage),
        ];
        for (error, at_most, at_least) in rows {
            assert_eq!(verdict(error, AtMostOnce), *at_most, "{error} at most once");
            assert_eq!(verdict(error, AtLeastOnce), *at_least, "{error} at least once");
        }
        // A protocol error outside a send says nothing about delivery.
        let balance = Error::new(K::Protocol, Operation::Balance);
        assert_eq!(verdict(&balance, AtMostOnce), LeaveProvider);
    }

    #[test]
    fn account_wide_failures_repeat_for_every_number() {
        for kind in [
            ErrorKind::Unauthorized,
            ErrorKind::AccountSuspended,
            ErrorKind::InsufficientBalance,
            ErrorKind::Configuration,
        ] {
            assert!(repeats_for_every_number(kind), "{kind:?}");
        }
        for kind in [
            ErrorKind::RecipientRejected,
            ErrorKind::Unavailable,
            ErrorKind::InvalidRecipient,
        ] {
            assert!(!repeats_for_every_number(kind), "{kind:?}");
        }
    }
}
