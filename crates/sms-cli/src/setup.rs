//! Chooses the providers for a command: `--sandbox-url`, else the config file, else a sandbox
//! started in this process (and says so on stderr).

use std::path::PathBuf;

use crate::backend::{Backend, Origin};
use crate::cli::Cli;
use crate::exit::{Failure, Outcome};

/// The backend for the command line's options.
///
/// # Errors
/// A config that does not load (exit 5); a sandbox that cannot start (exit 1).
pub async fn backend(cli: &Cli) -> Outcome<Backend> {
    if let Some(url) = &cli.sandbox_url {
        return Backend::for_sandbox(url, Origin::SandboxUrl(url.clone()), None);
    }
    if let Some(path) = config_path(cli) {
        return Err(Failure::config(format!("{}: config files need the sms-config crate", path.display())));
    }
    let backend = Backend::built_in_sandbox().await?;
    if let Origin::BuiltInSandbox(url) = &backend.origin {
        eprintln!(
            "sms: no config file found (--config, $SMS_CONFIG, ./sms.toml): running on the built-in sandbox at \
             {url}, a simulator; nothing leaves this machine"
        );
    }
    Ok(backend)
}

fn config_path(cli: &Cli) -> Option<PathBuf> {
    cli.config
        .clone()
        .or_else(|| std::env::var_os("SMS_CONFIG").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("sms.toml")).filter(|p| p.exists()))
}
