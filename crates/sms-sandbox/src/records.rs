//! What the sandbox records and what tests inject: accepted messages, pushes, handset replies.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::config::Product;

/// A message the sandbox accepted (and billed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedMessage {
    /// The product that accepted it.
    pub product: Product,
    /// The account (ihuyi APIID, MMS account, Juxiang name) that sent it.
    pub account: String,
    /// Accepted recipients, exactly as written on the wire (`"1 2025550123"` for international).
    pub recipients: Vec<String>,
    /// Recipients of the same request that were refused (MMS, Juxiang `faile`).
    #[serde(default)]
    pub failed: Vec<String>,
    /// The SMS text as accepted (Juxiang: after cutting to the length limit), the voice code, or
    /// the MMS package id.
    pub text: String,
    /// The id returned to the client: `smsid`, `voiceid`, the SendMms `mmsid`, or for Juxiang
    /// (which returns none) a generated id.
    pub provider_id: String,
    /// When it was accepted (JSON: Unix milliseconds).
    #[serde(with = "system_time_ms")]
    pub time: SystemTime,
    /// Parts billed per recipient.
    pub parts: u32,
    /// Parts billed in total (parts times accepted recipients): what the balance lost.
    pub billed: i64,
    /// Id of the registered template (ihuyi AddTemplate) the text matches, if any.
    #[serde(default)]
    pub template_id: Option<String>,
    /// Scheduled send time as the client gave it (MMS `time`, Juxiang `time`), if well-formed.
    #[serde(default)]
    pub scheduled: Option<String>,
    /// The delivery outcome the sandbox chose; the ihuyi receipt (if any) reports the same.
    pub delivered: bool,
    /// The number it was sent from, when the client chose one: Juxiang's service code followed by
    /// the `sender` extension.
    #[serde(default)]
    pub sender_number: Option<String>,
}

/// What kind of push the sandbox made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushKind {
    /// An ihuyi delivery receipt.
    Receipt,
    /// A handset reply pushed to an upstream URL.
    Upstream,
}

/// A finished push (after its last attempt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordedPush {
    /// Receipt or upstream reply.
    pub kind: PushKind,
    /// The product it belongs to.
    pub product: Product,
    /// Where it was POSTed.
    pub url: String,
    /// The form fields sent (decoded text).
    pub fields: Vec<(String, String)>,
    /// How many attempts were made (1 plus retries).
    pub attempts: u32,
    /// Whether the receiver acknowledged it (any 2xx; Juxiang: a body of exactly `0`).
    pub succeeded: bool,
}

/// A reply from a handset user, injected by a test.
///
/// Juxiang replies are queued for `readsms.asp` (one per call, oldest first); replies of any product
/// are also pushed to the product's upstream URL when one is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InboundReply {
    /// The product whose customer receives the reply.
    pub product: Product,
    /// The handset number that replied.
    pub from: String,
    /// The reply text (`0000` is a Juxiang unsubscribe).
    pub text: String,
    /// The service number the handset replied to; default `106900000000`.
    #[serde(default)]
    pub service_number: Option<String>,
    /// The account whose `readsms` may read it; `None` = any account of the product.
    #[serde(default)]
    pub account: Option<String>,
}

impl InboundReply {
    /// A reply of `product` from handset `from` with `text`.
    pub fn new(product: Product, from: impl Into<String>, text: impl Into<String>) -> Self {
        InboundReply {
            product,
            from: from.into(),
            text: text.into(),
            service_number: None,
            account: None,
        }
    }

    /// Sets the service number the handset replied to.
    pub fn service_number(mut self, number: impl Into<String>) -> Self {
        self.service_number = Some(number.into());
        self
    }

    /// Restricts the reply to one account's `readsms`.
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }
}

/// Service number used when an injected reply names none.
pub(crate) const DEFAULT_SERVICE_NUMBER: &str = "106900000000";

mod system_time_ms {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(crate::clock::unix_millis(*t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(crate::clock::from_unix_millis(i64::deserialize(d)?))
    }
}
