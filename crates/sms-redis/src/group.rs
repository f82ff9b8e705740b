//! Calls written together: concurrent calls of one kind on one [`RedisState`] (and its clones) share
//! round trips. A caller queues its job and waits for the writer's turn; when it gets the turn, it
//! sends every job queued by then in one script call, unless an earlier writer already sent its own.
//! Alone, a call is one round trip, as before; with many calls in flight, one round trip serves many.
//!
//! The script call runs in a task of its own, so a caller that goes away (its future dropped, as a
//! timeout around a send does) never cuts short the call that carries other callers' jobs: they get
//! their answers, and a job queued by a caller that left is still sent, as it would have been.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use sms_core::Error;
use sms_failover::state::backend_unavailable;
use tokio::sync::oneshot;

use crate::BACKEND_NAME;
use crate::connection::RedisState;

/// One script call for a batch of jobs: one answer per job, in order, or one error for all.
pub(crate) type BatchCall<J, R> =
    fn(RedisState, Vec<J>) -> Pin<Box<dyn Future<Output = Result<Vec<R>, Error>> + Send>>;

struct Waiting<J, R> {
    job: J,
    answer: oneshot::Sender<Result<R, Error>>,
}

/// The jobs not yet sent, and the writer's turn.
pub(crate) struct Group<J, R> {
    queue: Mutex<Vec<Waiting<J, R>>>,
    turn: tokio::sync::Mutex<()>,
}

impl<J, R> Default for Group<J, R> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

impl<J: Send + 'static, R: Send + 'static> Group<J, R> {
    /// Sends `job`, together with whatever other jobs are waiting (at most `max` per call), and
    /// returns its answer. `check` names the check in errors.
    pub(crate) async fn call(
        &self,
        state: &RedisState,
        job: J,
        max: usize,
        check: &'static str,
        batch: BatchCall<J, R>,
    ) -> Result<R, Error> {
        let (answer, mut reply) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Waiting { job, answer });
        loop {
            let _turn = self.turn.lock().await;
            // An earlier writer may have sent it.
            if let Some(result) = answered(&mut reply, check) {
                return result;
            }
            let taken: Vec<Waiting<J, R>> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let take = queue.len().min(max.max(1));
                queue.drain(..take).collect()
            };
            if !taken.is_empty() {
                let state = state.clone();
                // A panic in the task drops the answers' senders: each caller then hears that the
                // call may have been applied, which is the truth.
                let _ = tokio::spawn(send_batch(state, taken, check, batch)).await;
            }
            // Answered now, unless the queue held more than a batch before it: then another turn.
            if let Some(result) = answered(&mut reply, check) {
                return result;
            }
        }
    }
}

async fn send_batch<J, R>(
    state: RedisState,
    taken: Vec<Waiting<J, R>>,
    check: &'static str,
    batch: BatchCall<J, R>,
) {
    let (jobs, answers): (Vec<J>, Vec<oneshot::Sender<Result<R, Error>>>) =
        taken.into_iter().map(|w| (w.job, w.answer)).unzip();
    let count = jobs.len();
    match batch(state, jobs).await {
        Ok(results) if results.len() == count => {
            for (answer, result) in answers.into_iter().zip(results) {
                // A caller that went away no longer waits for its answer.
                let _ = answer.send(Ok(result));
            }
        }
        Ok(results) => {
            let error = backend_unavailable(
                BACKEND_NAME,
                check,
                format!(
                    "{} answers for {count} calls; they may have been applied",
                    results.len()
                ),
            );
            for answer in answers {
                let _ = answer.send(Err(error.clone()));
            }
        }
        Err(error) => {
            for answer in answers {
                let _ = answer.send(Err(error.clone()));
            }
        }
    }
}

/// The answer for a queued job, once a writer gave it.
fn answered<R>(reply: &mut oneshot::Receiver<Result<R, Error>>, check: &str) -> Option<Result<R, Error>> {
    match reply.try_recv() {
        Ok(result) => Some(result),
        // The task that took it ended before it could say: it may have been applied.
        Err(oneshot::error::TryRecvError::Closed) => Some(Err(backend_unavailable(
            BACKEND_NAME,
            check,
            "the call carrying this one ended without an answer; it may have been applied",
        ))),
        Err(oneshot::error::TryRecvError::Empty) => None,
    }
}
