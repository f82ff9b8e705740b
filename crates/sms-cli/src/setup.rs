//! Chooses the providers for a command: `--sandbox-url`, else the config file (`--config`,
//! `SMS_CONFIG`, `./sms.toml`, the user's config dir), else a sandbox started in this process (and
//! says so on stderr).

use sms::config::{Config, ConfigError, LoadOptions, SANDBOX_NOTICE};

use crate::backend::Backend;
use crate::cli::Cli;
use crate::exit::{Exit, Failure, Outcome};

/// The backend for the command line's options; with `with_store`, the `[store]` of the config is
/// opened too (commands that record or read messages).
///
/// # Errors
/// A config that does not load (exit 5, the message names file, line, column and key); a sandbox
/// that cannot start (exit 1).
pub async fn backend(cli: &Cli, with_store: bool) -> Outcome<Backend> {
    if let Some(url) = &cli.sandbox_url {
        let config = Config::sandbox(url).map_err(config_failure)?;
        return Backend::new(config, None);
    }
    let options = LoadOptions::new().maybe_profile(cli.profile.clone());
    match Config::discover(cli.config.as_deref(), &options).map_err(config_failure)? {
        Some(config) => {
            if !with_store {
                return Backend::new(config, None);
            }
            // `[store]` and `[state]` opened: the chain counts spend caps (and keeps opt-outs) there.
            let connected = config
                .connect()
                .await
                .map_err(|e| Failure::new(Exit::Config, e.to_string()))?;
            let mut backend = Backend::on_state(config, None, Some(&connected.state))?;
            if let Some(opened) = connected.store {
                backend.attach_store(opened.store);
            }
            Ok(backend)
        }
        None => {
            let backend = Backend::built_in_sandbox().await?;
            eprintln!(
                "sms: {SANDBOX_NOTICE} (sandbox at {})",
                backend.sandbox.as_ref().map(|s| s.base_url()).unwrap_or_default()
            );
            Ok(backend)
        }
    }
}

/// Every config problem is exit 5, with the error's own place-naming message.
fn config_failure(error: ConfigError) -> Failure {
    Failure::new(Exit::Config, error.to_string())
}
