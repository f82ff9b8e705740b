//! How outcomes, attempts and errors look on screen and in JSON.

use serde_json::{Value, json};
use sms::{Attempt, Error, Message, MessageBody, Receipt, RecipientOutcome, RecipientStatus};

use crate::backend::Backend;

/// `accepted`, `failed` or `unknown`.
pub fn status_name(status: &RecipientStatus) -> &'static str {
    match status {
        RecipientStatus::Accepted => "accepted",
        RecipientStatus::Failed(_) => "failed",
        RecipientStatus::Unknown => "unknown",
        _ => "unknown",
    }
}

/// One recipient's outcome as JSON.
pub fn outcome_json(outcome: &RecipientOutcome) -> Value {
    let error = outcome.error();
    json!({
        "recipient": outcome.recipient.to_string(),
        "provider": outcome.provider,
        "status": status_name(&outcome.status),
        "message_id": outcome.message_id,
        "error_kind": error.map(|e| e.kind().as_str()),
        "error_code": error.and_then(Error::code),
        "error": error.map(|e| e.to_string()),
    })
}

/// One failed attempt as JSON.
pub fn attempt_json(attempt: &Attempt) -> Value {
    json!({
        "provider": attempt.provider,
        "recipients": attempt.recipients,
        "error_kind": attempt.error.kind().as_str(),
        "error_code": attempt.error.code(),
        "error": attempt.error.to_string(),
        "elapsed_ms": attempt.elapsed.as_millis() as u64,
    })
}

/// A receipt as JSON.
pub fn receipt_json(receipt: &Receipt) -> Value {
    json!({
        "reference": receipt.reference.as_str(),
        "billed_parts": receipt.billed_parts,
        "outcomes": receipt.outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
        "attempts": receipt.attempts.iter().map(attempt_json).collect::<Vec<_>>(),
    })
}

/// The lines explaining failed attempts, one each.
pub fn attempt_lines(attempts: &[Attempt]) -> Vec<String> {
    attempts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let code = a.error.code().map(|c| format!(" (code {c})")).unwrap_or_default();
            format!(
                "  attempt {} on {} failed after {:.1?}: {}{code}",
                i + 1,
                a.provider,
                a.elapsed,
                a.error
            )
        })
        .collect()
}

/// What a message would send, for `--dry-run`: the provider that would take it first and the
/// fields of its request. Secrets never appear: the request is shown before signing.
pub fn dry_run_json(backend: &Backend, message: &Message, parts: usize) -> Value {
    let vendors: &[&str] = match message.body() {
        MessageBody::VoiceCode(_) => &["ihuyi-voice"],
        MessageBody::Mms(_) => &["mms-10658"],
        _ => &["ihuyi", "juxiang"],
    };
    let provider = backend.providers.iter().find(|p| vendors.contains(&p.vendor.as_str()));
    let body = match message.body() {
        MessageBody::Text(text) => json!({"kind": "text", "text": text}),
        MessageBody::Template(t) => json!({
            "kind": "template", "template_id": t.id(), "text": t.rendered(),
            "variables": t.variables().iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        }),
        // A voice code is a short-lived credential: show only its length.
        MessageBody::VoiceCode(code) => json!({"kind": "voice_code", "code": "*".repeat(code.as_str().len())}),
        MessageBody::Mms(mms) => json!({"kind": "mms", "package_id": mms.package_id, "product_id": mms.product_id}),
        _ => json!({"kind": "other"}),
    };
    json!({
        "dry_run": true,
        "provider": provider.map(|p| p.name.clone()),
        "endpoint": provider.map(|p| p.endpoint.clone()),
        "account": provider.map(|p| p.account.clone()),
        "secret": "****",
        "to": message.recipients().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "body": body,
        "reference": message.reference().as_str(),
        "scheduled": message.schedule().map(|t| t.to_string()),
        "billed_parts": parts,
    })
}
