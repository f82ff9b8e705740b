//! Where the configuration file is: `--config PATH`, then `SMS_CONFIG`, then `./sms.toml`, then the
//! user's config directory.

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, ConfigErrorKind};
use crate::options::LoadOptions;

/// The file name looked for in the working directory.
pub const LOCAL_FILE: &str = "sms.toml";

/// Where a configuration file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FoundBy {
    /// The path given explicitly (`--config PATH`).
    Explicit,
    /// The `SMS_CONFIG` variable.
    EnvVar,
    /// `./sms.toml` in the working directory.
    WorkingDir,
    /// `sms/config.toml` in the user's config directory (`$XDG_CONFIG_HOME` or `~/.config` on Linux
    /// and macOS, `%APPDATA%` on Windows).
    UserConfigDir,
}

/// A configuration file and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file.
    pub path: PathBuf,
    /// How it was found.
    pub found_by: FoundBy,
}

/// The user's configuration file, `<config dir>/sms/config.toml`, if the directory is known.
pub fn user_config_file() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    let strategy = etcetera::choose_base_strategy().ok()?;
    Some(strategy.config_dir().join("sms").join("config.toml"))
}

/// Finds the configuration file, in order: `explicit` (a `--config PATH`), the `SMS_CONFIG`
/// variable, `./sms.toml`, the user's config directory ([`user_config_file`]). `Ok(None)` when there
/// is none at all (run on the sandbox, and say so).
///
/// # Errors
/// [`ConfigErrorKind::Io`] when an explicitly named file (`explicit` or `SMS_CONFIG`) does not
/// exist: a named file that is missing is a mistake, never a reason to fall back.
pub fn locate(explicit: Option<&Path>, options: &LoadOptions) -> Result<Option<Located>, ConfigError> {
    let named = |path: PathBuf, found_by: FoundBy, how: &str| {
        if path.is_file() {
            Ok(Some(Located { path, found_by }))
        } else {
            Err(ConfigError::new(ConfigErrorKind::Io, format!("{how}: no such file")).at(Some(path), None))
        }
    };
    if let Some(path) = explicit {
        return named(path.to_owned(), FoundBy::Explicit, "the configuration file given");
    }
    if let Some(path) = options.env.var("SMS_CONFIG").filter(|p| !p.trim().is_empty()) {
        return named(
            PathBuf::from(path),
            FoundBy::EnvVar,
            "the configuration file named by SMS_CONFIG",
        );
    }
    let local = match &options.working_dir {
        Some(dir) => dir.join(LOCAL_FILE),
        None => PathBuf::from(LOCAL_FILE),
    };
    if local.is_file() {
        return Ok(Some(Located {
            path: local,
            found_by: FoundBy::WorkingDir,
        }));
    }
    let user = match &options.user_config_dir {
        Some(dir) => Some(dir.join("sms").join("config.toml")),
        None => user_config_file(),
    };
    Ok(user.filter(|p| p.is_file()).map(|path| Located {
        path,
        found_by: FoundBy::UserConfigDir,
    }))
}
