//! Reply pushes: with upstream enabled, Juxiang calls the customer's URL with `src` (the handset),
//! `dst` (the service number) and `msg` (the text), GBK percent-encoded, and expects a body of exactly
//! `0`, or a negative number on failure, and nothing else.
//!
//! Framework-free: hand [`parse_reply`] the form body (or the query string) and answer with
//! [`ACK_OK`] or [`ack_failure`].
//!
//! ```
//! use sms_juxiang::push::{ACK_OK, ack_failure, parse_reply};
//! // `src=13900000001&dst=10657&msg=0000`, as the provider sends it.
//! let body = b"src=13900000001&dst=10657&msg=0000";
//! let answer = match parse_reply(body) {
//!     Ok(push) if push.is_opt_out() => {
//!         // Record the opt-out; never reply to this number.
//!         ACK_OK.to_owned()
//!     }
//!     Ok(push) => {
//!         // Handle push.message …
//!         ACK_OK.to_owned()
//!     }
//!     Err(_) => ack_failure(1),
//! };
//! assert_eq!(answer, "0");
//! ```

use sms_core::raw::http::percent_decode;
use sms_core::{Error, ErrorKind, InboundMessage, Operation};

use crate::config::DEFAULT_NAME;
use crate::response::{Answer, decode_gbk, inbound_message, protocol_error};

/// The body to answer a push that was handled: exactly `0`.
pub const ACK_OK: &str = "0";

/// The body to answer a push that could not be handled: a negative number (`code` made negative; 0
/// becomes `-1`). The provider wants nothing else in the body.
pub fn ack_failure(code: i32) -> String {
    format!("-{}", code.unsigned_abs().max(1))
}

/// A reply pushed by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplyPush {
    /// The reply (provider `"juxiang"`; no time, the provider sends none unless a `time` field is
    /// present). `opt_out` is set for the `0000` unsubscribe.
    pub message: InboundMessage,
}

impl ReplyPush {
    /// True when the reply is the `0000` unsubscribe: record the sender on the opt-out list, send it
    /// nothing more, and do not reply.
    pub fn is_opt_out(&self) -> bool {
        self.message.opt_out
    }
}

/// Parses a pushed reply from its form body or query string (GBK, percent-encoded).
///
/// # Errors
/// [`ErrorKind::Protocol`] (operation [`Operation::ParsePush`]) when a value is not GBK after
/// decoding, or `src` or `msg` is missing.
pub fn parse_reply(body: &[u8]) -> Result<ReplyPush, Error> {
    let body = body.trim_ascii();
    let body = body.strip_prefix(b"?").unwrap_or(body);
    let mut fields = Vec::new();
    for piece in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match piece.iter().position(|&b| b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        let decode = |bytes: &[u8]| decode_gbk(&percent_decode(bytes));
        let (Some(key), Some(value)) = (decode(key), decode(value)) else {
            return Err(protocol_error(
                DEFAULT_NAME,
                Operation::ParsePush,
                "a pushed field is not valid GBK",
                body,
            ));
        };
        fields.push((key.trim().to_ascii_lowercase(), value));
    }
    let message = inbound_message(DEFAULT_NAME, &Answer::from_pairs(fields)).ok_or_else(|| {
        Error::new(ErrorKind::Protocol, Operation::ParsePush)
            .with_provider(DEFAULT_NAME)
            .with_message("the push has no `src` or no `msg`")
    })?;
    Ok(ReplyPush { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gbk_percent_encoded_push_is_parsed() {
        // 你好 in GBK is C4E3 BAC3; `%26` is an `&` inside the text; `+` is a space.
        let push = parse_reply(b"src=13900000001&dst=106571234&msg=%C4%E3%BA%C3+a%26b").unwrap();
        let m = &push.message;
        assert_eq!(m.provider, "juxiang");
        assert_eq!(m.sender, "13900000001");
        assert_eq!(m.service_number.as_deref(), Some("106571234"));
        assert_eq!(m.text, "你好 a&b");
        assert_eq!(m.received_at, None);
        assert!(!push.is_opt_out());
        assert_eq!(m.raw.get("dst").map(String::as_str), Some("106571234"));
        // The same as a query string, keys in any order and case.
        let push = parse_reply(b"?MSG=%C4%E3%BA%C3&SRC=13900000001").unwrap();
        assert_eq!(
            (push.message.sender.as_str(), push.message.text.as_str()),
            ("13900000001", "你好")
        );
        assert_eq!(push.message.service_number, None);
    }

    #[test]
    fn the_0000_push_is_an_opt_out() {
        let push = parse_reply(b"src=13900000001&dst=10657&msg=0000").unwrap();
        assert!(push.is_opt_out());
        assert!(push.message.opt_out);
        assert_eq!(
            push.message.sender_number().unwrap().national_number(),
            "13900000001"
        );
        let push = parse_reply(b"src=13900000001&msg=00001").unwrap();
        assert!(!push.is_opt_out());
    }

    #[test]
    fn malformed_pushes_are_protocol_errors() {
        for body in [&b"dst=10657&msg=hi"[..], b"src=13900000001", b"", b"garbage"] {
            let e = parse_reply(body).unwrap_err();
            assert_eq!(
                (e.kind(), e.operation()),
                (ErrorKind::Protocol, Operation::ParsePush),
                "{body:?}"
            );
        }
        // %81%20 is not GBK: an error, never a replacement character.
        let e = parse_reply(b"src=13900000001&msg=%81%20").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.message().contains("not valid GBK"), "{e}");
    }

    #[test]
    fn acknowledgements_are_exact() {
        assert_eq!(ACK_OK, "0");
        assert_eq!(ack_failure(1), "-1");
        assert_eq!(ack_failure(0), "-1");
        assert_eq!(ack_failure(-7), "-7");
        assert_eq!(ack_failure(42), "-42");
        assert_eq!(ack_failure(i32::MIN), "-2147483648");
    }
}
