//! `sms config check`: loads and validates the config and prints the effective chain, secrets masked.

use serde_json::json;

use crate::backend::{Backend, Origin};
use crate::exit::{Exit, Outcome};

/// Prints where the providers come from and each provider of the chain.
///
/// # Errors
/// None of its own: loading the config (before this runs) reports config errors with exit 5.
pub fn run(backend: &Backend, json: bool) -> Outcome {
    let origin = match &backend.origin {
        Origin::File(path) => format!("config file {path}"),
        Origin::SandboxUrl(url) => format!("running sandbox at {url} (--sandbox-url)"),
        Origin::BuiltInSandbox(url) => format!("built-in sandbox at {url} (no config file found)"),
    };
    if json {
        let providers: Vec<_> = backend
            .providers
            .iter()
            .map(|p| {
                json!({"name": p.name, "vendor": p.vendor, "endpoint": p.endpoint, "account": p.account,
                       "secret": "****", "price_per_part": p.price_per_part})
            })
            .collect();
        println!("{}", json!({"source": origin, "providers": providers, "effective": backend.effective}));
    } else {
        println!("source: {origin}");
        println!("chain: {}", backend.chain.provider_names().join(" -> "));
        for p in &backend.providers {
            let price = p.price_per_part.map(|x| format!(", {x} per part")).unwrap_or_default();
            println!("  {} ({}) at {}, account {:?}, secret ****{price}", p.name, p.vendor, p.endpoint, p.account);
        }
        if let Some(effective) = &backend.effective {
            println!("\neffective config (secrets masked):\n{effective}");
        }
    }
    Ok(Exit::Ok)
}
