//! The per-recipient status machine.

use std::fmt;
use std::str::FromStr;

/// Where one recipient of a message stands.
///
/// `queued → sending → accepted | failed | unknown`, then `accepted | unknown → delivered |
/// undelivered`, and `accepted → expired` when no receipt came in time. An `unknown` set by the
/// sweeper may still take the real outcome (`accepted` or `failed`) if it arrives late. `failed`, `delivered`,
/// `undelivered` and `expired` are final: nothing moves a recipient out of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Status {
    /// Waiting in the outbox.
    Queued,
    /// A request may be on its way (written before it starts).
    Sending,
    /// The provider took it.
    Accepted,
    /// The provider refused it, or it was never sent (opt-out, limit).
    Failed,
    /// It may have gone out: a timeout or crash after the request started.
    Unknown,
    /// The handset got it.
    Delivered,
    /// The provider reported it undeliverable.
    Undelivered,
    /// Accepted, but no receipt came within the configured time.
    Expired,
}

impl Status {
    /// Every status, in machine order.
    pub const ALL: [Status; 8] = [
        Self::Queued,
        Self::Sending,
        Self::Accepted,
        Self::Failed,
        Self::Unknown,
        Self::Delivered,
        Self::Undelivered,
        Self::Expired,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Accepted => "accepted",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
            Self::Delivered => "delivered",
            Self::Undelivered => "undelivered",
            Self::Expired => "expired",
        }
    }

    /// True for the states nothing moves out of.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Failed | Self::Delivered | Self::Undelivered | Self::Expired
        )
    }

    /// True when `next` is a legal move from `self`. The SQL guards in the backends use
    /// [`Self::sources_of`], which is derived from this, so the rule lives here once.
    pub fn can_move_to(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Queued, Sending | Failed)
                | (Sending, Accepted | Failed | Unknown)
                | (Accepted, Delivered | Undelivered | Expired)
                | (Unknown, Delivered | Undelivered)
                // The sweeper's `unknown` is a guess; the real outcome, when it arrives late, is better.
                | (Unknown, Accepted | Failed)
        )
    }

    /// The states from which `next` may be reached, as a SQL list literal (`'a','b'`).
    pub fn sources_of(next: Status) -> String {
        Self::ALL
            .iter()
            .filter(|from| from.can_move_to(next))
            .map(|from| format!("'{}'", from.as_str()))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown status `{s}` in the store"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_have_no_way_out() {
        for from in Status::ALL.into_iter().filter(|s| s.is_final()) {
            for to in Status::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn names_round_trip_and_sources_follow_the_machine() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
        }
        assert_eq!(Status::sources_of(Status::Delivered), "'accepted','unknown'");
        assert_eq!(Status::sources_of(Status::Accepted), "'sending','unknown'");
        assert_eq!(Status::sources_of(Status::Sending), "'queued'");
    }
}
