//! Opt-outs and per-recipient limits: checked before any request, and a blocked number costs nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{Capabilities, ErrorKind, InboundMessage, Message, MessageKind, MessageSender};
use sms_failover::{BreakerConfig, RecipientLimits, RetryPolicy};

use crate::support::*;

fn unsubscribe(sender: &str) -> InboundMessage {
    InboundMessage {
        provider: "juxiang".into(),
        sender: sender.into(),
        service_number: Some("106900001234".into()),
        text: "0000".into(),
        received_at: None,
        opt_out: true,
        raw: BTreeMap::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn opted_out_numbers_are_not_sent_and_cost_no_request() {
    let list = crate::backend::suppression_list();
    let to = numbers(2);
    list.suppress(&to[0]).await.expect("listed");
    let a = stub("a");
    let chain = build(chain_of(&[&a]).suppression_list(list));
    let receipt = chain.send(&text_to(to.clone())).await.expect("one sent");
    let blocked = receipt.outcomes[0].error().expect("blocked");
    assert_eq!(blocked.kind(), ErrorKind::RecipientOptedOut);
    assert_eq!(receipt.outcomes[0].provider, "failover");
    assert!(receipt.outcomes[1].is_accepted());
    assert_eq!(a.sent()[0].recipients(), [to[1].clone()]);
}

#[tokio::test(start_paused = true)]
async fn a_juxiang_unsubscribe_reply_stops_every_later_message() {
    let list = crate::backend::suppression_list();
    let a = stub("a");
    let chain = build(chain_of(&[&a]).suppression_list(list.clone()));
    assert!(
        list.observe_inbound(&unsubscribe("13800138000"))
            .await
            .expect("recorded")
    );
    let err = chain
        .send(&text_to(number("+86 138 0013 8000")))
        .await
        .expect_err("opted out");
    assert_eq!(err.kind(), ErrorKind::RecipientOptedOut);
    assert!(err.attempts().is_empty());
    assert!(!err.to_string().contains("13800138000"), "masked: {err}");
    assert_eq!(a.call_count(), 0);

    // The chain's own convenience feeds the same list.
    assert!(
        chain
            .observe_inbound(&unsubscribe("13900139000"))
            .await
            .expect("recorded")
    );
    assert!(
        chain
            .suppression_list()
            .is_suppressed(&number("13900139000"))
            .await
            .expect("answered")
    );
}

#[tokio::test(start_paused = true)]
async fn a_second_message_within_a_second_is_throttled_locally() {
    let a = stub("a");
    let chain = build(chain_of(&[&a]).recipient_limits(RecipientLimits::default()));
    let to = number("13800138000");
    chain.send(&text_to(to.clone())).await.expect("first");
    let err = chain.send(&text_to(to.clone())).await.expect_err("too soon");
    assert_eq!(err.kind(), ErrorKind::RecipientThrottled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(a.call_count(), 1, "the throttled message cost no request");
    // Another number is not affected.
    chain
        .send(&text_to(number("13900139000")))
        .await
        .expect("other number");
    tokio::time::advance(Duration::from_secs(1)).await;
    chain.send(&text_to(to)).await.expect("a second later");
    assert_eq!(a.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn five_per_day_per_number_on_an_injected_clock() {
    let clock = crate::backend::manual_clock();
    let a = stub("a");
    let chain = build(
        chain_of(&[&a])
            .clock(clock.clone())
            .recipient_limits(RecipientLimits::default()),
    );
    let to = number("13800138000");
    for i in 0..5 {
        chain
            .send(&text_to(to.clone()))
            .await
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
        clock.advance(Duration::from_secs(60));
    }
    let err = chain.send(&text_to(to.clone())).await.expect_err("sixth");
    assert_eq!(err.kind(), ErrorKind::RecipientThrottled);
    assert!(err.message().contains("per 86400s"), "{err}");
    clock.advance(Duration::from_secs(24 * 3600));
    chain.send(&text_to(to)).await.expect("the next day");
    assert_eq!(a.call_count(), 6);
}

#[tokio::test(start_paused = true)]
async fn in_a_batch_only_the_throttled_number_is_held_back() {
    let a = stub("a");
    let chain = build(chain_of(&[&a]).recipient_limits(RecipientLimits::default()));
    let to = numbers(3);
    chain.send(&text_to(to[1].clone())).await.expect("first");
    let receipt = chain.send(&text_to(to.clone())).await.expect("two sent");
    assert_eq!(
        receipt.outcomes[1].error().map(|e| e.kind()),
        Some(ErrorKind::RecipientThrottled)
    );
    assert_eq!(a.sent()[1].recipients(), [to[0].clone(), to[2].clone()]);
}

#[tokio::test(start_paused = true)]
async fn a_message_counts_once_however_many_providers_and_retries_it_takes() {
    let a = Arc::new(StubSender::new("a").always(StubOutcome::fail(ErrorKind::Unavailable)));
    let b = stub("b");
    // Two per day: counting per attempt would exhaust it within the first message.
    let limits = RecipientLimits::disabled().with_limit(2, Duration::from_secs(24 * 3600));
    let chain = build(chain_of(&[&a, &b]).recipient_limits(limits));
    let to = number("13800138000");
    chain.send(&text_to(to.clone())).await.expect("first via b");
    assert_eq!(a.call_count(), 3, "three attempts on a, none throttled");
    chain.send(&text_to(to.clone())).await.expect("second via b");
    let err = chain.send(&text_to(to)).await.expect_err("third");
    assert_eq!(err.kind(), ErrorKind::RecipientThrottled);
}

#[tokio::test(start_paused = true)]
async fn numbers_the_chain_refused_earlier_are_not_counted() {
    let list = crate::backend::suppression_list();
    let text_only = Arc::new(StubSender::new("a").with_capabilities(Capabilities::new(&[MessageKind::Text])));
    let one_per_day = RecipientLimits::disabled().with_limit(1, Duration::from_secs(24 * 3600));
    let chain = build(
        chain_of(&[&text_only])
            .recipient_limits(one_per_day)
            .suppression_list(list.clone())
            .retry(RetryPolicy::no_retries())
            .circuit_breaker(BreakerConfig::default().failure_threshold(1)),
    );
    let to = number("13800138000");

    // Opted out: refused before counting.
    list.suppress(&to).await.expect("listed");
    chain.send(&text_to(to.clone())).await.expect_err("opted out");
    list.unsuppress(&to).await.expect("removed");
    // No provider for voice codes: refused before counting.
    let voice = Message::voice_code(to.clone(), "1234").expect("code");
    assert_eq!(
        chain.send(&voice).await.expect_err("unsupported").kind(),
        ErrorKind::Unsupported
    );
    // Every breaker open: skipped before counting.
    text_only.push(StubOutcome::fail(ErrorKind::Unavailable));
    chain
        .send(&text_to(number("13900139000")))
        .await
        .expect_err("opens the breaker");
    let err = chain.send(&text_to(to.clone())).await.expect_err("breaker open");
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed);
    assert_eq!(text_only.call_count(), 1);

    // The day's one message is still available once the provider is back.
    tokio::time::advance(BreakerConfig::default().cool_down).await;
    chain
        .send(&text_to(to.clone()))
        .await
        .expect("the first counted message");
    assert_eq!(
        chain.send(&text_to(to)).await.expect_err("now over").kind(),
        ErrorKind::RecipientThrottled
    );
}

#[tokio::test(start_paused = true)]
async fn five_per_day_means_five_in_any_24_hours() {
    let clock = crate::backend::manual_clock();
    let a = stub("a");
    let chain = build(
        chain_of(&[&a])
            .clock(clock.clone())
            .recipient_limits(RecipientLimits::default()),
    );
    let to = number("13800138000");
    for i in 0..5 {
        chain
            .send(&text_to(to.clone()))
            .await
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
        clock.advance(Duration::from_secs(60));
    }
    // 5 min, 5 h and a second short of 24 h after the first: still five within the last day.
    for at in [300, 5 * 3600, 24 * 3600 - 1] {
        clock.advance(Duration::from_secs(at) - clock.elapsed());
        let err = chain.send(&text_to(to.clone())).await.expect_err("sixth");
        assert_eq!(err.kind(), ErrorKind::RecipientThrottled);
        assert!(err.message().contains("5 message(s) per 86400s"), "{err}");
        assert_eq!(
            err.retry_after(),
            Some(Duration::from_secs(24 * 3600 - at)),
            "when the first is a day old"
        );
    }
    clock.advance(Duration::from_secs(1));
    chain
        .send(&text_to(to.clone()))
        .await
        .expect("the first is a day old");
    assert_eq!(a.call_count(), 6);
}
