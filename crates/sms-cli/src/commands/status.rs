//! `sms status` and `sms history`: what the message store recorded (needs `[store]`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sms::BeijingTime;
use sms::store::{MessageStore, Millis, ReceiptRecord, RecipientRecord, StoredMessage};

use crate::backend::Backend;
use crate::cli::{HistoryArgs, StatusArgs};
use crate::compose;
use crate::exit::{Exit, Failure, Outcome};

/// The store, or exit 5 saying how to configure one.
fn store(backend: &Backend) -> Outcome<&Arc<dyn MessageStore>> {
    backend.store.as_ref().ok_or_else(|| {
        Failure::new(
            Exit::Config,
            "no message store is configured: add a [store] section to the config (e.g. `[store]` with \
             `path = \"sms.db\"`), and `sms send` / `sms bulk` record into it",
        )
    })
}

fn store_failure(error: sms::store::StoreError) -> Failure {
    Failure::error(format!("the message store: {error}"))
}

/// A store time (Unix milliseconds) as Beijing time, to the millisecond.
fn time_text(ms: Millis) -> String {
    let t = BeijingTime::from_unix_seconds(ms.div_euclid(1000));
    format!("{}.{:03} +08:00", t.format_dashed(), ms.rem_euclid(1000))
}

/// Prints one message: status per recipient with its timeline, the failed attempts and the
/// receipts.
///
/// # Errors
/// No store (exit 5); the message is not recorded (exit 1); a store error (exit 1).
pub async fn status(backend: &Backend, args: &StatusArgs, json: bool) -> Outcome {
    let store = store(backend)?;
    let messages = match (&args.id, &args.reference) {
        (_, Some(reference)) => store
            .message_by_reference(reference)
            .await
            .map_err(store_failure)?
            .into_iter()
            .collect(),
        (Some(id), None) => find_by_id(backend, store, id).await?,
        (None, None) => return Err(Failure::usage("give a message id or --reference")),
    };
    if messages.is_empty() {
        let what = match (&args.id, &args.reference) {
            (_, Some(r)) => format!("reference {r:?}"),
            (Some(id), _) => format!("id {id:?}"),
            _ => String::new(),
        };
        return Err(Failure::error(format!(
            "no message with {what} is recorded in the store"
        )));
    }
    let mut docs = Vec::new();
    for message in &messages {
        let receipts = store.receipts_for(&message.id).await.map_err(store_failure)?;
        if json {
            docs.push(message_json(message, &receipts));
        } else {
            print_message(message, &receipts);
        }
    }
    if json {
        // One document: the message, or a list when a provider id matched several.
        let doc = if docs.len() == 1 {
            docs.remove(0)
        } else {
            Value::Array(docs)
        };
        println!("{doc}");
    }
    Ok(Exit::Ok)
}

/// By the store's id, else by the client reference, else by any configured provider's message id.
async fn find_by_id(
    backend: &Backend,
    store: &Arc<dyn MessageStore>,
    id: &str,
) -> Outcome<Vec<StoredMessage>> {
    if let Some(message) = store.message(id).await.map_err(store_failure)? {
        return Ok(vec![message]);
    }
    if let Some(message) = store.message_by_reference(id).await.map_err(store_failure)? {
        return Ok(vec![message]);
    }
    let mut ids: Vec<String> = Vec::new();
    for provider in &backend.providers {
        for r in store
            .by_provider_id(&provider.name, id)
            .await
            .map_err(store_failure)?
        {
            if !ids.contains(&r.message_id) {
                ids.push(r.message_id);
            }
        }
    }
    let mut messages = Vec::new();
    for id in ids {
        if let Some(message) = store.message(&id).await.map_err(store_failure)? {
            messages.push(message);
        }
    }
    Ok(messages)
}

/// A message as the gateway's API shows it ([`sms::store::message_json`]), with its content (the
/// API leaves it out; here the operator reads their own store).
fn message_json(m: &StoredMessage, receipts: &[ReceiptRecord]) -> Value {
    let mut doc = sms::store::message_json(m, receipts);
    doc["content"] = json!(m.content);
    doc
}

/// A recipient as the gateway's API shows it ([`sms::store::recipient_json`]), with its message's
/// id (a history lists recipients of several messages).
fn recipient_json(r: &RecipientRecord) -> Value {
    let mut doc = sms::store::recipient_json(r);
    doc["message_id"] = json!(r.message_id);
    doc
}

/// `created → sending → accepted → delivered`, each with its time.
fn timeline(r: &RecipientRecord) -> String {
    let mut steps = vec![format!("recorded {}", time_text(r.created_at))];
    if let Some(t) = r.queued_at {
        steps.push(format!("queued {}", time_text(t)));
    }
    if let Some(t) = r.sending_at {
        steps.push(format!("sending {}", time_text(t)));
    }
    let outcome = if r.final_at.is_some() {
        "outcome"
    } else {
        r.status.as_str()
    };
    if let Some(t) = r.outcome_at {
        steps.push(format!("{outcome} {}", time_text(t)));
    }
    if let Some(t) = r.final_at {
        steps.push(format!("{} {}", r.status.as_str(), time_text(t)));
    }
    steps.join(" → ")
}

fn print_message(m: &StoredMessage, receipts: &[ReceiptRecord]) {
    println!(
        "message {} (reference {}), {:?}, recorded {}",
        m.id,
        m.reference,
        m.kind,
        time_text(m.created_at)
    );
    if let Some(content) = &m.content {
        println!("  content: {content}");
    }
    for r in &m.recipients {
        let via = r.provider.as_deref().unwrap_or("-");
        let id = r.provider_message_id.as_deref().unwrap_or("-");
        let parts = r
            .billed_parts
            .map(|p| format!(", {p} part(s)"))
            .unwrap_or_default();
        println!("  {} {}: via {via} (id {id}){parts}", r.status.as_str(), r.number);
        if let Some(kind) = &r.error_kind {
            let code = r
                .error_code
                .as_deref()
                .map(|c| format!(" code {c}"))
                .unwrap_or_default();
            println!(
                "    error {kind}{code}: {}",
                r.error_message.as_deref().unwrap_or("")
            );
        }
        println!("    {}", timeline(r));
    }
    for (i, a) in m.attempts.iter().enumerate() {
        let code = a
            .error_code
            .as_deref()
            .map(|c| format!(" code {c}"))
            .unwrap_or_default();
        println!(
            "  attempt {}: {} ({} recipient(s)) failed after {} ms: {}{code}: {}",
            i + 1,
            a.provider,
            a.recipients,
            a.elapsed_ms,
            a.error_kind,
            a.error_message.as_deref().unwrap_or("")
        );
    }
    for r in receipts {
        println!(
            "  receipt from {} for {}: {} ({} {}), received {}",
            r.provider,
            r.number,
            r.status.as_str(),
            r.code,
            r.description,
            time_text(r.received_at)
        );
    }
}

/// Parses `--since`: an age (`90m`, `2h`, `7d`, `30s`) or a Beijing time as `--at` takes it.
fn since_ms(text: &str, now: SystemTime) -> Result<Millis, Failure> {
    let text = text.trim();
    let age = text
        .char_indices()
        .last()
        .and_then(|(i, unit)| {
            let seconds = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return None,
            };
            let count: u64 = text[..i].parse().ok()?;
            count.checked_mul(seconds)
        })
        .map(Duration::from_secs);
    let at = match age {
        Some(age) => now.checked_sub(age).unwrap_or(UNIX_EPOCH),
        None => BeijingTime::parse_any(text)
            .map_err(|e| {
                Failure::usage(format!(
                    "--since {text:?}: neither an age (90m, 2h, 7d) nor a time ({e})"
                ))
            })?
            .to_system_time(),
    };
    Ok(at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis))
}

/// Prints what was sent to a number, newest first.
///
/// # Errors
/// No store (exit 5); a bad number or `--since` (exit 2); a store error (exit 1).
pub async fn history(backend: &Backend, args: &HistoryArgs, json: bool) -> Outcome {
    let store = store(backend)?;
    let number = compose::number(&args.to)?;
    let now = SystemTime::now();
    let from = match &args.since {
        Some(text) => since_ms(text, now)?,
        None => 0,
    };
    let to = now
        .duration_since(UNIX_EPOCH)
        .map_or(Millis::MAX, |d| d.as_millis() as Millis + 1);
    let records = store
        .history(&number, from, to, args.limit)
        .await
        .map_err(store_failure)?;
    if json {
        let doc = json!({
            "number": number.e164(),
            "messages": records.iter().map(recipient_json).collect::<Vec<_>>(),
        });
        println!("{doc}");
    } else if records.is_empty() {
        println!("nothing recorded for {}", number.e164());
    } else {
        for r in &records {
            let via = r.provider.as_deref().unwrap_or("-");
            println!(
                "{}  {}  message {} via {via} (id {})",
                time_text(r.created_at),
                r.status.as_str(),
                r.message_id,
                r.provider_message_id.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_ages_and_beijing_times() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(since_ms("90m", now).unwrap(), (1_000_000 - 5400) * 1000);
        assert_eq!(since_ms("2d", now).unwrap(), (1_000_000 - 172_800) * 1000);
        // 1970-01-02 08:00:00 Beijing is 1970-01-02 00:00:00 UTC.
        assert_eq!(since_ms("1970-01-02 08:00:00", now).unwrap(), 86_400_000);
        let error = since_ms("yesterday", now).unwrap_err();
        assert_eq!(error.exit, Exit::Usage);
        assert!(
            error.message.contains("--since \"yesterday\""),
            "{}",
            error.message
        );
    }

    #[test]
    fn store_times_print_in_beijing_time_to_the_millisecond() {
        assert_eq!(time_text(86_400_123), "1970-01-02 08:00:00.123 +08:00");
    }
}
