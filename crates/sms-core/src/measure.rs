//! Text measuring: how many billed parts a text costs, and emoji detection.
//!
//! Mainland gateways count characters, every character as one: 70 fit a single SMS, and a longer text
//! goes out as parts of 67. International SMS follow GSM 03.38: text that fits the GSM-7 alphabet holds
//! 160 septets (153 per part, extension characters taking two septets that are never split across
//! parts); anything else is UCS-2 with 70 UTF-16 units (67 per part, surrogate pairs never split).
//!
//! The text measured must be the text as the handset receives it, signature (`【…】`) included.

use std::fmt;

/// Characters in a single mainland SMS.
pub const MAINLAND_SINGLE: usize = 70;
/// Characters per part of a long mainland SMS.
pub const MAINLAND_PART: usize = 67;
/// Septets in a single GSM-7 SMS.
pub const GSM7_SINGLE: usize = 160;
/// Septets per part of a long GSM-7 SMS.
pub const GSM7_PART: usize = 153;
/// UTF-16 units in a single UCS-2 SMS.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 units per part of a long UCS-2 SMS.
pub const UCS2_PART: usize = 67;

/// How a text is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TextEncoding {
    /// Mainland rule: every character counts one.
    Mainland,
    /// International, GSM 03.38 7-bit alphabet: units are septets.
    Gsm7,
    /// International, UCS-2: units are UTF-16 code units.
    Ucs2,
}

/// The measure of a text: its unit count and the number of billed parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextMeasure {
    /// The counting rule that applied.
    pub encoding: TextEncoding,
    /// Characters (mainland), septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Unicode scalar values in the text.
    pub characters: usize,
    /// Billed parts; 0 for an empty text.
    pub parts: usize,
}

impl TextMeasure {
    /// Units that still fit in the last part before another part is needed.
    pub fn remaining_in_part(&self) -> usize {
        let (single, part) = match self.encoding {
            TextEncoding::Mainland => (MAINLAND_SINGLE, MAINLAND_PART),
            TextEncoding::Gsm7 => (GSM7_SINGLE, GSM7_PART),
            TextEncoding::Ucs2 => (UCS2_SINGLE, UCS2_PART),
        };
        if self.parts <= 1 {
            single.saturating_sub(self.units)
        } else {
            (part * self.parts).saturating_sub(self.units)
        }
    }
}

/// A text that cannot be measured under the mainland rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureError {
    /// The first offending character.
    pub character: char,
    /// Its position, counted in characters from 0.
    pub position: usize,
}

impl fmt::Display for MeasureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "character {:?} (U+{:04X}) at position {} is an emoji or outside the Basic Multilingual Plane, \
             which mainland gateways reject",
            self.character, self.character as u32, self.position
        )
    }
}

impl std::error::Error for MeasureError {}

/// Measures a text for a mainland send.
///
/// # Errors
/// [`MeasureError`] for the first emoji (see [`is_emoji`]): mainland gateways reject them (ihuyi code
/// 4074) and they cannot be counted under this rule.
///
/// ```
/// use sms_core::measure::measure_mainland;
/// assert_eq!(measure_mainland(&"好".repeat(70)).unwrap().parts, 1);
/// assert_eq!(measure_mainland(&"好".repeat(71)).unwrap().parts, 2);
/// assert!(measure_mainland("验证码 1234 😀").is_err());
/// ```
pub fn measure_mainland(text: &str) -> Result<TextMeasure, MeasureError> {
    if let Some((position, character)) = find_emoji(text) {
        return Err(MeasureError { character, position });
    }
    let characters = text.chars().count();
    // Every character is one unit, so packing is plain arithmetic (no walk over the text).
    let parts = match characters {
        0 => 0,
        n if n <= MAINLAND_SINGLE => 1,
        n => n.div_ceil(MAINLAND_PART),
    };
    Ok(TextMeasure {
        encoding: TextEncoding::Mainland,
        units: characters,
        characters,
        parts,
    })
}

/// Measures a text for an international send: GSM-7 when every character is in the GSM 03.38 alphabet
/// or its extension table, UCS-2 otherwise.
///
/// ```
/// use sms_core::measure::{measure_international, TextEncoding};
/// let m = measure_international(&"a".repeat(161));
/// assert_eq!((m.encoding, m.parts), (TextEncoding::Gsm7, 2));
/// assert_eq!(measure_international("€").units, 2);
/// assert_eq!(measure_international("你好").encoding, TextEncoding::Ucs2);
/// ```
pub fn measure_international(text: &str) -> TextMeasure {
    let characters = text.chars().count();
    let septets: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
    match septets {
        Some(septets) => TextMeasure {
            encoding: TextEncoding::Gsm7,
            units: septets.iter().sum(),
            characters,
            parts: pack(septets.into_iter(), GSM7_SINGLE, GSM7_PART),
        },
        None => TextMeasure {
            encoding: TextEncoding::Ucs2,
            units: text.encode_utf16().count(),
            characters,
            parts: pack(text.chars().map(char::len_utf16), UCS2_SINGLE, UCS2_PART),
        },
    }
}

/// Counts parts: one when everything fits the single-message size, otherwise units are packed greedily
/// into parts, never splitting one character (an escape pair or a surrogate pair) across two parts.
fn pack(units: impl Iterator<Item = usize> + Clone, single: usize, per_part: usize) -> usize {
    let total: usize = units.clone().sum();
    if total == 0 {
        return 0;
    }
    if total <= single {
        return 1;
    }
    let mut parts = 1;
    let mut used = 0;
    for unit in units {
        if used + unit > per_part {
            parts += 1;
            used = 0;
        }
        used += unit;
    }
    parts
}

/// True for characters mainland gateways reject as emoji: anything outside the Basic Multilingual
/// Plane, and the joiners and selectors that build emoji sequences (U+200D, U+FE0F, U+20E3).
///
/// BMP symbols such as `☆` or `★` are ordinary characters in GBK and are not treated as emoji.
pub fn is_emoji(c: char) -> bool {
    (c as u32) > 0xFFFF || matches!(c, '\u{200D}' | '\u{FE0F}' | '\u{20E3}')
}

/// The first emoji of `text` (see [`is_emoji`]) with its character position.
pub fn find_emoji(text: &str) -> Option<(usize, char)> {
    text.chars().enumerate().find(|(_, c)| is_emoji(*c))
}

/// True when every character of `text` is in the GSM-7 alphabet or its extension table.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| gsm7_septets(c).is_some())
}

/// Septets a character takes in GSM-7: 1 for the basic alphabet, 2 for the extension table (escape
/// plus code), `None` when GSM-7 cannot represent it.
fn gsm7_septets(c: char) -> Option<usize> {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENSION: &str = "\u{000C}^{}\\[~]|€";
    if c.is_ascii_alphanumeric() || c == ' ' || BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mainland_parts(n: usize, c: &str) -> usize {
        measure_mainland(&c.repeat(n)).unwrap().parts
    }

    #[test]
    fn mainland_boundaries() {
        for c in ["a", "好", "。"] {
            assert_eq!(mainland_parts(0, c), 0);
            assert_eq!(mainland_parts(1, c), 1);
            assert_eq!(mainland_parts(70, c), 1, "{c}");
            assert_eq!(mainland_parts(71, c), 2, "{c}");
            assert_eq!(mainland_parts(134, c), 2, "{c}");
            assert_eq!(mainland_parts(135, c), 3, "{c}");
            assert_eq!(mainland_parts(201, c), 3, "{c}");
            assert_eq!(mainland_parts(202, c), 4, "{c}");
            assert_eq!(mainland_parts(300, c), 5, "{c}");
        }
        // Mixed scripts: every character counts one, signature included.
        let text = format!("【互亿无线】{}", "a好".repeat(32)); // 6 + 64 = 70
        let m = measure_mainland(&text).unwrap();
        assert_eq!((m.characters, m.parts, m.remaining_in_part()), (70, 1, 0));
        let m = measure_mainland(&format!("{text}x")).unwrap();
        assert_eq!((m.parts, m.remaining_in_part()), (2, 63));
    }

    #[test]
    fn mainland_rejects_emoji_with_position() {
        let err = measure_mainland("验证码😀1234").unwrap_err();
        assert_eq!((err.character, err.position), ('😀', 3));
        assert!(err.to_string().contains("U+1F600"));
        assert!(measure_mainland("ok\u{FE0F}").is_err());
        assert!(measure_mainland("★☆※").is_ok());
    }

    #[test]
    fn gsm7_boundaries() {
        let m = |n| measure_international(&"a".repeat(n));
        assert_eq!((m(160).encoding, m(160).parts), (TextEncoding::Gsm7, 1));
        assert_eq!(m(161).parts, 2);
        assert_eq!(m(306).parts, 2);
        assert_eq!(m(307).parts, 3);
        assert_eq!(m(0).parts, 0);
    }

    #[test]
    fn gsm7_extension_characters_count_twice_and_never_split() {
        // 80 extension characters = 160 septets: still one SMS.
        let m = measure_international(&"€".repeat(80));
        assert_eq!((m.units, m.parts), (160, 1));
        let m = measure_international(&"{".repeat(81));
        assert_eq!((m.units, m.parts), (162, 2));
        // 152 basic septets then an escape pair: the pair cannot straddle parts, so the first part
        // holds 152 and the pair starts part two.
        let text = format!("{}^{}", "a".repeat(152), "b".repeat(10));
        let m = measure_international(&text);
        assert_eq!((m.units, m.parts), (164, 2));
        let text = format!("{}^{}", "a".repeat(152), "b".repeat(152));
        // Part one 152, part two 2 + 151 = 153, part three 1.
        assert_eq!(measure_international(&text).parts, 3);
        for c in "^{}\\[~]|€\u{000C}".chars() {
            assert_eq!(measure_international(&c.to_string()).units, 2, "{c:?}");
        }
        assert_eq!(measure_international("@£$¥ΔΦ").encoding, TextEncoding::Gsm7);
    }

    #[test]
    fn ucs2_boundaries_and_surrogate_pairs() {
        let m = |text: String| measure_international(&text);
        assert_eq!(m("好".repeat(70)).parts, 1);
        assert_eq!(m("好".repeat(71)).parts, 2);
        assert_eq!(m("好".repeat(134)).parts, 2);
        assert_eq!(m("好".repeat(135)).parts, 3);
        // One non-GSM character turns the whole text UCS-2.
        let mixed = format!("{}好", "a".repeat(69));
        assert_eq!(
            (m(mixed.clone()).encoding, m(mixed).parts),
            (TextEncoding::Ucs2, 1)
        );
        let mixed = format!("{}é好", "a".repeat(69)); // é is GSM-7 but 好 is not: 71 units
        assert_eq!(m(mixed).parts, 2);
        // 35 emoji are 70 UTF-16 units: one part; 36 need two.
        assert_eq!(m("😀".repeat(35)).units, 70);
        assert_eq!(m("😀".repeat(35)).parts, 1);
        assert_eq!(m("😀".repeat(36)).parts, 2);
        // 66 units then a surrogate pair: the pair moves to part two.
        let text = format!("{}😀{}", "好".repeat(66), "好".repeat(10));
        let measure = m(text);
        assert_eq!((measure.units, measure.parts), (78, 2));
        let text = format!("{}😀{}", "好".repeat(66), "好".repeat(66));
        // Part one 66, part two 2 + 65 = 67, part three 1.
        assert_eq!(m(text).parts, 3);
    }
}
