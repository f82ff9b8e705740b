//! A gateway on loopback with the in-process sandbox as every provider and a known admin key, for
//! API fuzzing (`.ci/schemathesis.sh`). Prints `listening on URL` once ready and runs until stdin
//! closes. Never points anything outside 127.0.0.1.
//!
//! ```sh
//! cargo run -p sms-gateway --example schemathesis_target -- DIR
//! ```

use std::io::Read as _;

use sms_config::{Config, LoadOptions};
use sms_gateway::{Gateway, hash_key};
use sms_sandbox::Sandbox;

/// The admin key the fuzzer sends.
const KEY: &str = "schemathesis-admin-key";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("sms-schemathesis"));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::builder().spawn().await?;
    let mut text = Config::sandbox_toml(&sandbox.base_url());
    text.push_str(&format!(
        "\n[store]\npath = {:?}\n\n[gateway]\nlisten = \"127.0.0.1:0\"\nwebhook_token = \"schemathesis-webhook-token\"\n\
         sync_timeout = \"5s\"\n\n[[gateway.api_keys]]\nname = \"fuzzer\"\nhash = {:?}\nscopes = [\"admin\"]\n",
        dir.join("sms.db").display().to_string(),
        hash_key(KEY)
    ));
    let config = Config::from_toml_str(&text, &LoadOptions::new().env_vars::<String, String>([]))?;
    let gateway = Gateway::builder(config).spawn().await?;
    println!("listening on {}", gateway.base_url());
    // Until stdin closes (the script holds it open and kills us at the end).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    gateway.shutdown().await;
    drop(sandbox);
    Ok(())
}
