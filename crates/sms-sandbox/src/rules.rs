//! Text and number rules shared by the products: formats, emoji, sensitive words, billing.

use crate::config::{Account, BUILTIN_SENSITIVE_WORDS};

/// A mainland mobile number: 11 digits, `1` then `3`-`9`.
pub(crate) fn is_mainland_mobile(number: &str) -> bool {
    let b = number.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && all_digits(b)
}

/// An international number as ihuyi wants it: `"<country code> <national number>"`, one space,
/// no `+`, 1-4 digit country code, 4-14 digit national number.
pub(crate) fn is_international_mobile(number: &str) -> bool {
    let Some((cc, national)) = number.split_once(' ') else {
        return false;
    };
    (1..=4).contains(&cc.len())
        && all_digits(cc.as_bytes())
        && !cc.starts_with('0')
        && (4..=14).contains(&national.len())
        && all_digits(national.as_bytes())
}

fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// Emoji as ihuyi rejects them (4074): anything outside the Basic Multilingual Plane, plus the
/// emoji variation selector, the zero-width joiner and the combining keycap that build emoji
/// sequences.
pub(crate) fn contains_emoji(text: &str) -> bool {
    text.chars()
        .any(|c| u32::from(c) > 0xFFFF || matches!(c, '\u{FE0F}' | '\u{200D}' | '\u{20E3}'))
}

/// The first sensitive word (built-in or the account's own) found in `text`.
pub(crate) fn sensitive_word<'a>(account: &'a Account, text: &str) -> Option<&'a str> {
    BUILTIN_SENSITIVE_WORDS
        .iter()
        .copied()
        .chain(account.sensitive_words.iter().map(String::as_str))
        .find(|w| !w.is_empty() && text.contains(w))
}

/// Whether the text is a verification code message (counted against the daily code limit).
pub(crate) fn is_verification_code(text: &str) -> bool {
    text.contains("验证码") || text.contains("校验码") || text.contains("动态码")
}

/// Mainland billing: every character counts one; 70 fit one SMS, longer text is
/// split in parts of 67.
pub(crate) fn mainland_parts(text: &str) -> u32 {
    let units = vec![1; text.chars().count()];
    parts(&units, 70, 67)
}

/// International billing: GSM-7 text holds 160 septets (153 per part, extension
/// characters count two); anything else is UCS-2 with 70 UTF-16 units (67 per part). A long message
/// never splits one character across parts: an escape pair or a surrogate pair that does not fit
/// the rest of a part starts the next one.
pub(crate) fn international_parts(text: &str) -> u32 {
    match gsm7_units(text) {
        Some(septets) => parts(&septets, 160, 153),
        None => {
            let units: Vec<usize> = text.chars().map(char::len_utf16).collect();
            parts(&units, 70, 67)
        }
    }
}

/// Juxiang billing (this sandbox's documented rule): one part per started 60 characters, per
/// recipient.
pub(crate) fn juxiang_parts(text: &str) -> u32 {
    let n = text.chars().count();
    u32::try_from(n.div_ceil(60).max(1)).unwrap_or(u32::MAX)
}

/// Parts for characters of `units` each: one when all fit `single`, otherwise as many parts of
/// `per_part` as filling them in order takes, a character never split.
fn parts(units: &[usize], single: usize, per_part: usize) -> u32 {
    let total: usize = units.iter().sum();
    if total <= single {
        return 1;
    }
    let (mut count, mut used) = (1usize, 0usize);
    for &unit in units {
        if used + unit > per_part {
            count += 1;
            used = 0;
        }
        used += unit;
    }
    u32::try_from(count).unwrap_or(u32::MAX)
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{000C}";

/// Septets of each character of `text` in GSM-7, or `None` when it does not fit the alphabet.
fn gsm7_units(text: &str) -> Option<Vec<usize>> {
    text.chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .collect()
}

/// A text's first `max` characters.
pub(crate) fn cut_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_counts_follow_protocols_section_5() {
        assert_eq!(mainland_parts(&"字".repeat(70)), 1);
        assert_eq!(mainland_parts(&"字".repeat(71)), 2);
        assert_eq!(mainland_parts(&"字".repeat(201)), 3);
        assert_eq!(mainland_parts(&"字".repeat(202)), 4);
        assert_eq!(international_parts(&"a".repeat(306)), 2);
        assert_eq!(international_parts(&"a".repeat(307)), 3);
        assert_eq!(international_parts("€"), 1);
        assert_eq!(international_parts(&"€".repeat(81)), 2);
        assert_eq!(international_parts(&"中".repeat(134)), 2);
        // A character never straddles two parts: 152 septets + an escape pair + 152 septets is
        // 152 | 2 + 151 | 1, and 66 units + a surrogate pair + 66 units is 66 | 2 + 65 | 1.
        assert_eq!(
            international_parts(&format!("{}€{}", "a".repeat(152), "a".repeat(152))),
            3
        );
        assert_eq!(
            international_parts(&format!("{}😀{}", "中".repeat(66), "中".repeat(66))),
            3
        );
        assert!(contains_emoji("1\u{20E3}"));
        assert_eq!(juxiang_parts(""), 1);
        assert_eq!(juxiang_parts(&"字".repeat(61)), 2);
    }

    #[test]
    fn numbers_and_text_helpers() {
        assert!(is_mainland_mobile("19912345678"));
        assert!(!is_mainland_mobile("11912345678"));
        assert!(is_international_mobile("852 91234567"));
        assert!(!is_international_mobile("852 912"));
        assert!(contains_emoji("ok 👍"));
        assert!(!contains_emoji("【签名】你好★"));
        assert_eq!(cut_chars("你好世界", 2), "你好");
        assert_eq!(cut_chars("ab", 5), "ab");
    }
}
