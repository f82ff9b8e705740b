//! The store as the evidence of adaptive routing: what each provider accepted and what its receipts
//! said, for `sms_failover::Strategy::Adaptive`.

use std::time::Duration;

use async_trait::async_trait;
use sms_core::Error;
use sms_failover::ReceiptEvidence;
use sms_failover::adaptive::SentMessage;

use crate::state::StoreState;

/// Give a [`StoreState`] to `FailoverSenderBuilder::receipt_evidence`: the adaptive router then
/// judges providers on the receipts recorded here ([`crate::MessageStore::sent_within`]). A store
/// failure is the chain's retryable `Unavailable` error; the router changes nothing then.
#[async_trait]
impl ReceiptEvidence for StoreState {
    async fn sent_within(&self, window: Duration) -> Result<Vec<SentMessage>, Error> {
        self.store()
            .sent_within(window)
            .await
            .map_err(|e| self.unavailable("delivery evidence", e))
    }
}
