//! Exit codes and the one error type every command returns.

use std::fmt;

use sms::{Error, ErrorKind};

/// The documented exit codes (`sms --help`, README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: every recipient accepted (or the command succeeded).
    Ok = 0,
    /// 1: an error not covered below.
    Error = 1,
    /// 2: bad arguments or bad input (invalid number, text, CSV row).
    Usage = 2,
    /// 3: partly sent: some recipients accepted, others failed or were not reached.
    Partial = 3,
    /// 4: outcome unknown for at least one recipient: do not resend blindly.
    Unknown = 4,
    /// 5: configuration or credentials.
    Config = 5,
    /// 6: rejected by the provider (content, recipient, opt-out, limits).
    Rejected = 6,
    /// 7: every provider unavailable.
    Unavailable = 7,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The exit code for an error that stopped a send: ambiguity first (it may have gone out), then
    /// what the attempts say when the chain gave up.
    pub fn for_error(error: &Error) -> Self {
        if error.is_ambiguous() {
            return Self::Unknown;
        }
        if error.kind() == ErrorKind::AllProvidersFailed && !error.attempts().is_empty() {
            let codes: Vec<Exit> = error
                .attempts()
                .iter()
                .map(|a| Self::for_kind(a.error.kind()))
                .collect();
            if codes.contains(&Self::Unknown) {
                return Self::Unknown;
            }
            if codes.iter().all(|c| *c == codes[0]) {
                return codes[0];
            }
            // Mixed: some provider refused it for a reason of its own.
            return if codes.contains(&Self::Rejected) {
                Self::Rejected
            } else {
                Self::Unavailable
            };
        }
        Self::for_kind(error.kind())
    }

    fn for_kind(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Ambiguous => Self::Unknown,
            ErrorKind::InvalidRequest | ErrorKind::InvalidRecipient | ErrorKind::InvalidContent => {
                Self::Usage
            }
            ErrorKind::Unauthorized | ErrorKind::Configuration | ErrorKind::AccountSuspended => Self::Config,
            ErrorKind::ContentRejected
            | ErrorKind::RecipientRejected
            | ErrorKind::RecipientOptedOut
            | ErrorKind::RecipientThrottled
            | ErrorKind::InsufficientBalance
            | ErrorKind::Unsupported => Self::Rejected,
            ErrorKind::Unavailable
            | ErrorKind::Unreachable
            | ErrorKind::RateLimited
            | ErrorKind::ProviderFault
            | ErrorKind::CircuitOpen
            | ErrorKind::AllProvidersFailed => Self::Unavailable,
            _ => Self::Error,
        }
    }

    /// Combines the outcome counts of a send into one code.
    pub fn for_counts(accepted: u64, failed: u64, unknown: u64, failure: Option<Exit>) -> Self {
        if unknown > 0 {
            Self::Unknown
        } else if failed == 0 {
            Self::Ok
        } else if accepted > 0 {
            Self::Partial
        } else {
            failure.unwrap_or(Self::Error)
        }
    }
}

/// Why a command stopped: a message for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// One or more lines for the user.
    pub message: String,
}

impl Failure {
    /// A failure with an exit code and a message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    /// Bad input or arguments (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// Configuration or credentials (exit 5).
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Exit::Config, message)
    }

    /// Anything else (exit 1).
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Exit::Error, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        // `{:#}` lists every attempt on its own line.
        Self::new(Exit::for_error(&error), format!("{error:#}"))
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self::error(error.to_string())
    }
}

/// The result of a command.
pub type Outcome<T = Exit> = Result<T, Failure>;

/// The text for `sms --help`.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  every recipient accepted (or the command succeeded)
  1  error
  2  usage: bad arguments or input (invalid number, text, CSV row)
  3  partly sent: some recipients accepted, others failed or were not sent
  4  outcome unknown for some recipient: it may have gone out, do not resend blindly
  5  configuration or credentials
  6  rejected by the provider (content, recipient, opt-out, balance)
  7  every provider unavailable";

#[cfg(test)]
mod tests {
    use super::*;
    use sms::{Attempt, Operation};
    use std::time::Duration;

    fn attempt(kind: ErrorKind) -> Attempt {
        Attempt {
            provider: "p".into(),
            recipients: 1,
            error: Error::new(kind, Operation::Send),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn chain_failures_take_the_code_of_their_attempts() {
        let all = |kinds: &[ErrorKind]| {
            Error::new(ErrorKind::AllProvidersFailed, Operation::Send)
                .with_attempts(kinds.iter().map(|k| attempt(*k)).collect())
        };
        assert_eq!(
            Exit::for_error(&all(&[ErrorKind::Unavailable, ErrorKind::Unreachable])),
            Exit::Unavailable
        );
        assert_eq!(
            Exit::for_error(&all(&[ErrorKind::Unauthorized, ErrorKind::Unauthorized])),
            Exit::Config
        );
        assert_eq!(
            Exit::for_error(&all(&[ErrorKind::Unavailable, ErrorKind::Ambiguous])),
            Exit::Unknown
        );
        assert_eq!(
            Exit::for_error(&all(&[ErrorKind::Unavailable, ErrorKind::ContentRejected])),
            Exit::Rejected
        );
        assert_eq!(
            Exit::for_error(&Error::new(ErrorKind::Ambiguous, Operation::Send)),
            Exit::Unknown
        );
    }

    #[test]
    fn counts_put_unknown_before_partial() {
        assert_eq!(Exit::for_counts(5, 0, 0, None), Exit::Ok);
        assert_eq!(Exit::for_counts(5, 1, 0, Some(Exit::Rejected)), Exit::Partial);
        assert_eq!(Exit::for_counts(5, 1, 1, None), Exit::Unknown);
        assert_eq!(Exit::for_counts(0, 3, 0, Some(Exit::Rejected)), Exit::Rejected);
    }
}
