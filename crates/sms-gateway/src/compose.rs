//! `POST /v1/messages` bodies: their shape, and the message each one is.

use std::collections::BTreeMap;

use serde::Deserialize;
use sms_core::{AmbiguityPolicy, BeijingTime, Message, MmsContent, PhoneNumber, TemplateText};

use crate::error::{ApiError, ErrorCode};

/// The most recipients one request may name.
pub const MAX_RECIPIENTS: usize = 1000;

/// Client references starting with this are refused: the gateway keeps its `Idempotency-Key`
/// records under it, beside the chain's reference records.
pub(crate) const KEY_PREFIX: &str = "gw-key:";
/// Client references starting with this are refused too: a send that names its reference and no
/// `Idempotency-Key` is kept under this prefix and its reference (the reference is its key).
pub(crate) const REFERENCE_KEY_PREFIX: &str = "gw-ref:";

/// One number or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A template body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TemplateBody {
    id: String,
    /// The approved text with `{name}` placeholders.
    text: String,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

/// An MMS body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MmsBody {
    package_id: String,
    product_id: String,
}

/// The request: recipients, exactly one body, and options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendRequest {
    to: OneOrMany,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    template: Option<TemplateBody>,
    #[serde(default)]
    voice_code: Option<String>,
    #[serde(default)]
    mms: Option<MmsBody>,
    #[serde(default)]
    reference: Option<String>,
    /// Beijing time, `2026-01-31 09:30:00`.
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    policy: Option<PolicyName>,
    /// Answer 202 at once and let the outbox send it.
    #[serde(default)]
    queue: bool,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PolicyName {
    AtMostOnce,
    AtLeastOnce,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

impl SendRequest {
    /// True when the client asked for the outbox (`"queue": true`).
    pub(crate) fn queued(&self) -> bool {
        self.queue
    }

    /// The message this request asks for.
    ///
    /// # Errors
    /// `invalid_request` naming the first problem: no or too many recipients, an invalid number,
    /// no body or more than one, an invalid voice code, schedule or reference.
    pub(crate) fn into_message(self) -> Result<Message, ApiError> {
        let to = match self.to {
            OneOrMany::One(n) => vec![n],
            OneOrMany::Many(list) => list,
        };
        if to.is_empty() {
            return Err(invalid("`to` names no recipient"));
        }
        if to.len() > MAX_RECIPIENTS {
            return Err(invalid(format!(
                "`to` names more than {MAX_RECIPIENTS} recipients"
            )));
        }
        let mut numbers: Vec<PhoneNumber> = Vec::with_capacity(to.len());
        for (i, n) in to.iter().enumerate() {
            let number = n
                .trim()
                .parse::<PhoneNumber>()
                .map_err(|e| invalid(format!("`to[{i}]` is not a valid number: {e}")))?;
            if !numbers.contains(&number) {
                numbers.push(number);
            }
        }
        let bodies = usize::from(self.text.is_some())
            + usize::from(self.template.is_some())
            + usize::from(self.voice_code.is_some())
            + usize::from(self.mms.is_some());
        if bodies != 1 {
            return Err(invalid(
                "give exactly one of `text`, `template`, `voice_code`, `mms`",
            ));
        }
        let mut message = if let Some(text) = self.text {
            if text.trim().is_empty() {
                return Err(invalid("`text` is empty"));
            }
            Message::text(numbers, text)
        } else if let Some(t) = self.template {
            if t.id.trim().is_empty() {
                return Err(invalid("`template.id` is empty"));
            }
            let mut rendered = t.text.clone();
            for (name, value) in &t.variables {
                rendered = rendered.replace(&format!("{{{name}}}"), value);
            }
            let mut template = TemplateText::new(t.id, rendered);
            for (name, value) in t.variables {
                template = template.variable(name, value);
            }
            Message::template(numbers, template)
        } else if let Some(code) = self.voice_code {
            Message::voice_code(numbers, code)
                .map_err(|e| invalid(format!("`voice_code`: {}", e.message())))?
        } else if let Some(mms) = self.mms {
            if mms.package_id.trim().is_empty() || mms.product_id.trim().is_empty() {
                return Err(invalid("`mms.package_id` and `mms.product_id` must not be empty"));
            }
            Message::mms(numbers, MmsContent::new(mms.package_id, mms.product_id))
        } else {
            unreachable!("exactly one body was checked above")
        };
        if let Some(reference) = self.reference {
            let reference = reference.trim();
            if reference.is_empty() || reference.len() > 128 || reference.chars().any(char::is_control) {
                return Err(invalid(
                    "`reference` must be 1 to 128 characters, no control characters",
                ));
            }
            for prefix in [KEY_PREFIX, REFERENCE_KEY_PREFIX] {
                if reference.starts_with(prefix) {
                    return Err(invalid(format!("`reference` must not start with {prefix:?}")));
                }
            }
            message = message.with_reference(reference);
        }
        if let Some(at) = self.schedule {
            let time = BeijingTime::parse_dashed(at.trim())
                .map_err(|e| invalid(format!("`schedule` (Beijing time, `2026-01-31 09:30:00`): {e}")))?;
            message = message.scheduled_at(time);
        }
        if let Some(policy) = self.policy {
            message = message.with_ambiguity_policy(match policy {
                PolicyName::AtMostOnce => AmbiguityPolicy::AtMostOnce,
                PolicyName::AtLeastOnce => AmbiguityPolicy::AtLeastOnce,
            });
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<Message, ErrorCode> {
        serde_json::from_value::<SendRequest>(json)
            .map_err(|_| ErrorCode::InvalidJson)?
            .into_message()
            .map_err(|e| e.code())
    }

    #[test]
    fn each_kind_and_option_becomes_its_message() {
        let m = parse(
            serde_json::json!({"to": "13800138000", "text": "hi", "reference": "r1",
            "policy": "at_least_once", "schedule": "2030-01-31 09:30:00"}),
        )
        .unwrap();
        assert_eq!(m.kind(), sms_core::MessageKind::Text);
        assert_eq!(m.reference().as_str(), "r1");
        assert_eq!(m.ambiguity_policy(), Some(AmbiguityPolicy::AtLeastOnce));
        assert!(m.schedule().is_some());
        let m = parse(
            serde_json::json!({"to": ["13800138000", "13800138001", "13800138000"],
            "template": {"id": "7", "text": "code {code}", "variables": {"code": "1234"}}}),
        )
        .unwrap();
        assert_eq!(m.recipients().len(), 2, "duplicates collapse");
        assert_eq!(m.kind(), sms_core::MessageKind::Template);
        assert_eq!(
            parse(serde_json::json!({"to": "13800138000", "voice_code": "1234"}))
                .unwrap()
                .kind(),
            sms_core::MessageKind::VoiceCode
        );
        assert_eq!(
            parse(serde_json::json!({"to": "13800138000", "mms": {"package_id": "1", "product_id": "2"}}))
                .unwrap()
                .kind(),
            sms_core::MessageKind::Mms
        );
    }

    #[test]
    fn bad_requests_are_refused_by_name() {
        use serde_json::json;
        let bad = [
            json!({"to": [], "text": "x"}),
            json!({"to": "12", "text": "x"}),
            json!({"to": "13800138000"}),
            json!({"to": "13800138000", "text": "x", "voice_code": "1234"}),
            json!({"to": "13800138000", "text": "  "}),
            json!({"to": "13800138000", "voice_code": "12ab"}),
            json!({"to": "13800138000", "text": "x", "schedule": "tomorrow"}),
            json!({"to": "13800138000", "text": "x", "reference": "gw-key:1"}),
            json!({"to": "13800138000", "text": "x", "reference": "gw-ref:1"}),
            json!({"to": "13800138000", "text": "x", "reference": ""}),
        ];
        for body in bad {
            assert_eq!(
                parse(body.clone()).unwrap_err(),
                ErrorCode::InvalidRequest,
                "{body}"
            );
        }
        let many: Vec<String> = (0..=MAX_RECIPIENTS).map(|i| format!("138{i:08}")).collect();
        assert_eq!(
            parse(json!({"to": many, "text": "x"})).unwrap_err(),
            ErrorCode::InvalidRequest
        );
        for body in [
            json!({"to": 13800138000_u64, "text": "x"}),
            json!({"to": "13800138000", "text": 5}),
            json!({"to": "13800138000", "text": "x", "unknown": 1}),
            json!({"to": "13800138000", "text": "x", "policy": "twice"}),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err(), ErrorCode::InvalidJson, "{body}");
        }
    }
}
