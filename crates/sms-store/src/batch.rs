//! Group commit: concurrent sends' records are gathered by one task and written in one transaction
//! per kind, so a chain with 64 sends in flight costs the store two transactions per batch instead of
//! two per message. The store stays the truth: every caller waits until its rows are committed.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Result, StoreError, StoreErrorKind};
use crate::model::{AttemptRecord, NewMessage, OutcomeUpdate};
use crate::store::MessageStore;

/// Most jobs folded into one transaction.
const MAX_BATCH: usize = 512;

enum Job {
    Insert(NewMessage, oneshot::Sender<Result<()>>),
    Outcomes(
        Vec<OutcomeUpdate>,
        Option<(String, Vec<AttemptRecord>)>,
        oneshot::Sender<Result<()>>,
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

    /// Records `message` as `sending`; returns once committed.
    pub(crate) async fn insert(&self, message: NewMessage) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.jobs.send(Job::Insert(message, done)).map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Records outcomes (and attempts of one message); returns once committed.
    pub(crate) async fn outcomes(
        &self,
        outcomes: Vec<OutcomeUpdate>,
        attempts: Option<(String, Vec<AttemptRecord>)>,
    ) -> Result<()> {
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

async fn run(store: Arc<dyn MessageStore>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut inserts = Vec::new();
        let mut outcomes = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Insert(message, done) => inserts.push((message, done)),
                Job::Outcomes(o, a, done) => outcomes.push((o, a, done)),
            }
        }
        let with_attempts = outcomes.iter().any(|(_, a, _)| a.is_some());
        if !with_attempts {
            // The usual round: everything in one transaction.
            let messages: Vec<NewMessage> = inserts.iter().map(|(m, _)| m.clone()).collect();
            let all: Vec<OutcomeUpdate> = outcomes.iter().flat_map(|(o, _, _)| o.iter().cloned()).collect();
            if store.record_batch(&messages, &all).await.is_ok() {
                for (_, done) in inserts {
                    let _ = done.send(Ok(()));
                }
                for (_, _, done) in outcomes {
                    let _ = done.send(Ok(()));
                }
                continue;
            }
            // Something in it failed: write the parts apart so each caller gets its own answer.
        }
        if !inserts.is_empty() {
            write_inserts(store.as_ref(), inserts).await;
        }
        if !outcomes.is_empty() {
            write_outcomes(store.as_ref(), outcomes).await;
        }
    }
}

async fn write_inserts(store: &dyn MessageStore, inserts: Vec<(NewMessage, oneshot::Sender<Result<()>>)>) {
    let messages: Vec<NewMessage> = inserts.iter().map(|(m, _)| m.clone()).collect();
    match store.insert_sending(&messages).await {
        Ok(()) => {
            for (_, done) in inserts {
                let _ = done.send(Ok(()));
            }
        }
        // One duplicate reference fails the whole batch: retry one by one so that only it fails.
        Err(error) if error.kind() == StoreErrorKind::DuplicateReference && inserts.len() > 1 => {
            for (message, done) in inserts {
                let _ = done.send(store.insert_sending(std::slice::from_ref(&message)).await);
            }
        }
        Err(error) => {
            for (_, done) in inserts {
                let _ = done.send(Err(copy(&error)));
            }
        }
    }
}

type OutcomeJob = (
    Vec<OutcomeUpdate>,
    Option<(String, Vec<AttemptRecord>)>,
    oneshot::Sender<Result<()>>,
);

async fn write_outcomes(store: &dyn MessageStore, jobs: Vec<OutcomeJob>) {
    let all: Vec<OutcomeUpdate> = jobs.iter().flat_map(|(o, _, _)| o.iter().cloned()).collect();
    let mut result = store.record_outcomes(&all).await.map(drop);
    for (_, attempts, _) in &jobs {
        if let (Ok(()), Some((message_id, attempts))) = (&result, attempts) {
            result = store.record_attempts(message_id, attempts).await;
        }
    }
    for (_, _, done) in jobs {
        let _ = done.send(result.as_ref().map(|_| ()).map_err(copy));
    }
}
