//! How stored records look in JSON answers.

use serde_json::{Value, json};
use sms_store::{ReceiptRecord, RecipientRecord, StoredMessage};

/// A message with each recipient's status, timeline and error, its attempts and receipts.
pub(crate) fn message(m: &StoredMessage, receipts: &[ReceiptRecord]) -> Value {
    json!({
        "id": m.id,
        "reference": m.reference,
        "kind": m.kind.to_string(),
        "batch_id": m.batch_id,
        "schedule_ms": m.schedule,
        "policy": m.policy,
        "created_ms": m.created_at,
        "recipients": m.recipients.iter().map(recipient).collect::<Vec<_>>(),
        "attempts": m.attempts.iter().map(|a| json!({
            "provider": a.provider,
            "recipients": a.recipients,
            "error": {"kind": a.error_kind, "code": a.error_code, "message": a.error_message},
            "elapsed_ms": a.elapsed_ms,
        })).collect::<Vec<_>>(),
        "receipts": receipts.iter().map(|r| json!({
            "provider": r.provider,
            "provider_message_id": r.provider_message_id,
            "number": r.number,
            "status": r.status.as_str(),
            "code": r.code,
            "description": r.description,
            "reported_ms": r.reported_at,
            "received_ms": r.received_at,
        })).collect::<Vec<_>>(),
    })
}

fn recipient(r: &RecipientRecord) -> Value {
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
