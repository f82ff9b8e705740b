//! Shared by the integration tests: a temporary SQLite file, the sandbox and a chain (PostgreSQL
//! databases come from `sms_test_support::TestDatabase`).

#![allow(dead_code)]

use std::path::PathBuf;

/// A SQLite file path under the system temp dir, removed (with its WAL files) on drop.
pub struct TempDb(pub PathBuf);

impl TempDb {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "sms-store-{tag}-{}-{}.db",
            std::process::id(),
            sms_store::new_id()
        ));
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path()));
        }
    }
}

/// A sandbox whose ihuyi account can pay for `messages` messages, and a chain of ihuyi alone pointed
/// at `base`.
pub async fn sandbox_for(messages: i64) -> sms_sandbox::Sandbox {
    use sms_sandbox::{Account, DEFAULT_ACCOUNT, DEFAULT_KEY, Product, Sandbox};
    Sandbox::builder()
        .account(
            Product::IhuyiSms,
            Account::new(DEFAULT_ACCOUNT, DEFAULT_KEY).balance(messages * 2),
        )
        .spawn()
        .await
        .expect("sandbox starts")
}

/// The ihuyi client for the sandbox at `base`.
pub fn ihuyi(base: &str) -> sms_ihuyi::IhuyiClient {
    sms_ihuyi::IhuyiClient::new(
        sms_ihuyi::IhuyiConfig::new(sms_sandbox::DEFAULT_ACCOUNT, sms_sandbox::DEFAULT_KEY)
            .base_url(base.to_owned())
            .international_base_url(base.to_owned()),
    )
    .expect("ihuyi client")
}

/// A failover chain of ihuyi alone with no local limits, optionally on the store's durable state.
pub fn chain(
    base: &str,
    state: Option<std::sync::Arc<sms_store::StoreState>>,
) -> sms_failover::FailoverSender {
    use std::sync::Arc;
    let mut builder = sms_failover::FailoverSender::builder()
        .provider(sms_failover::ProviderEntry::new(
            Arc::new(ihuyi(base)) as Arc<dyn sms_core::MessageSender>
        ))
        .recipient_limits(sms_failover::RecipientLimits::disabled());
    if let Some(state) = state {
        builder = builder.suppression_list(state.clone()).idempotency_store(state);
    }
    builder.build().expect("chain")
}

/// Distinct mainland numbers: `index` in 0..10,000,000.
pub fn bulk_number(index: u32) -> sms_core::PhoneNumber {
    format!("1390{index:07}").parse().expect("a valid number")
}

/// Works the outbox of `store` with `sender` until it is empty: sweep, claim a batch with a short
/// lease, send each (32 in flight), record. Returns how many messages this worker sent.
pub async fn drain_outbox(
    store: &dyn sms_store::MessageStore,
    sender: &dyn sms_core::MessageSender,
    worker: &str,
    lease: std::time::Duration,
) -> usize {
    let mut sent = 0;
    loop {
        store.sweep().await.expect("sweep");
        let claims = store.claim(worker, 128, lease).await.expect("claim");
        if claims.is_empty() {
            if store.outbox_depth().await.expect("depth") == 0 {
                return sent;
            }
            // Claimed by another worker, or leased by a dead one until its lease runs out.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        }
        let results = sms_store::deliver_claims(store, sender, claims, 32)
            .await
            .expect("store");
        sent += results.iter().filter(|(_, result)| result.is_some()).count();
    }
}

/// How many times each number appears among the recipients the sandbox accepted.
pub fn sandbox_counts(sandbox: &sms_sandbox::Sandbox) -> std::collections::HashMap<String, usize> {
    let mut counts = std::collections::HashMap::new();
    for message in sandbox.messages() {
        for recipient in message.recipients {
            *counts.entry(recipient).or_insert(0) += 1;
        }
    }
    counts
}
