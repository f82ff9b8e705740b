//! A stream of handset replies that polls an [`InboundSource`] no faster than the provider allows.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::Error;
use crate::report::InboundMessage;
use crate::traits::InboundSource;

/// Polls `source` forever, at most once per `min_interval`, and yields every reply and every error.
///
/// Every call is spaced by at least `min_interval`, also while draining a backlog, because providers
/// such as Juxiang count every call against their limit. Errors are yielded and polling continues at
/// the same pace; stop by dropping the stream.
///
/// ```no_run
/// # async fn demo(source: std::sync::Arc<dyn sms_core::InboundSource>) {
/// use futures_util::StreamExt;
/// let mut replies = std::pin::pin!(sms_core::inbound_stream(source, std::time::Duration::from_secs(5)));
/// while let Some(reply) = replies.next().await {
///     println!("{reply:?}");
/// }
/// # }
/// ```
pub fn inbound_stream(
    source: Arc<dyn InboundSource>,
    min_interval: Duration,
) -> impl Stream<Item = Result<InboundMessage, Error>> + Send {
    let mut ticker = tokio::time::interval_at(Instant::now(), min_interval.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    futures_util::stream::unfold((source, ticker), |(source, mut ticker)| async move {
        loop {
            ticker.tick().await;
            match source.next_inbound().await {
                Ok(Some(message)) => return Some((Ok(message), (source, ticker))),
                Ok(None) => continue,
                Err(error) => return Some((Err(error), (source, ticker))),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, Operation};
    use async_trait::async_trait;
    use futures_util::StreamExt;
    use std::collections::{BTreeMap, VecDeque};
    use std::sync::Mutex;

    /// Plays a script of answers and records when each call happened.
    struct Scripted {
        answers: Mutex<VecDeque<Result<Option<InboundMessage>, Error>>>,
        calls: Mutex<Vec<Instant>>,
    }

    #[async_trait]
    impl InboundSource for Scripted {
        async fn next_inbound(&self) -> Result<Option<InboundMessage>, Error> {
            self.calls.lock().unwrap().push(Instant::now());
            self.answers.lock().unwrap().pop_front().unwrap_or(Ok(None))
        }
    }

    fn reply(text: &str) -> InboundMessage {
        InboundMessage {
            provider: "test".into(),
            sender: "13800138000".into(),
            service_number: None,
            text: text.into(),
            received_at: None,
            opt_out: false,
            raw: BTreeMap::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_even_while_draining() {
        let source = Arc::new(Scripted {
            answers: Mutex::new(VecDeque::from([
                Ok(Some(reply("a"))),
                Ok(Some(reply("b"))),
                Ok(None),
                Err(Error::new(ErrorKind::Unavailable, Operation::Inbound)),
                Ok(Some(reply("c"))),
            ])),
            calls: Mutex::new(Vec::new()),
        });
        let start = Instant::now();
        let stream = inbound_stream(source.clone(), Duration::from_secs(5));
        let got: Vec<_> = stream.take(4).collect().await;
        let texts: Vec<String> = got
            .iter()
            .map(|r| {
                r.as_ref()
                    .map_or_else(|e| format!("err:{}", e.kind()), |m| m.text.clone())
            })
            .collect();
        assert_eq!(texts, ["a", "b", "err:unavailable", "c"]);
        let offsets: Vec<u64> = source
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|t| (*t - start).as_secs())
            .collect();
        assert_eq!(offsets, [0, 5, 10, 15, 20]);
    }
}
