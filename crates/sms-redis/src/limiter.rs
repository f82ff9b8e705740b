//! Per-recipient limits: one script call per batch checks every window of every number and records
//! only the admitted sends (an exact sliding log per number: a sorted set of send times).

use std::time::Duration;

use async_trait::async_trait;
use sms_core::{Error, PhoneNumber};
use sms_failover::LimitWindow;
use sms_failover::state::{Admission, RecipientLimiter, backend_unavailable};

use crate::BACKEND_NAME;
use crate::connection::{RedisState, micros};

const CHECK: &str = "recipient limits";

#[async_trait]
impl RecipientLimiter for RedisState {
    async fn admit(
        &self,
        scope: &str,
        numbers: &[PhoneNumber],
        windows: &[LimitWindow],
    ) -> Result<Vec<Admission>, Error> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        if windows.is_empty() {
            return Ok(vec![Admission::Admitted; numbers.len()]);
        }
        let mut call = self.scripts().limit.prepare_invoke();
        for number in numbers {
            call.key(self.limit_key(scope, number));
        }
        call.arg(self.time_arg())
            .arg(fastrand::u64(..))
            .arg(windows.len());
        for window in windows {
            call.arg(window.count).arg(micros(window.period));
        }
        let answer: Vec<i64> = self.invoke(CHECK, &call).await?;
        admissions(&answer, numbers.len(), windows)
    }
}

impl RedisState {
    /// `{prefix}:limit:<scope>:<number>`.
    pub(crate) fn limit_key(&self, scope: &str, number: &PhoneNumber) -> String {
        self.key("limit", &[scope, &number.e164()])
    }
}

/// Reads `limit.lua`'s answer for `count` numbers: two integers per number.
pub(crate) fn admissions(
    answer: &[i64],
    count: usize,
    windows: &[LimitWindow],
) -> Result<Vec<Admission>, Error> {
    if answer.len() != 2 * count {
        return Err(backend_unavailable(
            BACKEND_NAME,
            CHECK,
            format!("{} values for {count} numbers", answer.len()),
        ));
    }
    answer
        .chunks(2)
        .map(|pair| match (pair[0], pair[1]) {
            (0, _) => Ok(Admission::Admitted),
            (index, wait) => {
                let window = usize::try_from(index - 1)
                    .ok()
                    .and_then(|i| windows.get(i))
                    .copied()
                    .ok_or_else(|| backend_unavailable(BACKEND_NAME, CHECK, "an unknown window"))?;
                Ok(Admission::Refused {
                    window,
                    wait: Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
                })
            }
        })
        .collect()
}
