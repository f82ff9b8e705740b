//! Outcomes written together: concurrent [`IdempotencyStore::complete`] calls on one [`RedisState`]
//! share round trips (see `group.rs`): one script call records up to [`MAX_BATCH`] outcomes, and each
//! caller returns once its outcome is written.
//!
//! [`IdempotencyStore::complete`]: sms_failover::state::IdempotencyStore::complete

use sms_core::Error;

use crate::connection::RedisState;

const CHECK: &str = "idempotency";

/// The most outcomes one script call writes.
const MAX_BATCH: usize = 128;

/// One outcome to record.
pub(crate) struct Completion {
    /// The reference's key.
    pub(crate) key: String,
    /// Retention in microseconds.
    pub(crate) retention_us: u64,
    /// [`sms_failover::state::RecordedOutcome::to_json`].
    pub(crate) outcome: String,
}

impl RedisState {
    /// Writes `completion`, together with whatever other completions are waiting.
    pub(crate) async fn write_completion(&self, completion: Completion) -> Result<(), Error> {
        self.completions()
            .call(self, completion, MAX_BATCH, CHECK, |state, batch| {
                Box::pin(async move {
                    let mut call = state.scripts().complete.prepare_invoke();
                    call.arg(state.time_arg());
                    for completion in &batch {
                        call.key(&completion.key)
                            .arg(completion.retention_us)
                            .arg(&completion.outcome);
                    }
                    state.invoke::<i64>(CHECK, &call).await?;
                    Ok(vec![(); batch.len()])
                })
            })
            .await
    }
}
