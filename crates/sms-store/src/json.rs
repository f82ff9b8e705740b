//! How stored messages look in JSON: one shape for the gateway's API (`GET /v1/messages/{id}`, the
//! answer to a send) and the CLI's `sms status --json`. Times are Unix milliseconds (`*_ms`).

use serde_json::{Value, json};

use crate::model::{AttemptRecord, ReceiptRecord, RecipientRecord, StoredMessage};

/// A message with each recipient's status, timeline and error, its failed attempts and the
/// `receipts` filed for it. The content is left out (the API never echoes it).
pub fn message_json(m: &StoredMessage, receipts: &[ReceiptRecord]) -> Value {
    json!({
        "id": m.id,
        "reference": m.reference,
        "kind": m.kind.to_string(),
        "batch_id": m.batch_id,
        "schedule_ms": m.schedule,
        "policy": m.policy,
        "created_ms": m.created_at,
        "recipients": m.recipients.iter().map(recipient_json).collect::<Vec<_>>(),
        "attempts": m.attempts.iter().map(attempt_json).collect::<Vec<_>>(),
        "receipts": receipts.iter().map(receipt_json).collect::<Vec<_>>(),
    })
}

/// One recipient: its status, provider, error (`null` when none) and the time of each transition.
pub fn recipient_json(r: &RecipientRecord) -> Value {
    let error = r
        .error_kind
        .as_ref()
        .map(|kind| json!({"kind": kind, "code": r.error_code, "message": r.error_message}));
    json!({
        "number": r.number,
        "status": r.status.as_str(),
        "provider": r.provider,
        "provider_message_id": r.provider_message_id,
        "billed_parts": r.billed_parts,
        "error": error,
        "receipt_code": r.receipt_code,
        "timeline": {
            "created_ms": r.created_at,
            "queued_ms": r.queued_at,
            "sending_ms": r.sending_at,
            "outcome_ms": r.outcome_at,
            "final_ms": r.final_at,
        },
    })
}

fn attempt_json(a: &AttemptRecord) -> Value {
    json!({
        "provider": a.provider,
        "recipients": a.recipients,
        "error": {"kind": a.error_kind, "code": a.error_code, "message": a.error_message},
        "elapsed_ms": a.elapsed_ms,
    })
}

fn receipt_json(r: &ReceiptRecord) -> Value {
    json!({
        "provider": r.provider,
        "provider_message_id": r.provider_message_id,
        "number": r.number,
        "status": r.status.as_str(),
        "code": r.code,
        "description": r.description,
        "reported_ms": r.reported_at,
        "received_ms": r.received_at,
    })
}

#[cfg(test)]
mod tests {
    use sms_core::MessageKind;

    use super::*;
    use crate::{ReceiptDisposition, Status};

    fn recipient(number: &str, status: Status) -> RecipientRecord {
        RecipientRecord {
            message_id: "msg_1".into(),
            number: number.into(),
            status,
            provider: Some("juxiang".into()),
            provider_message_id: Some("42".into()),
            billed_parts: Some(2),
            error_kind: None,
            error_code: None,
            error_message: None,
            receipt_code: Some("DELIVRD".into()),
            created_at: 1_000,
            queued_at: None,
            sending_at: Some(1_001),
            outcome_at: Some(1_002),
            final_at: Some(1_003),
        }
    }

    /// The whole shape, pinned: the API's OpenAPI document and its clients read these names.
    #[test]
    fn a_message_has_the_api_shape() {
        let mut failed = recipient("+8613900139000", Status::Failed);
        failed.provider_message_id = None;
        failed.billed_parts = None;
        failed.receipt_code = None;
        failed.final_at = None;
        failed.error_kind = Some("rejected".into());
        failed.error_code = Some("4030".into());
        failed.error_message = Some("blacklisted".into());
        let message = StoredMessage {
            id: "msg_1".into(),
            reference: "order-1".into(),
            batch_id: None,
            kind: MessageKind::Text,
            content: Some("not shown".into()),
            content_digest: "d".repeat(64),
            schedule: Some(5_000),
            policy: Some("at_most_once".into()),
            created_at: 999,
            recipients: vec![recipient("+8613800138000", Status::Delivered), failed],
            attempts: vec![AttemptRecord {
                provider: "ihuyi".into(),
                recipients: 2,
                error_kind: "unavailable".into(),
                error_code: None,
                error_message: Some("HTTP 503".into()),
                elapsed_ms: 12,
            }],
        };
        let receipt = ReceiptRecord {
            id: 7,
            provider: "juxiang".into(),
            provider_message_id: "42".into(),
            number: "+8613800138000".into(),
            status: Status::Delivered,
            code: "DELIVRD".into(),
            description: "delivered".into(),
            reported_at: None,
            received_at: 1_003,
            message_id: Some("msg_1".into()),
            disposition: ReceiptDisposition::Applied,
        };
        let timeline = |outcome: i64, last: Option<i64>| json!({"created_ms": 1_000, "queued_ms": null, "sending_ms": 1_001, "outcome_ms": outcome, "final_ms": last});
        assert_eq!(
            message_json(&message, &[receipt]),
            json!({
                "id": "msg_1",
                "reference": "order-1",
                "kind": "text",
                "batch_id": null,
                "schedule_ms": 5_000,
                "policy": "at_most_once",
                "created_ms": 999,
                "recipients": [
                    {"number": "+8613800138000", "status": "delivered", "provider": "juxiang",
                     "provider_message_id": "42", "billed_parts": 2, "error": null,
                     "receipt_code": "DELIVRD", "timeline": timeline(1_002, Some(1_003))},
                    {"number": "+8613900139000", "status": "failed", "provider": "juxiang",
                     "provider_message_id": null, "billed_parts": null,
                     "error": {"kind": "rejected", "code": "4030", "message": "blacklisted"},
                     "receipt_code": null, "timeline": timeline(1_002, None)},
                ],
                "attempts": [{"provider": "ihuyi", "recipients": 2,
                              "error": {"kind": "unavailable", "code": null, "message": "HTTP 503"},
                              "elapsed_ms": 12}],
                "receipts": [{"provider": "juxiang", "provider_message_id": "42",
                              "number": "+8613800138000", "status": "delivered", "code": "DELIVRD",
                              "description": "delivered", "reported_ms": null, "received_ms": 1_003}],
            })
        );
    }
}
