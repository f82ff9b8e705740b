//! The chain behaves the same with its state in memory and on Redis: each scenario runs against a
//! fresh sandbox with both, and what the caller sees and what the sandbox recorded must match.

mod support;

use std::sync::Arc;

use sms_core::{ErrorKind, Message, MessageSender, PhoneNumber, Receipt};
use sms_failover::{FailoverSenderBuilder, RecipientLimits};
use sms_sandbox::{Fault, FaultKind, FaultTarget, Product};
use support::{Bed, TestTime, connect, unique_prefix};

fn number(text: &str) -> PhoneNumber {
    text.parse().expect("number")
}

fn text(to: impl Into<sms_core::Recipients>) -> Message {
    Message::text(to, "【示例】您的验证码是 123456")
}

/// What a caller sees of a send: who took each number, or the error's kind.
fn seen(result: &Result<Receipt, sms_core::Error>) -> String {
    match result {
        Ok(receipt) => {
            let outcomes: Vec<String> = receipt
                .outcomes
                .iter()
                .map(|o| match o.error() {
                    None => o.provider.clone(),
                    Some(e) => format!("{}", e.kind()),
                })
                .collect();
            format!("ok {outcomes:?}")
        }
        Err(e) => format!("error {} (ambiguous: {})", e.kind(), e.is_ambiguous()),
    }
}

/// Runs `scenario` on a fresh sandbox with a chain built by `build`, in memory and on Redis, and
/// checks that both saw and delivered the same.
async fn same_with_both<F, Fut>(name: &str, limits: RecipientLimits, scenario: F)
where
    F: Fn(Arc<Bed>, sms_failover::FailoverSender) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let mut runs = Vec::new();
    for on_redis in [false, true] {
        let bed = Arc::new(Bed::start().await);
        let time = TestTime::default();
        let builder: FailoverSenderBuilder = bed.chain(&time).recipient_limits(limits.clone());
        let builder = if on_redis {
            builder.shared_state(Arc::new(connect(&unique_prefix(name), &time).await))
        } else {
            builder
        };
        let chain = builder.build().expect("chain");
        let mut observed = scenario(bed.clone(), chain).await;
        let mut delivered: Vec<String> = bed
            .sandbox
            .messages()
            .iter()
            .map(|m| format!("{:?} {:?}", m.product, m.recipients))
            .collect();
        delivered.sort();
        observed.push(format!("delivered {delivered:?}"));
        runs.push(observed);
    }
    assert_eq!(
        runs[0], runs[1],
        "{name}: in memory (left) and on Redis (right) differ"
    );
    if std::env::var_os("SMS_PARITY_SHOW").is_some() {
        println!("{name}: {:?}", runs[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_opt_outs_limits_and_references_behave_the_same() {
    same_with_both("healthy", RecipientLimits::disabled(), |_, chain| async move {
        vec![seen(&chain.send(&text(number("13800138401"))).await)]
    })
    .await;

    same_with_both(
        "unavailable-primary",
        RecipientLimits::disabled(),
        |bed, chain| async move {
            bed.sandbox.inject_fault(
                Fault::new(FaultKind::HttpStatus(503)).target(FaultTarget::Product(Product::IhuyiSms)),
            );
            let first = chain.send(&text(number("13800138402"))).await;
            let second = chain.send(&text(number("13800138403"))).await;
            let skipped = second.as_ref().map(|r| r.attempts[0].error.kind());
            vec![seen(&first), seen(&second), format!("{skipped:?}")]
        },
    )
    .await;

    same_with_both(
        "ambiguous-primary",
        RecipientLimits::disabled(),
        |bed, chain| async move {
            bed.sandbox.inject_fault(
                Fault::new(FaultKind::HttpStatus(502)).target(FaultTarget::Product(Product::IhuyiSms)),
            );
            let message = text(number("13800138404")).with_reference("parity-ambiguous");
            let first = chain.send(&message).await;
            let again = chain.send(&message).await;
            vec![seen(&first), seen(&again)]
        },
    )
    .await;

    same_with_both("opt-outs", RecipientLimits::disabled(), |_, chain| async move {
        let out = number("13800138405");
        chain.suppression_list().suppress(&out).await.expect("recorded");
        let alone = chain.send(&text(out.clone())).await;
        let batch = chain
            .send(&text(vec![number("13800138406"), out, number("13800138407")]))
            .await;
        vec![seen(&alone), seen(&batch)]
    })
    .await;

    same_with_both("limits", RecipientLimits::new(1, 5), |_, chain| async move {
        let to = number("13800138408");
        let first = chain.send(&text(to.clone())).await;
        let second = chain.send(&text(to)).await;
        vec![seen(&first), seen(&second)]
    })
    .await;

    same_with_both("references", RecipientLimits::disabled(), |_, chain| async move {
        let message = text(number("13800138409")).with_reference("parity-ref");
        let first = chain.send(&message).await;
        let again = chain.send(&message).await;
        let ids = |r: &Result<Receipt, sms_core::Error>| {
            r.as_ref()
                .map(|r| r.message_ids().map(str::len).collect::<Vec<_>>())
                .ok()
        };
        vec![
            seen(&first),
            seen(&again),
            format!("{:?} {:?}", ids(&first), ids(&again)),
        ]
    })
    .await;

    same_with_both("invalid", RecipientLimits::disabled(), |_, chain| async move {
        let e = chain.send(&Message::text(number("13800138410"), "")).await;
        assert!(matches!(&e, Err(e) if e.kind() == ErrorKind::InvalidContent || e.kind() == ErrorKind::InvalidRequest));
        vec![seen(&e)]
    })
    .await;
}
