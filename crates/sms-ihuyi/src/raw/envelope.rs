//! The answer envelope every ihuyi API uses: a root element (or JSON object) holding `code`, `msg`
//! and one result field (`smsid`, `voiceid`, `num`, `templateid`).

use std::collections::BTreeMap;
use std::fmt;

use quick_xml::events::Event;
use serde_json::value::RawValue;

/// The longest excerpt of an unreadable body kept in an error.
pub const EXCERPT_CHARS: usize = 120;

/// A parsed answer: the code, the message and every other top-level field, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The answer code, trimmed (`"2"` means success).
    pub code: String,
    /// The provider's message, verbatim (empty when absent).
    pub msg: String,
    /// Every other top-level field by (local) name, values as text. JSON numbers keep their exact
    /// digits, so ids beyond 64 bits survive.
    pub fields: BTreeMap<String, String>,
}

impl Envelope {
    /// The first of `names` that is present with a non-empty value.
    pub fn field(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|name| self.fields.get(*name))
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }
}

/// Why a body is not a readable envelope. The display is short and safe to log: it carries at
/// most [`EXCERPT_CHARS`] characters of the body, control characters escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError {
    reason: &'static str,
    excerpt: String,
}

impl EnvelopeError {
    fn new(reason: &'static str, body: &[u8]) -> Self {
        Self {
            reason,
            excerpt: sms_core::raw::http::excerpt(body, EXCERPT_CHARS),
        }
    }

    /// What is wrong, in a few words.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The start of the body, for diagnosis.
    pub fn excerpt(&self) -> &str {
        &self.excerpt
    }
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unreadable answer ({}): {:?}", self.reason, self.excerpt)
    }
}

impl std::error::Error for EnvelopeError {}

/// Parses an answer body, XML or JSON, whichever it is (the service has been seen to ignore the
/// requested format on error pages, so the body decides, not the request).
///
/// Tolerated: a UTF-8 byte order mark, surrounding whitespace, an XML declaration or none, any XML
/// namespace or prefix (elements are matched by local name), CDATA, `code` as a JSON number or
/// string, ids as JSON numbers or strings, a missing `msg`.
///
/// # Errors
/// [`EnvelopeError`] for an empty, non-UTF-8, malformed or truncated body, one that is neither XML
/// nor JSON, or one without a `code`.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, EnvelopeError> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(EnvelopeError::new("not UTF-8", body));
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim();
    let fields = match text.as_bytes().first() {
        None => return Err(EnvelopeError::new("empty body", body)),
        Some(b'<') => parse_xml(text).map_err(|reason| EnvelopeError::new(reason, body))?,
        Some(b'{') => parse_json_object(text).map_err(|reason| EnvelopeError::new(reason, body))?,
        Some(_) => return Err(EnvelopeError::new("neither XML nor JSON", body)),
    };
    into_envelope(fields).map_err(|reason| EnvelopeError::new(reason, body))
}

/// Top-level fields of a flat JSON object, or of a form body, as an envelope.
fn into_envelope(mut fields: BTreeMap<String, String>) -> Result<Envelope, &'static str> {
    let code = fields.remove("code").ok_or("no `code` field")?;
    let code = code.trim().to_owned();
    if code.is_empty() {
        return Err("empty `code` field");
    }
    let msg = fields.remove("msg").unwrap_or_default();
    Ok(Envelope { code, msg, fields })
}

/// The children of the root element by local name, with their text. Deeper elements contribute
/// their text to the child they are in; attributes are ignored.
fn parse_xml(text: &str) -> Result<BTreeMap<String, String>, &'static str> {
    let mut reader = quick_xml::Reader::from_str(text);
    // A stray `&` is left to `unescape`, which reports it as malformed text, wherever it is.
    reader.config_mut().allow_dangling_amp = true;
    let mut state = XmlState::default();
    let mut run = TextRun::default();
    loop {
        let event = reader.read_event();
        // The reader hands text over piece by piece, references apart; the text between two
        // pieces of markup is read as a whole before the markup that ends it (or the error, or
        // the end), as it is written.
        match &event {
            Ok(Event::Text(piece)) => run.push_text(piece),
            Ok(Event::GeneralRef(reference)) => run.push_reference(reference),
            _ => {
                if let Some(raw) = run.take() {
                    state.text(raw)?;
                }
            }
        }
        let event = event.map_err(|_| "malformed XML")?;
        if let Event::DocType(declaration) = &event
            && !doctype_is_balanced(declaration)
        {
            return Err("malformed XML");
        }
        match event {
            Event::Text(_) | Event::GeneralRef(_) | Event::Eof | Event::Comment(_) | Event::PI(_) => {}
            _ if state.root_closed => return Err("content after the root element"),
            _ => {}
        }
        match event {
            Event::Start(element) => {
                state.depth += 1;
                if state.depth == 2 {
                    state.current = Some((element.local_name().as_ref().to_owned(), String::new()));
                }
            }
            Event::Empty(element) => {
                if state.depth == 0 {
                    // `<SubmitResult/>`: a root without children, hence without a code.
                    state.root_closed = true;
                } else if state.depth == 1 {
                    state
                        .fields
                        .insert(element.local_name().as_ref().to_owned(), String::new());
                }
            }
            Event::CData(content) if state.depth >= 2 => {
                if let Some((_, value)) = state.current.as_mut() {
                    value.push_str(&content);
                }
            }
            Event::CData(_) if state.depth == 0 => return Err("text outside the root element"),
            Event::End(_) => {
                if state.depth == 2
                    && let Some((name, value)) = state.current.take()
                {
                    state.fields.insert(name, value);
                }
                state.depth = state.depth.checked_sub(1).ok_or("malformed XML")?;
                if state.depth == 0 {
                    state.root_closed = true;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !state.root_closed {
        return Err(if state.depth > 0 {
            "truncated XML"
        } else {
            "no XML root element"
        });
    }
    Ok(state.fields)
}

/// Whether a `<!DOCTYPE …>` declaration (its content between `<!DOCTYPE` and `>`) ends where a
/// plain count of `<` and `>` says it does. Declarations where that count and the XML grammar
/// disagree (a `>` inside a quoted literal, an unmatched `<`) are refused: an answer has no business
/// carrying one, and the reader once judged them by the count, so no reading of them is safe.
fn doctype_is_balanced(declaration: &str) -> bool {
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

/// Where [`parse_xml`] is in the document, and what it has read so far.
#[derive(Default)]
struct XmlState {
    fields: BTreeMap<String, String>,
    depth: usize,
    root_closed: bool,
    current: Option<(String, String)>,
}

impl XmlState {
    /// Takes the text between two pieces of markup (as written, references unresolved, not blank).
    fn text(&mut self, raw: &str) -> Result<(), &'static str> {
        if self.root_closed {
            return Err("content after the root element");
        }
        match self.depth {
            0 => Err("text outside the root element"),
            // Text between the root's children is formatting, whatever it says.
            1 => Ok(()),
            _ => {
                let content = quick_xml::escape::unescape(raw).map_err(|_| "malformed XML text")?;
                if let Some((_, value)) = self.current.as_mut() {
                    value.push_str(&content);
                }
                Ok(())
            }
        }
    }
}

/// The text between two pieces of markup as written, gathered from the reader's pieces (text and
/// `&…;` references), so that references are resolved, and whitespace trimmed, on the whole.
#[derive(Default)]
struct TextRun {
    raw: String,
    taken: String,
}

impl TextRun {
    fn push_text(&mut self, piece: &str) {
        self.raw.push_str(piece);
    }

    fn push_reference(&mut self, name: &str) {
        self.raw.push('&');
        self.raw.push_str(name);
        self.raw.push(';');
    }

    /// The gathered text without the XML whitespace (space, tab, CR, LF) at its ends, or `None`
    /// when nothing else is left: whitespace between markup is formatting. A reference is never
    /// trimmed, even one that stands for a space.
    fn take(&mut self) -> Option<&str> {
        self.taken.clear();
        self.taken
            .push_str(self.raw.trim_matches([' ', '\t', '\r', '\n']));
        self.raw.clear();
        (!self.taken.is_empty()).then_some(self.taken.as_str())
    }
}

/// The members of a flat JSON object as text: strings unquoted, numbers with their exact digits,
/// `null` left out, anything else as its JSON text.
pub(crate) fn parse_json_object(text: &str) -> Result<BTreeMap<String, String>, &'static str> {
    let members: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(text).map_err(|e| match e.classify() {
            serde_json::error::Category::Eof => "truncated JSON",
            _ => "malformed JSON",
        })?;
    let mut fields = BTreeMap::new();
    for (name, raw) in members {
        let raw = raw.get();
        let value = match raw.as_bytes().first() {
            Some(b'"') => serde_json::from_str::<String>(raw).map_err(|_| "malformed JSON")?,
            Some(b'n') => continue,
            _ => raw.to_owned(),
        };
        fields.insert(name, value);
    }
    Ok(fields)
}

#[cfg(test)]
mod xml_corpus;

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Envelope {
        parse_envelope(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    fn err(body: &[u8]) -> EnvelopeError {
        parse_envelope(body).expect_err(&String::from_utf8_lossy(body))
    }

    #[test]
    fn documented_xml_answers() {
        let e = ok(r#"<?xml version="1.0" encoding="utf-8"?>
<SubmitResult xmlns="http://106.ihuyi.com/"><code>2</code><msg>提交成功</msg><smsid>15870246956696820530</smsid></SubmitResult>"#);
        assert_eq!((e.code.as_str(), e.msg.as_str()), ("2", "提交成功"));
        assert_eq!(e.field(&["smsid"]), Some("15870246956696820530"));

        let e = ok(
            r#"<GetNumResult xmlns="http://106.ihuyi.cn/"><code>2</code><msg>查询成功</msg><num>7</num></GetNumResult>"#,
        );
        assert_eq!(e.field(&["num"]), Some("7"));

        let e = ok(
            r#"<SubmitResult xmlns="http://106.ihuyi.com/"><code>405</code><msg>API ID 或 API KEY 不正确</msg><smsid>0</smsid></SubmitResult>"#,
        );
        assert_eq!(
            (e.code.as_str(), e.msg.as_str()),
            ("405", "API ID 或 API KEY 不正确")
        );
    }

    #[test]
    fn xml_namespaces_prefixes_bom_whitespace_and_cdata_are_tolerated() {
        let bodies = [
            "<SubmitResult><code>2</code><msg>ok</msg><smsid>1</smsid></SubmitResult>",
            "\u{feff}  \n<?xml version=\"1.0\"?>\r\n<SubmitResult xmlns=\"http://example.invalid/\">\n  <code> 2 </code>\n  <msg>ok</msg>\n  <smsid>1</smsid>\n</SubmitResult>\n",
            "<s:SubmitResult xmlns:s=\"http://106.ihuyi.cn/\"><s:code>2</s:code><s:msg>ok</s:msg><s:smsid>1</s:smsid></s:SubmitResult>",
            "<SubmitResult><!-- note --><code><![CDATA[2]]></code><msg><![CDATA[ok]]></msg><smsid>1</smsid></SubmitResult>",
        ];
        for body in bodies {
            let e = ok(body);
            assert_eq!((e.code.as_str(), e.msg.as_str()), ("2", "ok"), "{body}");
            assert_eq!(e.field(&["smsid"]), Some("1"), "{body}");
        }
    }

    #[test]
    fn xml_values_lose_only_xml_whitespace() {
        let envelope = ok("<R><code>4051</code><msg>\n  \u{a0}余额不足\u{a0} \t</msg></R>");
        assert_eq!(envelope.msg, "\u{a0}余额不足\u{a0}");
    }

    #[test]
    fn xml_entities_are_decoded_and_missing_msg_is_empty() {
        let e = ok("<R><code>407</code><msg>a &amp; b &lt;c&gt;</msg></R>");
        assert_eq!(e.msg, "a & b <c>");
        let e = ok("<R><code>0</code><smsid/></R>");
        assert_eq!((e.msg.as_str(), e.field(&["smsid"])), ("", None));
    }

    #[test]
    fn xml_references_are_resolved_in_place_and_only_the_ends_of_a_text_are_trimmed() {
        let msg = |inner: &str| ok(&format!("<R><code>407</code><msg>{inner}</msg></R>")).msg;
        // The spaces around a reference are text, not formatting.
        assert_eq!(msg(" a &amp; b "), "a & b");
        assert_eq!(msg("a &lt;&gt;&quot;&apos; b"), "a <>\"' b");
        // Character references, decimal and hexadecimal; one that stands for a space is kept.
        assert_eq!(msg("&#20013;&#x4E2D;"), "中中");
        assert_eq!(msg("&#32;x&#x20;"), " x ");
        // Each text between markup is trimmed on its own, as before.
        assert_eq!(msg(" x <![CDATA[ y ]]> z "), "x y z");
        assert_eq!(msg(" x <!-- c --> z "), "xz");
        assert_eq!(msg(" x <b> y </b> z "), "xyz");
        for bad in [
            "&nbsp;", "&bogus;", "a & b", "&#0;", "&#xD800;", "&#X4e2d;", "&amp",
        ] {
            let body = format!("<R><code>407</code><msg>{bad}</msg></R>");
            assert_eq!(err(body.as_bytes()).reason(), "malformed XML text", "{bad}");
        }
        // Text between the root's children is not read, whatever it holds.
        assert_eq!(ok("<R>&bogus; a & b<code>2</code></R>").code, "2");
        assert_eq!(
            err(b"<!-- c -->&amp;<R><code>2</code></R>").reason(),
            "text outside the root element"
        );
        assert_eq!(
            err(b"<R><code>2</code></R>&amp;").reason(),
            "content after the root element"
        );
    }

    #[test]
    fn a_document_type_declaration_is_skipped_only_when_it_is_plain() {
        assert_eq!(ok("<!DOCTYPE R><R><code>2</code></R>").code, "2");
        assert_eq!(
            ok("<!DOCTYPE R [<!ENTITY e \"v\">]><R><code>2</code></R>").code,
            "2"
        );
        // Declared entities are not expanded: only the predefined ones are known.
        let body = b"<!DOCTYPE R [<!ENTITY e \"v\">]><R><code>2</code><msg>&e;</msg></R>";
        assert_eq!(err(body).reason(), "malformed XML text");
        // Where counting brackets and the XML grammar disagree on its end, nothing is read.
        for body in [
            &b"<!DOCTYPE R SYSTEM \"a>b\"><R><code>2</code></R>"[..],
            b"<!DOCTYPE <R><R><code>2</code></R>",
        ] {
            assert_eq!(err(body).reason(), "malformed XML");
        }
    }

    #[test]
    fn documented_json_answers() {
        let e = ok(r#"{"code":2,"msg":"提交成功","smsid":"16842079209571524017"}"#);
        assert_eq!((e.code.as_str(), e.msg.as_str()), ("2", "提交成功"));
        assert_eq!(e.field(&["smsid"]), Some("16842079209571524017"));
        let e = ok(r#"{"code":2,"msg":"提交成功","voiceid":"197362477"}"#);
        assert_eq!(e.field(&["smsid", "voiceid"]), Some("197362477"));
    }

    #[test]
    fn json_codes_and_ids_as_numbers_or_strings_keep_every_digit() {
        let e = ok(r#"{"code":"2","smsid":99999999999999999999999}"#);
        assert_eq!(e.code, "2");
        assert_eq!(e.msg, "");
        assert_eq!(e.field(&["smsid"]), Some("99999999999999999999999"));
        let e = ok(r#"{"code":4051,"msg":"剩余条数不足","smsid":0}"#);
        assert_eq!((e.code.as_str(), e.field(&["smsid"])), ("4051", Some("0")));
    }

    #[test]
    fn json_with_bom_null_and_nested_values() {
        let e = ok("\u{feff}{\"code\": 4080, \"msg\": null, \"smsid\": null, \"extra\": {\"a\": 1}}");
        assert_eq!(e.code, "4080");
        assert_eq!(e.msg, "");
        assert_eq!(e.field(&["smsid"]), None);
        assert_eq!(e.fields.get("extra").map(String::as_str), Some(r#"{"a": 1}"#));
    }

    #[test]
    fn unreadable_bodies_are_errors_with_a_short_safe_excerpt() {
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "empty body"),
            (b"   \r\n", "empty body"),
            (b"\xff\xfe<code>2</code>", "not UTF-8"),
            (b"<html><body>502 Bad Gateway</body>", "truncated XML"),
            (b"<SubmitResult><code>2</code><msg>ok</ms", "malformed XML"),
            (b"<SubmitResult><code>2</code><msg>ok</msg>", "truncated XML"),
            (b"<SubmitResult><code>2</msg></SubmitResult>", "malformed XML"),
            (b"<SubmitResult><msg>ok</msg></SubmitResult>", "no `code` field"),
            (
                b"<SubmitResult><code> </code></SubmitResult>",
                "empty `code` field",
            ),
            (b"<a></a><b></b>", "content after the root element"),
            (b"{\"code\":2,\"msg\":\"ok\"", "truncated JSON"),
            (b"{\"code\":2,,}", "malformed JSON"),
            (b"[1,2]", "neither XML nor JSON"),
            (b"code=2&msg=ok", "neither XML nor JSON"),
            (b"\x00\x01garbage\x7f", "neither XML nor JSON"),
        ];
        for (body, reason) in cases {
            let e = err(body);
            assert_eq!(e.reason(), reason, "{:?}", String::from_utf8_lossy(body));
        }
        let long = format!("<x>{}", "y".repeat(10_000));
        let e = err(long.as_bytes());
        assert!(
            e.excerpt().chars().count() <= EXCERPT_CHARS + 1,
            "{}",
            e.excerpt()
        );
        assert!(!err(b"\x00\x1b[2Jhi").to_string().contains('\x1b'));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Pieces that make XML- and JSON-like bodies, so that generated input reaches deep into
        /// both parsers rather than failing on the first byte.
        fn fragments() -> impl Strategy<Value = Vec<u8>> {
            let pieces: Vec<&'static [u8]> = vec![
                b"<",
                b">",
                b"</",
                b"/>",
                b"code",
                b"msg",
                b"smsid",
                b"SubmitResult",
                b"2",
                b"405",
                b"&amp;",
                b"&#x1F600;",
                b"&bogus;",
                b"<![CDATA[",
                b"]]>",
                b"<!--",
                b"-->",
                b"{",
                b"}",
                b"[",
                b"]",
                b"\"",
                b":",
                b",",
                b"null",
                b"1e999",
                b"\xef\xbb\xbf",
                b" ",
                b"\n",
                b"xmlns:a=\"x\"",
                b"a:",
                b"<?xml version=\"1.0\"?>",
                b"\xff",
                b"\xe4\xb8",
                b"\\u0000",
            ];
            proptest::collection::vec(proptest::sample::select(pieces), 0..48).prop_map(|p| p.concat())
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
                if let Err(e) = parse_envelope(&body) {
                    // At most EXCERPT_CHARS characters of the body, each escaped to at most 10.
                    prop_assert!(e.excerpt().chars().count() <= EXCERPT_CHARS * 10 + 1);
                    prop_assert!(!e.excerpt().chars().any(char::is_control));
                }
            }

            #[test]
            fn structured_garbage_never_panics(body in fragments()) {
                match parse_envelope(&body) {
                    Ok(envelope) => prop_assert!(!envelope.code.is_empty()),
                    Err(e) => prop_assert!(!e.reason().is_empty()),
                }
            }

            #[test]
            fn json_values_round_trip(code in 0u32..100_000, msg in ".{0,40}", id in "[1-9][0-9]{0,29}") {
                let body = serde_json::json!({"code": code, "msg": msg}).to_string();
                let body = format!("{},\"smsid\":{id}}}", &body[..body.len() - 1]);
                let envelope = parse_envelope(body.as_bytes()).unwrap();
                prop_assert_eq!(envelope.code, code.to_string());
                prop_assert_eq!(envelope.msg, msg);
                prop_assert_eq!(envelope.fields.get("smsid").map(String::as_str), Some(id.as_str()));
            }

            #[test]
            fn xml_text_round_trips(msg in "[^\\x00-\\x1f]{0,40}") {
                let escaped = msg
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                let body = format!("<R xmlns=\"http://106.ihuyi.com/\"><code>4051</code><msg>{escaped}</msg></R>");
                let envelope = parse_envelope(body.as_bytes()).unwrap();
                // Only XML whitespace around the value is formatting; anything else (a non-breaking
                // space, say) is the provider's text and stays verbatim.
                prop_assert_eq!(envelope.msg, msg.trim_matches([' ', '\t', '\n', '\r']));
            }
        }
    }
}
