//! When the outcome is unknown, the chain says so (at most once) or fails over (at least once).

use std::sync::Arc;

use async_trait::async_trait;
use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{
    AmbiguityPolicy, Capabilities, Error, ErrorKind, Message, MessageKind, MessageSender, Receipt,
    RecipientOutcome, RecipientStatus,
};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn an_ambiguous_outcome_stops_under_at_most_once() {
    for kind in [ErrorKind::Ambiguous, ErrorKind::Protocol] {
        let a = failing("a", kind);
        let b = stub("b");
        let chain = build(chain_of(&[&a, &b]));
        let err = chain
            .send(&text_to(number("13800138000")))
            .await
            .expect_err("ambiguous");
        assert_eq!(err.kind(), kind);
        assert!(err.is_ambiguous());
        assert_eq!(attempt_summary(err.attempts()), [("a".to_owned(), kind)]);
        assert_eq!(
            (a.call_count(), b.call_count()),
            (1, 0),
            "{kind:?}: neither retried nor failed over"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn at_least_once_fails_over_on_an_ambiguous_outcome() {
    let a = failing("a", ErrorKind::Ambiguous);
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]).ambiguity_policy(AmbiguityPolicy::AtLeastOnce));
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(a.call_count(), 1, "not retried on the same provider");
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [("a".to_owned(), ErrorKind::Ambiguous)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_messages_policy_overrides_the_chains() {
    let a = failing("a", ErrorKind::Ambiguous);
    let b = stub("b");
    let strict = build(chain_of(&[&a, &b]));
    let code = text_to(number("13800138000")).with_ambiguity_policy(AmbiguityPolicy::AtLeastOnce);
    assert_eq!(strict.send(&code).await.expect("sent").providers(), ["b"]);

    let lenient = build(chain_of(&[&a, &b]).ambiguity_policy(AmbiguityPolicy::AtLeastOnce));
    let notice = text_to(number("13900139000")).with_ambiguity_policy(AmbiguityPolicy::AtMostOnce);
    assert_eq!(
        lenient.send(&notice).await.expect_err("stopped").kind(),
        ErrorKind::Ambiguous
    );
    assert_eq!(b.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn ambiguous_numbers_of_a_batch_are_not_resent_under_at_most_once() {
    let to = numbers(3);
    let a = Arc::new(StubSender::new("a").then(StubOutcome::AcceptOnly(
        vec![to[0].clone()],
        error(ErrorKind::Ambiguous),
    )));
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let receipt = chain.send(&text_to(to.clone())).await.expect("one accepted");
    assert!(receipt.outcomes[0].is_accepted());
    for outcome in &receipt.outcomes[1..] {
        let err = outcome.error().expect("reported, not resent");
        assert!(err.is_ambiguous());
        assert_eq!(outcome.provider, "a");
    }
    assert_eq!(b.call_count(), 0);

    // Under at-least-once the two uncertain numbers go to b, and only they.
    let a = Arc::new(StubSender::new("a").then(StubOutcome::AcceptOnly(
        vec![to[0].clone()],
        error(ErrorKind::Ambiguous),
    )));
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]).ambiguity_policy(AmbiguityPolicy::AtLeastOnce));
    let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
    assert!(receipt.all_accepted());
    assert_eq!(b.sent()[0].recipients(), &to[1..]);
}

/// Answers with one outcome per number: accepted, unknown, or not mentioned at all.
struct Unsure {
    capabilities: Capabilities,
}

#[async_trait]
impl MessageSender for Unsure {
    fn name(&self) -> &str {
        "unsure"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let r = message.recipients();
        let outcomes = vec![
            RecipientOutcome::accepted(r[0].clone(), "unsure", Some("1".into())),
            RecipientOutcome::unknown(r[1].clone(), "unsure"),
            // r[2] is not mentioned.
        ];
        Ok(Receipt::new(message.reference().clone(), outcomes))
    }
}

#[tokio::test(start_paused = true)]
async fn unknown_and_unmentioned_numbers_are_never_resent() {
    for policy in [AmbiguityPolicy::AtMostOnce, AmbiguityPolicy::AtLeastOnce] {
        let unsure: Arc<dyn MessageSender> = Arc::new(Unsure {
            capabilities: Capabilities::new(&[MessageKind::Text]).with_max_batch(10),
        });
        let b = stub("b");
        let chain = build(
            builder()
                .recipient_limits(sms_failover::RecipientLimits::disabled())
                .ambiguity_policy(policy)
                .provider(sms_failover::ProviderEntry::new(unsure).priority(0))
                .provider(sms_failover::ProviderEntry::new(b.clone() as Arc<dyn MessageSender>).priority(1)),
        );
        let to = numbers(3);
        let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
        assert!(receipt.outcomes[0].is_accepted());
        assert!(matches!(receipt.outcomes[1].status, RecipientStatus::Unknown));
        assert!(matches!(receipt.outcomes[2].status, RecipientStatus::Unknown));
        assert_eq!(b.call_count(), 0, "{policy:?}");
    }
}

/// A provider sending one number per request.
fn one_at_a_time(name: &str) -> StubSender {
    StubSender::new(name).with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(1))
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_number_is_reported_even_when_another_failed_everywhere() {
    let to = numbers(2);
    // The first number's request gets no answer; the second is refused everywhere.
    let a = Arc::new(
        one_at_a_time("a")
            .then(StubOutcome::fail(ErrorKind::Ambiguous))
            .always(StubOutcome::fail(ErrorKind::InsufficientBalance)),
    );
    let b = failing("b", ErrorKind::Unauthorized);
    let chain = build(chain_of(&[&a, &b]));
    let err = chain
        .send(&text_to(to.clone()))
        .await
        .expect_err("nothing accepted");
    assert!(err.is_ambiguous(), "the first number may have gone out: {err}");
    assert_eq!(err.kind(), ErrorKind::Ambiguous);
    assert_eq!(err.provider(), Some("failover"));
    assert!(err.message().contains(&to[0].masked()), "{err}");
    assert!(!err.message().contains(&to[1].masked()), "{err}");
    assert_eq!(
        attempt_summary(err.attempts()),
        [
            ("a".to_owned(), ErrorKind::Ambiguous),
            ("b".to_owned(), ErrorKind::Unauthorized)
        ]
    );
    let to_b: Vec<_> = b.sent().iter().flat_map(|m| m.recipients().to_vec()).collect();
    assert_eq!(to_b, [to[1].clone()], "the uncertain number is never resent");
}

#[tokio::test(start_paused = true)]
async fn an_invalid_number_in_one_part_does_not_hide_an_ambiguous_part() {
    let to = numbers(2);
    let a = Arc::new(
        one_at_a_time("a")
            .then(StubOutcome::Fail(
                error(ErrorKind::InvalidRecipient).with_code("406"),
            ))
            .then(StubOutcome::fail(ErrorKind::Ambiguous)),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let err = chain.send(&text_to(to)).await.expect_err("nothing accepted");
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Ambiguous);
    assert_eq!(
        attempt_summary(err.attempts()),
        [
            ("a".to_owned(), ErrorKind::InvalidRecipient),
            ("a".to_owned(), ErrorKind::Ambiguous)
        ]
    );
    assert_eq!(b.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_outer_chain_does_not_resend_what_an_inner_chain_left_ambiguous() {
    let to = numbers(2);
    let x = Arc::new(
        one_at_a_time("x")
            .then(StubOutcome::fail(ErrorKind::Ambiguous))
            .always(StubOutcome::fail(ErrorKind::Unavailable)),
    );
    let y = failing("y", ErrorKind::InsufficientBalance);
    let inner: Arc<dyn MessageSender> = Arc::new(build(chain_of(&[&x, &y])));
    let last = stub("last");
    let outer = build(
        builder()
            .recipient_limits(sms_failover::RecipientLimits::disabled())
            .provider(sms_failover::ProviderEntry::new(inner).name("inner"))
            .provider(sms_failover::ProviderEntry::new(last.clone() as Arc<dyn MessageSender>).priority(1)),
    );
    let err = outer.send(&text_to(to.clone())).await.expect_err("stopped");
    assert!(err.is_ambiguous(), "{err}");
    let resent: Vec<_> = last.sent().iter().flat_map(|m| m.recipients().to_vec()).collect();
    assert!(
        !resent.contains(&to[0]),
        "the inner chain's uncertain number was resent"
    );
}

/// A sender (say, a chain from another version) that reports `AllProvidersFailed` although one of
/// its attempts may have delivered the message.
struct Hiding {
    capabilities: Capabilities,
}

#[async_trait]
impl MessageSender for Hiding {
    fn name(&self) -> &str {
        "hiding"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn send(&self, _message: &Message) -> Result<Receipt, Error> {
        let attempt = sms_core::Attempt {
            provider: "deep".into(),
            recipients: 1,
            error: error(ErrorKind::Ambiguous).with_provider("deep"),
            elapsed: std::time::Duration::from_secs(1),
        };
        Err(error(ErrorKind::AllProvidersFailed)
            .with_provider("hiding")
            .with_attempts(vec![attempt]))
    }
}

#[tokio::test(start_paused = true)]
async fn all_providers_failed_after_an_ambiguous_attempt_fails_over_only_at_least_once() {
    for policy in [AmbiguityPolicy::AtMostOnce, AmbiguityPolicy::AtLeastOnce] {
        let hiding: Arc<dyn MessageSender> = Arc::new(Hiding {
            capabilities: Capabilities::new(&[MessageKind::Text]),
        });
        let last = stub("last");
        let chain = build(
            builder()
                .recipient_limits(sms_failover::RecipientLimits::disabled())
                .ambiguity_policy(policy)
                .provider(sms_failover::ProviderEntry::new(hiding))
                .provider(
                    sms_failover::ProviderEntry::new(last.clone() as Arc<dyn MessageSender>).priority(1),
                ),
        );
        let result = chain.send(&text_to(number("13800138000"))).await;
        match policy {
            AmbiguityPolicy::AtMostOnce => {
                let err = result.expect_err("stopped");
                assert!(err.is_ambiguous(), "{err}");
                assert_eq!(last.call_count(), 0, "not resent");
            }
            AmbiguityPolicy::AtLeastOnce => {
                assert_eq!(result.expect("resent").providers(), ["last"]);
            }
        }
    }
}

/// ihuyi answers a garbled body after accepting (the message may have gone out), Juxiang then
/// answers 503: under at least once the number moved on, but its outcome stays unknown.
#[tokio::test(start_paused = true)]
async fn a_later_clean_failure_never_hides_an_earlier_unknown_outcome_under_at_least_once() {
    for later in [
        ErrorKind::Unavailable,
        ErrorKind::InsufficientBalance,
        ErrorKind::InvalidRecipient,
    ] {
        let a = failing("a", ErrorKind::Protocol);
        let b = failing("b", later);
        let chain = build(
            chain_of(&[&a, &b])
                .ambiguity_policy(AmbiguityPolicy::AtLeastOnce)
                .retry(plain_retry().max_attempts_per_provider(1)),
        );
        let err = chain
            .send(&text_to(number("13800138000")))
            .await
            .expect_err("not accepted");
        assert!(err.is_ambiguous(), "{later:?}: {err}");
        assert_eq!(b.call_count(), 1, "{later:?}: it did fail over");
        assert_eq!(
            attempt_summary(err.attempts()),
            [("a".to_owned(), ErrorKind::Protocol), ("b".to_owned(), later)]
        );
    }
}

/// In a batch, the numbers whose outcome was unknown at one provider stay unknown after a clean
/// failure at the next, while the others carry that failure.
#[tokio::test(start_paused = true)]
async fn an_unknown_number_of_a_batch_stays_unknown_after_failing_over() {
    let all = numbers(2);
    let a = Arc::new(
        StubSender::new("a")
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(2))
            .always(StubOutcome::AcceptOnly(Vec::new(), error(ErrorKind::Ambiguous))),
    );
    let b = failing("b", ErrorKind::Unavailable);
    let chain = build(
        chain_of(&[&a, &b])
            .ambiguity_policy(AmbiguityPolicy::AtLeastOnce)
            .retry(plain_retry().max_attempts_per_provider(1)),
    );
    let err = chain.send(&text_to(all)).await.expect_err("nothing accepted");
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(b.call_count(), 1);
}
