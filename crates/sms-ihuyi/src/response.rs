//! The SMS code table: the one place an ihuyi SMS or
//! international SMS code becomes an error kind. Envelope parsing lives in [`crate::raw`],
//! shared with the voice API.

use std::time::Duration;

use sms_core::ErrorKind;

use crate::raw::{CodeMeaning, common_code};

/// How long to wait after 4080 (more than one SMS per second to one number).
pub const PER_SECOND_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The meaning of an SMS failure code: the SMS-only rows here, the rows shared with the voice API
/// in [`common_code`]. `None` for unknown codes (they become [`ErrorKind::ProviderFault`] with the
/// code and text kept verbatim).
pub fn code_meaning(code: &str) -> Option<CodeMeaning> {
    use ErrorKind::*;
    let (kind, description) = match code {
        "4070" | "4071" | "4072" => (ContentRejected, "signature format wrong"),
        "40722" => (ContentRejected, "template variable too long"),
        "4073" => (InvalidContent, "content too long"),
        "4074" => (InvalidContent, "content contains emoji"),
        "4075" => (ContentRejected, "signature not approved"),
        "408" => (
            RecipientThrottled,
            "per-number limit exceeded; number auto-blacklisted",
        ),
        "4080" => {
            return Some(CodeMeaning {
                retry_after: Some(PER_SECOND_RETRY_AFTER),
                ..CodeMeaning::new(RateLimited, "more than one SMS per second to one number")
            });
        }
        "4082" => (RecipientThrottled, "per-number daily limit reached"),
        "4085" => (
            RecipientThrottled,
            "per-number daily verification-code limit reached",
        ),
        _ => return common_code(code),
    };
    Some(CodeMeaning::new(kind, description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::code_error;
    use sms_core::Operation;

    /// Every row of the documented Submit code table: code, kind, may fail over, may retry here.
    const TABLE: &[(&str, ErrorKind, bool, bool)] = &[
        ("0", ErrorKind::ProviderFault, true, false),
        ("400", ErrorKind::Unauthorized, true, false),
        ("401", ErrorKind::Configuration, true, false),
        ("402", ErrorKind::Configuration, true, false),
        ("403", ErrorKind::InvalidRequest, false, false),
        ("4030", ErrorKind::RecipientRejected, true, false),
        ("404", ErrorKind::InvalidRequest, false, false),
        ("405", ErrorKind::Unauthorized, true, false),
        ("4050", ErrorKind::AccountSuspended, true, false),
        ("40501", ErrorKind::Unauthorized, true, false),
        ("40502", ErrorKind::Unauthorized, true, false),
        ("4051", ErrorKind::InsufficientBalance, true, false),
        ("4052", ErrorKind::Unauthorized, true, false),
        ("406", ErrorKind::InvalidRecipient, false, false),
        ("407", ErrorKind::ContentRejected, true, false),
        ("4070", ErrorKind::ContentRejected, true, false),
        ("4071", ErrorKind::ContentRejected, true, false),
        ("4072", ErrorKind::ContentRejected, true, false),
        ("40722", ErrorKind::ContentRejected, true, false),
        ("4073", ErrorKind::InvalidContent, false, false),
        ("4074", ErrorKind::InvalidContent, false, false),
        ("4075", ErrorKind::ContentRejected, true, false),
        ("408", ErrorKind::RecipientThrottled, false, false),
        ("4080", ErrorKind::RateLimited, true, true),
        ("4082", ErrorKind::RecipientThrottled, false, false),
        ("4085", ErrorKind::RecipientThrottled, false, false),
    ];

    fn check_row(code: &str, kind: ErrorKind, failover: bool, retry: bool) {
        let error = code_error("ihuyi", Operation::Send, code_meaning, code, "服务商的原文");
        assert_eq!(error.kind(), kind, "code {code}");
        assert_eq!(error.can_failover(), failover, "code {code}");
        assert_eq!(error.is_retryable(), retry, "code {code}");
        assert!(!error.is_ambiguous(), "code {code}");
        assert_eq!(error.code(), Some(code));
        assert_eq!(error.message(), "服务商的原文", "the provider's text is kept");
        assert_eq!(error.provider(), Some("ihuyi"));
    }

    macro_rules! row_tests {
        ($($name:ident: $code:literal;)*) => {$(
            #[test]
            fn $name() {
                let &(code, kind, failover, retry) =
                    TABLE.iter().find(|row| row.0 == $code).expect("row in TABLE");
                check_row(code, kind, failover, retry);
            }
        )*};
    }

    row_tests! {
        code_0_submit_failed: "0";
        code_400_ip_not_allowed: "400";
        code_401_account_empty: "401";
        code_402_password_empty: "402";
        code_403_mobile_empty: "403";
        code_4030_blacklisted: "4030";
        code_404_content_empty: "404";
        code_405_wrong_credentials: "405";
        code_4050_frozen: "4050";
        code_40501_stale_time: "40501";
        code_40502_bad_signature: "40502";
        code_4051_no_balance: "4051";
        code_4052_ip_differs: "4052";
        code_406_bad_mobile: "406";
        code_407_sensitive_words: "407";
        code_4070_signature_format: "4070";
        code_4071_signature_format: "4071";
        code_4072_signature_format: "4072";
        code_40722_variable_too_long: "40722";
        code_4073_too_long: "4073";
        code_4074_emoji: "4074";
        code_4075_signature_not_approved: "4075";
        code_408_auto_blacklisted: "408";
        code_4080_per_second: "4080";
        code_4082_per_day: "4082";
        code_4085_per_day_codes: "4085";
    }

    #[test]
    fn every_row_has_a_test_and_the_table_is_complete() {
        assert_eq!(TABLE.len(), 26);
        for &(code, ..) in TABLE {
            assert!(code_meaning(code).is_some(), "code {code} is mapped");
        }
    }

    #[test]
    fn per_second_limit_waits_one_second() {
        let error = code_error("ihuyi", Operation::Send, code_meaning, "4080", "");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(error.message(), "more than one SMS per second to one number");
    }

    #[test]
    fn unknown_codes_are_provider_faults_kept_verbatim() {
        assert_eq!(code_meaning("2"), None);
        assert_eq!(code_meaning("4099"), None);
        let error = code_error("ihuyi", Operation::Send, code_meaning, "4099", "新的错误");
        assert_eq!(error.kind(), ErrorKind::ProviderFault);
        assert_eq!((error.code(), error.message()), (Some("4099"), "新的错误"));
    }
}
