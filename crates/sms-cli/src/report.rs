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
/// fields of its request. Secrets never appear: the request is shown before signing, and a voice
/// code (a short-lived credential) only by its length.
pub fn dry_run_json(backend: &Backend, message: &Message, parts: usize) -> Value {
    let route = backend.route(message.kind());
    let providers = route.providers();
    let first = providers.first();
    let body = match message.body() {
        MessageBody::Text(text) => json!({"kind": "text", "text": text}),
        MessageBody::Template(t) => json!({
            "kind": "template", "template_id": t.id(), "text": t.rendered(),
            "variables": t.variables().iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        }),
        MessageBody::VoiceCode(code) => {
            json!({"kind": "voice_code", "code": "*".repeat(code.as_str().len())})
        }
        MessageBody::Mms(mms) => {
            json!({"kind": "mms", "package_id": mms.package_id, "product_id": mms.product_id})
        }
        _ => json!({"kind": "other"}),
    };
    json!({
        "dry_run": true,
        "provider": first.map(|p| p.name.clone()),
        "vendor": first.map(|p| p.vendor),
        "fallbacks": providers.iter().skip(1).map(|p| p.name.clone()).collect::<Vec<_>>(),
        "to": message.recipients().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "body": body,
        "reference": message.reference().as_str(),
        "scheduled": message.schedule().map(|t| t.to_string()),
        "policy": message.ambiguity_policy().map(|p| format!("{p:?}")),
        "billed_parts": parts,
        "price_per_part": first.and_then(|p| p.price_per_part),
    })
}
