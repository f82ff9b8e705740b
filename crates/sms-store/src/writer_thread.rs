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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_writer_thread() {
        let thread = WriterThread::start("test").unwrap();
        let (tx, rx) = oneshot::channel();
        thread.spawn(async move {
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        });
        assert_eq!(rx.await.unwrap().as_deref(), Some("sms-store-writer"));
    }

    #[tokio::test]
    async fn a_panic_in_one_piece_of_work_leaves_the_thread_serving() {
        let thread = WriterThread::start("test").unwrap();
        thread.spawn(async { panic!("inside the writer") });
        let (tx, rx) = oneshot::channel();
        thread.spawn(async move {
            let _ = tx.send(7);
        });
        assert_eq!(rx.await.unwrap(), 7);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_the_work() {
        let thread = WriterThread::start("test").unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        // Never ends by itself: it holds `tx` until the runtime drops it.
        thread.spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(thread);
        assert!(rx.await.is_err(), "the work was dropped with the thread");
    }
}
