//! A message's start in one round trip: `lua/start.lua` reserves the reference, looks the recipients up
//! in the opt-outs, asks the first provider's shared breaker and counts the recipients against the
//! limits, all or nothing, with the same keys and rules as each check alone.

use async_trait::async_trait;
use redis::Value;
use sms_core::Error;
use sms_failover::state::{
    Admission, ChainState, Reservation, SharedBreaker, StartAnswer, StartRequest, backend_unavailable,
};

use crate::BACKEND_NAME;
use crate::breaker::{KEEP_MS, shared_breaker};
use crate::connection::{RedisState, micros};
use crate::idempotency::reservation;
use crate::limiter::admissions;

const CHECK: &str = "the message's start (idempotency, opt-outs, breaker sharing, recipient limits)";

#[async_trait]
impl ChainState for RedisState {
    /// One script call (`lua/start.lua`). A call that failed took nothing, or, when Redis did not
    /// answer in time, may have taken all of it (see [`ChainState::start`]).
    async fn start(&self, request: &StartRequest<'_>) -> Result<StartAnswer, Error> {
        let numbers = request.numbers;
        let windows = request.limits.map_or(&[][..], |(_, windows)| windows);
        let mut call = self.scripts().start.prepare_invoke();
        if let Some((reference, _)) = request.reservation {
            call.key(self.reference_key(reference));
        }
        if let Some((provider, _)) = request.breaker {
            call.key(self.breaker_key(provider));
        }
        for number in numbers {
            call.key(self.opt_out_key(number));
        }
        if let Some((scope, _)) = request.limits.filter(|(_, windows)| !windows.is_empty()) {
            for number in numbers {
                call.key(self.limit_key(scope, number));
            }
        }
        call.arg(self.time_arg()).arg(numbers.len());
        match request.reservation {
            Some((_, retention)) => call.arg(micros(retention)),
            None => call.arg(""),
        };
        match request.breaker {
            Some((_, lease)) => call.arg(micros(lease)),
            None => call.arg(""),
        };
        call.arg(KEEP_MS).arg(fastrand::u64(..)).arg(windows.len());
        for window in windows {
            call.arg(window.count).arg(micros(window.period));
        }
        let answer: Vec<Value> = self.invoke(CHECK, &call).await?;
        read_answer(&answer, request)
    }
}

fn unexpected(detail: impl std::fmt::Display) -> Error {
    backend_unavailable(BACKEND_NAME, CHECK, format!("an unexpected answer: {detail}"))
}

fn text(value: &Value) -> Result<String, Error> {
    <String as redis::FromRedisValue>::from_redis_value_ref(value).map_err(unexpected)
}

fn integer(value: &Value) -> Result<i64, Error> {
    <i64 as redis::FromRedisValue>::from_redis_value_ref(value).map_err(unexpected)
}

/// Reads `lua/start.lua`'s answer to `request`.
fn read_answer(answer: &[Value], request: &StartRequest<'_>) -> Result<StartAnswer, Error> {
    let count = request.numbers.len();
    let (state, outcome) = match answer {
        [state, outcome, ..] => (text(state)?, text(outcome)?),
        _ => return Err(unexpected(format!("{} values", answer.len()))),
    };
    let reservation = match (state.as_str(), request.reservation) {
        ("-", None) => None,
        (_, Some(_)) => Some(reservation(&state, Some(&outcome))?),
        (state, None) => return Err(unexpected(format!("a reservation {state:?} not asked for"))),
    };
    if reservation.as_ref().is_some_and(|r| *r != Reservation::Reserved) {
        return Ok(StartAnswer {
            reservation,
            suppressed: Vec::new(),
            breaker: None,
            admissions: None,
        });
    }
    let header = 4;
    if answer.len() < header + count {
        return Err(unexpected(format!("{} values for {count} numbers", answer.len())));
    }
    let suppressed = answer[header..header + count]
        .iter()
        .map(|flag| integer(flag).map(|flag| flag != 0))
        .collect::<Result<Vec<bool>, Error>>()?;
    let breaker = match (integer(&answer[2])?, request.breaker) {
        (-1, None) => None,
        (code, Some(_)) => Some(shared_breaker(code, integer(&answer[3])?)?),
        (code, None) => return Err(unexpected(format!("a breaker answer {code} not asked for"))),
    };
    let rest = &answer[header + count..];
    let admissions = match request.limits {
        Some((_, windows)) if !matches!(breaker, Some(SharedBreaker::Open { .. })) => {
            let open = suppressed.iter().filter(|listed| !**listed).count();
            if windows.is_empty() {
                Some(vec![Admission::Admitted; open])
            } else {
                let pairs = rest.iter().map(integer).collect::<Result<Vec<i64>, Error>>()?;
                Some(admissions(&pairs, open, windows)?)
            }
        }
        _ if rest.is_empty() => None,
        _ => return Err(unexpected(format!("{} values more than asked for", rest.len()))),
    };
    Ok(StartAnswer {
        reservation,
        suppressed,
        breaker,
        admissions,
    })
}
