//! Group commit: concurrent sends' records are gathered by one task and written in one transaction,
//! so a chain with 64 sends in flight costs the store one transaction per batch instead of two per
//! message. The store stays the truth: every caller waits until its rows are committed.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, StoreError, StoreErrorKind};
use crate::model::{AttemptRecord, Millis, NewMessage, OutcomeUpdate};
use crate::store::MessageStore;

/// Most jobs folded into one transaction.
const MAX_BATCH: usize = 512;

/// The failed attempts of one message.
type Attempts = Option<(String, Vec<AttemptRecord>)>;

enum Job {
    Insert(NewMessage, oneshot::Sender<Result<Option<Millis>>>),
    Outcomes(
        Vec<OutcomeUpdate>,
        Attempts,
        oneshot::Sender<Result<Option<Millis>>>,
    ),
}

/// A handle to the writer task of one store.
#[derive(Debug, Clone)]
pub(crate) struct GroupWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl GroupWriter {
    /// Starts the writer task on the current Tokio runtime. It ends when every handle is dropped.
    pub(crate) fn spawn(store: Arc<dyn MessageStore>) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, rx));
        Self { jobs }
    }

    /// Records `message` as `sending`; returns once committed, with the time stamped on its rows
    /// when known (`None` when it was written apart after its batch failed).
    pub(crate) async fn insert(&self, message: NewMessage) -> Result<Option<Millis>> {
        let (done, wait) = oneshot::channel();
        self.jobs.send(Job::Insert(message, done)).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Records outcomes (and attempts of one message); returns once committed, with the time
    /// stamped on them when the rows now hold exactly what was given (`None` when the status
    /// machine refused an outcome of the batch, an early receipt moved a recipient further, or the
    /// batch was written apart).
    pub(crate) async fn outcomes(
        &self,
        outcomes: Vec<OutcomeUpdate>,
        attempts: Attempts,
    ) -> Result<Option<Millis>> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job::Outcomes(outcomes, attempts, done))
            .map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }
}

fn closed() -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, "the store's writer task has stopped")
}

fn copy(error: &StoreError) -> StoreError {
    StoreError::new(error.kind(), error.to_string())
}

/// One round's jobs, taken apart into what the store writes and whom to answer.
#[derive(Default)]
struct Round {
    messages: Vec<NewMessage>,
    inserted: Vec<oneshot::Sender<Result<Option<Millis>>>>,
    outcomes: Vec<OutcomeUpdate>,
    attempts: Vec<(String, Vec<AttemptRecord>)>,
    /// Whom to answer, per outcome job.
    recorded: Vec<oneshot::Sender<Result<Option<Millis>>>>,
}

impl Round {
    fn take(&mut self, job: Job) {
        match job {
            Job::Insert(message, done) => {
                self.messages.push(message);
                self.inserted.push(done);
            }
            Job::Outcomes(outcomes, attempts, done) => {
                self.recorded.push(done);
                self.outcomes.extend(outcomes);
                self.attempts.extend(attempts);
            }
        }
    }
}

async fn run(store: Arc<dyn MessageStore>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut round = Round::default();
        for job in jobs.drain(..) {
            round.take(job);
        }
        // The usual round: everything in one transaction.
        match store
            .record_batch(&round.messages, &round.outcomes, &round.attempts)
            .await
        {
            Ok(written) => {
                for done in round.inserted {
                    let _ = done.send(Ok(Some(written.at)));
                }
                let exact = written.moved == round.outcomes.len() as u64 && written.early_receipts == 0;
                for done in round.recorded {
                    let _ = done.send(Ok(exact.then_some(written.at)));
                }
            }
            // Something in it failed: write the parts apart so each caller gets its own answer.
            Err(_) => {
                if !round.messages.is_empty() {
                    write_inserts(store.as_ref(), round.messages, round.inserted).await;
                }
                if !round.recorded.is_empty() {
                    write_outcomes(store.as_ref(), round.outcomes, round.attempts, round.recorded).await;
                }
            }
        }
    }
}

async fn write_inserts(
    store: &dyn MessageStore,
    messages: Vec<NewMessage>,
    inserted: Vec<oneshot::Sender<Result<Option<Millis>>>>,
) {
    match store.insert_sending(&messages).await {
        Ok(()) => {
            for done in inserted {
                let _ = done.send(Ok(None));
            }
        }
        // One duplicate reference fails the whole batch: retry one by one so that only it fails.
        Err(error) if error.kind() == StoreErrorKind::DuplicateReference && messages.len() > 1 => {
            for (message, done) in messages.iter().zip(inserted) {
                let result = store.insert_sending(std::slice::from_ref(message)).await;
                let _ = done.send(result.map(|()| None));
            }
        }
        Err(error) => {
            for done in inserted {
                let _ = done.send(Err(copy(&error)));
            }
        }
    }
}

async fn write_outcomes(
    store: &dyn MessageStore,
    outcomes: Vec<OutcomeUpdate>,
    attempts: Vec<(String, Vec<AttemptRecord>)>,
    recorded: Vec<oneshot::Sender<Result<Option<Millis>>>>,
) {
    let mut result = store.record_outcomes(&outcomes).await.map(drop);
    for (message_id, attempts) in &attempts {
        if result.is_ok() {
            result = store.record_attempts(message_id, attempts).await;
        }
    }
    for done in recorded {
        let _ = done.send(result.as_ref().map(|()| None).map_err(copy));
    }
}
