//! A thread of its own for the SQLite writer's transactions.
//!
//! A transaction is a series of statements, each a round trip between the task running it and the
//! SQLite connection's thread. When that task shares the application's runtime with many busy tasks
//! (a gateway answering 64 requests at once), every statement's answer wakes it from outside the
//! runtime, into the queue behind them: a transaction of a few statements then took milliseconds,
//! and since the one writer runs one transaction at a time, that wait, not the CPU, capped the
//! gateway's sends per second. On a thread of its own, the task is woken at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::{Result, StoreError, StoreErrorKind};

/// A single-threaded runtime on a thread of its own; it stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct WriterThread {
    runtime: tokio::runtime::Handle,
    /// Dropped with the last handle: the thread then ends, dropping what still runs on it.
    _stop: Arc<oneshot::Sender<()>>,
}

impl WriterThread {
    /// Starts the thread; `label` names the database in errors.
    pub(crate) fn start(label: &str) -> Result<Self> {
        let failed = |e: std::io::Error| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("starting the writer thread for SQLite database {label}: {e}"),
            )
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(failed)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sms-store-writer".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(failed)?;
        Ok(Self {
            runtime: handle,
            _stop: Arc::new(stop),
        })
    }

    /// Runs `work` on the writer thread in the background, until it ends or the thread stops.
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        drop(self.runtime.spawn(work));
    }

    /// Runs `work` on the writer thread and returns its result. The work runs to its end even when
    /// the caller goes away.
    ///
    /// # Errors
    /// `work`'s, or `Unavailable` when the thread has stopped or the work panicked.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.runtime.spawn(work).await.map_err(|e| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("the store's writer thread did not finish a write: {e}"),
            )
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_writer_thread_and_its_result_comes_back() {
        let thread = WriterThread::start("test").unwrap();
        let name = thread
            .run(async { Ok(std::thread::current().name().map(str::to_owned)) })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("sms-store-writer"));
        let error = thread
            .run(async { Err::<(), _>(StoreError::new(StoreErrorKind::ReadOnly, "refused")) })
            .await
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::ReadOnly);
    }

    #[tokio::test]
    async fn a_panic_in_the_work_is_an_error_not_a_panic_of_the_caller() {
        let thread = WriterThread::start("test").unwrap();
        let error = thread
            .run(async { panic!("inside the writer") as Result<()> })
            .await
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        // The thread goes on serving.
        assert_eq!(thread.run(async { Ok(7) }).await.unwrap(), 7);
    }
}
