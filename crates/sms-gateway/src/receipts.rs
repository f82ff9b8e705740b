//! Group commit for pushed receipts: concurrent webhook calls are filed in one transaction, and
//! each call still waits until its own receipt is committed before it acknowledges.

use std::sync::{Arc, OnceLock};

use sms_core::DeliveryReport;
use sms_store::{MessageStore, ReceiptDisposition};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Receipts filed together at most.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<ReceiptDisposition, ApiError>>;

/// Files receipts through one writer task, started on the runtime of the first receipt.
#[derive(Debug, Default)]
pub(crate) struct ReceiptWriter {
    queue: OnceLock<mpsc::Sender<(DeliveryReport, Reply)>>,
}

impl ReceiptWriter {
    /// Files `report`; returns once it is committed.
    pub(crate) async fn file(
        &self,
        store: &Arc<dyn MessageStore>,
        report: DeliveryReport,
    ) -> Result<ReceiptDisposition, ApiError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
            tokio::spawn(run(store.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        let gone = || ApiError::store_stopped();
        queue.send((report, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Ends when every sender is gone (the gateway's state was dropped).
async fn run(store: Arc<dyn MessageStore>, mut rx: mpsc::Receiver<(DeliveryReport, Reply)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let reports: Vec<DeliveryReport> = batch.iter().map(|(r, _)| r.clone()).collect();
        match store.record_receipts(&reports).await {
            Ok(dispositions) if dispositions.len() == batch.len() => {
                for ((_, reply), disposition) in batch.into_iter().zip(dispositions) {
                    let _ = reply.send(Ok(disposition));
                }
            }
            Ok(_) => {
                let error = ApiError::store_stopped();
                for (_, reply) in batch {
                    let _ = reply.send(Err(error.clone()));
                }
            }
            Err(e) => {
                let error = ApiError::store(&e);
                for (_, reply) in batch {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
