//! Strategies, capabilities and batch limits decide which provider gets what.

use std::sync::Arc;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{Capabilities, ErrorKind, Message, MessageKind, MessageSender, PhoneNumber};
use sms_failover::{ProviderEntry, RecipientLimits, Strategy, TokioClock};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn priority_order_tries_the_lowest_priority_first() {
    let low = failing("low", ErrorKind::InsufficientBalance);
    let high = stub("high");
    // Added in the "wrong" order: priority decides, not insertion.
    let chain = build(
        builder()
            .clock(Arc::new(TokioClock))
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::new(high.clone()).priority(5))
            .provider(ProviderEntry::new(low.clone()).priority(1)),
    );
    assert_eq!(chain.provider_names(), ["low", "high"]);
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["high"]);
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [("low".to_owned(), ErrorKind::InsufficientBalance)]
    );
    assert_eq!((low.call_count(), high.call_count()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn equal_priorities_keep_the_order_they_were_added_in() {
    let a = failing("a", ErrorKind::Unauthorized);
    let b = stub("b");
    let chain = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::new(a.clone()))
            .provider(ProviderEntry::new(b.clone())),
    );
    let receipt = chain.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["b"]);
    assert_eq!(a.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn round_robin_rotates_the_first_provider_then_falls_back_in_priority_order() {
    let (a, b, c) = (stub("a"), stub("b"), stub("c"));
    let chain = build(chain_of(&[&a, &b, &c]).strategy(Strategy::RoundRobin));
    let mut firsts = Vec::new();
    for to in numbers(6) {
        let receipt = chain.send(&text_to(to)).await.expect("sent");
        firsts.push(receipt.providers()[0].to_owned());
    }
    assert_eq!(firsts, ["a", "b", "c", "a", "b", "c"]);

    // When the rotated first choice fails, the rest follow in priority order.
    c.set_default(StubOutcome::fail(ErrorKind::InsufficientBalance));
    b.set_default(StubOutcome::fail(ErrorKind::InsufficientBalance));
    let _ = chain.send(&text_to(number("13900139000"))).await; // first: a
    let _ = chain.send(&text_to(number("13900139001"))).await; // first: b
    let receipt = chain.send(&text_to(number("13900139002"))).await.expect("sent"); // first: c
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [("c".to_owned(), ErrorKind::InsufficientBalance)]
    );
    assert_eq!(receipt.providers(), ["a"]);
}

#[tokio::test(start_paused = true)]
async fn weighted_random_picks_the_first_provider_by_weight() {
    let (light, heavy, never) = (stub("light"), stub("heavy"), stub("never"));
    let chain = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .strategy(Strategy::WeightedRandom)
            .random_seed(11)
            .provider(ProviderEntry::new(light.clone()).priority(0).weight(1))
            .provider(ProviderEntry::new(heavy.clone()).priority(1).weight(3))
            .provider(ProviderEntry::new(never.clone()).priority(2).weight(0)),
    );
    for i in 0..400 {
        chain
            .send(&text_to(number(&format!("1390013{:04}", i))))
            .await
            .expect("sent");
    }
    assert_eq!(never.call_count(), 0, "weight 0 is never first");
    assert!((70..130).contains(&light.call_count()), "{}", light.call_count());
    assert!((270..330).contains(&heavy.call_count()), "{}", heavy.call_count());
}

#[tokio::test(start_paused = true)]
async fn voice_codes_go_only_to_providers_that_send_them() {
    let sms_only =
        Arc::new(StubSender::new("sms").with_capabilities(Capabilities::new(&[MessageKind::Text])));
    let voice =
        Arc::new(StubSender::new("voice").with_capabilities(Capabilities::new(&[MessageKind::VoiceCode])));
    let chain = build(chain_of(&[&sms_only, &voice]));
    assert!(chain.capabilities().supports(MessageKind::VoiceCode));
    assert!(chain.capabilities().supports(MessageKind::Text));
    assert!(!chain.capabilities().supports(MessageKind::Mms));

    let code = Message::voice_code(number("13800138000"), "4821").expect("valid code");
    let receipt = chain.send(&code).await.expect("sent");
    assert_eq!(receipt.providers(), ["voice"]);
    assert!(
        receipt.attempts.is_empty(),
        "passing over a provider is not an attempt"
    );
    assert_eq!(sms_only.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_message_no_provider_can_send_is_unsupported_without_any_request() {
    let sms_only =
        Arc::new(StubSender::new("sms").with_capabilities(Capabilities::new(&[MessageKind::Text])));
    let chain = build(chain_of(&[&sms_only]));
    let mms = Message::mms(number("13800138000"), sms_core::MmsContent::new("pkg", "1"));
    let err = chain.send(&mms).await.expect_err("unsupported");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().contains("does not send MMS"), "{err}");
    assert_eq!(sms_only.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_split_to_each_providers_batch_limit() {
    let small = Arc::new(
        StubSender::new("small").with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(2)),
    );
    let chain = build(chain_of(&[&small]));
    let to = numbers(5);
    let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
    assert!(receipt.all_accepted());
    let sizes: Vec<usize> = small.sent().iter().map(|m| m.recipients().len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    let sent: Vec<PhoneNumber> = small
        .sent()
        .iter()
        .flat_map(|m| m.recipients().to_vec())
        .collect();
    assert_eq!(sent, to, "every number once, in order");
    let references: Vec<String> = small.sent().iter().map(|m| m.reference().to_string()).collect();
    assert!(
        references.iter().all(|r| r == receipt.reference.as_str()),
        "parts keep the reference"
    );
    assert_eq!(chain.capabilities().max_batch, 2);
}

#[tokio::test(start_paused = true)]
async fn international_numbers_go_to_providers_that_reach_them() {
    let mainland = Arc::new(
        StubSender::new("mainland")
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(10)),
    );
    let world = stub("world");
    let chain = build(chain_of(&[&mainland, &world]));
    let uk = number("+44 7700 900123");
    let cn = number("13800138000");
    let receipt = chain
        .send(&text_to(vec![cn.clone(), uk.clone()]))
        .await
        .expect("sent");
    assert_eq!(
        receipt.outcome_for(&cn).map(|o| o.provider.as_str()),
        Some("mainland")
    );
    assert_eq!(
        receipt.outcome_for(&uk).map(|o| o.provider.as_str()),
        Some("world")
    );
    assert_eq!(mainland.sent()[0].recipients(), [cn]);
    assert_eq!(world.sent()[0].recipients(), [uk]);
}

#[tokio::test(start_paused = true)]
async fn the_chain_is_a_message_sender_named_failover() {
    let chain = build(chain_of(&[&stub("a")]));
    let as_sender: Arc<dyn MessageSender> = Arc::new(chain.clone());
    assert_eq!(as_sender.name(), "failover");
    // A chain can be a provider of another chain.
    let outer = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::new(as_sender).name("inner")),
    );
    let receipt = outer.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["inner"]);
}

#[tokio::test(start_paused = true)]
async fn an_inner_chain_that_failed_everywhere_lets_the_outer_chain_move_on() {
    let inner: Arc<dyn MessageSender> = Arc::new(build(chain_of(&[
        &failing("x", ErrorKind::InsufficientBalance),
        &failing("y", ErrorKind::Unauthorized),
    ])));
    let last = stub("last");
    let outer = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::new(inner).name("inner"))
            .provider(ProviderEntry::new(last.clone()).priority(1)),
    );
    let receipt = outer.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["last"]);
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [("inner".to_owned(), ErrorKind::AllProvidersFailed)]
    );
    assert_eq!(
        receipt.attempts[0].error.attempts().len(),
        2,
        "the inner attempts are kept"
    );
}

#[test]
fn build_refuses_bad_configuration() {
    let a = stub("a");
    let cases = [
        builder(),
        builder()
            .provider(ProviderEntry::new(a.clone()))
            .provider(ProviderEntry::new(a.clone())),
        builder()
            .provider(ProviderEntry::new(a.clone()))
            .retry(sms_failover::RetryPolicy::default().max_attempts_per_provider(0)),
        builder()
            .provider(ProviderEntry::new(a.clone()))
            .retry(sms_failover::RetryPolicy::default().deadline(std::time::Duration::ZERO)),
        builder()
            .provider(ProviderEntry::new(a.clone()))
            .circuit_breaker(sms_failover::BreakerConfig::default().failure_threshold(0)),
        builder()
            .provider(ProviderEntry::new(a.clone()).weight(0))
            .strategy(Strategy::WeightedRandom),
        builder()
            .provider(ProviderEntry::new(a.clone()))
            .recipient_limits(RecipientLimits::disabled().with_limit(0, std::time::Duration::from_secs(1))),
    ];
    for (i, builder) in cases.into_iter().enumerate() {
        let err = builder.build().expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Configuration, "case {i}: {err}");
    }
    // Two accounts of one provider are fine once named apart.
    assert!(
        builder()
            .provider(ProviderEntry::new(a.clone()))
            .provider(ProviderEntry::new(a).name("a-backup"))
            .build()
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn a_nested_chain_follows_the_outer_chains_ambiguity_policy() {
    use sms_core::AmbiguityPolicy;

    // The outer chain allows at-least-once; the inner one is left at its default (at most once).
    let x = failing("x", ErrorKind::Ambiguous);
    let y = stub("y");
    let inner: Arc<dyn MessageSender> = Arc::new(build(chain_of(&[&x, &y])));
    let last = stub("last");
    let outer = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .ambiguity_policy(AmbiguityPolicy::AtLeastOnce)
            .provider(ProviderEntry::new(inner).name("inner"))
            .provider(ProviderEntry::new(last.clone()).priority(1)),
    );
    let receipt = outer.send(&text_to(number("13800138000"))).await.expect("sent");
    assert_eq!(receipt.providers(), ["inner"], "the inner chain failed over to y");
    assert_eq!(y.sent()[0].ambiguity_policy(), Some(AmbiguityPolicy::AtLeastOnce));
    assert_eq!(last.call_count(), 0);

    // The outer chain is at most once; the inner one would fail over, but must not.
    let x = failing("x", ErrorKind::Ambiguous);
    let y = stub("y");
    let inner: Arc<dyn MessageSender> = Arc::new(build(
        chain_of(&[&x, &y]).ambiguity_policy(AmbiguityPolicy::AtLeastOnce),
    ));
    let last = stub("last");
    let outer = build(
        builder()
            .recipient_limits(RecipientLimits::disabled())
            .provider(ProviderEntry::new(inner).name("inner"))
            .provider(ProviderEntry::new(last.clone()).priority(1)),
    );
    let err = outer
        .send(&text_to(number("13800138000")))
        .await
        .expect_err("ambiguous");
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!((y.call_count(), last.call_count()), (0, 0), "sent once at most");
}
