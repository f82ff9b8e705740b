//! Reading 10658 answers: XML with a `code`, a `msg` and one id or count field under any root and
//! namespace, and the code table.
//!
//! Assumptions kept in this one place (the provider's documentation leaves them open; the README's wire facts say more):
//! - Answers are UTF-8 XML; only the root's direct children are read, by local name (namespaces and
//!   the root's name are ignored). A document that does not close its root is cut off.
//! - GetNum answers put the count in `num` (also accepted: `balance`), as an integer or a decimal
//!   (truncated).

use quick_xml::Reader;
use quick_xml::events::Event;
use sms_core::raw::http::excerpt;
use sms_core::{Error, ErrorKind, Operation};

use crate::xml_text::{LossyText, TextRun, doctype_is_balanced};

/// Longest excerpt of an unreadable answer put into an error.
const EXCERPT_CHARS: usize = 200;

/// Fields that may carry the GetNum count, in order of preference.
const BALANCE_FIELDS: [&str; 2] = ["num", "balance"];

/// The code table, the one place provider codes become error kinds.
///
/// Several codes mean different things for SendMms and CreateMms; the operation tells them apart.
/// Unknown codes become [`ErrorKind::ProviderFault`] with the code and text verbatim.
pub(crate) fn error_for(provider: &str, operation: Operation, code: &str, msg: &str) -> Error {
    use ErrorKind::*;
    let create = operation == Operation::CreateMms;
    let kind = match code.trim() {
        // Failed (send), or creation failed (create): the provider's own trouble.
        "0" => ProviderFault,
        "409" if create => ProviderFault,
        // No well-formed number, or all blacklisted: another provider may reach them.
        "409" => RecipientRejected,
        "400" | "405" => Unauthorized,
        // Account or password empty.
        "401" | "402" => Configuration,
        // Send: mobile empty. Create: title empty.
        "403" => InvalidRequest,
        // Send: the package does not exist or is empty (package ids belong to this account, so no
        // other provider can help). Create: the zip holds no content.
        "404" if create => InvalidContent,
        "404" => InvalidRequest,
        // Create: the zip (base64) is empty. Send: signature format wrong.
        "4040" if create => InvalidRequest,
        "4040" => ContentRejected,
        "4050" => AccountSuspended,
        "4051" => InsufficientBalance,
        // Create: the zip is broken. Send: product id empty.
        "406" => InvalidRequest,
        // Create: the SMIL in the zip is malformed. Send: product id wrong (ids belong to the account).
        "4060" if create => InvalidContent,
        "4060" => InvalidRequest,
        "407" => InvalidContent,
        "4070" => ContentRejected,
        _ => ProviderFault,
    };
    Error::new(kind, operation)
        .with_provider(provider)
        .with_code(code.trim())
        .with_message(msg)
}

/// A parsed answer: the root's direct children, by local name, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlAnswer {
    fields: Vec<(String, String)>,
}

impl XmlAnswer {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

fn protocol_error(provider: &str, operation: Operation, why: &str, body: &[u8]) -> Error {
    Error::new(ErrorKind::Protocol, operation)
        .with_provider(provider)
        .with_message(format!("{why}: {:?}", excerpt(body, EXCERPT_CHARS)))
}

/// Parses an answer and reads its `code`.
struct Parsed<'a> {
    provider: &'a str,
    operation: Operation,
    body: &'a [u8],
    answer: XmlAnswer,
    code: String,
}

impl<'a> Parsed<'a> {
    fn new(provider: &'a str, operation: Operation, body: &'a [u8]) -> Result<Self, Error> {
        let answer = parse_xml(body).map_err(|why| protocol_error(provider, operation, why, body))?;
        let code = answer
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| protocol_error(provider, operation, "the answer has no `code`", body))?
            .to_owned();
        Ok(Self {
            provider,
            operation,
            body,
            answer,
            code,
        })
    }

    fn is_success(&self) -> bool {
        self.code == "2"
    }

    fn error(&self) -> Error {
        error_for(
            self.provider,
            self.operation,
            &self.code,
            self.answer.get("msg").unwrap_or(""),
        )
    }

    fn protocol(&self, why: &str) -> Error {
        protocol_error(self.provider, self.operation, why, self.body)
    }

    /// A required id: present, not empty and not `0`.
    fn id(&self, field: &str) -> Result<String, Error> {
        match self.answer.get(field) {
            Some(id) if !id.is_empty() && id != "0" => Ok(id.to_owned()),
            _ => Err(self.protocol(&format!("a success without a usable `{field}`"))),
        }
    }
}

/// Reads the root's direct children of an XML document.
fn parse_xml(body: &[u8]) -> Result<XmlAnswer, &'static str> {
    let document = LossyText::new(body);
    let mut reader = Reader::from_str(document.as_str());
    // A stray `&` is left to `unescape`, which reports it as malformed text, wherever it is.
    reader.config_mut().allow_dangling_amp = true;
    let mut state = AnswerState::default();
    let mut run = TextRun::default();
    loop {
        let event = reader.read_event();
        // The reader hands text over piece by piece, references apart; the text between two
        // pieces of markup is read as a whole before the markup that ends it (or the error, or
        // the end), as it is written.
        match &event {
            Ok(Event::Text(piece)) => run.push_text(piece, document.is_valid(piece)),
            Ok(Event::GeneralRef(name)) => run.push_reference(name, document.is_valid(name)),
            _ => {
                if let Some((raw, valid)) = run.take() {
                    state.text(raw, valid)?;
                }
            }
        }
        let event = event.map_err(|_| "the answer is not well-formed XML")?;
        if let Event::DocType(declaration) = &event
            && !doctype_is_balanced(declaration)
        {
            return Err("the answer is not well-formed XML");
        }
        match event {
            Event::Start(start) => {
                if state.depth == 0 && state.seen_root {
                    return Err("the answer has content after its root element");
                }
                state.depth += 1;
                state.seen_root = true;
                if state.depth == 2 {
                    let name = element_name(&document, start.local_name().as_ref())?;
                    state.current = Some((name, String::new()));
                }
            }
            Event::Empty(empty) => {
                if state.depth == 0 {
                    return Err(if state.seen_root {
                        "the answer has content after its root element"
                    } else {
                        "the answer's root element is empty"
                    });
                }
                if state.depth == 1 {
                    let name = element_name(&document, empty.local_name().as_ref())?;
                    state.fields.push((name, String::new()));
                }
            }
            Event::CData(data) => {
                if !document.is_valid(&data) {
                    return Err("the answer's text is not UTF-8");
                }
                if let (2, Some((_, value))) = (state.depth, state.current.as_mut()) {
                    value.push_str(&data);
                }
            }
            Event::End(_) => {
                if state.depth == 2 {
                    state.fields.extend(state.current.take());
                }
                state.depth = state.depth.saturating_sub(1);
            }
            Event::Eof => break,
            Event::Text(_)
            | Event::GeneralRef(_)
            | Event::Decl(_)
            | Event::PI(_)
            | Event::Comment(_)
            | Event::DocType(_) => {}
        }
    }
    if !state.seen_root {
        return Err("the answer is not XML");
    }
    if state.depth != 0 {
        return Err("the answer is cut off");
    }
    Ok(XmlAnswer { fields: state.fields })
}

/// Where [`parse_xml`] is in the document, and what it has read so far.
#[derive(Default)]
struct AnswerState {
    depth: usize,
    seen_root: bool,
    current: Option<(String, String)>,
    fields: Vec<(String, String)>,
}

impl AnswerState {
    /// Takes the text between two pieces of markup (as written, references unresolved, not blank).
    fn text(&mut self, raw: &str, valid: bool) -> Result<(), &'static str> {
        if self.depth == 0 {
            return Err("the answer has text outside its root element");
        }
        if !valid {
            return Err("the answer's text is not valid UTF-8 XML");
        }
        let text =
            quick_xml::escape::unescape(raw).map_err(|_| "the answer's text is not valid UTF-8 XML")?;
        if let (2, Some((_, value))) = (self.depth, self.current.as_mut()) {
            value.push_str(&text);
        }
        Ok(())
    }
}

fn element_name(document: &LossyText, name: &str) -> Result<String, &'static str> {
    if document.is_valid(name) {
        Ok(name.to_owned())
    } else {
        Err("an element name is not UTF-8")
    }
}

/// Reads a SendMms answer: the send id on success.
///
/// # Errors
/// The mapped code unless it is 2; [`ErrorKind::Protocol`] for an unreadable answer.
pub(crate) fn send(provider: &str, body: &[u8]) -> Result<String, Error> {
    let parsed = Parsed::new(provider, Operation::Send, body)?;
    if !parsed.is_success() {
        return Err(parsed.error());
    }
    parsed.id("mmsid")
}

/// Reads a CreateMms answer: the new package id.
///
/// # Errors
/// The mapped code unless it is 2; [`ErrorKind::Protocol`] for an unreadable answer or a success
/// without a package id.
pub(crate) fn create(provider: &str, body: &[u8]) -> Result<String, Error> {
    let parsed = Parsed::new(provider, Operation::CreateMms, body)?;
    if !parsed.is_success() {
        return Err(parsed.error());
    }
    parsed.id("mmsid")
}

/// Reads a GetNum answer: the remaining count.
///
/// # Errors
/// The mapped code unless it is 2; [`ErrorKind::Protocol`] for an unreadable answer or a count that
/// is not a number.
pub(crate) fn balance(provider: &str, body: &[u8]) -> Result<i64, Error> {
    let parsed = Parsed::new(provider, Operation::Balance, body)?;
    if !parsed.is_success() {
        return Err(parsed.error());
    }
    let value = BALANCE_FIELDS
        .iter()
        .find_map(|f| parsed.answer.get(f))
        .ok_or_else(|| parsed.protocol("the answer has no `num`"))?;
    parse_count(value).ok_or_else(|| parsed.protocol("`num` is not a number"))
}

/// An integer, or a decimal truncated toward zero (`"1200"`, `"1200.50"`, `"-3"`).
fn parse_count(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(n) = value.parse::<i64>() {
        return Some(n);
    }
    let (whole, fraction) = value.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = whole.strip_prefix('-').unwrap_or(whole);
    if digits(unsigned) && (fraction.is_empty() || digits(fraction)) {
        whole.parse::<i64>().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per row of the code table: (operation, code, expected kind).
    macro_rules! code_rows {
        ($($test:ident: $operation:expr, $code:literal => $kind:ident;)*) => {$(
            #[test]
            fn $test() {
                let e = error_for("10658-mms", $operation, $code, "说明");
                assert_eq!(e.kind(), ErrorKind::$kind, "code {}", $code);
                assert_eq!(e.code(), Some($code));
                assert_eq!(e.message(), "说明");
                assert_eq!(e.provider(), Some("10658-mms"));
                assert_eq!(e.operation(), $operation);
            }
        )*};
    }

    code_rows! {
        send_0_failed: Operation::Send, "0" => ProviderFault;
        send_400_ip_not_allowed: Operation::Send, "400" => Unauthorized;
        send_401_account_empty: Operation::Send, "401" => Configuration;
        send_402_password_empty: Operation::Send, "402" => Configuration;
        send_403_mobile_empty: Operation::Send, "403" => InvalidRequest;
        send_404_mms_content_empty: Operation::Send, "404" => InvalidRequest;
        send_4040_signature_format: Operation::Send, "4040" => ContentRejected;
        send_405_account_or_password_wrong: Operation::Send, "405" => Unauthorized;
        send_4050_frozen: Operation::Send, "4050" => AccountSuspended;
        send_4051_balance_exhausted: Operation::Send, "4051" => InsufficientBalance;
        send_406_product_id_empty: Operation::Send, "406" => InvalidRequest;
        send_4060_product_id_wrong: Operation::Send, "4060" => InvalidRequest;
        send_407_content_too_long: Operation::Send, "407" => InvalidContent;
        send_4070_sensitive_words: Operation::Send, "4070" => ContentRejected;
        send_409_no_well_formed_number: Operation::Send, "409" => RecipientRejected;
        send_unknown_code: Operation::Send, "999" => ProviderFault;
        balance_400: Operation::Balance, "400" => Unauthorized;
        balance_401: Operation::Balance, "401" => Configuration;
        balance_402: Operation::Balance, "402" => Configuration;
        balance_405: Operation::Balance, "405" => Unauthorized;
        balance_4050: Operation::Balance, "4050" => AccountSuspended;
        create_0_failed: Operation::CreateMms, "0" => ProviderFault;
        create_400_ip_not_allowed: Operation::CreateMms, "400" => Unauthorized;
        create_401_account_empty: Operation::CreateMms, "401" => Configuration;
        create_402_password_empty: Operation::CreateMms, "402" => Configuration;
        create_403_title_empty: Operation::CreateMms, "403" => InvalidRequest;
        create_404_content_empty: Operation::CreateMms, "404" => InvalidContent;
        create_4040_zip_empty: Operation::CreateMms, "4040" => InvalidRequest;
        create_405_account_or_password_wrong: Operation::CreateMms, "405" => Unauthorized;
        create_4050_frozen: Operation::CreateMms, "4050" => AccountSuspended;
        create_4051_balance_exhausted: Operation::CreateMms, "4051" => InsufficientBalance;
        create_406_zip_broken: Operation::CreateMms, "406" => InvalidRequest;
        create_4060_smil_malformed: Operation::CreateMms, "4060" => InvalidContent;
        create_409_creation_failed: Operation::CreateMms, "409" => ProviderFault;
    }

    const NS: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

    #[test]
    fn send_answers_are_read_by_local_name_under_any_namespace() {
        let ok = format!(
            r#"{NS}<SendMmsResult xmlns="http://10658.cc/"><code>2</code><msg>提交成功</msg><mmsid>200000017</mmsid></SendMmsResult>"#
        );
        assert_eq!(send("m", ok.as_bytes()).unwrap(), "200000017");
        let prefixed =
            r#"<r:SendMmsResult xmlns:r="urn:x"><r:code> 2 </r:code><r:mmsid>7</r:mmsid></r:SendMmsResult>"#;
        assert_eq!(send("m", prefixed.as_bytes()).unwrap(), "7");
        let refused = format!(
            r#"{NS}<SendMmsResult xmlns="http://10658.cc/"><code>4051</code><msg>剩余条数不足</msg><mmsid>0</mmsid></SendMmsResult>"#
        );
        let e = send("m", refused.as_bytes()).unwrap_err();
        assert_eq!(
            (e.kind(), e.code(), e.message()),
            (ErrorKind::InsufficientBalance, Some("4051"), "剩余条数不足")
        );
    }

    #[test]
    fn references_are_resolved_in_place_and_only_the_ends_of_a_text_are_trimmed() {
        let msg = |inner: &str| {
            let body = format!("<R><code>4051</code><msg>{inner}</msg></R>");
            send("m", body.as_bytes()).unwrap_err().message().to_owned()
        };
        assert_eq!(msg(" a &amp; b "), "a & b");
        assert_eq!(msg("&#20013;&#x4E2D;"), "中中");
        assert_eq!(msg("a&#32;&#x20;b"), "a  b");
        assert_eq!(msg(" x <![CDATA[ y ]]> z "), "x y z");
        assert_eq!(msg(" x <i> y </i> z "), "xz");
        assert_eq!(
            send("m", b"<R><code>&#50;</code><mmsid> 7 </mmsid></R>").unwrap(),
            "7"
        );
        for bad in ["&nbsp;", "a & b", "&#0;", "&#X4e2d;"] {
            let body = format!("<R><code>4051</code><msg>{bad}</msg></R>");
            let e = send("m", body.as_bytes()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{bad}");
            assert!(
                e.message()
                    .starts_with("the answer's text is not valid UTF-8 XML"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_only_where_they_are_read() {
        let read = |body: &[u8]| send("m", body).map_err(|e| e.message().to_owned());
        assert_eq!(
            read(b"<R><!-- \xff --><code>2</code><mmsid>1</mmsid><x a=\"\xfe\"/></R>").unwrap(),
            "1"
        );
        for (body, why) in [
            (
                &b"<R><code>2</code><mmsid>1\xff</mmsid></R>"[..],
                "the answer's text is not valid UTF-8 XML",
            ),
            (
                b"<R><code>2</code><mmsid><![CDATA[\xff]]></mmsid></R>",
                "the answer's text is not UTF-8",
            ),
            (
                b"<R><code>2</code><mmsid>1</mmsid><\xff/></R>",
                "an element name is not UTF-8",
            ),
        ] {
            let message = read(body).unwrap_err();
            assert!(message.starts_with(why), "{message}");
        }
    }

    #[test]
    fn unreadable_answers_are_protocol_errors() {
        let cases: [&[u8]; 9] = [
            b"",
            b"\x00\xff\xfe garbage",
            b"not xml at all",
            b"<SendMmsResult><code>2</code><msg>ok</msg><mmsid>12",
            b"<SendMmsResult><msg>ok</msg><mmsid>12</mmsid></SendMmsResult>",
            b"<SendMmsResult><code>2</code><mmsid>0</mmsid></SendMmsResult>",
            b"<SendMmsResult><code>2</code><mmsid>1</mmsid></Other>",
            b"<a><code>2</code><mmsid>1</mmsid></a><b/>",
            b"<a><code>2</code><msg>\xff\xfe</msg><mmsid>1</mmsid></a>",
        ];
        for body in cases {
            let e = send("m", body).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Protocol,
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert!(e.is_ambiguous());
            assert!(e.message().len() < 400);
        }
    }

    #[test]
    fn balances_are_parsed_tolerantly() {
        let answer = |num: &str| {
            format!(
                r#"<GetNumResult xmlns="http://10658.cc/"><code>2</code><msg>查询成功</msg><num>{num}</num></GetNumResult>"#
            )
        };
        assert_eq!(balance("m", answer("7").as_bytes()).unwrap(), 7);
        assert_eq!(balance("m", answer(" 1200.50 ").as_bytes()).unwrap(), 1200);
        assert_eq!(balance("m", answer("-3").as_bytes()).unwrap(), -3);
        let other_field = "<GetNumResult><code>2</code><balance>88</balance></GetNumResult>";
        assert_eq!(balance("m", other_field.as_bytes()).unwrap(), 88);
        for bad in ["", "lots", "1.2.3", "1e5"] {
            let e = balance("m", answer(bad).as_bytes()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{bad}");
            assert!(!e.is_ambiguous(), "a balance query may fail over");
        }
        let refused =
            "<GetNumResult><code>405</code><msg>用户名或密码不正确</msg><num>0</num></GetNumResult>";
        let e = balance("m", refused.as_bytes()).unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (ErrorKind::Unauthorized, Operation::Balance)
        );
    }

    #[test]
    fn create_answers() {
        let ok =
            "<CreateMmsResult><code>2</code><msg>提交成功</msg><mmsid>300000001</mmsid></CreateMmsResult>";
        assert_eq!(create("m", ok.as_bytes()).unwrap(), "300000001");
        let refused = "<CreateMmsResult><code>4060</code><msg>彩信SMIL文件格式错误</msg><mmsid>0</mmsid></CreateMmsResult>";
        let e = create("m", refused.as_bytes()).unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (ErrorKind::InvalidContent, Operation::CreateMms)
        );
    }
}

/// Whatever bytes a server sends, every reader answers with a value or a typed error, never a panic.
#[cfg(test)]
mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Answers built like real ones (a root element, maybe a namespace, `code`/`msg`/`mmsid`/`num`
    /// children with plausible values) and then damaged half of the time (cut short, junk appended),
    /// so that most cases reach the readers' success and code paths and the rest their error paths.
    fn answer_like() -> impl Strategy<Value = Vec<u8>> {
        let root = prop_oneof![
            Just("SendMmsResult"),
            Just("CreateMmsResult"),
            Just("GetNumResult"),
            Just("x:R"),
        ];
        let namespace = prop_oneof![
            Just(""),
            Just(" xmlns=\"http://10658.cc/\""),
            Just(" xmlns:x=\"urn:x\"")
        ];
        let code = prop_oneof![
            Just("2".to_owned()),
            "[0-9]{1,5}",
            Just(" 2 ".to_owned()),
            ".{0,4}"
        ];
        let text = prop_oneof![
            Just("提交成功".to_owned()),
            "[0-9]{0,22}",
            Just("a&amp;b&lt;".to_owned()),
            ".{0,8}"
        ];
        let child = (
            prop_oneof![
                Just("code"),
                Just("msg"),
                Just("mmsid"),
                Just("num"),
                Just("other")
            ],
            text,
        );
        let children = proptest::collection::vec(child, 0..4);
        let cut = (
            any::<bool>(),
            any::<prop::sample::Index>(),
            proptest::collection::vec(any::<u8>(), 0..4),
        );
        (root, namespace, code, children, cut).prop_map(
            |(root, namespace, code, children, (damaged, at, junk))| {
                let mut xml = format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><{root}{namespace}><code>{code}</code>"
                );
                for (name, value) in children {
                    xml.push_str(&format!("<{name}>{value}</{name}>"));
                }
                xml.push_str(&format!("</{root}>"));
                let mut body = xml.into_bytes();
                if damaged {
                    body.truncate(at.index(body.len() + 1));
                    body.extend_from_slice(&junk);
                }
                body
            },
        )
    }

    proptest! {
        #[test]
        fn readers_answer_every_body(body in answer_like()) {
            let _ = send("10658-mms", &body);
            let _ = create("10658-mms", &body);
            let _ = balance("10658-mms", &body);
        }

        #[test]
        fn unreadable_send_answers_stay_ambiguous(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Err(error) = send("10658-mms", &body)
                && error.kind() == ErrorKind::Protocol {
                    prop_assert!(error.is_ambiguous() && !error.can_failover());
                }
        }
    }
}
