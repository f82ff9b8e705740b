//! `sms sandbox`: runs the simulator and prints a config that points at it.

use sms::sandbox::Sandbox;

use crate::cli::SandboxArgs;
use crate::exit::{Exit, Failure, Outcome};
use crate::stop::StopSignals;

/// The line printed after the config (scripts read up to it).
pub const END_OF_CONFIG: &str = "# end of config; Ctrl-C stops the sandbox";

/// Starts the sandbox, prints how to use it, and serves until Ctrl-C or SIGTERM.
///
/// # Errors
/// The address cannot be bound (exit 1).
pub async fn run(args: &SandboxArgs) -> Outcome {
    let stop = StopSignals::install();
    let sandbox = Sandbox::builder()
        .listen(args.listen)
        .spawn()
        .await
        .map_err(|e| Failure::error(format!("cannot start the sandbox on {}: {e}", args.listen)))?;
    let base = sandbox.base_url();
    eprintln!("sms sandbox: THIS IS A SIMULATOR. Nothing is really sent or billed.");
    println!("listening on {base}");
    println!("use it from another shell with:\n  export SMS_SANDBOX_URL={base}\nor save this as sms.toml:\n");
    println!("{}", sms::config::Config::sandbox_toml(&base));
    println!("{END_OF_CONFIG}");
    stop.wait().await;
    eprintln!("sms sandbox: shutting down");
    drop(sandbox);
    Ok(Exit::Ok)
}
