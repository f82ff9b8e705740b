//! A message's start in one round trip: `lua/fn_start.lua` reserves the reference, looks the
//! recipients up in the opt-outs, asks the first provider's shared breaker and counts the recipients
//! against the limits, all or nothing, with the same keys and rules as each check alone. Concurrent
//! starts on one [`RedisState`] share the round trip (`lua/start.lua` takes several; see `group.rs`),
//! each still all or nothing.

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

/// The most starts one script call takes.
const MAX_BATCH: usize = 64;

/// One message's start, as `lua/fn_start.lua` takes it.
pub(crate) struct StartJob {
    keys: Vec<String>,
    /// From the number of recipients to the limit windows.
    args: Vec<String>,
}

impl StartJob {
    fn new(state: &RedisState, request: &StartRequest<'_>) -> Self {
        let numbers = request.numbers;
        let windows = request.limits.map_or(&[][..], |(_, windows)| windows);
        let mut keys = Vec::with_capacity(2 + 2 * numbers.len());
        if let Some((reference, _)) = request.reservation {
            keys.push(state.reference_key(reference));
        }
        if let Some((provider, _)) = request.breaker {
            keys.push(state.breaker_key(provider));
        }
        for number in numbers {
            keys.push(state.opt_out_key(number));
        }
        if let Some((scope, _)) = request.limits.filter(|(_, windows)| !windows.is_empty()) {
            for number in numbers {
                keys.push(state.limit_key(scope, number));
            }
        }
        let mut args = Vec::with_capacity(6 + 2 * windows.len());
        args.push(numbers.len().to_string());
        args.push(
            request
                .reservation
                .map_or_else(String::new, |(_, retention)| micros(retention).to_string()),
        );
        args.push(
            request
                .breaker
                .map_or_else(String::new, |(_, lease)| micros(lease).to_string()),
        );
        args.push(KEEP_MS.to_string());
        args.push(fastrand::u64(..).to_string());
        args.push(windows.len().to_string());
        for window in windows {
            args.push(window.count.to_string());
            args.push(micros(window.period).to_string());
        }
        Self { keys, args }
    }
}

/// One script call for the starts of `jobs`.
async fn start_batch(state: RedisState, jobs: Vec<StartJob>) -> Result<Vec<Value>, Error> {
    let mut call = state.scripts().start.prepare_invoke();
    call.arg(state.time_arg()).arg(jobs.len());
    for job in &jobs {
        call.arg(job.keys.len());
        for arg in &job.args {
            call.arg(arg);
        }
        for key in &job.keys {
            call.key(key);
        }
    }
    state.invoke(CHECK, &call).await
}

#[async_trait]
impl ChainState for RedisState {
    /// One script call (`lua/start.lua`), shared with the starts running at the same time. A call
    /// that failed took nothing, or, when Redis did not answer in time, may have taken all of it (see
    /// [`ChainState::start`]).
    async fn start(&self, request: &StartRequest<'_>) -> Result<StartAnswer, Error> {
        let job = StartJob::new(self, request);
        let answer = self
            .starts()
            .call(self, job, MAX_BATCH, CHECK, |state, jobs| {
                Box::pin(start_batch(state, jobs))
            })
            .await?;
        match answer {
            Value::Array(values) => read_answer(&values, request),
            other => Err(unexpected(format!("{other:?}"))),
        }
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
