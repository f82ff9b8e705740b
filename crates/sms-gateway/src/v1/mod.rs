//! The versioned API: one router per endpoint file, merged here.

mod balances;
mod batches;
mod inbound;
mod messages;
mod providers;
mod suppressions;
mod usage;

use axum::Router;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde_json::Value;

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

/// `/v1/…`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(messages::router())
        .merge(batches::router())
        .merge(suppressions::router())
        .merge(balances::router())
        .merge(providers::router())
        .merge(inbound::router())
        .merge(usage::router())
}

/// The header naming a request that may be retried safely.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` header, if given: 1 to 255 visible characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255)
            .map(Some)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameter,
                    "`Idempotency-Key` must be 1 to 255 visible characters",
                )
            }),
    }
}

/// A JSON body: `application/json` (any charset parameter), parsed.
pub(crate) fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as `Content-Type: application/json`",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        // The parser's position only, never the body itself.
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("the body is not JSON (line {}, column {})", e.line(), e.column()),
        )
    })?;
    // serde would also read a struct from an array of its fields in order; only objects are requests.
    if !value.is_object() {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the body must be a JSON object",
        ));
    }
    Ok(value)
}

/// A query string's pairs.
pub(crate) fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded_pairs(query.unwrap_or(""))
}

fn serde_urlencoded_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let decode = |s: &str| {
            let bytes = sms_core::raw::http::percent_decode(s.replace('+', " ").as_bytes());
            String::from_utf8(bytes)
                .map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "the query string is not UTF-8"))
        };
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

/// The `limit` query parameter: 1 to 1000, default 100.
pub(crate) fn limit(pairs: &[(String, String)]) -> Result<u32, ApiError> {
    match pairs.iter().find(|(k, _)| k == "limit") {
        None => Ok(100),
        Some((_, v)) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidParameter, "`limit` must be 1 to 1000")),
    }
}
