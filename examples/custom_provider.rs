//! Adding a vendor: a made-up provider, "Acme SMS", implemented against the core traits in one file and
//! joined into a failover chain in front of ihuyi (on the sandbox unless real credentials are set).
//!
//! A real provider crate splits this into `config.rs`, `client.rs`, `response.rs` and `push.rs` (see
//! README's "Adding a provider"); the pieces are the same:
//! 1. a config whose secret is a [`Secret`],
//! 2. [`Capabilities`] that say exactly what the vendor does,
//! 3. one function that maps the vendor's codes to [`ErrorKind`]s,
//! 4. `send` that checks locally first (`preflight`), then builds one outcome per recipient.
//!
//! Acme's "wire" here is a function standing in for its HTTP API (it refuses numbers ending in 0, as
//! if they were on its blacklist), so that the example runs anywhere.
//!
//! ```text
//! cargo run --example custom_provider
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sms::failover::{FailoverSender, ProviderEntry};
use sms::{
    Capabilities, Error, ErrorKind, Message, MessageKind, MessageSender, MessageSenderExt, Operation,
    PhoneNumber, Receipt, RecipientOutcome, Secret,
};
use sms_examples::{Backend, BoxError};

/// 1. Configuration: the key is a `Secret`, so `{:?}` of the config never shows it.
#[derive(Debug, Clone)]
struct AcmeConfig {
    account: String,
    key: Secret,
}

/// The client. Real clients hold one shared `reqwest::Client` here.
struct AcmeSms {
    config: AcmeConfig,
    capabilities: Capabilities,
    next_id: AtomicU64,
}

impl AcmeSms {
    fn new(config: AcmeConfig) -> Self {
        // 2. Capabilities: plain text to mainland numbers, 50 per request, nothing else.
        let capabilities = Capabilities::new(&[MessageKind::Text])
            .with_max_batch(50)
            .with_max_text_chars(500);
        Self {
            config,
            capabilities,
            next_id: AtomicU64::new(1),
        }
    }

    /// Stands in for Acme's HTTP API: answers a vendor code per number.
    fn acme_api(&self, number: &PhoneNumber, _text: &str) -> (u32, &'static str) {
        let _signature = (self.config.account.as_str(), self.config.key.expose());
        if number.national_number().ends_with('0') {
            (1002, "number is on the Acme blacklist")
        } else {
            (0, "queued")
        }
    }
}

/// 3. Acme's code table, in exactly one function (a real crate has a test per row).
fn acme_error(code: u32, text: &str) -> Error {
    let kind = match code {
        1001 => ErrorKind::Unauthorized,
        1002 => ErrorKind::RecipientRejected,
        1003 => ErrorKind::InsufficientBalance,
        1004 => ErrorKind::ContentRejected,
        1005 => ErrorKind::RateLimited,
        _ => ErrorKind::ProviderFault,
    };
    Error::new(kind, Operation::Send)
        .with_provider("acme")
        .with_code(code.to_string())
        .with_message(text)
}

#[async_trait]
impl MessageSender for AcmeSms {
    fn name(&self) -> &str {
        "acme"
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// 4. Check locally (no request is wasted on what Acme cannot do), then one outcome per recipient.
    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        self.preflight(message)?;
        let text = message.body().text().unwrap_or_default();
        let outcomes: Vec<RecipientOutcome> = message
            .recipients()
            .iter()
            .map(|number| match self.acme_api(number, text) {
                (0, _) => {
                    let id = format!("acme-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
                    RecipientOutcome::accepted(number.clone(), "acme", Some(id))
                }
                (code, text) => RecipientOutcome::failed(number.clone(), "acme", acme_error(code, text)),
            })
            .collect();
        // Nothing accepted: return the (first) error so that the caller's decision logic sees it.
        if let Some(error) = outcomes
            .iter()
            .find_map(|o| o.error())
            .filter(|_| outcomes.iter().all(|o| !o.is_accepted()))
        {
            return Err(error.clone());
        }
        Ok(Receipt::new(message.reference().clone(), outcomes))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let backend = Backend::from_env_or_sandbox().await?;
    let acme = AcmeSms::new(AcmeConfig {
        account: "demo".into(),
        key: Secret::new("acme-key"),
    });
    println!("Acme config as logged: {:?}", acme.config);

    let chain = FailoverSender::builder()
        .provider(ProviderEntry::send_only(Arc::new(acme)).priority(0))
        .provider(ProviderEntry::new(Arc::new(backend.ihuyi.clone())).priority(1))
        .build()?;

    // Two recipients: Acme takes the first and refuses the second (its blacklist), which another
    // provider may serve, so only that number moves on to ihuyi.
    let recipients: Vec<PhoneNumber> = if backend.sandbox.is_some() {
        vec!["13800138001".parse()?, "13900139000".parse()?]
    } else {
        backend.recipients.clone()
    };
    let message = Message::text(recipients, "【示例】Acme 与 ihuyi 组成的故障转移链。");
    let receipt = chain.send(&message).await?;
    for outcome in &receipt.outcomes {
        println!(
            "{} -> {} ({})",
            outcome.recipient.masked(),
            outcome.provider,
            outcome.message_id.as_deref().unwrap_or("no id")
        );
    }
    for attempt in &receipt.attempts {
        println!("earlier attempt: {} failed: {}", attempt.provider, attempt.error);
    }
    Ok(())
}
