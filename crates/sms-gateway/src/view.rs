//! How stored records look in JSON answers: the store's one shape ([`sms_store::message_json`]),
//! shared with the CLI's `sms status --json`.

use serde_json::Value;
use sms_store::{ReceiptRecord, StoredMessage};

/// A message with each recipient's status, timeline and error, its attempts and receipts.
pub(crate) fn message(m: &StoredMessage, receipts: &[ReceiptRecord]) -> Value {
    sms_store::message_json(m, receipts)
}
