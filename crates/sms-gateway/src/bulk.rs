//! `POST /v1/batches` bodies: many recipients of one message, or many rows (each a
//! `POST /v1/messages` body), turned into the messages to queue.

use serde_json::Value;
use sms_core::Message;

use crate::compose::{MAX_RECIPIENTS, SendRequest};
use crate::error::{ApiError, ErrorCode};

/// The most rows one batch may hold.
pub const MAX_BATCH_ROWS: usize = 10_000;
/// The most recipients one batch may name (in either form).
pub const MAX_BATCH_RECIPIENTS: usize = 100_000;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

fn at(place: &str, error: ApiError) -> ApiError {
    ApiError::new(error.code(), format!("{place}: {}", error.message()))
}

fn message_of(place: &str, row: Value) -> Result<Message, ApiError> {
    let request: SendRequest = serde_json::from_value(row).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("{place} is not a send request: {e}"),
        )
    })?;
    request.into_message().map_err(|e| at(place, e))
}

/// The messages of a batch body (a JSON object).
///
/// - `{"rows": [ {send request}, … ]}`: one message per row (`queue` is ignored: a batch is queued).
/// - A send request whose `to` may name up to [`MAX_BATCH_RECIPIENTS`] numbers: one message per
///   [`MAX_RECIPIENTS`] of them; a `reference` then gets `-1`, `-2`, … when there is more than one.
///
/// # Errors
/// `invalid_json` for a shape that is not one of these, `invalid_request` naming the row or the
/// problem (too many rows or recipients, an invalid number, …).
pub(crate) fn messages_of(body: Value) -> Result<Vec<Message>, ApiError> {
    let Value::Object(mut object) = body else {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the body must be a JSON object",
        ));
    };
    if let Some(rows) = object.remove("rows") {
        if !object.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidJson,
                "with `rows`, give nothing else: each row is a whole send request",
            ));
        }
        let Value::Array(rows) = rows else {
            return Err(ApiError::new(ErrorCode::InvalidJson, "`rows` must be an array"));
        };
        if rows.is_empty() || rows.len() > MAX_BATCH_ROWS {
            return Err(invalid(format!("`rows` must hold 1 to {MAX_BATCH_ROWS} rows")));
        }
        let mut recipients = 0;
        let mut messages = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let message = message_of(&format!("rows[{i}]"), row)?;
            recipients += message.recipients().len();
            if recipients > MAX_BATCH_RECIPIENTS {
                return Err(invalid(format!(
                    "the rows name more than {MAX_BATCH_RECIPIENTS} recipients"
                )));
            }
            messages.push(message);
        }
        return Ok(messages);
    }
    let to = match object.remove("to") {
        Some(Value::Array(to)) => to,
        Some(one) => vec![one],
        None => {
            return Err(ApiError::new(
                ErrorCode::InvalidJson,
                "give `rows`, or `to` and a body as for POST /v1/messages",
            ));
        }
    };
    if to.is_empty() {
        return Err(invalid("`to` names no recipient"));
    }
    if to.len() > MAX_BATCH_RECIPIENTS {
        return Err(invalid(format!(
            "`to` names more than {MAX_BATCH_RECIPIENTS} recipients"
        )));
    }
    let chunks = to.len().div_ceil(MAX_RECIPIENTS);
    let reference = object.get("reference").and_then(Value::as_str).map(str::to_owned);
    let mut messages = Vec::with_capacity(chunks);
    for (i, chunk) in to.chunks(MAX_RECIPIENTS).enumerate() {
        let mut row = object.clone();
        row.insert("to".into(), Value::Array(chunk.to_vec()));
        if let (Some(reference), true) = (&reference, chunks > 1) {
            row.insert(
                "reference".into(),
                Value::String(format!("{reference}-{}", i + 1)),
            );
        }
        let first = i * MAX_RECIPIENTS;
        let message = message_of("the batch", Value::Object(row)).map_err(|e| {
            // Numbers are named by their place in the whole list, not in the chunk.
            ApiError::new(e.code(), renumber(e.message(), first))
        })?;
        messages.push(message);
    }
    Ok(messages)
}

/// `to[i]` in a chunk's message is `to[first + i]` of the batch.
fn renumber(message: &str, first: usize) -> String {
    if let Some(start) = message.find("`to[")
        && let Some(len) = message[start + 4..].find(']')
        && let Ok(i) = message[start + 4..start + 4 + len].parse::<usize>()
    {
        return format!(
            "{}`to[{}]{}",
            &message[..start],
            first + i,
            &message[start + 4 + len + 1..]
        );
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn numbers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("138{i:08}")).collect()
    }

    #[test]
    fn many_recipients_become_messages_of_at_most_the_recipient_limit() {
        let messages = messages_of(json!({"to": numbers(2500), "text": "hi", "reference": "promo"})).unwrap();
        assert_eq!(
            messages.iter().map(|m| m.recipients().len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        assert_eq!(
            messages
                .iter()
                .map(|m| m.reference().as_str())
                .collect::<Vec<_>>(),
            ["promo-1", "promo-2", "promo-3"]
        );
        let one = messages_of(json!({"to": "13800138000", "text": "hi", "reference": "r"})).unwrap();
        assert_eq!(one[0].reference().as_str(), "r");
    }

    #[test]
    fn rows_become_one_message_each() {
        let messages = messages_of(json!({"rows": [
            {"to": "13800138000", "text": "a"},
            {"to": ["13800138001", "13800138002"], "voice_code": "1234", "queue": false},
        ]}))
        .unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].recipients().len(), 2);
    }

    #[test]
    fn bad_batches_are_refused_naming_the_place() {
        let refused = |body: Value| messages_of(body).unwrap_err();
        let e = refused(json!({"rows": [{"to": "13800138000", "text": "a"}, {"to": "12", "text": "b"}]}));
        assert_eq!(e.code(), ErrorCode::InvalidRequest);
        assert!(e.message().starts_with("rows[1]: `to[0]`"), "{}", e.message());
        let e = refused(json!({"rows": [{"to": "13800138000", "txt": "a"}]}));
        assert_eq!(e.code(), ErrorCode::InvalidJson);
        assert!(e.message().starts_with("rows[0]"), "{}", e.message());
        let mut to = numbers(1500);
        to[1200] = "nope".into();
        let e = refused(json!({"to": to, "text": "x"}));
        assert!(e.message().contains("`to[1200]`"), "{}", e.message());
        assert_eq!(refused(json!({"rows": []})).code(), ErrorCode::InvalidRequest);
        assert_eq!(refused(json!({"rows": {}})).code(), ErrorCode::InvalidJson);
        assert_eq!(
            refused(json!({"rows": [{"to": "13800138000", "text": "a"}], "text": "b"})).code(),
            ErrorCode::InvalidJson
        );
        assert_eq!(refused(json!({"text": "b"})).code(), ErrorCode::InvalidJson);
        assert_eq!(
            refused(json!({"to": [], "text": "b"})).code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            refused(json!({"to": numbers(MAX_BATCH_RECIPIENTS + 1), "text": "b"})).code(),
            ErrorCode::InvalidRequest
        );
    }
}
