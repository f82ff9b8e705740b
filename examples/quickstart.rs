//! Quickstart: a failover chain of ihuyi SMS (primary) and Juxiang (secondary) sends a verification
//! code; then the primary breaks and the next code still goes out, once, through the secondary.
//!
//! Runs on the built-in sandbox unless real credentials are configured (see `examples/support.rs`).
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::sync::Arc;
use std::time::Duration;

use sms::failover::{FailoverSender, ProviderEntry, RetryPolicy};
use sms::sandbox::{Fault, FaultKind, FaultTarget, Product};
use sms::{AmbiguityPolicy, Message, MessageSender, PhoneNumber, Receipt};
use sms_examples::{Backend, BoxError};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let backend = Backend::from_env_or_sandbox().await?;
    match &backend.sandbox {
        Some(sandbox) => println!(
            "No provider credentials configured: running on the built-in sandbox at {} (a simulator; \
             nothing leaves this machine).\n",
            sandbox.base_url()
        ),
        None => println!("Using the real ihuyi and Juxiang accounts from the environment.\n"),
    }

    let chain = FailoverSender::builder()
        .provider(ProviderEntry::new(Arc::new(backend.ihuyi.clone())).priority(0))
        .provider(ProviderEntry::new(Arc::new(backend.juxiang.clone())).priority(1))
        // Quick retries so the demo stays snappy; production defaults are more patient.
        .retry(
            RetryPolicy::default()
                .max_attempts_per_provider(2)
                .initial_backoff(Duration::from_millis(50)),
        )
        .build()?;
    println!("Failover chain: {}\n", provider_names(&chain));

    // 1. A verification code through the healthy chain.
    let first = verification_code(&backend.recipients[0], "482913");
    send_and_explain(&chain, "Message 1 (all providers healthy)", &first).await;

    // 2. Break the primary, then send the next code.
    let Some(sandbox) = &backend.sandbox else {
        println!("Real providers: skipping the fault-injection step (it needs the sandbox).");
        return Ok(());
    };
    sandbox
        .inject_fault(Fault::new(FaultKind::HttpStatus(503)).target(FaultTarget::Product(Product::IhuyiSms)));
    println!("Injected a fault: ihuyi now answers every request with HTTP 503.\n");
    let second = verification_code(&backend.recipients[1], "730516");
    send_and_explain(&chain, "Message 2 (primary down)", &second).await;

    // 3. What actually went out, according to the simulator's own log.
    println!(
        "The sandbox recorded {} accepted message(s):",
        sandbox.messages().len()
    );
    for recorded in sandbox.messages() {
        println!(
            "  {:?} to {} via account {:?}: {}",
            recorded.product,
            recorded.recipients.join(","),
            recorded.account,
            recorded.text
        );
    }
    println!("\nEach code went out exactly once. See README.md for pointing this at real credentials.");
    Ok(())
}

fn verification_code(to: &PhoneNumber, code: &str) -> Message {
    // A lost code is worse than a duplicate one, so verification codes may fail over even when an
    // attempt's outcome is unknown.
    Message::text(to.clone(), format!("【示例】您的验证码是{code}，5分钟内有效。"))
        .with_ambiguity_policy(AmbiguityPolicy::AtLeastOnce)
}

async fn send_and_explain(chain: &FailoverSender, title: &str, message: &Message) {
    let parts = message.estimated_parts().unwrap_or(0);
    println!(
        "{title}: to {} ({parts} billed part(s))",
        message.recipients()[0].masked()
    );
    match chain.send(message).await {
        Ok(receipt) => explain(&receipt),
        Err(error) => println!("  not sent: {error}"),
    }
    println!();
}

fn explain(receipt: &Receipt) {
    for outcome in &receipt.outcomes {
        let id = outcome.message_id.as_deref().unwrap_or("-");
        if outcome.is_accepted() {
            println!(
                "  delivered to the provider by {} (message id {id})",
                outcome.provider
            );
        } else {
            println!("  {}: {:?}", outcome.provider, outcome.status);
        }
    }
    if receipt.attempts.is_empty() {
        println!("  why: the primary accepted it on the first try");
        return;
    }
    for (index, attempt) in receipt.attempts.iter().enumerate() {
        let error = &attempt.error;
        let code = error.code().map(|c| format!(" ({c})")).unwrap_or_default();
        let next = if error.is_retryable() {
            "retryable"
        } else {
            "not retryable here"
        };
        println!(
            "  why: attempt {} on {} failed after {:.1?}: {}{code}, {next}",
            index + 1,
            attempt.provider,
            attempt.elapsed,
            error.kind()
        );
    }
    println!("  so the chain failed over to the next provider, which took it");
}

fn provider_names(chain: &FailoverSender) -> String {
    chain
        .health()
        .iter()
        .map(|h| h.name.clone())
        .collect::<Vec<_>>()
        .join(" -> ")
}
