//! The writer's hot work as values: a round of the recording chain's rows, or a batch of spend
//! jobs. Each backend runs a part in a transaction of its own, except that SQLite's writer thread
//! puts the parts that wait together into one transaction (see `sqlite::write_loop`): the recording
//! rounds and the spend batches then share commits instead of taking turns on the one writer.

#[cfg(feature = "sqlite")]
use tokio::sync::oneshot;

use crate::error::{StoreError, StoreErrorKind};
use crate::model::{AttemptRecord, NewMessage, OutcomeUpdate};
use crate::spend::{SpendAnswer, SpendJob};
use crate::store::BatchWritten;

/// One part of a write transaction.
#[derive(Debug, Clone)]
pub(crate) enum WritePart {
    /// `MessageStore::record_batch`.
    Records {
        sending: Vec<NewMessage>,
        outcomes: Vec<OutcomeUpdate>,
        attempts: Vec<(String, Vec<AttemptRecord>)>,
    },
    /// Spend jobs, applied in order.
    Spend(Vec<SpendJob>),
}

/// What a part wrote.
#[derive(Debug)]
pub(crate) enum WriteDone {
    Records(BatchWritten),
    Spend(Vec<SpendAnswer>),
}

impl WriteDone {
    pub(crate) fn records(self) -> Result<BatchWritten, StoreError> {
        match self {
            Self::Records(written) => Ok(written),
            Self::Spend(_) => Err(mismatch()),
        }
    }

    pub(crate) fn spend(self) -> Result<Vec<SpendAnswer>, StoreError> {
        match self {
            Self::Spend(answers) => Ok(answers),
            Self::Records(_) => Err(mismatch()),
        }
    }
}

fn mismatch() -> StoreError {
    StoreError::new(
        StoreErrorKind::InvalidData,
        "the writer answered a part with another part's result",
    )
}

/// Where a written part's result goes.
#[cfg(feature = "sqlite")]
pub(crate) type Answer = oneshot::Sender<Result<WriteDone, StoreError>>;

/// Whom a part's result is for: one caller, or, for spend jobs merged into one part, each caller
/// with the number of jobs it gave (in order).
#[cfg(feature = "sqlite")]
pub(crate) enum Reply {
    One(Answer),
    Split(Vec<(usize, Answer)>),
}

#[cfg(feature = "sqlite")]
impl Reply {
    /// Gives each caller its result; callers that went away are skipped.
    pub(crate) fn send(self, result: Result<WriteDone, StoreError>) {
        match self {
            Self::One(answer) => {
                let _ = answer.send(result);
            }
            Self::Split(callers) => match result.and_then(WriteDone::spend) {
                Ok(answers) => {
                    let mut answers = answers.into_iter();
                    for (count, answer) in callers {
                        let mine: Vec<SpendAnswer> = answers.by_ref().take(count).collect();
                        let _ = answer.send(Ok(WriteDone::Spend(mine)));
                    }
                }
                Err(error) => {
                    for (_, answer) in callers {
                        let _ = answer.send(Err(error.clone()));
                    }
                }
            },
        }
    }
}

/// The queued parts as written: the spend jobs of every caller merged into one part (after the
/// others, in the callers' order), so that a turn of the writer reads and writes each counter once
/// however many callers charged it.
#[cfg(feature = "sqlite")]
pub(crate) fn merge_spend(queued: Vec<(WritePart, Answer)>) -> (Vec<WritePart>, Vec<Reply>) {
    let (mut parts, mut replies) = (Vec::new(), Vec::new());
    let (mut jobs, mut callers) = (Vec::new(), Vec::new());
    for (part, answer) in queued {
        match part {
            WritePart::Spend(mine) => {
                callers.push((mine.len(), answer));
                jobs.extend(mine);
            }
            other => {
                parts.push(other);
                replies.push(Reply::One(answer));
            }
        }
    }
    if !callers.is_empty() {
        parts.push(WritePart::Spend(jobs));
        replies.push(Reply::Split(callers));
    }
    (parts, replies)
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use sms_failover::state::SpendAdmission;

    use super::*;

    fn settle(now: u64) -> SpendJob {
        SpendJob::Settle(Vec::new(), now)
    }

    #[tokio::test]
    async fn spend_parts_merge_into_one_and_each_caller_gets_its_own_answers_back() {
        let (a, a_rx) = oneshot::channel();
        let (b, b_rx) = oneshot::channel();
        let (c, c_rx) = oneshot::channel();
        let records = WritePart::Records {
            sending: Vec::new(),
            outcomes: Vec::new(),
            attempts: Vec::new(),
        };
        let (parts, replies) = merge_spend(vec![
            (WritePart::Spend(vec![settle(1), settle(2)]), a),
            (records, b),
            (WritePart::Spend(vec![settle(3)]), c),
        ]);
        assert_eq!(parts.len(), 2);
        match &parts[1] {
            WritePart::Spend(jobs) => assert_eq!(jobs.len(), 3),
            other => panic!("{other:?}"),
        }
        let mut replies = replies.into_iter();
        replies.next().unwrap().send(Ok(WriteDone::Records(BatchWritten {
            at: 5,
            moved: 0,
            early_receipts: 0,
        })));
        let charged = |n| SpendAnswer::Charged(SpendAdmission::Reserved { used: vec![n] });
        replies
            .next()
            .unwrap()
            .send(Ok(WriteDone::Spend(vec![charged(1), charged(2), charged(3)])));
        assert_eq!(
            a_rx.await.unwrap().unwrap().spend().unwrap(),
            vec![charged(1), charged(2)]
        );
        assert_eq!(b_rx.await.unwrap().unwrap().records().unwrap().at, 5);
        assert_eq!(c_rx.await.unwrap().unwrap().spend().unwrap(), vec![charged(3)]);
    }

    #[tokio::test]
    async fn a_failed_merged_part_fails_every_caller_in_it() {
        let (a, a_rx) = oneshot::channel();
        let (b, b_rx) = oneshot::channel();
        let (_, replies) = merge_spend(vec![
            (WritePart::Spend(vec![settle(1)]), a),
            (WritePart::Spend(vec![settle(2)]), b),
        ]);
        let error = StoreError::new(StoreErrorKind::ReadOnly, "disk full");
        replies.into_iter().next().unwrap().send(Err(error));
        assert_eq!(a_rx.await.unwrap().unwrap_err().kind(), StoreErrorKind::ReadOnly);
        assert_eq!(b_rx.await.unwrap().unwrap_err().kind(), StoreErrorKind::ReadOnly);
    }
}
