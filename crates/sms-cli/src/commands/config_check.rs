//! `sms config check`: loads and validates the config and prints the effective chain, secrets masked.

use serde_json::json;

use crate::backend::Backend;
use crate::exit::{Exit, Outcome};

/// Prints where the config comes from, the chain, and the effective config with secrets redacted.
///
/// # Errors
/// None of its own: loading the config (before this runs) reports config errors with exit 5.
pub fn run(backend: &Backend, json: bool) -> Outcome {
    let chain: Vec<&str> = backend.chain.provider_names();
    if json {
        println!(
            "{}",
            json!({"source": backend.origin(), "profile": backend.config.profile(), "chain": chain,
                   "effective": backend.config.effective_json()})
        );
        return Ok(Exit::Ok);
    }
    println!("source: {}", backend.origin());
    if let Some(profile) = backend.config.profile() {
        println!("profile: {profile}");
    }
    println!("chain: {}", chain.join(" -> "));
    for p in &backend.providers {
        let place = if p.in_chain {
            "in the chain"
        } else {
            "outside the chain"
        };
        let price = p
            .price_per_part
            .map(|x| format!(", {x} per part"))
            .unwrap_or_default();
        println!("  {} ({}, {place}{price})", p.name, p.vendor);
    }
    println!(
        "\n# effective config, secrets redacted\n{}",
        backend.config.effective_toml()
    );
    Ok(Exit::Ok)
}
