//! Calls written together, for state backends: concurrent calls of one kind share one backend round
//! trip (a script call, a transaction). A caller queues its job and waits for the writer's turn; with
//! the turn, it runs every job queued by then as one batch, unless an earlier writer already ran its
//! own. Alone, a call is one batch of one, as without grouping; with many calls in flight, one batch
//! serves many, so the backend's cost per call falls as load rises instead of queueing up.
//!
//! The batch runs in a task of its own, so a caller that goes away (its future dropped, as a timeout
//! around a send does) never cuts short the batch that carries other callers' jobs: they get their
//! answers, and a job queued by a caller that left still runs, as it would have alone.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// A batch's work: one answer per job, in order, or one error for all of them.
pub type BatchFuture<R, E> = Pin<Box<dyn Future<Output = Result<Vec<R>, E>> + Send>>;

/// Why a caller got no answer of its own from the batch that carried its job; the backend turns it
/// into its own error (the job may have been applied in both cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFault {
    /// The batch answered a different number of jobs than it was given.
    Miscounted {
        /// Jobs in the batch.
        jobs: usize,
        /// Answers it gave.
        answers: usize,
    },
    /// The task running the batch ended without answering (it panicked).
    Lost,
}

impl std::fmt::Display for BatchFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Miscounted { jobs, answers } => write!(
                f,
                "{answers} answers for {jobs} calls written together; they may have been applied"
            ),
            Self::Lost => {
                f.write_str("the call carrying this one ended without an answer; it may have been applied")
            }
        }
    }
}

struct Waiting<J, R, E> {
    job: J,
    answer: oneshot::Sender<Delivered<R, E>>,
}

/// The jobs not yet run, and the writer's turn. One per kind of call and backend connection; share
/// it between clones of the backend's handle.
///
/// ```
/// use sms_failover::state::{BatchFault, BatchFuture, CallGroup};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let doubles: CallGroup<u32, u32, String> = CallGroup::new();
/// let run = |jobs: Vec<u32>| -> BatchFuture<u32, String> {
///     Box::pin(async move { Ok(jobs.into_iter().map(|j| j * 2).collect()) })
/// };
/// let fault = |fault: BatchFault| fault.to_string();
/// let (a, b) = tokio::join!(doubles.call(1, 64, run, fault), doubles.call(2, 64, run, fault));
/// assert_eq!((a, b), (Ok(2), Ok(4)));
/// # }
/// ```
pub struct CallGroup<J, R, E> {
    queue: Mutex<Vec<Waiting<J, R, E>>>,
    /// Held by the task running a batch, so that batches never overlap, even when the caller that
    /// started one went away.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl<J, R, E> Default for CallGroup<J, R, E> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

impl<J, R, E> std::fmt::Debug for CallGroup<J, R, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queued = self.queue.lock().map_or(0, |q| q.len());
        f.debug_struct("CallGroup").field("queued", &queued).finish()
    }
}

impl<J: Send + 'static, R: Send + 'static, E: Clone + Send + 'static> CallGroup<J, R, E> {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `job` together with whatever other jobs are waiting (at most `max` per batch, at least
    /// one), and returns its answer. `run` does a batch's work (it is called on the current Tokio
    /// runtime, in a task of its own); `fault` makes the error for a caller whose batch did not
    /// answer it.
    ///
    /// # Errors
    /// The batch's error (every job of a failed batch gets it), or `fault`'s.
    pub async fn call(
        &self,
        job: J,
        max: usize,
        run: impl Fn(Vec<J>) -> BatchFuture<R, E>,
        fault: impl Fn(BatchFault) -> E,
    ) -> Result<R, E> {
        let (answer, mut reply) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Waiting { job, answer });
        loop {
            let turn = self.turn.clone().lock_owned().await;
            // An earlier writer may have run it.
            if let Some(result) = answered(&mut reply, &fault) {
                return result;
            }
            let taken: Vec<Waiting<J, R, E>> = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let take = queue.len().min(max.max(1));
                queue.drain(..take).collect()
            };
            if !taken.is_empty() {
                let (jobs, answers): (Vec<J>, Vec<_>) = taken.into_iter().map(|w| (w.job, w.answer)).unzip();
                // A panic in the task drops the answers' senders: each caller then hears that its job
                // may have been applied, which is the truth.
                let batch = run(jobs);
                let _ = tokio::spawn(async move {
                    deliver(batch, answers).await;
                    drop(turn);
                })
                .await;
            } else {
                drop(turn);
            }
            // Answered now, unless the queue held more than a batch before it: then another turn.
            if let Some(result) = answered(&mut reply, &fault) {
                return result;
            }
        }
    }
}

/// What a batch gives one caller.
type Delivered<R, E> = Result<Result<R, E>, BatchFault>;

async fn deliver<R, E: Clone>(batch: BatchFuture<R, E>, answers: Vec<oneshot::Sender<Delivered<R, E>>>) {
    let jobs = answers.len();
    match batch.await {
        Ok(results) if results.len() == jobs => {
            for (answer, result) in answers.into_iter().zip(results) {
                // A caller that went away no longer waits for its answer.
                let _ = answer.send(Ok(Ok(result)));
            }
        }
        Ok(results) => {
            let fault = BatchFault::Miscounted {
                jobs,
                answers: results.len(),
            };
            for answer in answers {
                let _ = answer.send(Err(fault));
            }
        }
        Err(error) => {
            for answer in answers {
                let _ = answer.send(Ok(Err(error.clone())));
            }
        }
    }
}

/// The answer for a queued job, once a writer gave it.
fn answered<R, E>(
    reply: &mut oneshot::Receiver<Delivered<R, E>>,
    fault: &impl Fn(BatchFault) -> E,
) -> Option<Result<R, E>> {
    match reply.try_recv() {
        Ok(Ok(result)) => Some(result),
        Ok(Err(batch_fault)) => Some(Err(fault(batch_fault))),
        // The task that took it ended before it could say.
        Err(oneshot::error::TryRecvError::Closed) => Some(Err(fault(BatchFault::Lost))),
        Err(oneshot::error::TryRecvError::Empty) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A batch that doubles each job and notes what it was given, after yielding so that callers
    /// queue up behind it.
    fn doubling(batches: Batches) -> impl Fn(Vec<u32>) -> BatchFuture<u32, String> {
        move |jobs| {
            let batches = batches.clone();
            Box::pin(async move {
                tokio::task::yield_now().await;
                batches.lock().unwrap().push(jobs.clone());
                Ok(jobs.into_iter().map(|j| j * 2).collect())
            })
        }
    }

    fn fault(fault: BatchFault) -> String {
        fault.to_string()
    }

    #[tokio::test]
    async fn concurrent_calls_share_batches_and_each_gets_its_own_answer() {
        let group: Arc<CallGroup<u32, u32, String>> = Arc::new(CallGroup::new());
        let batches = Batches::default();
        let calls = (0..40_u32).map(|i| {
            let group = group.clone();
            let run = doubling(batches.clone());
            tokio::spawn(async move { (i, group.call(i, 16, run, fault).await) })
        });
        for call in futures_util::future::join_all(calls).await {
            let (i, answer) = call.unwrap();
            assert_eq!(answer, Ok(i * 2));
        }
        let batches = batches.lock().unwrap();
        let mut seen: Vec<u32> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>(), "each job runs exactly once");
        assert!(batches.iter().all(|b| b.len() <= 16), "{batches:?}");
        assert!(
            batches.len() < 40,
            "calls in flight were written together: {batches:?}"
        );
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_job_in_it() {
        let group: CallGroup<u32, u32, String> = CallGroup::new();
        let failing =
            |_: Vec<u32>| -> BatchFuture<u32, String> { Box::pin(async { Err("down".to_owned()) }) };
        let (a, b) = tokio::join!(group.call(1, 8, failing, fault), group.call(2, 8, failing, fault));
        assert_eq!((a, b), (Err("down".to_owned()), Err("down".to_owned())));
    }

    #[tokio::test]
    async fn a_batch_with_too_few_answers_says_the_jobs_may_have_been_applied() {
        let group: CallGroup<u32, u32, String> = CallGroup::new();
        let short = |_: Vec<u32>| -> BatchFuture<u32, String> { Box::pin(async { Ok(Vec::new()) }) };
        let answer = group.call(1, 8, short, fault).await;
        assert_eq!(
            answer,
            Err(BatchFault::Miscounted { jobs: 1, answers: 0 }.to_string())
        );
        assert!(answer.unwrap_err().contains("may have been applied"));
    }

    #[tokio::test]
    async fn a_panicking_batch_is_reported_lost() {
        let group: CallGroup<u32, u32, String> = CallGroup::new();
        let panicking =
            |_: Vec<u32>| -> BatchFuture<u32, String> { Box::pin(async { panic!("batch panicked") }) };
        assert_eq!(
            group.call(1, 8, panicking, fault).await,
            Err(BatchFault::Lost.to_string())
        );
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_does_not_cut_short_the_batch_carrying_others() {
        let group: Arc<CallGroup<u32, u32, String>> = Arc::new(CallGroup::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let (release, wait) = tokio::sync::watch::channel(false);
        let slow = {
            let ran = ran.clone();
            move |jobs: Vec<u32>| -> BatchFuture<u32, String> {
                let ran = ran.clone();
                let mut wait = wait.clone();
                Box::pin(async move {
                    wait.wait_for(|go| *go).await.unwrap();
                    ran.fetch_add(jobs.len(), Ordering::SeqCst);
                    Ok(jobs)
                })
            }
        };
        // The first caller takes the turn and runs a batch that waits; the second queues behind it.
        let first = tokio::spawn({
            let group = group.clone();
            let slow = slow.clone();
            async move { group.call(1, 8, slow, fault).await }
        });
        tokio::task::yield_now().await;
        let second = tokio::spawn({
            let group = group.clone();
            async move { group.call(2, 8, slow, fault).await }
        });
        tokio::task::yield_now().await;
        first.abort();
        release.send(true).unwrap();
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            2,
            "the job of the caller that left ran too"
        );
    }
}
