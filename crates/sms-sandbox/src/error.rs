//! The error type of the sandbox's own API (not of the simulated providers).

use std::fmt;

/// Why a sandbox could not be configured or started.
#[derive(Debug)]
#[non_exhaustive]
pub enum SandboxError {
    /// The configuration is invalid (TOML syntax, unknown key, value out of range, unreadable file).
    Config(String),
    /// The listening socket could not be bound.
    Bind(std::io::Error),
    /// The HTTP client used for pushes could not be built.
    PushClient(reqwest::Error),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Config(msg) => write!(f, "invalid sandbox configuration: {msg}"),
            SandboxError::Bind(e) => write!(f, "cannot bind the sandbox listener: {e}"),
            SandboxError::PushClient(e) => write!(f, "cannot build the push HTTP client: {e}"),
        }
    }
}

impl std::error::Error for SandboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SandboxError::Config(_) => None,
            SandboxError::Bind(e) => Some(e),
            SandboxError::PushClient(e) => Some(e),
        }
    }
}
