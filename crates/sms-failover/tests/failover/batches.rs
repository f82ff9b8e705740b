//! Batches with partial results: only refused numbers move on; accepted numbers are never resent.

use std::sync::Arc;

use sms_core::testkit::{StubOutcome, StubSender};
use sms_core::{Capabilities, ErrorKind, MessageKind, MessageSender, PhoneNumber};

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn only_the_refused_numbers_move_to_the_next_provider() {
    let to = numbers(4);
    let a = Arc::new(StubSender::new("a").then(StubOutcome::AcceptOnly(
        vec![to[0].clone(), to[2].clone()],
        error(ErrorKind::RecipientRejected).with_code("4030"),
    )));
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
    assert!(receipt.all_accepted());
    let providers: Vec<&str> = receipt.outcomes.iter().map(|o| o.provider.as_str()).collect();
    assert_eq!(providers, ["a", "b", "a", "b"]);
    assert_eq!(b.sent().len(), 1);
    assert_eq!(b.sent()[0].recipients(), [to[1].clone(), to[3].clone()]);
    assert_eq!(b.sent()[0].reference(), &receipt.reference);
    // One attempt record for the two numbers a refused.
    assert_eq!(receipt.attempts.len(), 1);
    assert_eq!(
        (
            receipt.attempts[0].provider.as_str(),
            receipt.attempts[0].recipients
        ),
        ("a", 2)
    );
    assert_eq!(receipt.attempts[0].error.code(), Some("4030"));
}

#[tokio::test(start_paused = true)]
async fn an_accepted_number_is_never_sent_again_even_when_the_rest_fails_everywhere() {
    let to = numbers(3);
    let a = Arc::new(StubSender::new("a").then(StubOutcome::AcceptOnly(
        vec![to[1].clone()],
        error(ErrorKind::RecipientRejected),
    )));
    let b = failing("b", ErrorKind::Unavailable);
    let chain = build(chain_of(&[&a, &b]));
    let receipt = chain.send(&text_to(to.clone())).await.expect("one accepted");
    assert!(receipt.outcomes[1].is_accepted());
    for i in [0, 2] {
        let outcome = &receipt.outcomes[i];
        assert_eq!(outcome.provider, "b");
        assert_eq!(outcome.error().map(|e| e.kind()), Some(ErrorKind::Unavailable));
    }
    let to_b: Vec<PhoneNumber> = b.sent().iter().flat_map(|m| m.recipients().to_vec()).collect();
    assert!(!to_b.contains(&to[1]));
    assert_eq!(b.call_count(), 3, "retried as a unit");
}

#[tokio::test(start_paused = true)]
async fn refused_numbers_no_provider_can_help_stay_where_they_failed() {
    let to = numbers(2);
    let a = Arc::new(StubSender::new("a").then(StubOutcome::AcceptOnly(
        vec![to[0].clone()],
        error(ErrorKind::InvalidRecipient).with_code("406"),
    )));
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let receipt = chain.send(&text_to(to.clone())).await.expect("one accepted");
    let failed = &receipt.outcomes[1];
    assert_eq!(
        (failed.provider.as_str(), failed.error().and_then(|e| e.code())),
        ("a", Some("406"))
    );
    assert_eq!(b.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn after_a_part_fails_for_the_provider_the_other_parts_skip_it() {
    let a = Arc::new(
        StubSender::new("a")
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(2))
            .always(StubOutcome::fail(ErrorKind::InsufficientBalance)),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let to = numbers(5);
    let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
    assert!(receipt.all_accepted());
    assert_eq!(
        a.call_count(),
        1,
        "no point sending the other parts to an empty account"
    );
    assert_eq!(b.sent()[0].recipients(), to.as_slice());
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [("a".to_owned(), ErrorKind::InsufficientBalance)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_fails_everywhere_is_one_error_listing_every_attempt() {
    let a = failing("a", ErrorKind::Unauthorized);
    let b = failing("b", ErrorKind::ContentRejected);
    let chain = build(chain_of(&[&a, &b]));
    let err = chain.send(&text_to(numbers(3))).await.expect_err("all failed");
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed);
    assert_eq!(
        attempt_summary(err.attempts()),
        [
            ("a".to_owned(), ErrorKind::Unauthorized),
            ("b".to_owned(), ErrorKind::ContentRejected)
        ]
    );
    assert!(err.attempts().iter().all(|a| a.recipients == 3));
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_part_does_not_stop_the_parts_never_sent() {
    let a = Arc::new(
        StubSender::new("a")
            .with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(2))
            .then(StubOutcome::fail(ErrorKind::Ambiguous)),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let to = numbers(4);
    let receipt = chain
        .send(&text_to(to.clone()))
        .await
        .expect("the unsent part went out");
    for i in [0, 1] {
        assert!(receipt.outcomes[i].error().is_some_and(|e| e.is_ambiguous()));
    }
    assert_eq!(
        b.sent()[0].recipients(),
        &to[2..],
        "only numbers never sent move on"
    );
}

fn one_at_a_time(name: &str) -> StubSender {
    StubSender::new(name).with_capabilities(Capabilities::new(&[MessageKind::Text]).with_max_batch(1))
}

#[tokio::test(start_paused = true)]
async fn parts_a_provider_never_got_carry_the_reason_it_was_left() {
    let to = numbers(3);
    let a = Arc::new(
        one_at_a_time("a")
            .then(StubOutcome::Accept)
            .then(StubOutcome::Fail(
                error(ErrorKind::InsufficientBalance).with_code("4051"),
            )),
    );
    let chain = build(chain_of(&[&a]));
    let receipt = chain.send(&text_to(to.clone())).await.expect("one accepted");
    assert!(receipt.outcomes[0].is_accepted());
    let refused = receipt.outcomes[1].error().expect("refused");
    assert_eq!(
        (refused.kind(), refused.code()),
        (ErrorKind::InsufficientBalance, Some("4051"))
    );
    let untried = &receipt.outcomes[2];
    let err = untried.error().expect("not sent");
    assert_eq!(err.kind(), ErrorKind::InsufficientBalance, "{err}");
    assert!(err.can_failover() && !err.is_ambiguous(), "{err}");
    assert!(err.message().contains("not sent"), "{err}");
    assert_eq!(untried.provider, "a");
    assert_eq!(a.call_count(), 2, "no request for the third number");
}

#[tokio::test(start_paused = true)]
async fn parts_left_after_an_ambiguous_part_say_they_were_not_sent() {
    let to = numbers(3);
    let a = Arc::new(
        one_at_a_time("a")
            .then(StubOutcome::Accept)
            .then(StubOutcome::fail(ErrorKind::Ambiguous)),
    );
    let chain = build(chain_of(&[&a]));
    let receipt = chain.send(&text_to(to.clone())).await.expect("one accepted");
    assert!(receipt.outcomes[1].error().is_some_and(|e| e.is_ambiguous()));
    let err = receipt.outcomes[2].error().expect("not sent");
    assert!(!err.is_ambiguous(), "never sent, so not uncertain: {err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("not sent"), "{err}");
    assert_eq!(a.call_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn when_nothing_is_accepted_the_untried_parts_make_all_providers_failed() {
    let a = Arc::new(one_at_a_time("a").always(StubOutcome::fail(ErrorKind::Unauthorized)));
    let chain = build(chain_of(&[&a]));
    let err = chain
        .send(&text_to(numbers(3)))
        .await
        .expect_err("nothing accepted");
    assert_eq!(err.kind(), ErrorKind::AllProvidersFailed, "{err}");
    assert_eq!(
        attempt_summary(err.attempts()),
        [("a".to_owned(), ErrorKind::Unauthorized)]
    );
}

#[tokio::test(start_paused = true)]
async fn retryable_refusals_in_a_batch_answer_are_retried_on_the_same_provider() {
    let to = numbers(3);
    let a = Arc::new(
        StubSender::new("a")
            .then(StubOutcome::AcceptOnly(
                vec![to[0].clone()],
                error(ErrorKind::RateLimited).with_retry_after(std::time::Duration::from_millis(250)),
            ))
            .then(StubOutcome::AcceptOnly(
                vec![to[1].clone()],
                error(ErrorKind::Unavailable),
            )),
    );
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]));
    let start = tokio::time::Instant::now();
    let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
    assert!(receipt.all_accepted());
    let providers: Vec<&str> = receipt.outcomes.iter().map(|o| o.provider.as_str()).collect();
    assert_eq!(providers, ["a", "a", "a"]);
    let sent: Vec<Vec<PhoneNumber>> = a.sent().iter().map(|m| m.recipients().to_vec()).collect();
    assert_eq!(sent, [to.clone(), to[1..].to_vec(), to[2..].to_vec()]);
    // The provider's 250 ms, then the second backoff step (200 ms).
    assert_eq!(call_offsets_ms(&a, start), [0, 250, 450]);
    assert_eq!(b.call_count(), 0);
    assert_eq!(
        attempt_summary(&receipt.attempts),
        [
            ("a".to_owned(), ErrorKind::RateLimited),
            ("a".to_owned(), ErrorKind::Unavailable)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn retryable_refusals_move_on_once_the_retries_are_spent() {
    let to = numbers(2);
    let a = Arc::new(StubSender::new("a").always(StubOutcome::AcceptOnly(
        vec![to[0].clone()],
        error(ErrorKind::Unavailable),
    )));
    let b = stub("b");
    let chain = build(chain_of(&[&a, &b]).retry(plain_retry().max_attempts_per_provider(2)));
    let receipt = chain.send(&text_to(to.clone())).await.expect("sent");
    assert!(receipt.all_accepted());
    assert_eq!(a.call_count(), 2);
    assert_eq!(b.sent()[0].recipients(), [to[1].clone()]);
    assert_eq!(receipt.outcomes[1].provider, "b");
}
