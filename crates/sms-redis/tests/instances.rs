//! Three separately built chains, each with its own Redis connection, on one Redis and one sandbox:
//! what one instance learns or does holds for all.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use sms_core::{ErrorKind, InboundMessage, Message, MessageSender, PhoneNumber};
use sms_failover::{FailoverSender, RecipientLimits};
use sms_sandbox::{Fault, FaultKind, FaultTarget, Product};
use support::{Bed, TestTime, connect, unique_prefix};

/// Three instances on `prefix`: separate connections, separately built chains.
async fn instances(bed: &Bed, prefix: &str, time: &TestTime, limits: RecipientLimits) -> Vec<FailoverSender> {
    let mut chains = Vec::new();
    for _ in 0..3 {
        let state = Arc::new(connect(prefix, time).await);
        let chain = bed
            .chain(time)
            .recipient_limits(limits.clone())
            .shared_state(state)
            .build()
            .expect("a valid chain");
        chains.push(chain);
    }
    chains
}

fn text(to: &PhoneNumber) -> Message {
    Message::text(to.clone(), "【示例】您的验证码是 123456")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_per_second_admits_exactly_one_of_30_concurrent_sends() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let chains = instances(
        &bed,
        &unique_prefix("one-per-second"),
        &time,
        RecipientLimits::new(1, 5),
    )
    .await;
    let to: PhoneNumber = "13800138001".parse().expect("number");
    let sends = (0..30).map(|i| {
        let chain = chains[i % 3].clone();
        let message = text(&to);
        async move { chain.send(&message).await }
    });
    let results = join_all(sends).await;
    let sent = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(sent, 1, "exactly one of 30 concurrent sends to one number");
    for result in &results {
        if let Err(e) = result {
            assert_eq!(e.kind(), ErrorKind::RecipientThrottled, "{e}");
        }
    }
    assert_eq!(bed.delivered_to(&to).len(), 1, "the sandbox got it once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_per_day_admits_exactly_five_over_a_simulated_day() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let chains = instances(
        &bed,
        &unique_prefix("five-per-day"),
        &time,
        RecipientLimits::new(1, 5),
    )
    .await;
    let to: PhoneNumber = "13800138002".parse().expect("number");
    let mut admitted = Vec::new();
    // One send every 15 minutes for a day, from the instances in turn (the test clock moves the
    // server's time in every script: TIME itself cannot be paused).
    for quarter in 0..96 {
        if chains[quarter % 3].send(&text(&to)).await.is_ok() {
            admitted.push(quarter);
        }
        time.advance(Duration::from_secs(15 * 60));
    }
    assert_eq!(admitted, [0, 1, 2, 3, 4], "five in any 24 hours");
    assert_eq!(bed.delivered_to(&to).len(), 5);
    // 24 h after the first: room for one more.
    chains[1].send(&text(&to)).await.expect("a day after the first");
    assert_eq!(bed.delivered_to(&to).len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_learnt_by_one_is_refused_by_the_others_without_a_request() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let chains = instances(
        &bed,
        &unique_prefix("opt-out"),
        &time,
        RecipientLimits::disabled(),
    )
    .await;
    let to: PhoneNumber = "13800138003".parse().expect("number");
    let reply = InboundMessage {
        provider: "juxiang".into(),
        sender: to.national_number().into(),
        service_number: None,
        text: "0000".into(),
        received_at: None,
        opt_out: true,
        raw: BTreeMap::new(),
    };
    assert!(chains[0].observe_inbound(&reply).await.expect("recorded"));
    let before = bed.sandbox.request_count(Product::IhuyiSms) + bed.sandbox.request_count(Product::Juxiang);
    for chain in &chains[1..] {
        let e = chain.send(&text(&to)).await.expect_err("opted out");
        assert_eq!(e.kind(), ErrorKind::RecipientOptedOut, "{e}");
        assert!(e.attempts().is_empty());
    }
    let after = bed.sandbox.request_count(Product::IhuyiSms) + bed.sandbox.request_count(Product::Juxiang);
    assert_eq!(after, before, "no request");
    assert!(bed.delivered_to(&to).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reference_sent_concurrently_by_three_goes_out_once() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let chains = instances(
        &bed,
        &unique_prefix("reference"),
        &time,
        RecipientLimits::disabled(),
    )
    .await;
    let to: PhoneNumber = "13800138004".parse().expect("number");
    let message = text(&to).with_reference("order-77");
    let sends = (0..30).map(|i| {
        let chain = chains[i % 3].clone();
        let message = message.clone();
        async move { chain.send(&message).await }
    });
    let results = join_all(sends).await;
    let delivered = bed.delivered_to(&to);
    assert_eq!(
        delivered.len(),
        1,
        "the sandbox got it exactly once: {delivered:?}"
    );
    for result in &results {
        match result {
            Ok(receipt) => {
                assert_eq!(
                    receipt.message_ids().collect::<Vec<_>>(),
                    [delivered[0].provider_id.as_str()]
                );
            }
            // Sent while the first send was in flight: unknown to this caller, never sent again.
            Err(e) => assert!(e.is_ambiguous(), "{e}"),
        }
    }
    // Afterwards every instance answers with the first outcome, without a request.
    for chain in &chains {
        let receipt = chain.send(&message).await.expect("the first outcome");
        assert_eq!(
            receipt.message_ids().collect::<Vec<_>>(),
            [delivered[0].provider_id.as_str()]
        );
    }
    assert_eq!(bed.delivered_to(&to).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_tripped_by_one_is_open_for_all_and_one_probe_follows_the_cool_down() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let chains = instances(
        &bed,
        &unique_prefix("breaker"),
        &time,
        RecipientLimits::disabled(),
    )
    .await;
    bed.sandbox
        .inject_fault(Fault::new(FaultKind::HttpStatus(503)).target(FaultTarget::Product(Product::IhuyiSms)));
    let numbers: Vec<PhoneNumber> = (0..40)
        .map(|i| format!("1390013{:04}", 9000 + i).parse().expect("number"))
        .collect();
    // Instance 0 finds ihuyi failing: its breaker opens, and the message goes to Juxiang.
    let receipt = chains[0]
        .send(&text(&numbers[0]))
        .await
        .expect("sent by the secondary");
    assert_eq!(receipt.providers(), ["juxiang"]);
    assert_eq!(bed.sandbox.request_count(Product::IhuyiSms), 1);
    // The others skip ihuyi without a request.
    for (i, chain) in chains[1..].iter().enumerate() {
        let receipt = chain.send(&text(&numbers[1 + i])).await.expect("sent");
        assert_eq!(receipt.providers(), ["juxiang"]);
        assert_eq!(receipt.attempts[0].error.kind(), ErrorKind::CircuitOpen);
    }
    assert_eq!(
        bed.sandbox.request_count(Product::IhuyiSms),
        1,
        "no request from the other instances"
    );

    // After the cool-down, many concurrent sends from all three: exactly one probe reaches ihuyi
    // (it fails again), everything else goes to the secondary.
    time.advance(Duration::from_secs(30));
    let sends = (0..15).map(|i| {
        let chain = chains[i % 3].clone();
        let message = text(&numbers[5 + i]);
        async move { chain.send(&message).await }
    });
    for result in join_all(sends).await {
        assert_eq!(result.expect("sent").providers(), ["juxiang"]);
    }
    assert_eq!(
        bed.sandbox.request_count(Product::IhuyiSms),
        2,
        "exactly one probe"
    );

    // ihuyi recovers; after the next cool-down one probe succeeds and closes the breaker for all.
    bed.sandbox.clear_faults();
    time.advance(Duration::from_secs(30));
    let sends = (0..15).map(|i| {
        let chain = chains[i % 3].clone();
        let message = text(&numbers[20 + i]);
        async move { chain.send(&message).await }
    });
    let by_ihuyi = join_all(sends)
        .await
        .into_iter()
        .filter(|r| r.as_ref().expect("sent").providers() == ["ihuyi"])
        .count();
    assert!(by_ihuyi >= 1, "the probe went to ihuyi");
    assert_eq!(bed.sandbox.request_count(Product::IhuyiSms), 2 + by_ihuyi as u64);
    for (i, chain) in chains.iter().enumerate() {
        let receipt = chain.send(&text(&numbers[36 + i])).await.expect("sent");
        assert_eq!(receipt.providers(), ["ihuyi"], "closed for instance {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_written_has_an_expiry() {
    let bed = Bed::start().await;
    let time = TestTime::default();
    let prefix = unique_prefix("expiry");
    let chains = instances(&bed, &prefix, &time, RecipientLimits::new(1, 5)).await;
    let to: PhoneNumber = "13800138005".parse().expect("number");
    chains[0]
        .send(&text(&to).with_reference("order-expiry"))
        .await
        .expect("sent");
    let other: PhoneNumber = "13800138006".parse().expect("number");
    chains[1]
        .suppression_list()
        .suppress(&other)
        .await
        .expect("recorded");
    bed.sandbox
        .inject_fault(Fault::new(FaultKind::HttpStatus(503)).target(FaultTarget::Product(Product::IhuyiSms)));
    chains[2]
        .send(&text(&other).with_reference("x"))
        .await
        .expect_err("opted out");
    chains[2]
        .send(&text(&"13800138007".parse().expect("number")))
        .await
        .expect("sent by the secondary, tripping ihuyi's breaker");
    let client = redis::Client::open(support::redis_url()).expect("url");
    let mut connection = client.get_multiplexed_async_connection().await.expect("connect");
    // SCAN in steps, not KEYS: the server is shared with other tests and benches, and one KEYS over
    // a large keyspace can outlast the client's response timeout.
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{{{prefix}}}:*"))
            .arg("COUNT")
            .arg(10_000)
            .query_async(&mut connection)
            .await
            .expect("scan");
        keys.extend(found);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let kinds: std::collections::BTreeSet<&str> = keys.iter().filter_map(|k| k.split(':').nth(1)).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["breaker", "limit", "optout", "ref"],
        "every kind of key was written: {keys:?}"
    );
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("ttl");
        assert!(ttl > 0, "{key} has no expiry ({ttl})");
    }
}
