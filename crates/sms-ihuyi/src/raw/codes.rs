//! Code-table plumbing: what a code means, the rows every ihuyi API shares, and the one place a
//! failure code becomes an [`Error`].

use std::time::Duration;

use sms_core::{Error, ErrorKind, Operation};

/// The code of a successful answer.
pub const SUCCESS: &str = "2";

/// The code for a stale dynamic-password `time`: retried once with a fresh time.
pub const STALE_TIME: &str = "40501";

/// What a provider code means to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeMeaning {
    /// The error kind the code maps to.
    pub kind: ErrorKind,
    /// A short English description, used when the answer carries no `msg`.
    pub description: &'static str,
    /// How long to wait before retrying the same provider, for rate limits.
    pub retry_after: Option<Duration>,
}

impl CodeMeaning {
    /// A code of `kind` without a retry delay.
    pub const fn new(kind: ErrorKind, description: &'static str) -> Self {
        Self {
            kind,
            description,
            retry_after: None,
        }
    }
}

/// One API's code table: the meaning of a failure code, `None` for codes it does not know.
pub type CodeTable = fn(&str) -> Option<CodeMeaning>;

/// The rows the SMS, international SMS and voice APIs share. Each API's own
/// table matches its differing rows first and falls back to this one.
pub fn common_code(code: &str) -> Option<CodeMeaning> {
    use ErrorKind::*;
    let (kind, description) = match code {
        "0" => (ProviderFault, "submit failed"),
        "400" => (Unauthorized, "source IP not allowed"),
        "401" => (Configuration, "account is empty"),
        "402" => (Configuration, "password is empty"),
        "403" => (InvalidRequest, "mobile is empty"),
        "4030" => (RecipientRejected, "mobile is on the provider's blacklist"),
        "404" => (InvalidRequest, "content is empty"),
        "405" => (Unauthorized, "APIID or APIKEY wrong"),
        "4050" => (AccountSuspended, "account frozen"),
        // Retried once with a fresh time by `ApiClient::call`; what is left is a clock problem.
        STALE_TIME => (Unauthorized, "dynamic password expired (check the clock)"),
        "40502" => (Unauthorized, "dynamic password check failed"),
        "4051" => (InsufficientBalance, "balance exhausted"),
        "4052" => (Unauthorized, "source IP differs from the registered IP"),
        "406" => (InvalidRecipient, "mobile format wrong"),
        "407" => (ContentRejected, "content contains sensitive words"),
        _ => return None,
    };
    Some(CodeMeaning::new(kind, description))
}

/// The error for a failure `code` with the provider's `msg`: the kind from `codes`
/// ([`ErrorKind::ProviderFault`] for unknown codes), the code and message verbatim (the table's
/// description when the message is empty), and the table's retry delay.
pub fn code_error(provider: &str, operation: Operation, codes: CodeTable, code: &str, msg: &str) -> Error {
    let meaning = codes(code);
    let message = match (msg.trim().is_empty(), meaning) {
        (true, Some(meaning)) => meaning.description,
        _ => msg,
    };
    let error = Error::new(meaning.map_or(ErrorKind::ProviderFault, |m| m.kind), operation)
        .with_provider(provider)
        .with_code(code)
        .with_message(message);
    match meaning.and_then(|m| m.retry_after) {
        Some(delay) => error.with_retry_after(delay),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_keep_code_and_text_verbatim() {
        let e = code_error("ihuyi", Operation::Send, common_code, "9999", " 奇怪的错误 ");
        assert_eq!(e.kind(), ErrorKind::ProviderFault);
        assert_eq!((e.code(), e.message()), (Some("9999"), " 奇怪的错误 "));
        assert_eq!(e.provider(), Some("ihuyi"));
        assert!(e.can_failover() && !e.is_ambiguous());
    }

    #[test]
    fn a_missing_message_falls_back_to_the_description() {
        let e = code_error("ihuyi", Operation::Balance, common_code, "4051", "");
        assert_eq!(e.message(), "balance exhausted");
        assert_eq!(e.operation(), Operation::Balance);
        let provider_text = code_error("ihuyi", Operation::Send, common_code, "4051", "剩余条数不足");
        assert_eq!(provider_text.message(), "剩余条数不足");
    }

    #[test]
    fn success_is_not_a_failure_row() {
        assert_eq!(common_code(SUCCESS), None);
    }
}
