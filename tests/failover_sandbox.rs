//! End-to-end: a failover chain of the real ihuyi and Juxiang clients against the sandbox. Each
//! scenario breaks the primary in one way and checks, in the sandbox's own log, that the message went
//! out exactly once and through whom.

use std::time::Duration;

use sms::failover::BreakerConfig;
use sms::ihuyi::PasswordMode;
use sms::sandbox::{Fault, FaultKind, FaultTarget, Product};
use sms::{AmbiguityPolicy, ErrorKind, Message, MessageSender};
use sms_e2e::{Bed, number};

const TEXT: &str = "【测试】您的验证码是482913，5分钟内有效。";

fn primary_fault(kind: FaultKind) -> Fault {
    Fault::new(kind).target(FaultTarget::Product(Product::IhuyiSms))
}

/// Sends one message and asserts it went out exactly once, through Juxiang, after the primary failed
/// with `primary_code` (the provider's own code, or `None` for a transport failure).
async fn assert_delivered_once_by_secondary(
    bed: &Bed,
    policy: AmbiguityPolicy,
    to_index: u32,
    primary_code: Option<&str>,
) {
    let chain = bed
        .chain_builder()
        .ambiguity_policy(policy)
        .build()
        .expect("chain");
    let to = number(to_index);
    let receipt = chain
        .send(&Message::text(to.clone(), TEXT))
        .await
        .expect("delivered");
    assert!(receipt.all_accepted(), "{receipt:?}");
    assert_eq!(receipt.outcomes[0].provider, "juxiang");
    assert!(
        !receipt.attempts.is_empty(),
        "the receipt explains why the primary was skipped"
    );
    assert!(
        receipt.attempts.iter().all(|a| a.provider == "ihuyi"),
        "{:?}",
        receipt.attempts
    );
    let codes: Vec<Option<&str>> = receipt.attempts.iter().map(|a| a.error.code()).collect();
    assert!(codes.iter().all(|c| *c == primary_code), "{codes:?}");
    let delivered = bed.delivered_to(&to);
    assert_eq!(delivered.len(), 1, "exactly one accepted message: {delivered:?}");
    assert_eq!(delivered[0].product, Product::Juxiang);
    assert_eq!(delivered[0].text, TEXT);
}

#[tokio::test]
async fn healthy_primary_takes_the_message() {
    let bed = Bed::start().await;
    let chain = bed.chain_builder().build().expect("chain");
    let to = number(1);
    let receipt = chain
        .send(&Message::text(to.clone(), TEXT))
        .await
        .expect("delivered");
    assert_eq!(receipt.outcomes[0].provider, "ihuyi");
    assert!(receipt.attempts.is_empty());
    let delivered = bed.delivered_to(&to);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].product, Product::IhuyiSms);
    assert_eq!(
        receipt.outcomes[0].message_id.as_deref(),
        Some(delivered[0].provider_id.as_str())
    );
    assert_eq!(bed.secondary_requests(), 0);
}

#[tokio::test]
async fn primary_answering_503_fails_over_once() {
    let bed = Bed::start().await;
    bed.sandbox
        .inject_fault(primary_fault(FaultKind::HttpStatus(503)));
    assert_delivered_once_by_secondary(&bed, AmbiguityPolicy::AtMostOnce, 2, Some("HTTP 503")).await;
    // 503 says "not processed" and is retryable: the primary was tried as often as the retry
    // policy allows, then left.
    assert_eq!(bed.primary_requests(), 2);
}

#[tokio::test]
async fn primary_answering_500_fails_over_when_the_provider_declares_it_unprocessed() {
    let bed = Bed::start_with_unprocessed_statuses(vec![500, 503]).await;
    bed.sandbox
        .inject_fault(primary_fault(FaultKind::HttpStatus(500)));
    assert_delivered_once_by_secondary(&bed, AmbiguityPolicy::AtMostOnce, 8, Some("HTTP 500")).await;
    assert_eq!(bed.primary_requests(), 2);
}

#[tokio::test]
async fn primary_answering_502_is_not_resent_under_at_most_once() {
    // A 502 may come after the provider processed the request: under the default policy the message
    // is neither retried on the primary nor sent through the secondary.
    let bed = Bed::start().await;
    bed.sandbox
        .inject_fault(primary_fault(FaultKind::HttpStatus(502)));
    let chain = bed.chain_builder().build().expect("chain");
    let error = chain.send(&Message::text(number(9), TEXT)).await.unwrap_err();
    assert!(error.is_ambiguous(), "{error:#}");
    assert_eq!(error.attempts().len(), 1, "{error:#}");
    assert_eq!(error.attempts()[0].error.code(), Some("HTTP 502"));
    assert_eq!(bed.primary_requests(), 1, "not retried");
    assert_eq!(bed.secondary_requests(), 0, "not failed over");
}

#[tokio::test]
async fn primary_out_of_balance_fails_over_once() {
    let bed = Bed::start().await;
    bed.sandbox
        .set_balance(Product::IhuyiSms, sms::sandbox::DEFAULT_ACCOUNT, 0);
    assert_delivered_once_by_secondary(&bed, AmbiguityPolicy::AtMostOnce, 3, Some("4051")).await;
    // 4051 is not retryable: one request, then the next provider.
    assert_eq!(bed.primary_requests(), 1);
}

#[tokio::test]
async fn primary_with_a_wrong_key_fails_over_once() {
    // Plain password: the key itself travels, and the provider answers 405.
    let bed = Bed::start_with_ihuyi("not-the-key", PasswordMode::Plain).await;
    assert_delivered_once_by_secondary(&bed, AmbiguityPolicy::AtMostOnce, 4, Some("405")).await;
    assert_eq!(bed.primary_requests(), 1);
}

#[tokio::test]
async fn primary_with_a_wrong_key_fails_over_once_with_dynamic_passwords() {
    // Dynamic password: the hash does not match, and the provider answers 40502.
    let bed = Bed::start_with_ihuyi("not-the-key", PasswordMode::Dynamic).await;
    assert_delivered_once_by_secondary(&bed, AmbiguityPolicy::AtMostOnce, 7, Some("40502")).await;
    assert_eq!(bed.primary_requests(), 1);
}

#[tokio::test]
async fn hanging_primary_fails_over_once_when_duplicates_are_acceptable() {
    let bed = Bed::start().await;
    bed.sandbox.inject_fault(primary_fault(FaultKind::Hang));
    assert_delivered_once_by_secondary(&bed, AmbiguityPolicy::AtLeastOnce, 5, None).await;
}

#[tokio::test]
async fn hanging_primary_stops_with_an_ambiguous_error_by_default() {
    let bed = Bed::start().await;
    bed.sandbox.inject_fault(primary_fault(FaultKind::Hang));
    let chain = bed.chain_builder().build().expect("chain");
    let to = number(6);
    let error = chain.send(&Message::text(to.clone(), TEXT)).await.unwrap_err();
    assert!(error.is_ambiguous(), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Ambiguous);
    assert_eq!(
        error.attempts().len(),
        1,
        "the attempt record comes with it: {error}"
    );
    // The outcome is unknown, so the secondary was not asked: no chance of a duplicate.
    assert_eq!(bed.secondary_requests(), 0);
    assert!(bed.delivered_to(&to).is_empty());
}

#[tokio::test]
async fn open_breaker_skips_the_hanging_primary_without_requests() {
    let bed = Bed::start().await;
    bed.sandbox.inject_fault(primary_fault(FaultKind::Hang));
    let threshold = 2;
    let chain = bed
        .chain_builder()
        .ambiguity_policy(AmbiguityPolicy::AtLeastOnce)
        .circuit_breaker(
            BreakerConfig::default()
                .failure_threshold(threshold)
                .cool_down(Duration::from_secs(3600)),
        )
        .build()
        .expect("chain");
    for index in 0..6 {
        let to = number(100 + index);
        let receipt = chain
            .send(&Message::text(to.clone(), TEXT))
            .await
            .expect("delivered");
        assert_eq!(receipt.outcomes[0].provider, "juxiang");
        assert_eq!(bed.delivered_to(&to).len(), 1);
        // Until the breaker opens every message costs the primary a request; after, none.
        let expected = u64::from((index + 1).min(threshold));
        assert_eq!(bed.primary_requests(), expected, "after message {index}");
    }
    // Once open, later messages took no longer than the secondary alone: they never touched the primary.
    assert_eq!(bed.secondary_requests(), 6);
}
