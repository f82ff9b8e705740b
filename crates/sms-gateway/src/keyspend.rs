//! Per-API-key spend caps: a key with `daily_parts` may send at most that many billed parts per
//! Beijing day, counted in the store (so the cap holds across restarts, and across instances on
//! PostgreSQL). The parts of a send are reserved before it; a send that would cross the cap is
//! refused with 429 `budget_exceeded` and `Retry-After` until Beijing midnight, before any request.
//! A send refused before anything went out gives its parts back; anything else keeps them.

use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sms_failover::state::{Adjustment, Charge, SpendAdmission, SpendLedger};
use sms_failover::{CapPeriod, SystemWallClock, WallClock, beijing_minute};
use sms_store::StoreState;

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

/// Parts reserved for one request under its key's cap.
pub(crate) struct Held {
    adjustment: Adjustment,
}

/// How long a key's daily counter outlives its day.
const KEEP: u64 = 24 * 60 * 60;

/// Reserves the parts of the send request `body` under the daily cap of the key named `key`.
/// `Ok(None)` when the key has no cap (or the body is not a send request: the send refuses it).
///
/// # Errors
/// A response to send back: 429 over the cap, 503 when the store cannot count.
pub(crate) async fn reserve(state: &AppState, key: &str, body: &Value) -> Result<Option<Held>, Response> {
    let Some(limit) = state
        .config()
        .gateway()
        .api_keys
        .iter()
        .find(|k| k.name == key)
        .and_then(|k| k.daily_parts)
    else {
        return Ok(None);
    };
    let Some(parts) = serde_json::from_value::<crate::compose::SendRequest>(body.clone())
        .ok()
        .and_then(|request| request.into_message().ok())
        .and_then(|message| message.estimated_parts().ok())
    else {
        return Ok(None);
    };
    let parts = u64::try_from(parts).unwrap_or(u64::MAX);
    let now = SystemWallClock.unix_seconds();
    let (day, ends) = CapPeriod::Day.at(now);
    let charge = Charge {
        counter: format!("api-key={key}:parts:day:{day}"),
        amount: parts,
        limit,
        expires_at: ends + KEEP,
    };
    let ledger = StoreState::new(state.store().clone());
    match ledger.charge(std::slice::from_ref(&charge), now).await {
        Ok(SpendAdmission::Reserved { .. }) => Ok(Some(Held {
            adjustment: Adjustment {
                counter: charge.counter,
                delta: -i64::try_from(parts).unwrap_or(i64::MAX),
                expires_at: charge.expires_at,
            },
        })),
        Ok(SpendAdmission::Refused { used, .. }) => {
            tracing::warn!(
                key,
                used,
                limit,
                needed = parts,
                "API key over its daily parts: 429"
            );
            let mut response = ApiError::new(
                ErrorCode::BudgetExceeded,
                format!(
                    "budget exceeded: the daily cap of {limit} parts for this key ({day}) has {used} used and \
                     this send needs {parts}; it resets at {} Beijing time; not sent",
                    beijing_minute(ends)
                ),
            )
            .into_response();
            let wait = Duration::from_secs(ends.saturating_sub(now).max(1));
            if let Ok(value) = HeaderValue::from_str(&wait.as_secs().to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Err(response)
        }
        Err(error) => Err(ApiError::new(
            ErrorCode::StoreUnavailable,
            format!(
                "the key's spend cannot be counted ({}); nothing was sent",
                error.message()
            ),
        )
        .into_response()),
    }
}

/// Gives the parts back when nothing went out (`sent` false).
pub(crate) async fn settle(state: &AppState, held: Option<Held>, sent: bool) {
    let Some(held) = held else {
        return;
    };
    if sent {
        return;
    }
    let ledger = StoreState::new(state.store().clone());
    if let Err(error) = ledger
        .settle(
            std::slice::from_ref(&held.adjustment),
            SystemWallClock.unix_seconds(),
        )
        .await
    {
        tracing::warn!(error = %error, "could not give back the key's reserved parts");
    }
}
