//! Sending one message as several requests: split the recipients into batches of at most N, send
//! the batches (one after another, or a few at once), and merge the answers into one result in the
//! message's recipient order.
//!
//! Every provider that takes fewer recipients per request than a message can carry uses
//! [`send_batches`] with its own request function, so that the rules below hold for all of them:
//!
//! - A batch whose request fails marks each of its recipients failed with that error.
//! - A failure that [`repeats_for_every_batch`] (it concerns the account or the content, not the
//!   numbers) stops the batches not yet requested: they are marked failed with the same kind and
//!   code, and cost no request.
//! - The send returns `Ok(Receipt)` when any recipient was accepted or left unknown (the receipt says
//!   which failed). Otherwise it returns `Err` with an ambiguous error when there is one, so that a
//!   message that may have gone out is never taken for a clean failure (and failed over); else
//!   the first failed request's error; else the first recipient's error.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use sms_core::raw::batch::{BatchPlan, send_batches};
//! use sms_core::{Message, PhoneNumber, RecipientOutcome};
//! let to: Vec<PhoneNumber> = ["13900000001", "13900000002", "13900000003"]
//!     .iter()
//!     .map(|n| n.parse().unwrap())
//!     .collect();
//! let message = Message::text(to, "hi");
//! let receipt = send_batches("demo", &message, BatchPlan::sequential(2), |batch: Message| async move {
//!     // One request for `batch.recipients()` (at most 2 numbers) would go here.
//!     Ok(batch
//!         .recipients()
//!         .iter()
//!         .map(|n| RecipientOutcome::accepted(n.clone(), "demo", Some("id-1".to_owned())))
//!         .collect())
//! })
//! .await
//! .unwrap();
//! assert!(receipt.all_accepted());
//! assert_eq!(&receipt.reference, message.reference());
//! # });
//! ```

use std::future::Future;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use futures_util::StreamExt;

use crate::error::{Error, ErrorKind, Operation};
use crate::message::Message;
use crate::phone::PhoneNumber;
use crate::receipt::{Receipt, RecipientOutcome, RecipientStatus};

/// Whether a batch failure will repeat for every later batch of the same message, because it
/// concerns the account (credentials, configuration, a frozen account) or the content, not the
/// numbers, so that later batches are not requested.
///
/// Balance is not among them: a smaller batch may still be affordable.
pub fn repeats_for_every_batch(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Unauthorized
            | ErrorKind::Configuration
            | ErrorKind::AccountSuspended
            | ErrorKind::ContentRejected
            | ErrorKind::InvalidContent
            | ErrorKind::InvalidRequest
    )
}

/// What one batch's request gives: an outcome per recipient, or the error that failed it whole.
type BatchResult = Result<Vec<RecipientOutcome>, Error>;

/// How [`send_batches`] splits and sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// The most recipients one request carries (0 is taken as 1).
    pub size: usize,
    /// How many requests may be in flight at once (0 is taken as 1). Batches still start in the
    /// message's order.
    pub concurrency: usize,
    /// Whether a failure that [`repeats_for_every_batch`] stops the batches not yet started.
    pub stop_on_repeating_failure: bool,
}

impl BatchPlan {
    /// Batches of at most `size` recipients, one request after another; a failure that
    /// [`repeats_for_every_batch`] stops the later batches.
    pub fn sequential(size: usize) -> Self {
        Self {
            size,
            concurrency: 1,
            stop_on_repeating_failure: true,
        }
    }

    /// Batches of at most `size` recipients with up to `concurrency` requests in flight; every batch
    /// is requested whatever the others answer.
    pub fn concurrent(size: usize, concurrency: usize) -> Self {
        Self {
            size,
            concurrency,
            stop_on_repeating_failure: false,
        }
    }
}

/// Sends `message` in batches as `plan` says and merges the outcomes into one result (see the
/// [module documentation](self) for the rules).
///
/// `send` makes one request for a batch: it gets the message for the batch's recipients only
/// ([`Message::for_recipients`], same reference, body and options) and returns one outcome per
/// recipient, or the error that failed the whole request. Outcomes are put in the message's
/// recipient order; a recipient `send` returned no outcome for is
/// [`RecipientStatus::Unknown`].
///
/// # Errors
/// [`ErrorKind::InvalidRequest`] for a message without recipients (no request is made); when no
/// recipient was accepted or left unknown, the error chosen as the module documentation says.
pub async fn send_batches<F, Fut>(
    provider: &str,
    message: &Message,
    plan: BatchPlan,
    send: F,
) -> Result<Receipt, Error>
where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = Result<Vec<RecipientOutcome>, Error>>,
{
    let recipients = message.recipients();
    if recipients.is_empty() {
        return Err(Error::new(ErrorKind::InvalidRequest, Operation::Send)
            .with_provider(provider)
            .with_message("the message has no recipient"));
    }
    let size = plan.size.max(1);
    let results: Vec<(Range<usize>, BatchResult)> = if recipients.len() <= size {
        // One batch (every single-recipient send): no copy of the message without its
        // recipients, no stop flag and no stream to drive.
        vec![(0..recipients.len(), send(message.clone()).await)]
    } else {
        send_in_batches(message, plan, &send).await
    };
    merge(provider, message, results)
}

/// Sends the batches of a message that needs more than one, as [`send_batches`] describes.
async fn send_in_batches<F, Fut>(
    message: &Message,
    plan: BatchPlan,
    send: &F,
) -> Vec<(Range<usize>, BatchResult)>
where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = Result<Vec<RecipientOutcome>, Error>>,
{
    let recipients = message.recipients();
    // The message without its recipients, so that each batch copies only its own numbers.
    let template = message.for_recipients(Vec::new());
    let stopped: Mutex<Option<Error>> = Mutex::new(None);
    let (template, stopped) = (&template, &stopped);
    // Batches are index ranges rather than slices: a stream closure over borrowed items makes the
    // future of an `async_trait` method fail its `Send` check (a known compiler limitation).
    let size = plan.size.max(1);
    let ranges = (0..recipients.len())
        .step_by(size)
        .map(|start| start..(start + size).min(recipients.len()));
    futures_util::stream::iter(ranges)
        .map(|range| async move {
            let earlier = stopped.lock().unwrap_or_else(PoisonError::into_inner).clone();
            if let Some(error) = earlier {
                let message = format!("not requested: an earlier batch failed ({})", error.message());
                return (range, Err(error.with_message(message)));
            }
            let result = send(template.for_recipients(&recipients[range.clone()])).await;
            if let Err(error) = &result
                && plan.stop_on_repeating_failure
                && repeats_for_every_batch(error)
            {
                stopped
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert_with(|| error.clone());
            }
            (range, result)
        })
        .buffered(plan.concurrency.max(1))
        .collect()
        .await
}

/// Merges the batches' results into one receipt, or the error chosen as the module documentation
/// says when nothing was accepted or left unknown.
fn merge(
    provider: &str,
    message: &Message,
    results: Vec<(Range<usize>, BatchResult)>,
) -> Result<Receipt, Error> {
    let recipients = message.recipients();
    let mut outcomes = Vec::with_capacity(recipients.len());
    let mut request_errors = Vec::new();
    for (range, result) in results {
        let batch = &recipients[range];
        match result {
            Ok(batch_outcomes) => outcomes.extend(in_batch_order(provider, batch, batch_outcomes)),
            Err(error) => {
                tracing::warn!(provider, numbers = batch.len(), "batch failed: {error}");
                outcomes.extend(
                    batch
                        .iter()
                        .map(|n| RecipientOutcome::failed(n.clone(), provider, error.clone())),
                );
                request_errors.push(error);
            }
        }
    }
    if outcomes
        .iter()
        .any(|o| !matches!(o.status, RecipientStatus::Failed(_)))
    {
        return Ok(Receipt::new(message.reference().clone(), outcomes));
    }
    Err(
        representative_error(&request_errors, &outcomes).unwrap_or_else(|| {
            Error::new(ErrorKind::ProviderFault, Operation::Send)
                .with_provider(provider)
                .with_message("no number was accepted")
        }),
    )
}

/// The outcomes of one batch in the batch's order: one per recipient, `Unknown` where `send` gave
/// none (extra outcomes for numbers outside the batch are dropped).
fn in_batch_order(
    provider: &str,
    batch: &[PhoneNumber],
    mut outcomes: Vec<RecipientOutcome>,
) -> Vec<RecipientOutcome> {
    let in_order = outcomes.len() == batch.len()
        && outcomes
            .iter()
            .zip(batch)
            .all(|(outcome, number)| &outcome.recipient == number);
    if in_order {
        return outcomes;
    }
    let ordered: Vec<RecipientOutcome> = batch
        .iter()
        .map(
            |number| match outcomes.iter().position(|o| &o.recipient == number) {
                Some(index) => outcomes.remove(index),
                None => {
                    tracing::warn!(provider, recipient = %number.masked(), "no outcome for a recipient of the batch");
                    RecipientOutcome::unknown(number.clone(), provider)
                }
            },
        )
        .collect();
    if !outcomes.is_empty() {
        tracing::warn!(
            provider,
            extra = outcomes.len(),
            "outcomes for numbers outside the batch ignored"
        );
    }
    ordered
}

/// The error a send with nothing accepted returns: the first ambiguous one (of a request or of a
/// recipient), else the first failed request's, else the first recipient's.
fn representative_error(request_errors: &[Error], outcomes: &[RecipientOutcome]) -> Option<Error> {
    let recipient_errors = outcomes.iter().filter_map(RecipientOutcome::error);
    request_errors
        .iter()
        .chain(recipient_errors.clone())
        .find(|e| e.is_ambiguous())
        .or_else(|| request_errors.first())
        .or_else(|| recipient_errors.clone().next())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn numbers(count: u64) -> Vec<PhoneNumber> {
        (0..count)
            .map(|i| PhoneNumber::parse(&(13_900_000_000 + i).to_string()).unwrap())
            .collect()
    }

    fn accept(batch: &Message) -> Vec<RecipientOutcome> {
        batch
            .recipients()
            .iter()
            .map(|n| RecipientOutcome::accepted(n.clone(), "p", Some(n.national_number().to_owned())))
            .collect()
    }

    fn error(kind: ErrorKind) -> Error {
        Error::new(kind, Operation::Send)
            .with_provider("p")
            .with_message(kind.as_str())
    }

    /// Records the size of each requested batch.
    #[derive(Default)]
    struct Calls(Mutex<Vec<usize>>);

    impl Calls {
        fn record(&self, batch: &Message) -> usize {
            let mut calls = self.0.lock().unwrap();
            calls.push(batch.recipients().len());
            calls.len() - 1
        }

        fn sizes(&self) -> Vec<usize> {
            self.0.lock().unwrap().clone()
        }
    }

    #[tokio::test]
    async fn batches_split_at_the_size_and_merge_in_recipient_order() {
        for (size, count, expected) in [
            (100usize, 99u64, vec![99usize]),
            (100, 100, vec![100]),
            (100, 250, vec![100, 100, 50]),
            (2, 5, vec![2, 2, 1]),
            (0, 2, vec![1, 1]),
        ] {
            let calls = Calls::default();
            let message = Message::text(numbers(count), "hi").with_reference("ref-1");
            let receipt = send_batches("p", &message, BatchPlan::sequential(size), |batch: Message| {
                calls.record(&batch);
                assert_eq!(batch.reference().as_str(), "ref-1", "the reference is kept");
                assert_eq!(batch.body().text(), Some("hi"));
                async move { Ok(accept(&batch)) }
            })
            .await
            .unwrap();
            assert_eq!(calls.sizes(), expected, "{count} in batches of {size}");
            assert_eq!(receipt.reference.as_str(), "ref-1");
            let order: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
            assert_eq!(order, message.recipients().iter().collect::<Vec<_>>());
            assert!(receipt.all_accepted());
        }
    }

    #[tokio::test]
    async fn outcomes_given_out_of_order_or_missing_are_put_in_order() {
        let message = Message::text(numbers(3), "hi");
        let receipt = send_batches(
            "p",
            &message,
            BatchPlan::sequential(3),
            |batch: Message| async move {
                let mut outcomes = accept(&batch);
                outcomes.reverse();
                outcomes.remove(1); // the middle recipient gets no outcome
                outcomes.push(RecipientOutcome::accepted(numbers(10)[9].clone(), "p", None));
                Ok(outcomes)
            },
        )
        .await
        .unwrap();
        let order: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
        assert_eq!(order, message.recipients().iter().collect::<Vec<_>>());
        assert!(matches!(receipt.outcomes[1].status, RecipientStatus::Unknown));
        assert_eq!((receipt.accepted().count(), receipt.unknown().count()), (2, 1));
    }

    #[tokio::test]
    async fn a_failed_batch_marks_its_recipients_and_later_batches_still_go() {
        let calls = Calls::default();
        let message = Message::text(numbers(5), "hi");
        let receipt = send_batches("p", &message, BatchPlan::sequential(2), |batch: Message| {
            let index = calls.record(&batch);
            async move {
                match index {
                    1 => Err(error(ErrorKind::Unavailable)),
                    _ => Ok(accept(&batch)),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(calls.sizes(), [2, 2, 1]);
        let kinds: Vec<Option<ErrorKind>> = receipt
            .outcomes
            .iter()
            .map(|o| o.error().map(Error::kind))
            .collect();
        use ErrorKind::Unavailable;
        assert_eq!(kinds, [None, None, Some(Unavailable), Some(Unavailable), None]);
    }

    #[tokio::test]
    async fn a_failure_that_repeats_stops_the_later_batches() {
        let calls = Calls::default();
        let message = Message::text(numbers(5), "hi");
        let e = send_batches("p", &message, BatchPlan::sequential(2), |batch: Message| {
            calls.record(&batch);
            async { Err::<Vec<RecipientOutcome>, _>(error(ErrorKind::Unauthorized).with_code("405")) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.sizes(), [2], "later batches are not requested");
        assert_eq!(
            (e.kind(), e.code(), e.message()),
            (ErrorKind::Unauthorized, Some("405"), "unauthorized")
        );

        // The receipt of a partly accepted send says why the skipped numbers failed.
        let calls = Calls::default();
        let receipt = send_batches("p", &message, BatchPlan::sequential(2), |batch: Message| {
            let index = calls.record(&batch);
            async move {
                match index {
                    0 => Ok(accept(&batch)),
                    _ => Err(error(ErrorKind::ContentRejected)),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(calls.sizes(), [2, 2]);
        let skipped = receipt.outcomes[4].error().unwrap();
        assert_eq!(skipped.kind(), ErrorKind::ContentRejected);
        assert_eq!(
            skipped.message(),
            "not requested: an earlier batch failed (content rejected)"
        );

        // Failures about the numbers, or the balance, do not stop anything.
        for kind in [
            ErrorKind::RecipientRejected,
            ErrorKind::InsufficientBalance,
            ErrorKind::Unavailable,
        ] {
            let calls = Calls::default();
            let e = send_batches("p", &message, BatchPlan::sequential(2), |batch: Message| {
                calls.record(&batch);
                async move { Err::<Vec<RecipientOutcome>, _>(error(kind)) }
            })
            .await
            .unwrap_err();
            assert_eq!(calls.sizes(), [2, 2, 1], "{kind:?}");
            assert_eq!(e.kind(), kind);
        }

        // Concurrent plans request every batch unless told otherwise.
        let calls = Calls::default();
        send_batches("p", &message, BatchPlan::concurrent(1, 2), |batch: Message| {
            calls.record(&batch);
            async { Err::<Vec<RecipientOutcome>, _>(error(ErrorKind::Unauthorized)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.sizes().len(), 5);
    }

    #[test]
    fn the_failures_that_repeat_for_every_batch() {
        use ErrorKind::*;
        for kind in [
            Unauthorized,
            Configuration,
            AccountSuspended,
            ContentRejected,
            InvalidContent,
            InvalidRequest,
        ] {
            assert!(repeats_for_every_batch(&error(kind)), "{kind:?}");
        }
        for kind in [
            InsufficientBalance,
            RecipientRejected,
            InvalidRecipient,
            RecipientThrottled,
            RateLimited,
            Unavailable,
            Ambiguous,
            Protocol,
            ProviderFault,
        ] {
            assert!(!repeats_for_every_batch(&error(kind)), "{kind:?}");
        }
    }

    /// Every recipient of `batch` refused with a listed (per-number) error.
    fn refuse(batch: &Message) -> Vec<RecipientOutcome> {
        batch
            .recipients()
            .iter()
            .map(|n| RecipientOutcome::failed(n.clone(), "p", error(ErrorKind::RecipientRejected)))
            .collect()
    }

    /// Sends `message` one recipient per request, each request failing with the kind `kind_for`
    /// gives its number.
    async fn failing_one_by_one(message: &Message, kind_for: fn(&str) -> ErrorKind) -> Error {
        send_batches(
            "p",
            message,
            BatchPlan::sequential(1),
            |batch: Message| async move {
                let kind = kind_for(batch.recipients()[0].national_number());
                Err::<Vec<RecipientOutcome>, _>(error(kind))
            },
        )
        .await
        .unwrap_err()
    }

    #[tokio::test]
    async fn an_ambiguous_error_wins_when_nothing_was_accepted() {
        let message = Message::text(numbers(3), "hi");
        let e = failing_one_by_one(&message, |number| match number {
            "13900000001" => ErrorKind::Ambiguous,
            _ => ErrorKind::RecipientRejected,
        })
        .await;
        assert_eq!(
            e.kind(),
            ErrorKind::Ambiguous,
            "a maybe-sent message is never hidden"
        );

        // Without one, the first failed request's error; then the first recipient's.
        let e = failing_one_by_one(&message, |number| match number {
            "13900000000" => ErrorKind::InsufficientBalance,
            _ => ErrorKind::RecipientRejected,
        })
        .await;
        assert_eq!(e.kind(), ErrorKind::InsufficientBalance);
        let e = send_batches(
            "p",
            &message,
            BatchPlan::sequential(2),
            |batch: Message| async move { Ok(refuse(&batch)) },
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RecipientRejected);

        // A request error comes before a recipient's listed refusal.
        let calls = Calls::default();
        let e = send_batches("p", &message, BatchPlan::sequential(2), |batch: Message| {
            let index = calls.record(&batch);
            async move {
                match index {
                    0 => Ok(refuse(&batch)),
                    _ => Err(error(ErrorKind::Unavailable)),
                }
            }
        })
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn unknown_recipients_make_the_send_a_success() {
        let message = Message::text(numbers(2), "hi");
        let receipt = send_batches(
            "p",
            &message,
            BatchPlan::sequential(2),
            |batch: Message| async move {
                let numbers = batch.recipients();
                Ok(vec![
                    RecipientOutcome::failed(numbers[0].clone(), "p", error(ErrorKind::RecipientRejected)),
                    RecipientOutcome::unknown(numbers[1].clone(), "p"),
                ])
            },
        )
        .await
        .unwrap();
        assert_eq!((receipt.failed().count(), receipt.unknown().count()), (1, 1));
    }

    #[tokio::test]
    async fn no_recipient_is_refused_without_a_request() {
        let calls = AtomicUsize::new(0);
        let message = Message::text(Vec::<PhoneNumber>::new(), "hi");
        let e = send_batches("p", &message, BatchPlan::sequential(2), |batch: Message| {
            calls.fetch_add(1, Ordering::Relaxed);
            async move { Ok(accept(&batch)) }
        })
        .await
        .unwrap_err();
        assert_eq!((e.kind(), e.provider()), (ErrorKind::InvalidRequest, Some("p")));
        assert_eq!(calls.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn concurrency_is_bounded_and_really_used() {
        #[derive(Default)]
        struct Flight {
            now: usize,
            max: usize,
        }
        let flight = Mutex::new(Flight::default());
        let message = Message::text(numbers(20), "hi");
        let receipt = send_batches("p", &message, BatchPlan::concurrent(1, 8), |batch: Message| {
            let flight = &flight;
            async move {
                {
                    let mut f = flight.lock().unwrap();
                    f.now += 1;
                    f.max = f.max.max(f.now);
                }
                // Let the other batches start before this one ends.
                for _ in 0..8 {
                    tokio::task::yield_now().await;
                }
                flight.lock().unwrap().now -= 1;
                Ok(accept(&batch))
            }
        })
        .await
        .unwrap();
        assert_eq!(flight.lock().unwrap().max, 8);
        let order: Vec<&PhoneNumber> = receipt.outcomes.iter().map(|o| &o.recipient).collect();
        assert_eq!(order, message.recipients().iter().collect::<Vec<_>>());
    }
}
