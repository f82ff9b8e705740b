//! The voice code table: the one place a voice API code becomes an error kind.
//! The rows shared with the SMS API come from [`sms_ihuyi::raw::common_code`].

use sms_core::ErrorKind;
use sms_ihuyi::raw::{CodeMeaning, common_code};

/// The meaning of a voice API failure code. Two rows differ from SMS: 4070 is a malformed voice
/// code (not a signature problem) and 408 an account frozen on suspected abuse (not a per-number
/// limit). `None` for unknown codes (they become [`ErrorKind::ProviderFault`] with the code and
/// text kept verbatim).
pub fn code_meaning(code: &str) -> Option<CodeMeaning> {
    use ErrorKind::*;
    let (kind, description) = match code {
        "404" => (InvalidRequest, "voice code is empty"),
        "4070" => (InvalidContent, "voice code must be 4-6 digits"),
        "408" => (
            AccountSuspended,
            "account frozen automatically on suspected abuse",
        ),
        _ => return common_code(code),
    };
    Some(CodeMeaning::new(kind, description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sms_core::Operation;
    use sms_ihuyi::raw::code_error;

    /// Every failure row of the documented voice code table: code, kind, may fail over.
    const TABLE: &[(&str, ErrorKind, bool)] = &[
        ("0", ErrorKind::ProviderFault, true),
        ("400", ErrorKind::Unauthorized, true),
        ("401", ErrorKind::Configuration, true),
        ("402", ErrorKind::Configuration, true),
        ("403", ErrorKind::InvalidRequest, false),
        ("4030", ErrorKind::RecipientRejected, true),
        ("404", ErrorKind::InvalidRequest, false),
        ("405", ErrorKind::Unauthorized, true),
        ("4050", ErrorKind::AccountSuspended, true),
        ("4051", ErrorKind::InsufficientBalance, true),
        ("4052", ErrorKind::Unauthorized, true),
        ("406", ErrorKind::InvalidRecipient, false),
        ("407", ErrorKind::ContentRejected, true),
        ("4070", ErrorKind::InvalidContent, false),
        ("408", ErrorKind::AccountSuspended, true),
    ];

    macro_rules! row_tests {
        ($($name:ident: $code:literal;)*) => {$(
            #[test]
            fn $name() {
                let &(code, kind, failover) =
                    TABLE.iter().find(|row| row.0 == $code).expect("row in TABLE");
                let error = code_error("ihuyi-voice", Operation::Send, code_meaning, code, "原文");
                assert_eq!(error.kind(), kind, "code {code}");
                assert_eq!(error.can_failover(), failover, "code {code}");
                assert!(!error.is_retryable() && !error.is_ambiguous(), "code {code}");
                assert_eq!((error.code(), error.message()), (Some(code), "原文"));
                assert_eq!(error.provider(), Some("ihuyi-voice"));
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
        code_404_voice_code_empty: "404";
        code_405_wrong_credentials: "405";
        code_4050_frozen: "4050";
        code_4051_no_balance: "4051";
        code_4052_ip_differs: "4052";
        code_406_bad_mobile: "406";
        code_407_sensitive_words: "407";
        code_4070_code_not_4_to_6_digits: "4070";
        code_408_frozen_on_abuse: "408";
    }

    #[test]
    fn the_rows_that_differ_from_sms() {
        for code in ["4070", "408"] {
            let voice = code_meaning(code).unwrap();
            let sms = sms_ihuyi::code_meaning(code).unwrap();
            assert_ne!(voice.kind, sms.kind, "code {code}");
        }
        assert_eq!(TABLE.len(), 15);
        assert!(TABLE.iter().all(|row| code_meaning(row.0).is_some()));
    }

    #[test]
    fn sms_only_and_unknown_codes_are_provider_faults() {
        for code in ["4080", "4073", "9999"] {
            let error = code_error("ihuyi-voice", Operation::Send, code_meaning, code, "x");
            assert_eq!(error.kind(), ErrorKind::ProviderFault, "code {code}");
            assert_eq!(error.code(), Some(code));
        }
    }
}
