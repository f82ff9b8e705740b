//! What ihuyi pushes to the customer's URLs: delivery receipts (回执推送) and handset replies
//! (上行回复推送). Framework-free: pass the raw request body, answer with [`RECEIPT_ACK`].
//!
//! ```
//! use sms_ihuyi::push::{parse_delivery_report, RECEIPT_ACK};
//! let body = b"code=2&msg=DELIVRD&mobilephone=13800138000&smsid=15870246956696820530&report_time=2026-11-22+08%3A30%3A00";
//! let report = parse_delivery_report(body)?;
//! assert!(report.is_delivered());
//! assert_eq!(report.message_id, "15870246956696820530");
//! // Answer HTTP 200 with RECEIPT_ACK. The same receipt may arrive twice: handle it idempotently.
//! assert_eq!(RECEIPT_ACK, "ok");
//! # Ok::<(), sms_core::Error>(())
//! ```
//!
//! The body is a form (`application/x-www-form-urlencoded`, UTF-8); a flat JSON object is accepted
//! too. Field names are matched case-insensitively, and every field is kept in the `raw` map.

use std::collections::BTreeMap;

use sms_core::raw::http::percent_decode;
use sms_core::{BeijingTime, DeliveryReport, DeliveryStatus, Error, ErrorKind, InboundMessage, Operation};

use crate::config::DEFAULT_NAME;
use crate::raw::{EXCERPT_CHARS, SUCCESS, parse_json_object};

/// What a receiver answers (HTTP 200) to a receipt or reply push. What the service expects is
/// unconfirmed; `ok` is the assumption.
pub const RECEIPT_ACK: &str = "ok";

/// Names of the message id in a receipt (`voiceid` for voice codes, in case the voice API uses it).
const MESSAGE_ID: &[&str] = &["smsid", "voiceid"];
/// Names of the recipient in a receipt.
const RECIPIENT: &[&str] = &["mobilephone", "mobile"];
/// Names of the sender in a reply (unconfirmed).
const SENDER: &[&str] = &["mobile", "mobilephone"];
/// Names of the reply text (unconfirmed).
const REPLY_TEXT: &[&str] = &["content", "msg"];
/// Names of the time of a receipt or reply (unconfirmed for replies).
const TIME: &[&str] = &["report_time", "time"];
/// Names of the service number a reply was sent to (unconfirmed).
const SERVICE_NUMBER: &[&str] = &["extno", "dst"];

/// Parses a delivery receipt of the SMS API; the report names provider `ihuyi`.
///
/// # Errors
/// [`ErrorKind::Protocol`] ([`Operation::ParsePush`]) for a body that is not a UTF-8 form or JSON
/// object, or that lacks `smsid`.
pub fn parse_delivery_report(body: &[u8]) -> Result<DeliveryReport, Error> {
    parse_delivery_report_for(DEFAULT_NAME, body)
}

/// Parses a delivery receipt for the provider called `provider` (a renamed client, the voice API).
///
/// `code` 2 means delivered; without a `code`, a `msg` of `DELIVRD` does.
///
/// # Errors
/// As [`parse_delivery_report`].
pub fn parse_delivery_report_for(provider: &str, body: &[u8]) -> Result<DeliveryReport, Error> {
    let raw = parse_fields(provider, body)?;
    let message_id = first(&raw, MESSAGE_ID)
        .ok_or_else(|| malformed(provider, "a receipt without `smsid`", body))?
        .to_owned();
    let code = first(&raw, &["code"]).unwrap_or_default().to_owned();
    let description = first(&raw, &["msg"]).unwrap_or_default().to_owned();
    let delivered = if code.is_empty() {
        description.eq_ignore_ascii_case("DELIVRD")
    } else {
        code == SUCCESS
    };
    Ok(DeliveryReport {
        provider: provider.to_owned(),
        message_id,
        recipient: first(&raw, RECIPIENT).unwrap_or_default().to_owned(),
        status: if delivered {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Undelivered
        },
        code,
        description,
        reported_at: time(&raw),
        raw,
    })
}

/// Parses a handset reply; the message names provider `ihuyi`.
///
/// # Errors
/// As [`parse_reply_for`].
pub fn parse_reply(body: &[u8]) -> Result<InboundMessage, Error> {
    parse_reply_for(DEFAULT_NAME, body)
}

/// Parses a handset reply for the provider called `provider`. The field names are unconfirmed:
/// the sender is `mobile` or `mobilephone`, the text `content` or `msg`, the time `time` or
/// `report_time`, the service number `extno` or `dst`.
///
/// # Errors
/// [`ErrorKind::Protocol`] ([`Operation::ParsePush`]) for a body that is not a UTF-8 form or JSON
/// object, or that lacks a sender or a text field.
pub fn parse_reply_for(provider: &str, body: &[u8]) -> Result<InboundMessage, Error> {
    let raw = parse_fields(provider, body)?;
    let sender = first(&raw, SENDER)
        .ok_or_else(|| malformed(provider, "a reply without `mobile`", body))?
        .to_owned();
    let text = field(&raw, REPLY_TEXT)
        .ok_or_else(|| malformed(provider, "a reply without `content`", body))?
        .to_owned();
    Ok(InboundMessage {
        provider: provider.to_owned(),
        sender,
        service_number: first(&raw, SERVICE_NUMBER).map(str::to_owned),
        text,
        received_at: time(&raw),
        opt_out: false,
        raw,
    })
}

/// The first of `names` present, matched case-insensitively, even when empty.
fn field<'a>(raw: &'a BTreeMap<String, String>, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        raw.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    })
}

/// The first of `names` present with a non-blank value, trimmed.
fn first<'a>(raw: &'a BTreeMap<String, String>, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        field(raw, &[name])
            .map(str::trim)
            .filter(|value| !value.is_empty())
    })
}

fn time(raw: &BTreeMap<String, String>) -> Option<BeijingTime> {
    first(raw, TIME).and_then(|text| BeijingTime::parse_any(text).ok())
}

fn malformed(provider: &str, what: &str, body: &[u8]) -> Error {
    Error::new(ErrorKind::Protocol, Operation::ParsePush)
        .with_provider(provider)
        .with_message(format!(
            "{what}: {:?}",
            sms_core::raw::http::excerpt(body, EXCERPT_CHARS)
        ))
}

/// The fields of a form body (or a flat JSON object).
fn parse_fields(provider: &str, body: &[u8]) -> Result<BTreeMap<String, String>, Error> {
    let text =
        std::str::from_utf8(body).map_err(|_| malformed(provider, "a push that is not UTF-8", body))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim();
    if text.starts_with('{') {
        return parse_json_object(text).map_err(|why| malformed(provider, why, body));
    }
    let mut fields = BTreeMap::new();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |part: &str| {
            String::from_utf8(percent_decode(part.as_bytes()))
                .map_err(|_| malformed(provider, "a push field that is not UTF-8", body))
        };
        fields.insert(decode(name)?, decode(value)?);
    }
    if fields.is_empty() {
        return Err(malformed(provider, "an empty push", body));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documented_receipt() {
        let body = b"code=2&msg=DELIVRD&mobilephone=13800138000&smsid=15870246956696820530&report_time=2026-11-22%2008%3A30%3A05";
        let report = parse_delivery_report(body).unwrap();
        assert_eq!(report.provider, "ihuyi");
        assert_eq!(report.message_id, "15870246956696820530");
        assert_eq!(report.recipient, "13800138000");
        assert!(report.is_delivered());
        assert_eq!(
            (report.code.as_str(), report.description.as_str()),
            ("2", "DELIVRD")
        );
        let at = report.reported_at.unwrap();
        assert_eq!(at.format_dashed(), "2026-11-22 08:30:05");
        assert_eq!(report.raw.len(), 5);
    }

    #[test]
    fn undelivered_and_tolerated_variants() {
        let report = parse_delivery_report(b"code=0&msg=UNDELIV&mobile=13800138000&smsid=1").unwrap();
        assert_eq!(report.status, DeliveryStatus::Undelivered);
        assert_eq!(report.recipient, "13800138000");
        assert_eq!(report.code, "0");
        // JSON body, upper-case names, unreadable time, an unknown extra field.
        let report = parse_delivery_report(
            "\u{feff}{\"CODE\":2,\"SmsId\":16842079209571524017999,\"report_time\":\"soon\",\"x\":\"y\"}"
                .as_bytes(),
        )
        .unwrap();
        assert!(report.is_delivered());
        assert_eq!(report.message_id, "16842079209571524017999");
        assert_eq!(report.reported_at, None);
        assert_eq!(report.raw.get("x").map(String::as_str), Some("y"));
        // No code: the status text decides. A voice receipt names `voiceid`.
        let report = parse_delivery_report_for("ihuyi-voice", b"msg=DELIVRD&voiceid=197362477").unwrap();
        assert!(report.is_delivered());
        assert_eq!(
            (report.provider.as_str(), report.message_id.as_str()),
            ("ihuyi-voice", "197362477")
        );
    }

    #[test]
    fn receipts_without_an_id_or_unreadable_are_protocol_errors() {
        for body in [
            &b""[..],
            b"code=2&msg=DELIVRD",
            b"smsid=",
            b"smsid=%FF%FE",
            b"\xff\xfe",
            b"{\"smsid\":",
        ] {
            let error = parse_delivery_report(body).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Protocol, "{body:?}");
            assert_eq!(error.operation(), Operation::ParsePush);
            assert_eq!(error.provider(), Some("ihuyi"));
        }
    }

    #[test]
    fn special_characters_are_decoded() {
        let body = b"smsid=1&msg=a%26b%3Dc%2Bd+e%25f&code=2";
        assert_eq!(parse_delivery_report(body).unwrap().description, "a&b=c+d e%f");
        assert_eq!(percent_decode(b"100%+%zz%4"), b"100% %zz%4");
    }

    #[test]
    fn replies_with_either_field_name() {
        let reply = parse_reply(
            "mobile=13800138000&content=%E5%A5%BD%E7%9A%84+TD&time=2026-11-22+09%3A00%3A00".as_bytes(),
        )
        .unwrap();
        assert_eq!(reply.provider, "ihuyi");
        assert_eq!(reply.sender, "13800138000");
        assert_eq!(reply.text, "好的 TD");
        assert_eq!(reply.received_at.unwrap().format_dashed(), "2026-11-22 09:00:00");
        assert!(reply.sender_number().is_some());
        assert!(!reply.opt_out);

        let reply =
            parse_reply(b"mobilephone=13900139000&msg=yes&report_time=1700000000&extno=01&other=1").unwrap();
        assert_eq!(
            (reply.sender.as_str(), reply.text.as_str()),
            ("13900139000", "yes")
        );
        assert_eq!(reply.received_at.map(|t| t.unix_seconds()), Some(1_700_000_000));
        assert_eq!(reply.service_number.as_deref(), Some("01"));
        assert_eq!(reply.raw.get("other").map(String::as_str), Some("1"));

        let empty_text = parse_reply(b"mobile=13800138000&content=").unwrap();
        assert_eq!(empty_text.text, "");
    }

    #[test]
    fn replies_without_sender_or_text_are_protocol_errors() {
        for body in [&b"content=hi"[..], b"mobile=13800138000", b"", b"\xc3"] {
            let error = parse_reply(body).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Protocol, "{body:?}");
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
                let _ = parse_delivery_report(&body);
                let _ = parse_reply(&body);
            }

            #[test]
            fn form_encoded_values_round_trip(id in "[0-9]{1,24}", text in "\\PC{0,40}") {
                let mut body = format!("smsid={id}&code=2&msg=");
                sms_core::raw::http::percent_encode_into(&mut body, text.as_bytes());
                let report = parse_delivery_report(body.as_bytes()).unwrap();
                prop_assert_eq!(report.message_id, id);
                prop_assert_eq!(report.description, text.trim());
            }
        }
    }
}
