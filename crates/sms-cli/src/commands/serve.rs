//! `sms serve`: runs the gateway (REST API and provider webhooks) on the config's store, prints
//! where it listens and the push URL to give each provider, and stops gracefully on Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use sms::config::{ConfigOrigin, Vendor};
use sms::gateway::{Gateway, PushUrl};
use sms::sandbox::{Product, Sandbox};

use crate::backend::Backend;
use crate::exit::{Exit, Failure, Outcome};
use crate::stop::StopSignals;

#[cfg(feature = "otel")]
use sms::gateway::telemetry::Telemetry;
/// Without the `otel` feature there is never an exporter to stop.
#[cfg(not(feature = "otel"))]
type Telemetry = std::convert::Infallible;

/// `sms serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: `gateway.listen` of the config, else 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Starts the gateway, prints its addresses, serves until Ctrl-C or SIGTERM, then stops taking
/// requests, lets in-flight sends finish and exits 0.
///
/// # Errors
/// The store cannot be opened or the address bound (exit 1); a configuration the gateway cannot
/// serve (exit 5).
pub async fn run(backend: Backend, args: &ServeArgs, json: bool) -> Outcome {
    let stop = StopSignals::install();
    let Backend { config, sandbox, .. } = backend;
    let telemetry = install_tracing(&config)?;
    // Without a `[store]`, the database lives beside the config file (or in the working directory).
    let dir = match config.origin() {
        ConfigOrigin::File { path, .. } => path.parent().map(PathBuf::from).unwrap_or_default(),
        _ => PathBuf::new(),
    };
    let vendors: Vec<(String, Vendor)> = config
        .providers()
        .iter()
        .map(|p| (p.name.clone(), p.vendor))
        .collect();
    let mut builder = Gateway::builder(config).default_sqlite(dir.join("sms.db"));
    if let Some(addr) = args.listen {
        builder = builder.listen(addr);
    }
    let gateway = builder.spawn().await.map_err(|e| match e {
        sms::gateway::GatewayError::Setup(message) => Failure::config(message),
        sms::gateway::GatewayError::State(e) => {
            Failure::error(format!("cannot reach the state backend: {e}"))
        }
        other => Failure::error(format!("cannot start the gateway: {other}")),
    })?;
    if let Some(sandbox) = &sandbox {
        point_at_gateway(sandbox, &vendors, gateway.push_urls());
    }
    let state = gateway.state_description().to_owned();
    if json {
        let pushes: Vec<_> = gateway
            .push_urls()
            .iter()
            .map(|p| serde_json::json!({"provider": p.provider, "push": p.kind, "url": p.url}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "listening": gateway.base_url(),
                "dashboard": format!("{}/dashboard", gateway.base_url()),
                "store": gateway.store_description(),
                "state": state,
                "push_urls": pushes,
                "new_admin_key": gateway.new_admin_key().map(|k| k.expose()),
                "sandbox": sandbox.as_ref().map(|s| s.base_url()),
            })
        );
    } else {
        println!("sms serve: listening on {}", gateway.base_url());
        println!(
            "dashboard: {}/dashboard (log in with a read or admin API key)",
            gateway.base_url()
        );
        println!("store: {}", gateway.store_description());
        println!("state: {state}");
        if let Some(sandbox) = &sandbox {
            println!(
                "providers: the built-in sandbox at {} (nothing leaves this machine; it pushes its \
                 receipts and replies to the URLs below)",
                sandbox.base_url()
            );
        }
        println!("push URLs to give each provider (they hold the webhook token: keep them private):");
        for push in gateway.push_urls() {
            println!("  {} {}: {}", push.provider, push.kind, push.url);
        }
        if let Some(key) = gateway.new_admin_key() {
            println!(
                "admin API key, shown this once (only its hash is kept): {}",
                key.expose()
            );
        }
    }
    stop.wait().await;
    eprintln!("sms serve: stopping: no new requests; waiting for sends in flight");
    gateway.shutdown().await;
    drop(sandbox);
    if let Some(telemetry) = telemetry {
        // Spans still buffered go out now.
        #[cfg(feature = "otel")]
        telemetry.shutdown().await;
        #[cfg(not(feature = "otel"))]
        match telemetry {}
    }
    Ok(Exit::Ok)
}

/// Points the built-in sandbox's pushes at the gateway's own webhooks, so that a config-less
/// `sms serve` sees its messages delivered and its replies arrive as a real provider would show them.
/// The URLs hold a token the gateway makes at start, hence after the sandbox started.
fn point_at_gateway(sandbox: &Sandbox, vendors: &[(String, Vendor)], pushes: &[PushUrl]) {
    for push in pushes {
        let Some((_, vendor)) = vendors.iter().find(|(name, _)| *name == push.provider) else {
            continue;
        };
        let receipt = push.kind == "receipt";
        let products: &[Product] = match vendor {
            Vendor::Ihuyi => &[Product::IhuyiSms, Product::IhuyiInternational],
            Vendor::IhuyiVoice => &[Product::IhuyiVoice],
            Vendor::Juxiang => &[Product::Juxiang],
            _ => &[],
        };
        for product in products {
            if receipt {
                sandbox.set_receipt_url(*product, push.url.clone());
            } else {
                sandbox.set_upstream_url(*product, push.url.clone());
            }
        }
    }
}

/// The filter when `RUST_LOG` is not set: the gateway's own notices (where it listens, which
/// instance polls, low balances) and everyone's warnings.
const DEFAULT_LOG: &str = "warn,sms_gateway=info";

/// Logs to stderr, filtered by `RUST_LOG` (default [`DEFAULT_LOG`]); with the `otel` feature and a
/// collector (`gateway.otlp_endpoint`, `OTEL_EXPORTER_OTLP_ENDPOINT`), the same spans go there too.
#[cfg(feature = "otel")]
fn install_tracing(config: &sms::config::Config) -> Result<Option<Telemetry>, Failure> {
    use sms::gateway::telemetry::traces_endpoint;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    // One filter for both: the collector gets the spans the log shows.
    let registry = tracing_subscriber::registry().with(log_filter()).with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
    );
    match traces_endpoint(config.gateway().otlp_endpoint.as_deref()) {
        Some(endpoint) => {
            let (layer, telemetry) = Telemetry::layer(&endpoint).map_err(Failure::config)?;
            let _ = registry.with(layer).try_init();
            eprintln!("sms serve: exporting spans to {}", telemetry.endpoint());
            Ok(Some(telemetry))
        }
        None => {
            let _ = registry.try_init();
            Ok(None)
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default [`DEFAULT_LOG`]). A collector in the config is
/// refused: this build cannot export to it.
#[cfg(not(feature = "otel"))]
fn install_tracing(config: &sms::config::Config) -> Result<Option<Telemetry>, Failure> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    if config.gateway().otlp_endpoint.is_some() {
        return Err(Failure::config(
            "gateway.otlp_endpoint is set, but this `sms` is built without OpenTelemetry: build it with \
             `--features otel` (cargo build -p sms-cli --features otel), or remove the key",
        ));
    }
    let _ = tracing_subscriber::registry()
        .with(log_filter())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .try_init();
    Ok(None)
}

fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG))
}
