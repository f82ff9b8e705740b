//! Phone numbers: mainland mobile numbers and international E.164 numbers.

use std::fmt;
use std::str::FromStr;

/// The country calling code of mainland China.
pub const MAINLAND_COUNTRY_CODE: u16 = 86;

/// The longest number E.164 allows, country code included.
const E164_MAX_DIGITS: usize = 15;

/// The shortest national number accepted for an international recipient.
const MIN_NATIONAL_DIGITS: usize = 4;

/// A validated recipient number.
///
/// Mainland mobile numbers (`1[3-9]` followed by 9 digits) are accepted as written locally or with a
/// `+86`, `86` or `0086` prefix; spaces, dashes, dots and parentheses are ignored. Any other number must
/// carry its country code (`+44 20 7946 0958`, `0044…`), or be built with
/// [`PhoneNumber::international`].
///
/// ```
/// use sms_core::PhoneNumber;
/// let n: PhoneNumber = "+86 138-0013-8000".parse().unwrap();
/// assert!(n.is_mainland());
/// assert_eq!(n.national_number(), "13800138000");
/// assert_eq!(n.to_string(), "+8613800138000");
/// let uk = PhoneNumber::parse("+44 7700 900123").unwrap();
/// assert_eq!((uk.country_code(), uk.national_number()), (44, "7700900123"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber {
    country_code: u16,
    national: String,
}

/// Why a phone number was rejected. The message names the input and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumberError {
    input: String,
    reason: PhoneNumberErrorReason,
}

/// The reason a phone number was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PhoneNumberErrorReason {
    /// Nothing but separators.
    Empty,
    /// A character that is neither a digit, a leading `+` nor a separator.
    InvalidCharacter(char),
    /// A `+86` number that is not an 11-digit mobile number starting `1[3-9]`.
    NotMainlandMobile,
    /// Digits without a country code that do not form a mainland mobile number.
    MissingCountryCode,
    /// The country code is not an assigned E.164 code.
    UnknownCountryCode,
    /// Longer than the 15 digits E.164 allows.
    TooLong,
    /// The national part is too short to be a number.
    TooShort,
}

impl PhoneNumberError {
    /// The input as given.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why it was rejected.
    pub fn reason(&self) -> PhoneNumberErrorReason {
        self.reason
    }
}

impl fmt::Display for PhoneNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self.reason {
            PhoneNumberErrorReason::Empty => "it is empty".to_owned(),
            PhoneNumberErrorReason::InvalidCharacter(c) => format!("it contains {c:?}"),
            PhoneNumberErrorReason::NotMainlandMobile => {
                "a +86 number must be an 11-digit mobile number starting with 13-19".to_owned()
            }
            PhoneNumberErrorReason::MissingCountryCode => {
                "it is not a mainland mobile number and has no +country code".to_owned()
            }
            PhoneNumberErrorReason::UnknownCountryCode => {
                "its country code is not an E.164 country code".to_owned()
            }
            PhoneNumberErrorReason::TooLong => "it has more than 15 digits".to_owned(),
            PhoneNumberErrorReason::TooShort => "its national number is too short".to_owned(),
        };
        write!(f, "invalid phone number {:?}: {reason}", self.input)
    }
}

impl std::error::Error for PhoneNumberError {}

impl PhoneNumber {
    /// Parses and normalises a number; see the type docs for the accepted forms.
    ///
    /// # Errors
    /// [`PhoneNumberError`] naming the input and the reason.
    pub fn parse(input: &str) -> Result<Self, PhoneNumberError> {
        let fail = |reason| PhoneNumberError {
            input: input.to_owned(),
            reason,
        };
        let trimmed = input.trim();
        let (explicit_plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                other => return Err(fail(PhoneNumberErrorReason::InvalidCharacter(other))),
            }
        }
        if digits.is_empty() {
            return Err(fail(PhoneNumberErrorReason::Empty));
        }

        let international = if explicit_plus {
            Some(digits.as_str())
        } else if let Some(after) = digits.strip_prefix("00") {
            Some(after)
        } else if is_mainland_mobile(&digits) {
            return Ok(Self::mainland_unchecked(digits));
        } else if digits.len() == 13 && digits.starts_with("86") && is_mainland_mobile(&digits[2..]) {
            return Ok(Self::mainland_unchecked(digits[2..].to_owned()));
        } else {
            None
        };
        let Some(full) = international else {
            return Err(fail(PhoneNumberErrorReason::MissingCountryCode));
        };
        if full.len() > E164_MAX_DIGITS {
            return Err(fail(PhoneNumberErrorReason::TooLong));
        }
        let cc_len =
            country_code_length(full).ok_or_else(|| fail(PhoneNumberErrorReason::UnknownCountryCode))?;
        let (cc, national) = full.split_at(cc_len);
        let country_code: u16 = cc
            .parse()
            .map_err(|_| fail(PhoneNumberErrorReason::UnknownCountryCode))?;
        Self::from_parts(country_code, national).map_err(fail)
    }

    /// Builds an international number from its country code and national number (digits only;
    /// separators are ignored).
    ///
    /// # Errors
    /// [`PhoneNumberError`] when the code is not an E.164 country code, the national number has other
    /// characters, is too short, or the whole is longer than 15 digits.
    pub fn international(country_code: u16, national: &str) -> Result<Self, PhoneNumberError> {
        let input = format!("+{country_code} {national}");
        let fail = |reason| PhoneNumberError {
            input: input.clone(),
            reason,
        };
        let cc = country_code.to_string();
        if country_code_length(&cc) != Some(cc.len()) {
            return Err(fail(PhoneNumberErrorReason::UnknownCountryCode));
        }
        let mut digits = String::with_capacity(national.len());
        for c in national.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => return Err(fail(PhoneNumberErrorReason::InvalidCharacter(other))),
            }
        }
        if cc.len() + digits.len() > E164_MAX_DIGITS {
            return Err(fail(PhoneNumberErrorReason::TooLong));
        }
        Self::from_parts(country_code, &digits).map_err(fail)
    }

    fn from_parts(country_code: u16, national: &str) -> Result<Self, PhoneNumberErrorReason> {
        if country_code == MAINLAND_COUNTRY_CODE {
            return if is_mainland_mobile(national) {
                Ok(Self::mainland_unchecked(national.to_owned()))
            } else {
                Err(PhoneNumberErrorReason::NotMainlandMobile)
            };
        }
        if national.len() < MIN_NATIONAL_DIGITS {
            return Err(PhoneNumberErrorReason::TooShort);
        }
        Ok(Self {
            country_code,
            national: national.to_owned(),
        })
    }

    fn mainland_unchecked(national: String) -> Self {
        Self {
            country_code: MAINLAND_COUNTRY_CODE,
            national,
        }
    }

    /// True for a mainland China mobile number.
    pub fn is_mainland(&self) -> bool {
        self.country_code == MAINLAND_COUNTRY_CODE
    }

    /// The country calling code (86 for mainland numbers).
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The national number, digits only (the 11 digits for a mainland number).
    pub fn national_number(&self) -> &str {
        &self.national
    }

    /// The E.164 form, `+` country code and national number.
    pub fn e164(&self) -> String {
        format!("+{}{}", self.country_code, self.national)
    }

    /// The number with every national digit but the last four replaced by `*`, for logs. The country
    /// code stays visible: it says which route a number takes without identifying anyone.
    pub fn masked(&self) -> String {
        format!("+{}{}", self.country_code, mask_digits(&self.national))
    }
}

/// Masks every ASCII digit of `text` except the last four, for logging numbers that may be malformed.
pub fn mask_digits(text: &str) -> String {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    text.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 4 <= digits { '*' } else { c }
            } else {
                c
            }
        })
        .collect()
}

/// `1[3-9]` followed by nine more digits.
fn is_mainland_mobile(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    bytes.len() == 11
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
        && bytes.iter().all(u8::is_ascii_digit)
}

/// The length of the country code that `digits` starts with, using the fact that E.164 country codes
/// are prefix-free: 1 and 7 are whole codes, a fixed set of two-digit codes exists, and every other
/// assigned code has three digits. Returns `None` for unassigned prefixes.
fn country_code_length(digits: &str) -> Option<usize> {
    const TWO_DIGIT: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48",
        "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81",
        "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    // Prefixes of two digits under which no three-digit code is assigned either.
    const UNASSIGNED_TWO: &[&str] = &["28", "80", "83", "89", "99"];
    let first = digits.as_bytes().first()?;
    match first {
        b'1' | b'7' => Some(1),
        b'0' => None,
        _ if digits.len() < 2 => None,
        _ if TWO_DIGIT.contains(&&digits[..2]) => Some(2),
        _ if UNASSIGNED_TWO.contains(&&digits[..2]) && !is_exception_three(digits) => None,
        _ if digits.len() >= 3 => Some(3),
        _ => None,
    }
}

/// Three-digit codes under otherwise unassigned two-digit prefixes (800 and 808 are global services,
/// 883 is international networks, 992-998 are Central Asia).
fn is_exception_three(digits: &str) -> bool {
    matches!(
        digits.get(..3),
        Some("800" | "808" | "881" | "882" | "883" | "888" | "992" | "993" | "994" | "995" | "996" | "998")
    )
}

impl FromStr for PhoneNumber {
    type Err = PhoneNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for PhoneNumber {
    type Error = PhoneNumberError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}{}", self.country_code, self.national)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({self})")
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mainland(input: &str) -> String {
        let n = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert!(n.is_mainland(), "{input}");
        n.national_number().to_owned()
    }

    fn reason(input: &str) -> PhoneNumberErrorReason {
        PhoneNumber::parse(input).expect_err(input).reason()
    }

    #[test]
    fn mainland_forms_normalise_to_eleven_digits() {
        for input in [
            "13800138000",
            "+8613800138000",
            "8613800138000",
            "008613800138000",
            "+86 138 0013 8000",
            "138-0013-8000",
            " +86-138-0013-8000 ",
            "0086 13800138000",
        ] {
            assert_eq!(mainland(input), "13800138000", "{input}");
        }
        for prefix in 3..=9 {
            let n = format!("1{prefix}012345678");
            assert_eq!(mainland(&n), n);
        }
    }

    #[test]
    fn bad_mainland_numbers_are_rejected_with_reasons() {
        assert_eq!(reason("12800138000"), PhoneNumberErrorReason::MissingCountryCode);
        assert_eq!(reason("1380013800"), PhoneNumberErrorReason::MissingCountryCode);
        assert_eq!(reason("138001380001"), PhoneNumberErrorReason::MissingCountryCode);
        assert_eq!(
            reason("+86 1280013800"),
            PhoneNumberErrorReason::NotMainlandMobile
        );
        assert_eq!(
            reason("+86 010 12345678"),
            PhoneNumberErrorReason::NotMainlandMobile
        );
        assert_eq!(
            reason("138a0013800"),
            PhoneNumberErrorReason::InvalidCharacter('a')
        );
        assert_eq!(reason("+"), PhoneNumberErrorReason::Empty);
        assert_eq!(reason("  - "), PhoneNumberErrorReason::Empty);
        assert_eq!(
            reason("++8613800138000"),
            PhoneNumberErrorReason::InvalidCharacter('+')
        );
        assert_eq!(
            reason("１３８００１３８０００"),
            PhoneNumberErrorReason::InvalidCharacter('１')
        );
    }

    #[test]
    fn international_numbers_split_country_code() {
        let cases = [
            ("+1 415 555 2671", 1, "4155552671"),
            ("+44 7700 900123", 44, "7700900123"),
            ("0044 7700900123", 44, "7700900123"),
            ("+852 5123 4567", 852, "51234567"),
            ("+886 912 345 678", 886, "912345678"),
            ("+7 912 345 67 89", 7, "9123456789"),
            ("+971 50 123 4567", 971, "501234567"),
        ];
        for (input, cc, national) in cases {
            let n = PhoneNumber::parse(input).unwrap();
            assert_eq!((n.country_code(), n.national_number()), (cc, national), "{input}");
            assert!(!n.is_mainland());
        }
    }

    #[test]
    fn international_limits() {
        assert_eq!(reason("+44 1234567890123456"), PhoneNumberErrorReason::TooLong);
        assert_eq!(reason("+44 123"), PhoneNumberErrorReason::TooShort);
        assert_eq!(reason("+0 1234567"), PhoneNumberErrorReason::UnknownCountryCode);
        assert_eq!(reason("+280 1234567"), PhoneNumberErrorReason::UnknownCountryCode);
        // Exactly 15 digits is allowed.
        assert!(PhoneNumber::parse("+44 1234567890123").is_ok());
        assert!(PhoneNumber::international(44, "7700900123").is_ok());
        assert!(
            PhoneNumber::international(86, "13800138000")
                .unwrap()
                .is_mainland()
        );
        assert_eq!(
            PhoneNumber::international(999, "1234567").unwrap_err().reason(),
            PhoneNumberErrorReason::UnknownCountryCode
        );
        assert_eq!(
            PhoneNumber::international(86, "12345").unwrap_err().reason(),
            PhoneNumberErrorReason::NotMainlandMobile
        );
    }

    #[test]
    fn error_names_input_and_reason() {
        let err = PhoneNumber::parse("12345").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"12345\""), "{text}");
        assert!(text.contains("country code"), "{text}");
    }

    #[test]
    fn display_masking_and_serde() {
        let n = PhoneNumber::parse("13800138000").unwrap();
        assert_eq!(n.to_string(), "+8613800138000");
        assert_eq!(n.masked(), "+86*******8000");
        assert_eq!(format!("{n:?}"), "PhoneNumber(+8613800138000)");
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"+8613800138000\"");
        let back: PhoneNumber = serde_json::from_str("\"138 0013 8000\"").unwrap();
        assert_eq!(back, n);
        assert!(serde_json::from_str::<PhoneNumber>("\"12\"").is_err());
        assert_eq!(mask_digits("1393904****"), "***3904****");
    }
}
