//! Several instances, one set of weights: the decider's lease and the log of its changes.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sms_core::{Error, ErrorKind, Operation};

use super::decide::{Evidence, ReceiptCounts};
use super::router::{ProviderWeight, WeightChange};

/// Where instances of one chain share their weights: a lease that lets one instance decide per
/// period, and the log of the decided changes that every instance follows. Implemented by the
/// message store (`sms-store`'s `StoreState`); without one ([`super::AdaptiveRouter::share`] never
/// called) a router decides alone, in memory.
#[async_trait]
pub trait WeightLog: Send + Sync + fmt::Debug {
    /// Takes or renews the decider's lease for `holder` until `ttl` from now: true when `holder`
    /// decides this period, false when another instance's lease runs.
    ///
    /// # Errors
    /// When the log cannot answer; the router then neither decides nor follows this period.
    async fn lead(&self, holder: &str, ttl: Duration) -> Result<bool, Error>;

    /// Stores one change; returns its sequence number (increasing).
    ///
    /// # Errors
    /// When the log cannot store it.
    async fn append(&self, change: &WeightChange) -> Result<i64, Error>;

    /// The latest `limit` changes with their sequence numbers, newest first.
    ///
    /// # Errors
    /// When the log cannot answer, or a stored change is unreadable.
    async fn latest(&self, limit: u32) -> Result<Vec<(i64, WeightChange)>, Error>;

    /// Stores the operator's overrides for every instance (replacing the ones stored).
    ///
    /// # Errors
    /// When the log cannot store them.
    async fn set_overrides(&self, overrides: &NamedOverrides) -> Result<(), Error>;

    /// The stored overrides; `None` when none were ever stored.
    ///
    /// # Errors
    /// When the log cannot answer, or the stored overrides are unreadable.
    async fn overrides(&self) -> Result<Option<NamedOverrides>, Error>;
}

/// The operator's overrides by provider name, as a [`WeightLog`] stores them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NamedOverrides {
    /// Every first attempt goes to this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// These providers get no first attempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drained: Vec<String>,
}

impl NamedOverrides {
    /// As JSON text ([`Self::from_json`] reads it).
    pub fn to_json(&self) -> String {
        // Strings only: serialization cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads [`Self::to_json`]'s text.
    ///
    /// # Errors
    /// [`ErrorKind::Protocol`] when the text is not stored overrides.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| {
            Error::new(ErrorKind::Protocol, Operation::Configure)
                .with_provider(crate::CHAIN_NAME)
                .with_message(format!("unreadable stored routing overrides: {e}"))
        })
    }
}

/// An operator's action on the overrides ([`super::AdaptiveRouter::apply_override`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Override {
    /// Every first attempt to this provider.
    Pin(String),
    /// No first attempts to this provider.
    Drain(String),
    /// Remove this provider's overrides (its pin, its drain).
    Release(String),
    /// Remove every override.
    Clear,
}

#[derive(Serialize, Deserialize)]
struct StoredChange {
    at_ms: u64,
    reason: String,
    providers: Vec<StoredProvider>,
}

#[derive(Serialize, Deserialize)]
struct StoredProvider {
    name: String,
    resting: u32,
    before: u32,
    after: u32,
    send_errors: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    judged: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    late: Option<u32>,
}

impl WeightChange {
    /// The change as JSON text, for a [`WeightLog`] that stores text ([`Self::from_json`] reads it).
    pub fn to_json(&self) -> String {
        let stored = StoredChange {
            at_ms: self
                .at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            reason: self.reason.clone(),
            providers: self
                .providers
                .iter()
                .map(|p| StoredProvider {
                    name: p.name.clone(),
                    resting: p.resting,
                    before: p.before,
                    after: p.after,
                    send_errors: p.evidence.send_errors,
                    judged: p.evidence.receipts.map(|r| r.judged),
                    late: p.evidence.receipts.map(|r| r.late),
                })
                .collect(),
        };
        // Strings and numbers only: serialization cannot fail.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Reads [`Self::to_json`]'s text.
    ///
    /// # Errors
    /// [`ErrorKind::Protocol`] when the text is not a stored weight change.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let stored: StoredChange = serde_json::from_str(text).map_err(|e| {
            Error::new(ErrorKind::Protocol, Operation::Configure)
                .with_provider(crate::CHAIN_NAME)
                .with_message(format!("unreadable stored weight change: {e}"))
        })?;
        Ok(Self {
            at: UNIX_EPOCH + Duration::from_millis(stored.at_ms),
            reason: stored.reason,
            providers: stored
                .providers
                .into_iter()
                .map(|p| ProviderWeight {
                    name: p.name,
                    resting: p.resting,
                    before: p.before,
                    after: p.after,
                    evidence: Evidence {
                        send_errors: p.send_errors,
                        receipts: match (p.judged, p.late) {
                            (Some(judged), Some(late)) => Some(ReceiptCounts { judged, late }),
                            _ => None,
                        },
                    },
                })
                .collect(),
        })
    }

    /// A change decided now (wall clock) — for tests and logs that build one by hand.
    pub fn new(reason: impl Into<String>, providers: Vec<ProviderWeight>) -> Self {
        Self {
            at: SystemTime::now(),
            reason: reason.into(),
            providers,
        }
    }
}

impl ProviderWeight {
    /// A provider at rest: `resting` before and after, no evidence (build changes by hand with it).
    pub fn resting(name: impl Into<String>, resting: u32) -> Self {
        Self {
            name: name.into(),
            resting,
            before: resting,
            after: resting,
            evidence: Evidence::default(),
        }
    }
}

/// What one period of [`super::AdaptiveRouter::period`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Period {
    /// This instance held the lease and decided.
    Decided(super::Decision),
    /// Another instance decides; this one adopted the latest stored change when `adopted`.
    Followed {
        /// True when a change newer than the last one seen was adopted.
        adopted: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_survives_its_json() {
        let change = WeightChange {
            at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            reason: "demoted".to_owned(),
            providers: vec![
                ProviderWeight {
                    name: "a".to_owned(),
                    resting: 50,
                    before: 50,
                    after: 40,
                    evidence: Evidence {
                        send_errors: 2,
                        receipts: Some(ReceiptCounts { judged: 30, late: 12 }),
                    },
                },
                ProviderWeight {
                    name: "b".to_owned(),
                    resting: 50,
                    before: 50,
                    after: 60,
                    evidence: Evidence {
                        send_errors: 0,
                        receipts: None,
                    },
                },
            ],
        };
        assert_eq!(
            WeightChange::from_json(&change.to_json()).expect("readable"),
            change
        );
        let error = WeightChange::from_json("{\"reason\":1}").expect_err("not a change");
        assert_eq!(error.kind(), ErrorKind::Protocol);
        assert!(
            error.to_string().contains("unreadable stored weight change"),
            "{error}"
        );
    }
}
