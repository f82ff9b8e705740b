//! Idempotency by client reference: one string per reference (`{prefix}:ref:…`), reserved, completed
//! and released by scripts, kept for the retention whether completed or not. Concurrent completions
//! are written together (see `completions.rs`).

use std::time::Duration;

use async_trait::async_trait;
use sms_core::{ClientReference, Error};
use sms_failover::state::{IdempotencyStore, RecordedOutcome, Reservation, backend_unavailable};

use crate::BACKEND_NAME;
use crate::completions::Completion;
use crate::connection::{RedisState, micros};

const CHECK: &str = "idempotency";

impl RedisState {
    pub(crate) fn reference_key(&self, reference: &ClientReference) -> String {
        self.key("ref", &[&reference.to_string()])
    }
}

#[async_trait]
impl IdempotencyStore for RedisState {
    async fn reserve(&self, reference: &ClientReference, retention: Duration) -> Result<Reservation, Error> {
        let mut call = self.scripts().reserve.prepare_invoke();
        call.key(self.reference_key(reference))
            .arg(self.time_arg())
            .arg(micros(retention));
        let answer: Vec<String> = self.invoke(CHECK, &call).await?;
        match answer.as_slice() {
            [state] => reservation(state, None),
            [state, outcome] => reservation(state, Some(outcome)),
            _ => Err(backend_unavailable(BACKEND_NAME, CHECK, "an unexpected answer")),
        }
    }

    async fn complete(
        &self,
        reference: &ClientReference,
        outcome: &RecordedOutcome,
        retention: Duration,
    ) -> Result<(), Error> {
        self.write_completion(Completion {
            key: self.reference_key(reference),
            retention_us: micros(retention),
            outcome: outcome.to_json(),
        })
        .await
    }

    async fn release(&self, reference: &ClientReference) -> Result<(), Error> {
        let mut call = self.scripts().release.prepare_invoke();
        call.key(self.reference_key(reference));
        self.invoke::<i64>(CHECK, &call).await.map(drop)
    }
}

/// Reads `reserve.lua`'s answer: `R`, `P`, or `C` and the outcome.
pub(crate) fn reservation(state: &str, outcome: Option<&str>) -> Result<Reservation, Error> {
    match (state, outcome) {
        ("R", _) => Ok(Reservation::Reserved),
        ("P", _) => Ok(Reservation::Pending),
        ("C", Some(outcome)) => {
            let outcome = RecordedOutcome::from_json(outcome)
                .map_err(|e| backend_unavailable(BACKEND_NAME, CHECK, e.message()))?;
            Ok(Reservation::Completed(outcome))
        }
        _ => Err(backend_unavailable(BACKEND_NAME, CHECK, "an unexpected answer")),
    }
}
