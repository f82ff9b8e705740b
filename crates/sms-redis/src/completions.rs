//! Outcomes written together: concurrent [`IdempotencyStore::complete`] calls on one [`RedisState`]
//! (and its clones) share round trips. A caller queues its outcome and waits for the writer's turn;
//! when it gets it, it writes every outcome queued by then in one script call, unless an earlier
//! writer already wrote its own. Alone, a completion is one round trip, as before; with many sends in
//! flight, one round trip records many outcomes. Each caller returns once its outcome is written. A
//! caller that goes away (its future dropped) while it waits leaves its outcome queued: the next
//! writer records it, as it would have been.
//!
//! [`IdempotencyStore::complete`]: sms_failover::state::IdempotencyStore::complete

use std::sync::{Mutex, PoisonError};

use sms_core::Error;
use sms_failover::state::backend_unavailable;
use tokio::sync::oneshot;

use crate::BACKEND_NAME;
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

struct Queued {
    completion: Completion,
    written: oneshot::Sender<Result<(), Error>>,
}

/// The queue of outcomes not yet written, and the writer's turn.
#[derive(Default)]
pub(crate) struct Completions {
    queue: Mutex<Vec<Queued>>,
    turn: tokio::sync::Mutex<()>,
}

impl RedisState {
    /// Writes `completion`, together with whatever other completions are waiting.
    pub(crate) async fn write_completion(&self, completion: Completion) -> Result<(), Error> {
        let completions = self.completions();
        let (written, mut answer) = oneshot::channel();
        completions
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Queued { completion, written });
        loop {
            let _turn = completions.turn.lock().await;
            // An earlier writer may have written it.
            if let Some(result) = answered(&mut answer) {
                return result;
            }
            let batch: Vec<Queued> = {
                let mut queue = completions.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let take = queue.len().min(MAX_BATCH);
                queue.drain(..take).collect()
            };
            if !batch.is_empty() {
                let mut call = self.scripts().complete.prepare_invoke();
                call.arg(self.time_arg());
                for queued in &batch {
                    call.key(&queued.completion.key)
                        .arg(queued.completion.retention_us)
                        .arg(&queued.completion.outcome);
                }
                let result = self.invoke::<i64>(CHECK, &call).await.map(drop);
                for queued in batch {
                    // A caller that went away no longer waits for its answer.
                    let _ = queued.written.send(result.clone());
                }
            }
            // Written now, unless the queue held more than a batch before it: then another turn.
            if let Some(result) = answered(&mut answer) {
                return result;
            }
        }
    }
}

/// The answer for a queued outcome, once a writer gave it.
fn answered(answer: &mut oneshot::Receiver<Result<(), Error>>) -> Option<Result<(), Error>> {
    match answer.try_recv() {
        Ok(result) => Some(result),
        // The writer that took it was cancelled before it could say: it may have been written.
        Err(oneshot::error::TryRecvError::Closed) => Some(Err(backend_unavailable(
            BACKEND_NAME,
            CHECK,
            "the call writing this outcome was cancelled; it may have been applied",
        ))),
        Err(oneshot::error::TryRecvError::Empty) => None,
    }
}
