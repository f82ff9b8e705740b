//! Text plumbing for reading XML: bytes that are not UTF-8, text that the reader hands over in
//! pieces, and document type declarations.

use std::ops::Range;

/// An answer's bytes as a string the XML reader can take, even where they are not UTF-8.
///
/// Each byte that is not part of valid UTF-8 becomes a private-use character (U+F700 + the byte),
/// and its place is remembered, so that the reader can walk the whole document (an answer is
/// readable when such bytes sit only in parts we skip: comments, attributes, processing
/// instructions) while the text and names we do read are refused when they hold one.
pub(crate) struct LossyText {
    text: String,
    /// Byte offsets in `text` of the stand-in characters, ascending.
    invalid: Vec<usize>,
}

impl LossyText {
    pub(crate) fn new(bytes: &[u8]) -> Self {
        let mut text = String::with_capacity(bytes.len());
        let mut invalid = Vec::new();
        for chunk in bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            for &byte in chunk.invalid() {
                invalid.push(text.len());
                text.push(char::from_u32(0xF700 + u32::from(byte)).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
        }
        Self { text, invalid }
    }

    /// The document to read.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `part`, a slice of [`Self::as_str`], holds a byte that was not UTF-8.
    pub(crate) fn is_valid(&self, part: &str) -> bool {
        if self.invalid.is_empty() {
            return true;
        }
        let Some(range) = self.range_of(part) else {
            // Not a slice of the document (the reader copied it): judge by its characters.
            return !part.chars().any(|c| ('\u{F780}'..='\u{F7FF}').contains(&c));
        };
        let first = self.invalid.partition_point(|&at| at < range.start);
        self.invalid.get(first).is_none_or(|&at| at >= range.end)
    }

    fn range_of(&self, part: &str) -> Option<Range<usize>> {
        let start = (part.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize)?;
        (start + part.len() <= self.text.len()).then_some(start..start + part.len())
    }
}

/// Whether a `<!DOCTYPE …>` declaration (its content between `<!DOCTYPE` and `>`) ends where a
/// plain count of `<` and `>` says it does. Declarations where that count and the XML grammar
/// disagree (a `>` inside a quoted literal, an unmatched `<`) are refused: a document we read has no business
/// carrying one, and the reader once judged them by the count, so no reading of them is safe.
pub(crate) fn doctype_is_balanced(declaration: &str) -> bool {
    let mut open = 0usize;
    for byte in declaration.bytes() {
        match byte {
            b'<' => open += 1,
            b'>' => match open.checked_sub(1) {
                Some(left) => open = left,
                None => return false,
            },
            _ => {}
        }
    }
    open == 0
}

/// The text between two pieces of markup as written, gathered from the reader's pieces (text and
/// `&…;` references), so that references are resolved, and whitespace trimmed, on the whole.
#[derive(Default)]
pub(crate) struct TextRun {
    raw: String,
    taken: String,
    valid: bool,
}

impl TextRun {
    /// Adds a piece of text as written; `valid` says whether its bytes were UTF-8.
    pub(crate) fn push_text(&mut self, piece: &str, valid: bool) {
        self.start_if_empty();
        self.valid &= valid;
        self.raw.push_str(piece);
    }

    /// Adds a reference by its name (what stands between `&` and `;`).
    pub(crate) fn push_reference(&mut self, name: &str, valid: bool) {
        self.start_if_empty();
        self.valid &= valid;
        self.raw.push('&');
        self.raw.push_str(name);
        self.raw.push(';');
    }

    fn start_if_empty(&mut self) {
        if self.raw.is_empty() {
            self.valid = true;
        }
    }

    /// The gathered text without the XML whitespace (space, tab, CR, LF) at its ends, and whether
    /// its bytes were all UTF-8; `None` when nothing else is left, as whitespace between markup is
    /// formatting. A reference is never trimmed, even one that stands for a space.
    pub(crate) fn take(&mut self) -> Option<(&str, bool)> {
        self.taken.clear();
        self.taken
            .push_str(self.raw.trim_matches([' ', '\t', '\r', '\n']));
        self.raw.clear();
        (!self.taken.is_empty()).then_some((self.taken.as_str(), self.valid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_mark_exactly_the_bytes_that_were_not_utf8() {
        let document = LossyText::new(b"ab\xffc\xe4\xb8\xadd\xe4\xb8");
        let text = document.as_str();
        assert_eq!(text, "ab\u{F7FF}c中d\u{F7E4}\u{F7B8}");
        assert!(document.is_valid(&text[..2]));
        assert!(!document.is_valid(&text[..5]));
        assert!(!document.is_valid(&text[2..5]));
        assert!(document.is_valid(&text[5..10]));
        assert!(!document.is_valid(&text[9..]));
        assert!(!document.is_valid(&text[13..]));
        // A copy is judged by its characters.
        assert!(!document.is_valid(&String::from("\u{F7FF}")));
        assert!(document.is_valid(&String::from("中")));
        let utf8 = LossyText::new("中\u{F7FF}".as_bytes());
        assert!(utf8.is_valid(utf8.as_str()));
    }

    #[test]
    fn a_doctype_must_end_where_its_angle_brackets_balance() {
        for good in [" R", " R [<!ENTITY e \"v\">]", " smil SYSTEM \"s.dtd\"", ""] {
            assert!(doctype_is_balanced(good), "{good}");
        }
        for bad in [" R SYSTEM \"a>b\"", "< R", " R [<!ENTITY e \"<\">]", " R>"] {
            assert!(!doctype_is_balanced(bad), "{bad}");
        }
    }

    #[test]
    fn a_run_is_trimmed_at_its_ends_only_and_remembers_invalid_pieces() {
        let mut run = TextRun::default();
        assert_eq!(run.take(), None);
        run.push_text(" \t\r\n", true);
        assert_eq!(run.take(), None);
        run.push_text(" a ", true);
        run.push_reference("amp", true);
        run.push_text(" \u{a0}b\n", true);
        assert_eq!(run.take(), Some(("a &amp; \u{a0}b", true)));
        run.push_reference("#32", false);
        assert_eq!(run.take(), Some(("&#32;", false)));
        run.push_text("c", true);
        assert_eq!(run.take(), Some(("c", true)), "a new run starts valid");
    }
}
