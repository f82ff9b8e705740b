//! Reading Juxiang answers: GBK `k=v&k=v` lists parsed by key, the `errid` table, and what each page's
//! answer means.
//!
//! Assumptions kept in this one place (the provider's documentation leaves them open; the README's wire facts say more):
//! - Values are raw GBK, not percent-encoded. A piece without `=` after the first pair belongs to the
//!   previous value (a reply text containing `&`); keys are case-insensitive; the first occurrence of
//!   a key wins.
//! - Keys may be missing (§4). A `gsend` answer with `num > 0` is accepted whatever else it lacks
//!   (`num` is the only success signal; numbers it does not list stay unknown). A refusal (`num <= 0`)
//!   and the `getfee`, `checkcontent` and `cpwd` answers need `errid`: without it the answer is taken
//!   as cut off (protocol error). `readsms` answers carry `id` (and `src`/`msg` when a reply is
//!   returned) and by the documentation no `errid`: `id=0` is an empty inbox only when `err` is empty
//!   or a known "nothing unread" text, and a failure otherwise (a non-zero `errid`, when present, is
//!   used).
//! - A `6005` answer names the offending word in `err`, possibly after a `:`.

use std::collections::BTreeMap;

use sms_core::raw::http::excerpt;
use sms_core::{BeijingTime, Error, ErrorKind, InboundMessage, Operation, PhoneNumber};

/// Longest excerpt of an unreadable answer put into an error.
const EXCERPT_CHARS: usize = 200;

/// The `errid` table, the one place provider codes become error kinds.
///
/// Codes whose meaning depends on the page take the operation into account (`6016` is a password
/// rule: a configuration problem for every page but `cpwd`, where it refuses the new password).
/// Unknown codes become [`ErrorKind::ProviderFault`] with the code and text verbatim.
pub(crate) fn error_for(provider: &str, operation: Operation, errid: &str, err: &str) -> Error {
    use ErrorKind::*;
    let kind = match errid.trim() {
        // User invalid, wrong password, enterprise verification failed, IP restricted.
        "6001" | "6003" | "6010" | "6012" => Unauthorized,
        "6002" => AccountSuspended,
        // Protection list, blacklist, not allowed to this number: another provider may reach it.
        "6004" | "6009" | "6011" => RecipientRejected,
        "6005" | "6022" => ContentRejected,
        "6006" | "6007" | "6017" => ProviderFault,
        "6008" => InvalidRecipient,
        "6013" => InsufficientBalance,
        "6014" => InvalidRequest,
        // Too long for this account's settings (60, or 240 with long SMS): another provider may
        // send it, so on a send it is a refusal here, not a verdict on the text.
        "6015" if operation == Operation::Send => ContentRejected,
        "6015" => InvalidContent,
        "6016" if operation == Operation::ChangePassword => InvalidRequest,
        // The password must exceed 4 characters; SDK not enabled or trial expired.
        "6016" | "6018" => Configuration,
        // Interface retired, VIP-only interface, extension number not registered.
        "6019" | "6020" | "6021" => Configuration,
        _ => ProviderFault,
    };
    Error::new(kind, operation)
        .with_provider(provider)
        .with_code(errid.trim())
        .with_message(err)
}

/// A protocol error for an unreadable answer, with a safe excerpt of it.
pub(crate) fn protocol_error(provider: &str, operation: Operation, why: &str, body: &[u8]) -> Error {
    let text = encoding_rs::GBK.decode_without_bom_handling(body).0;
    Error::new(ErrorKind::Protocol, operation)
        .with_provider(provider)
        .with_message(format!("{why}: {:?}", excerpt(text.as_bytes(), EXCERPT_CHARS)))
}

/// Decodes GBK strictly: `None` when the bytes are not valid GBK (never replaced silently).
pub(crate) fn decode_gbk(bytes: &[u8]) -> Option<String> {
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(std::borrow::Cow::into_owned)
}

/// A parsed `k=v&k=v` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pairs: Vec<(String, String)>,
}

/// An answer with the provider and operation it belongs to, for error reporting.
pub(crate) struct Reader<'a> {
    provider: &'a str,
    operation: Operation,
    body: &'a [u8],
    answer: Answer,
}

fn is_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Answer {
    /// Parses decoded text; `None` when it does not start with a `key=value` pair.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        let text = text.strip_prefix('?').unwrap_or(text);
        let mut pairs: Vec<(String, String)> = Vec::new();
        // Empty pieces (`&&`, a trailing `&`) separate nothing.
        for piece in text.split('&').filter(|p| !p.is_empty()) {
            match piece.split_once('=') {
                // Keys are never padded: ` b=c` is text that belongs to the previous value.
                Some((key, value)) if is_key(key) => {
                    pairs.push((key.to_ascii_lowercase(), value.to_owned()));
                }
                _ => match pairs.last_mut() {
                    // Part of the previous value (a text containing `&`).
                    Some((_, value)) => {
                        value.push('&');
                        value.push_str(piece);
                    }
                    None => return None,
                },
            }
        }
        if pairs.is_empty() {
            None
        } else {
            Some(Self { pairs })
        }
    }

    /// An answer from fields already split (keys lowercase).
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The value of `key`, trimmed.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim())
    }

    /// Every field as received, for [`InboundMessage::raw`].
    pub(crate) fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for (k, v) in &self.pairs {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        map
    }
}

impl<'a> Reader<'a> {
    /// Decodes (GBK, strictly) and parses an answer body.
    ///
    /// # Errors
    /// [`ErrorKind::Protocol`] for a body that is not GBK or not a key-value list.
    pub(crate) fn new(provider: &'a str, operation: Operation, body: &'a [u8]) -> Result<Self, Error> {
        let Some(text) = decode_gbk(body) else {
            return Err(protocol_error(
                provider,
                operation,
                "the answer is not valid GBK",
                body,
            ));
        };
        let Some(answer) = Answer::parse(&text) else {
            return Err(protocol_error(
                provider,
                operation,
                "the answer is not a key=value list",
                body,
            ));
        };
        Ok(Self {
            provider,
            operation,
            body,
            answer,
        })
    }

    fn protocol(&self, why: &str) -> Error {
        protocol_error(self.provider, self.operation, why, self.body)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.answer.get(key)
    }

    fn require(&self, key: &str) -> Result<&str, Error> {
        self.get(key)
            .ok_or_else(|| self.protocol(&format!("the answer has no `{key}`; it may be cut off")))
    }

    fn integer(&self, key: &str) -> Result<i64, Error> {
        let value = self.require(key)?;
        value
            .parse::<i64>()
            .map_err(|_| self.protocol(&format!("`{key}` is not a number")))
    }

    /// `errid`, required and numeric.
    fn errid(&self) -> Result<i64, Error> {
        self.integer("errid")
    }

    /// The error this answer's `errid` and `err` stand for.
    fn error(&self) -> Error {
        error_for(
            self.provider,
            self.operation,
            self.get("errid").unwrap_or(""),
            self.get("err").unwrap_or(""),
        )
    }

    /// A comma-separated list (tolerating a trailing comma and blanks).
    fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .unwrap_or("")
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// What a `gsend` answer says about one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GsendAnswer {
    /// The `num` field: more than zero.
    pub(crate) accepted_count: i64,
    /// Entries of `success` (possibly masked).
    pub(crate) success: Vec<String>,
    /// Entries of `faile` (possibly masked).
    pub(crate) failed: Vec<String>,
    /// The `errid` of the answer.
    pub(crate) errid: String,
    /// The `err` text of the answer.
    pub(crate) err: String,
}

/// Reads a `gsend` answer: `Ok` when `num > 0` (the only success signal), the mapped error when the
/// whole batch was refused.
///
/// # Errors
/// The mapped `errid` when `num` is zero or less; [`ErrorKind::Protocol`] for an unreadable answer.
pub(crate) fn gsend(provider: &str, body: &[u8]) -> Result<GsendAnswer, Error> {
    let reader = Reader::new(provider, Operation::Send, body)?;
    let num = reader.integer("num")?;
    // `num > 0` is the only success signal and keys may be missing, so an accepted batch does not
    // need `errid`; a refusal does (without it the answer is cut off).
    if num > 0 {
        return Ok(GsendAnswer {
            accepted_count: num,
            success: reader.list("success"),
            failed: reader.list("faile"),
            errid: reader.get("errid").unwrap_or("").trim().to_owned(),
            err: reader.get("err").unwrap_or("").to_owned(),
        });
    }
    let errid = reader.errid()?;
    if errid == 0 {
        return Err(Error::new(ErrorKind::ProviderFault, Operation::Send)
            .with_provider(provider)
            .with_code(format!("num={num}"))
            .with_message(format!(
                "the provider accepted no number without saying why: {}",
                reader.get("err").unwrap_or("")
            )));
    }
    Err(reader.error())
}

/// One number's place in a `gsend` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listed {
    /// Listed (unambiguously) as accepted only.
    Accepted,
    /// Listed (unambiguously) as failed only.
    Failed,
    /// Listed nowhere, or only by masked entries that fit several numbers, or in both lists.
    Unknown,
}

/// Whether a list entry (possibly masked, like `1393710***4`) can stand for `number` (11 digits):
/// same length, and every visible digit equal.
fn entry_matches(entry: &str, number: &str) -> bool {
    let entry = entry.trim().trim_start_matches('+');
    let entry = if entry.len() == 13 && entry.starts_with("86") {
        &entry[2..]
    } else {
        entry
    };
    entry.chars().count() == number.len()
        && entry
            .chars()
            .zip(number.chars())
            .all(|(e, n)| !e.is_ascii_digit() || e == n)
        && entry.chars().any(|c| c.is_ascii_digit())
}

/// Matches the `success` and `faile` entries back to the requested numbers.
///
/// A number is accepted only when some `success` entry fits it and no other requested number, and no
/// `faile` entry fits it; failed likewise. Everything else is unknown: an ambiguous mask is never
/// guessed as accepted. When `num > 0` but nothing ends up accepted or unknown (the lists contradict
/// the count), every number is unknown.
pub(crate) fn match_numbers(numbers: &[PhoneNumber], answer: &GsendAnswer) -> Vec<Listed> {
    let national: Vec<&str> = numbers.iter().map(PhoneNumber::national_number).collect();
    // For each list, which numbers an unambiguous entry names, and which any entry could name.
    let mark = |entries: &[String]| {
        let mut unique = vec![false; national.len()];
        let mut possible = vec![false; national.len()];
        for entry in entries {
            let fits: Vec<usize> = (0..national.len())
                .filter(|&i| entry_matches(entry, national[i]))
                .collect();
            for &i in &fits {
                possible[i] = true;
            }
            if let [only] = fits.as_slice() {
                unique[*only] = true;
            }
        }
        (unique, possible)
    };
    let (accepted_unique, accepted_possible) = mark(&answer.success);
    let (failed_unique, failed_possible) = mark(&answer.failed);
    let mut listed: Vec<Listed> = (0..national.len())
        .map(|i| {
            if accepted_unique[i] && !failed_possible[i] {
                Listed::Accepted
            } else if failed_unique[i] && !accepted_possible[i] {
                Listed::Failed
            } else {
                Listed::Unknown
            }
        })
        .collect();
    if answer.accepted_count > 0 && listed.iter().all(|l| *l == Listed::Failed) {
        listed.iter_mut().for_each(|l| *l = Listed::Unknown);
    }
    listed
}

/// What `checkcontent` said about a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentCheck {
    /// The text may be sent.
    Legal,
    /// The text contains a word the provider refuses (`errid=6005`).
    Illegal {
        /// The offending word as the provider named it.
        word: String,
    },
    /// The text looks like premium-rate (SP) content (`errid=6022`).
    SuspectedPremium,
}

impl ContentCheck {
    /// True for [`ContentCheck::Legal`].
    pub fn is_legal(&self) -> bool {
        matches!(self, Self::Legal)
    }
}

/// Reads a `checkcontent` answer.
///
/// # Errors
/// The mapped `errid` for anything but 0, 6005 and 6022; [`ErrorKind::Protocol`] for an unreadable
/// answer.
pub(crate) fn check_content(provider: &str, body: &[u8]) -> Result<ContentCheck, Error> {
    let reader = Reader::new(provider, Operation::CheckContent, body)?;
    match reader.errid()? {
        0 => Ok(ContentCheck::Legal),
        6005 => Ok(ContentCheck::Illegal {
            word: offending_word(reader.get("err").unwrap_or("")),
        }),
        6022 => Ok(ContentCheck::SuspectedPremium),
        _ => Err(reader.error()),
    }
}

/// The word in a 6005 `err`: the text after a colon when there is one (`内容含有非法字符:博彩`),
/// otherwise the whole text.
fn offending_word(err: &str) -> String {
    let word = err.rsplit_once([':', '：']).map_or(err, |(_, word)| word).trim();
    if word.is_empty() { err.trim() } else { word }.to_owned()
}

/// Reads a `getfee` answer: the balance in `id`.
///
/// # Errors
/// The mapped `errid` when it is not 0, a [`ErrorKind::ProviderFault`] for `id=-9999` without one, and
/// [`ErrorKind::Protocol`] for an unreadable answer.
pub(crate) fn balance(provider: &str, body: &[u8]) -> Result<i64, Error> {
    let reader = Reader::new(provider, Operation::Balance, body)?;
    let errid = reader.errid()?;
    if errid != 0 {
        return Err(reader.error());
    }
    let id = reader.integer("id")?;
    if id == -9999 {
        return Err(Error::new(ErrorKind::ProviderFault, Operation::Balance)
            .with_provider(provider)
            .with_code("-9999")
            .with_message(format!(
                "the balance query failed: {}",
                reader.get("err").unwrap_or("")
            )));
    }
    Ok(id)
}

/// Reads a `cpwd` answer.
///
/// # Errors
/// The mapped `errid` when it is not 0; [`ErrorKind::Protocol`] for an unreadable answer.
pub(crate) fn change_password(provider: &str, body: &[u8]) -> Result<(), Error> {
    let reader = Reader::new(provider, Operation::ChangePassword, body)?;
    match reader.errid()? {
        0 => Ok(()),
        _ => Err(reader.error()),
    }
}

/// True for the unsubscribe reply `0000` (surrounding blanks and full-width digits tolerated: a missed
/// opt-out is worse than an extra one).
pub(crate) fn is_unsubscribe(text: &str) -> bool {
    let text = text.trim();
    text.chars().count() == 4 && text.chars().all(|c| c == '0' || c == '０')
}

/// Builds an [`InboundMessage`] from reply fields (`src`, `msg`, optional `dst` and `time`).
pub(crate) fn inbound_message(provider: &str, answer: &Answer) -> Option<InboundMessage> {
    let sender = answer.get("src").filter(|s| !s.is_empty())?.to_owned();
    let text = answer.pairs.iter().find(|(k, _)| k == "msg")?.1.clone();
    Some(InboundMessage {
        provider: provider.to_owned(),
        sender,
        service_number: answer.get("dst").filter(|s| !s.is_empty()).map(str::to_owned),
        opt_out: is_unsubscribe(&text),
        text,
        received_at: answer.get("time").and_then(|t| BeijingTime::parse_any(t).ok()),
        raw: answer.to_map(),
    })
}

/// `err` texts of a `readsms` answer with `id=0` that mean "nothing unread" (after trimming blanks and
/// final punctuation). The answer carries no `errid`, so `err` alone tells an empty
/// inbox from a failure: only an empty text or one of these is an empty inbox, never a guess.
const NOTHING_UNREAD: &[&str] = &[
    "成功",
    "没有新的短信",
    "没有新短信",
    "没有短信",
    "无新短信",
    "无短信",
    "暂无短信",
    "没有新的回复",
    "没有上行短信",
    "无上行短信",
];

/// Whether an `id=0` answer's `err` says the inbox is empty.
fn is_nothing_unread(err: &str) -> bool {
    let err = err.trim().trim_end_matches(['。', '！', '!', '.']);
    err.is_empty() || NOTHING_UNREAD.contains(&err)
}

/// The kind of a `readsms` failure known only by its text (no `errid`): credentials and account
/// state by their words, anything else a provider fault.
fn read_failure_kind(err: &str) -> ErrorKind {
    if ["停用", "冻结", "禁用"].iter().any(|w| err.contains(w)) {
        ErrorKind::AccountSuspended
    } else if ["密码", "用户", "帐号", "账号", "验证失败", "IP"]
        .iter()
        .any(|w| err.contains(w))
    {
        ErrorKind::Unauthorized
    } else {
        ErrorKind::ProviderFault
    }
}

/// Reads a `readsms` answer: one reply, or `None` when nothing is waiting.
///
/// `id=0` means "failure or nothing unread": a non-zero `errid` is that error; otherwise only an
/// empty `err` or a known "nothing unread" text is an empty inbox, and any other text is a failure
/// (a wrong password answers `id=0&err=…` without `errid`).
///
/// # Errors
/// The mapped `errid`, or for a failure told only by its text [`ErrorKind::Unauthorized`],
/// [`ErrorKind::AccountSuspended`] or [`ErrorKind::ProviderFault`] with the text; a negative `id` is a
/// provider fault; [`ErrorKind::Protocol`] for an unreadable answer or a reply without `src` or
/// `msg`.
pub(crate) fn read_sms(provider: &str, body: &[u8]) -> Result<Option<InboundMessage>, Error> {
    let reader = Reader::new(provider, Operation::Inbound, body)?;
    let id = reader.integer("id")?;
    if id > 0 {
        return inbound_message(provider, &reader.answer)
            .map(Some)
            .ok_or_else(|| reader.protocol("a reply without `src` or `msg`"));
    }
    let errid = match reader.get("errid").map(str::trim) {
        None | Some("") => 0,
        Some(_) => reader.errid()?,
    };
    if errid != 0 {
        return Err(reader.error());
    }
    let err = reader.get("err").unwrap_or("");
    if id == 0 && is_nothing_unread(err) {
        return Ok(None);
    }
    let kind = if id < 0 {
        ErrorKind::ProviderFault
    } else {
        read_failure_kind(err)
    };
    Err(Error::new(kind, Operation::Inbound)
        .with_provider(provider)
        .with_code(format!("id={id}"))
        .with_message(err.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable, "test text must be GBK: {text}");
        bytes.into_owned()
    }

    fn numbers(list: &[&str]) -> Vec<PhoneNumber> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    /// One test per row of the errid table: (errid, operation, expected kind).
    macro_rules! errid_rows {
        ($($test:ident: $errid:literal, $operation:expr => $kind:ident;)*) => {$(
            #[test]
            fn $test() {
                let e = error_for("juxiang", $operation, $errid, "说明");
                assert_eq!(e.kind(), ErrorKind::$kind, "errid {}", $errid);
                assert_eq!(e.code(), Some($errid));
                assert_eq!(e.message(), "说明");
                assert_eq!(e.provider(), Some("juxiang"));
                assert_eq!(e.operation(), $operation);
            }
        )*};
    }

    errid_rows! {
        errid_6001_user_invalid: "6001", Operation::Send => Unauthorized;
        errid_6002_account_disabled: "6002", Operation::Send => AccountSuspended;
        errid_6003_wrong_password: "6003", Operation::Balance => Unauthorized;
        errid_6004_protection_list: "6004", Operation::Send => RecipientRejected;
        errid_6005_illegal_characters: "6005", Operation::Send => ContentRejected;
        errid_6006_channel_cannot_bill: "6006", Operation::Send => ProviderFault;
        errid_6007_no_suitable_channel: "6007", Operation::Send => ProviderFault;
        errid_6008_invalid_number: "6008", Operation::Send => InvalidRecipient;
        errid_6009_blacklisted: "6009", Operation::Send => RecipientRejected;
        errid_6010_enterprise_verification: "6010", Operation::Send => Unauthorized;
        errid_6011_number_not_allowed: "6011", Operation::Send => RecipientRejected;
        errid_6012_ip_restricted: "6012", Operation::Inbound => Unauthorized;
        errid_6013_balance_exhausted: "6013", Operation::Send => InsufficientBalance;
        errid_6014_content_empty: "6014", Operation::Send => InvalidRequest;
        errid_6015_content_too_long: "6015", Operation::Send => ContentRejected;
        errid_6015_check_content_too_long: "6015", Operation::CheckContent => InvalidContent;
        errid_6016_password_rule_on_send: "6016", Operation::Send => Configuration;
        errid_6016_password_rule_on_cpwd: "6016", Operation::ChangePassword => InvalidRequest;
        errid_6017_balance_query_failed: "6017", Operation::Balance => ProviderFault;
        errid_6018_sdk_not_enabled: "6018", Operation::Send => Configuration;
        errid_6019_interface_retired: "6019", Operation::Send => Configuration;
        errid_6020_vip_only: "6020", Operation::Send => Configuration;
        errid_6021_extension_not_registered: "6021", Operation::Send => Configuration;
        errid_6022_suspected_sp_content: "6022", Operation::Send => ContentRejected;
        errid_unknown_is_provider_fault: "7777", Operation::Send => ProviderFault;
    }

    #[test]
    fn failover_classes_follow_the_table() {
        let can = |errid| error_for("j", Operation::Send, errid, "").can_failover();
        assert!(can("6013") && can("6009") && can("6005") && can("6003"));
        assert!(!can("6008") && !can("6014"));
        assert!(
            can("6015"),
            "too long for this account: another provider may send it"
        );
    }

    #[test]
    fn answers_are_parsed_by_key_tolerating_order_case_blanks_and_trailing_separators() {
        let a = Answer::parse("\r\n ERRID=0&err=成功&&num=2&success=13900000001,13900000002,&\r\n").unwrap();
        assert_eq!(a.get("errid"), Some("0"));
        assert_eq!(a.get("num"), Some("2"));
        assert_eq!(a.get("success"), Some("13900000001,13900000002,"));
        assert_eq!(a.get("faile"), None);
        // A value containing `&` (a reply text) stays whole; `=` inside a value too.
        let a = Answer::parse("id=3&msg=a & b=c&src=13900000001").unwrap();
        assert_eq!(a.get("msg"), Some("a & b=c"));
        assert_eq!(a.get("src"), Some("13900000001"));
        // Not a key-value list at all.
        assert_eq!(Answer::parse("<html><body>error</body></html>"), None);
        assert_eq!(Answer::parse(""), None);
        assert_eq!(Answer::parse("garbage without pairs"), None);
    }

    #[test]
    fn a_partly_successful_gsend_lists_numbers() {
        let body = gbk("num=2&success=13900000001,13900000002,&faile=13900000003,&err=发送成功&errid=0");
        let answer = gsend("juxiang", &body).unwrap();
        assert_eq!(answer.accepted_count, 2);
        assert_eq!(answer.success, ["13900000001", "13900000002"]);
        assert_eq!(answer.failed, ["13900000003"]);
        assert_eq!(answer.err, "发送成功");
        let listed = match_numbers(
            &numbers(&["13900000001", "13900000002", "13900000003", "13900000004"]),
            &answer,
        );
        assert_eq!(
            listed,
            [
                Listed::Accepted,
                Listed::Accepted,
                Listed::Failed,
                Listed::Unknown
            ]
        );
    }

    #[test]
    fn masked_entries_match_by_visible_digits() {
        let body = gbk("num=2&success=1393710***4,1393710***5&faile=&err=发送成功&errid=0");
        let answer = gsend("juxiang", &body).unwrap();
        let listed = match_numbers(&numbers(&["13937100005", "13937100004"]), &answer);
        assert_eq!(listed, [Listed::Accepted, Listed::Accepted]);
    }

    #[test]
    fn an_ambiguous_mask_is_unknown_never_accepted() {
        let body = gbk("num=1&success=1393710***4&errid=0");
        let answer = gsend("juxiang", &body).unwrap();
        let listed = match_numbers(&numbers(&["13937101234", "13937105674", "13800000000"]), &answer);
        assert_eq!(listed, [Listed::Unknown, Listed::Unknown, Listed::Unknown]);
        // The same masked entry in both lists, fitting two numbers: nothing can be told.
        let body = gbk("num=1&success=139****0004&faile=139****0004&errid=0");
        let answer = gsend("juxiang", &body).unwrap();
        let listed = match_numbers(&numbers(&["13900000004", "13911110004"]), &answer);
        assert_eq!(listed, [Listed::Unknown, Listed::Unknown]);
    }

    #[test]
    fn a_positive_num_without_lists_leaves_every_number_unknown() {
        let answer = gsend("juxiang", b"num=2&errid=0").unwrap();
        let listed = match_numbers(&numbers(&["13900000001", "13900000002"]), &answer);
        assert_eq!(listed, [Listed::Unknown, Listed::Unknown]);
        // Lists that contradict the count are not trusted either.
        let answer = gsend("juxiang", b"num=1&faile=13900000001&errid=0").unwrap();
        let listed = match_numbers(&numbers(&["13900000001"]), &answer);
        assert_eq!(listed, [Listed::Unknown]);
    }

    #[test]
    fn num_zero_is_the_mapped_error_of_the_whole_batch() {
        let body = gbk("num=0&err=无效的手机号码&errid=6008");
        let e = gsend("juxiang", &body).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRecipient);
        assert_eq!(e.code(), Some("6008"));
        assert_eq!(e.message(), "无效的手机号码");
        let e = gsend("juxiang", b"num=0&errid=0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ProviderFault);
    }

    #[test]
    fn a_gsend_answer_needs_num_and_a_refusal_needs_errid() {
        // Keys may be missing: a positive `num` is success without `errid`.
        let answer = gsend("juxiang", b"num=1&success=13900000001&").unwrap();
        assert_eq!(answer.accepted_count, 1);
        let listed = match_numbers(&numbers(&["13900000001"]), &answer);
        assert_eq!(listed, [Listed::Accepted]);
        // A refusal without `errid` is cut off: unreadable, and on a send possibly sent.
        let e = gsend("juxiang", "num=0&err=无效".as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(
            e.is_ambiguous(),
            "an unreadable send answer may hide a sent message"
        );
        let e = gsend("juxiang", b"success=13900000001&errid=0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        let e = gsend("juxiang", b"num=two&errid=0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn a_body_that_is_not_gbk_is_a_protocol_error_not_replaced() {
        // 0x81 0x20 is not a GBK sequence.
        let e = gsend("juxiang", b"num=1&err=\x81\x20&errid=0").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.message().contains("not valid GBK"), "{e}");
        let e = gsend("juxiang", b"\x00\xff\xfe garbage").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn protocol_errors_carry_a_short_printable_excerpt() {
        let mut body = b"<html>".to_vec();
        body.extend(std::iter::repeat_n(b'x', 5000));
        let e = balance("juxiang", &body).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.message().len() < 400, "{}", e.message().len());
        assert!(e.message().contains("<html>"));
    }

    #[test]
    fn check_content_answers() {
        assert_eq!(
            check_content("j", &gbk("errid=0&err=成功")).unwrap(),
            ContentCheck::Legal
        );
        assert_eq!(
            check_content("j", &gbk("errid=6005&err=博彩")).unwrap(),
            ContentCheck::Illegal {
                word: "博彩".to_owned()
            }
        );
        assert_eq!(
            check_content("j", &gbk("errid=6005&err=内容含有非法字符:六合彩")).unwrap(),
            ContentCheck::Illegal {
                word: "六合彩".to_owned()
            }
        );
        assert_eq!(
            check_content("j", &gbk("errid=6022&err=疑似SP内容")).unwrap(),
            ContentCheck::SuspectedPremium
        );
        let e = check_content("j", &gbk("errid=6003&err=密码错误")).unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (ErrorKind::Unauthorized, Operation::CheckContent)
        );
    }

    #[test]
    fn getfee_answers() {
        assert_eq!(
            balance("j", &gbk("id=9586&err=成功&errid=0&short=企业简称")).unwrap(),
            9586
        );
        let e = balance("j", &gbk("id=-9999&err=查询失败&errid=0")).unwrap_err();
        assert_eq!((e.kind(), e.code()), (ErrorKind::ProviderFault, Some("-9999")));
        let e = balance("j", &gbk("id=-9999&err=密码错误&errid=6003")).unwrap_err();
        assert_eq!((e.kind(), e.code()), (ErrorKind::Unauthorized, Some("6003")));
        let e = balance("j", &gbk("err=成功&errid=0")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn cpwd_answers() {
        change_password("j", &gbk("errid=0&err=成功")).unwrap();
        let e = change_password("j", &gbk("errid=6016&err=密码长度必须大于4位")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn readsms_answers() {
        let body = gbk("id=9586&err=成功&src=13939040001&msg=你好吗&dst=10657&time=200505241713");
        let m = read_sms("juxiang", &body).unwrap().unwrap();
        assert_eq!(m.provider, "juxiang");
        assert_eq!(m.sender, "13939040001");
        assert_eq!(m.text, "你好吗");
        assert_eq!(m.service_number.as_deref(), Some("10657"));
        assert_eq!(
            m.received_at,
            Some(BeijingTime::new(2005, 5, 24, 17, 13, 0).unwrap())
        );
        assert!(!m.opt_out);
        assert_eq!(m.raw.get("id").map(String::as_str), Some("9586"));
        // Nothing waiting.
        assert_eq!(
            read_sms("juxiang", &gbk("id=0&err=没有新的短信&errid=0")).unwrap(),
            None
        );
        assert_eq!(read_sms("juxiang", b"id=0").unwrap(), None);
        assert_eq!(read_sms("juxiang", &gbk("id=0&err=没有新的短信")).unwrap(), None);
        assert_eq!(read_sms("juxiang", &gbk("id=0&err= 暂无短信。")).unwrap(), None);
        assert_eq!(read_sms("juxiang", &gbk("id=0&err=")).unwrap(), None);
        // id=0 with an error id is a failure.
        let e = read_sms("juxiang", &gbk("id=0&err=密码错误&errid=6003")).unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (ErrorKind::Unauthorized, Operation::Inbound)
        );
        // The documented fields carry no errid: a failure is told by its text, never read as an
        // empty inbox.
        for (body, kind) in [
            ("id=0&err=密码错误", ErrorKind::Unauthorized),
            ("id=0&err=用户名无效&errid=0", ErrorKind::Unauthorized),
            ("id=0&err=帐号已停用", ErrorKind::AccountSuspended),
            ("id=0&err=系统繁忙", ErrorKind::ProviderFault),
            ("id=-1&err=没有新的短信", ErrorKind::ProviderFault),
        ] {
            let e = read_sms("juxiang", &gbk(body)).unwrap_err();
            assert_eq!((e.kind(), e.operation()), (kind, Operation::Inbound), "{body}");
            assert!(
                e.to_string()
                    .contains(body.split("err=").nth(1).unwrap().split('&').next().unwrap()),
                "{e}"
            );
        }
        // A reply without a sender cannot be used.
        let e = read_sms("juxiang", &gbk("id=5&msg=hi")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        // A masked sender and a malformed time are kept as given / left out.
        let m = read_sms("juxiang", &gbk("id=7&src=1393904****&msg=x&time=soon"))
            .unwrap()
            .unwrap();
        assert_eq!((m.sender.as_str(), m.received_at), ("1393904****", None));
        assert_eq!(m.sender_number(), None);
    }

    #[test]
    fn the_unsubscribe_reply_is_an_opt_out() {
        let m = read_sms("juxiang", &gbk("id=1&src=13900000001&msg=0000&time=202611221713"))
            .unwrap()
            .unwrap();
        assert!(m.opt_out);
        for text in ["0000", " 0000\r\n", "００００"] {
            assert!(is_unsubscribe(text), "{text:?}");
        }
        for text in ["000", "00000", "0001", "退订", ""] {
            assert!(!is_unsubscribe(text), "{text:?}");
        }
    }
}

/// Whatever bytes a server sends, every reader answers with a value or a typed error, never a panic;
/// and a send is never reported as refused-for-sure from an answer that could not be read.
#[cfg(test)]
mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Answers built like real ones (`k=v` pairs with the documented keys and plausible values, GBK)
    /// and then damaged now and then (pairs dropped, junk bytes appended), so that most cases reach
    /// the readers' success paths and the rest their error paths.
    fn answer_like() -> impl Strategy<Value = Vec<u8>> {
        let key = prop_oneof![
            Just("num".to_owned()),
            Just("success".to_owned()),
            Just("faile".to_owned()),
            Just("errid".to_owned()),
            Just("err".to_owned()),
            Just("id".to_owned()),
            Just("src".to_owned()),
            Just("dst".to_owned()),
            Just("msg".to_owned()),
            Just("time".to_owned()),
            "[a-z]{1,6}",
        ];
        let value = prop_oneof![
            "[0-9]{1,3}",
            "-?[0-9]{1,25}",
            Just("0".to_owned()),
            Just("-9999".to_owned()),
            Just("13900000001,139****0002,".to_owned()),
            Just("发送成功".to_owned()),
            Just("0000".to_owned()),
            "[0-9*]{0,13}",
            "20[0-9]{10}",
            ".{0,12}",
        ];
        // A realistic first pair for each page, so that the rest of the body varies around it.
        let head = prop_oneof![
            "num=[1-9]&success=13900000001",
            "num=0&errid=60[0-2][0-9]",
            "id=[1-9][0-9]{0,4}&src=1390000000[0-9]&msg=[a-z0]{1,4}",
            "id=-?[0-9]{1,5}&errid=0",
            "errid=[0-9]{1,4}&err=[a-z]{0,5}",
            Just(String::new()),
        ];
        let pairs = proptest::collection::vec((key, value), 0..6);
        let junk = proptest::collection::vec(any::<u8>(), 0..4);
        (head, pairs, any::<bool>(), junk).prop_map(|(head, pairs, damaged, junk)| {
            let text: Vec<String> = std::iter::once(head)
                .filter(|h| !h.is_empty())
                .chain(pairs.into_iter().map(|(k, v)| format!("{k}={v}")))
                .collect();
            let mut body = encoding_rs::GBK.encode(&text.join("&")).0.into_owned();
            if damaged {
                body.extend_from_slice(&junk);
            }
            body
        })
    }

    proptest! {
        #[test]
        fn readers_answer_every_body(body in answer_like()) {
            let numbers = [PhoneNumber::parse("13900000001").unwrap(), PhoneNumber::parse("13900000002").unwrap()];
            if let Ok(answer) = gsend("juxiang", &body) {
                prop_assert!(answer.accepted_count > 0);
                let listed = match_numbers(&numbers, &answer);
                prop_assert_eq!(listed.len(), numbers.len());
            }
            let _ = check_content("juxiang", &body);
            let _ = balance("juxiang", &body);
            let _ = change_password("juxiang", &body);
            let _ = read_sms("juxiang", &body);
            let _ = crate::push::parse_reply(&body);
        }

        #[test]
        fn unreadable_send_answers_stay_ambiguous(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Err(error) = gsend("juxiang", &body)
                && error.kind() == ErrorKind::Protocol {
                    prop_assert!(error.is_ambiguous() && !error.can_failover());
                }
        }
    }
}
