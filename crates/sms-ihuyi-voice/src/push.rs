//! Delivery receipts the voice API pushes to the customer's URL: the SMS receipt format (see
//! [`sms_ihuyi::push`]), with the call's id in `smsid` or `voiceid`.
//!
//! ```
//! use sms_ihuyi_voice::push::{parse_delivery_report, RECEIPT_ACK};
//! let report = parse_delivery_report(b"code=2&msg=DELIVRD&mobilephone=13800138000&smsid=197362477")?;
//! assert!(report.is_delivered());
//! assert_eq!((report.provider.as_str(), report.message_id.as_str()), ("ihuyi-voice", "197362477"));
//! # Ok::<(), sms_core::Error>(())
//! ```

use sms_core::{DeliveryReport, Error};

pub use sms_ihuyi::push::RECEIPT_ACK;

use crate::config::DEFAULT_NAME;

/// Parses a voice-code delivery receipt; the report names provider `ihuyi-voice`.
///
/// # Errors
/// [`sms_core::ErrorKind::Protocol`] for a body that is not a UTF-8 form or JSON object, or that
/// lacks the id.
pub fn parse_delivery_report(body: &[u8]) -> Result<DeliveryReport, Error> {
    sms_ihuyi::push::parse_delivery_report_for(DEFAULT_NAME, body)
}
