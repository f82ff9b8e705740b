//! Per-API-key request rate limits: every request carrying a configured key counts against the key's
//! `rate_limit` (an exact sliding window, the chain's own limiter); over it the gateway answers 429
//! `rate_limited` with `Retry-After`, before any other work. Requests without a known key pass on to
//! authentication, which refuses them.
//!
//! With a shared limiter (the Redis state given to the gateway) the windows are counted there, so
//! every instance on it shares them; otherwise each instance counts its own.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sms_config::Config;
use sms_core::PhoneNumber;
use sms_failover::LimitWindow;
use sms_failover::state::{Admission, InMemoryRecipientLimiter, RecipientLimiter};

use crate::error::{ApiError, ErrorCode};

/// The keys' limits and their counts (this instance's, or the shared limiter's).
pub(crate) struct KeyLimits {
    /// SHA-256 of a key, then its name and window.
    keys: HashMap<[u8; 32], (String, LimitWindow)>,
    limiter: Arc<dyn RecipientLimiter>,
}

impl KeyLimits {
    /// The limits of the keys of `[gateway]` (keys with `rate_limit = "off"` are not counted),
    /// counted in `shared` when given (several instances on one Redis), else in this instance.
    pub(crate) fn from_config(config: &Config, shared: Option<Arc<dyn RecipientLimiter>>) -> Self {
        let keys = config
            .gateway()
            .api_keys
            .iter()
            .filter_map(|key| {
                let window = key.rate_limit?;
                let hex = key.hash.strip_prefix("sha256:")?;
                Some((decode_hex(hex)?, (key.name.clone(), window)))
            })
            .collect();
        Self {
            keys,
            limiter: shared.unwrap_or_else(|| {
                Arc::new(InMemoryRecipientLimiter::new(Arc::new(sms_failover::SystemClock)))
            }),
        }
    }
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0_u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The one key every key's window counts under (the scope names the key).
fn slot() -> &'static PhoneNumber {
    static SLOT: OnceLock<PhoneNumber> = OnceLock::new();
    SLOT.get_or_init(|| PhoneNumber::international(86, "13000000000").expect("a valid mainland number"))
}

/// The middleware: counts the request against its key's window.
pub(crate) async fn limit(State(limits): State<Arc<KeyLimits>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let known = presented.and_then(|key| {
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        limits.keys.get(&hash)
    });
    let Some((name, window)) = known else {
        return next.run(request).await;
    };
    let scope = format!("api-key:{name}");
    let answer = limits
        .limiter
        .admit(&scope, std::slice::from_ref(slot()), std::slice::from_ref(window))
        .await;
    if let Ok(answers) = answer
        && let Some(Admission::Refused { wait, .. }) = answers.first()
    {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        tracing::warn!(key = %name, "API key over its request rate: 429");
        let mut response = ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "this key may make {} request(s) per {:?}; retry after {seconds} s",
                window.count, window.period
            ),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    next.run(request).await
}
