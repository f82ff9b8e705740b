//! `sms-sandbox`: runs the simulator until Ctrl-C (SIGINT) or SIGTERM.

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
    /// TOML configuration (accounts, receipt URL, upstream URLs, connection limits); see the crate
    /// README.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Close a connection that takes longer than this to send a request's headers, idle keep-alive
    /// connections included (milliseconds; overrides the configuration file; default 30000).
    #[arg(long, value_name = "MS")]
    header_read_timeout_ms: Option<u64>,
    /// Most connections served at once; more wait until one closes (overrides the configuration
    /// file; default 512).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
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
    let mut config = match &args.config {
        Some(path) => SandboxConfig::from_file(path)?,
        None => SandboxConfig::default(),
    };
    if let Some(ms) = args.header_read_timeout_ms {
        config.set_header_read_timeout(std::time::Duration::from_millis(ms));
    }
    if let Some(count) = args.max_connections {
        config.set_max_connections(count);
    }
    // Listen for signals before saying "listening on": a supervisor (or a test) may send SIGTERM as
    // soon as it reads that line, and without a handler the process would die mid-way.
    let stop = StopSignals::install()?;
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
    let signal = stop.wait().await?;
    println!("sms-sandbox: {signal}, shutting down");
    drop(sandbox);
    Ok(())
}

/// The signals that stop the binary: Ctrl-C (SIGINT) and, on Unix, SIGTERM (what `docker stop`,
/// systemd and `kill` send). Installed once at start, before anything is announced.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for one of the signals and names the one that came.
    async fn wait(mut self) -> std::io::Result<&'static str> {
        #[cfg(unix)]
        {
            tokio::select! {
                result = tokio::signal::ctrl_c() => result.map(|()| "interrupted"),
                _ = self.term.recv() => Ok("terminated"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            tokio::signal::ctrl_c().await.map(|()| "interrupted")
        }
    }
}
