//! `sms-sandbox`: runs the simulator until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use sms_sandbox::{DEFAULT_MMS_PACKAGE_ID, DEFAULT_MMS_PRODUCT_ID, Product, Sandbox, SandboxConfig};

/// A local simulator of the ihuyi, ihuyi voice, 10658 MMS and Juxiang SMS APIs. Nothing is sent.
#[derive(Debug, Parser)]
#[command(name = "sms-sandbox", version)]
struct Args {
    /// Address to listen on. Loopback by default; a non-loopback address exposes the simulator to
    /// the network.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// TOML configuration (accounts, receipt URL, upstream URLs); see the crate README.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sms-sandbox: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = match &args.config {
        Some(path) => SandboxConfig::from_file(path)?,
        None => SandboxConfig::default(),
    };
    let sandbox = Sandbox::builder()
        .config(config)
        .listen(args.listen)
        .spawn()
        .await?;
    println!("sms-sandbox: THIS IS A SIMULATOR. No SMS, voice call or MMS is really sent or billed.");
    if !args.listen.ip().is_loopback() {
        println!(
            "sms-sandbox: warning: listening on {}, which is not loopback",
            args.listen
        );
    }
    println!("listening on {}", sandbox.base_url());
    for product in Product::ALL {
        println!("  {:<20} {}", product.name(), sandbox.url(product));
    }
    println!("accounts:");
    let defaults = args.config.is_none();
    for (product, account) in sandbox.accounts() {
        let balance = sandbox.balance(product, &account).unwrap_or(0);
        println!("  {:<20} account {account:?}, balance {balance}", product.name());
    }
    if defaults {
        println!(
            "default credentials: account \"sandbox\", key \"sandbox-key\" (ihuyi, voice, MMS); \
             name \"sandbox\", password \"sandbox-pwd\" (Juxiang); MMS pid {DEFAULT_MMS_PRODUCT_ID:?}, \
             package {DEFAULT_MMS_PACKAGE_ID:?}"
        );
    }
    println!(
        "control API: {}/_sandbox/messages (GET), /_sandbox/reset, /_sandbox/balance, /_sandbox/inbound, /_sandbox/faults (POST)",
        sandbox.base_url()
    );
    tokio::signal::ctrl_c().await?;
    println!("sms-sandbox: shutting down");
    Ok(())
}
