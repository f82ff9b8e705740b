//! One error type for everything that can be wrong with a configuration, naming where it is.

use std::fmt;
use std::path::PathBuf;

/// What kind of problem a [`ConfigError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read (or an explicitly named file does not exist).
    Io,
    /// The text is not valid TOML.
    Syntax,
    /// A key that this version does not know (the message suggests the closest known one).
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value of the wrong type (a string where a number is expected, …).
    WrongType,
    /// A value of the right type that is not allowed (a bad URL, a zero timeout, …).
    InvalidValue,
    /// A `{ env = "VAR" }` value names a variable that is not set.
    MissingEnv,
    /// The selected profile is not in the file.
    ProfileNotFound,
}

/// Where in the file a problem is: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// A configuration problem: the file, line and column, the key path (`providers.ihuyi.key`), and
/// what is wrong and what is allowed. It never contains a secret's value.
///
/// `Display` reads `sms.toml:12:7: chain.retry.deadline: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    // Boxed: errors travel up many `?`s, and a small `Result` keeps every happy path cheap.
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ConfigErrorKind,
    file: Option<PathBuf>,
    position: Option<Position>,
    key_path: Option<String>,
    env_var: Option<String>,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                file: None,
                position: None,
                key_path: None,
                env_var: None,
                message: message.into(),
            }),
        }
    }

    pub(crate) fn at(mut self, file: Option<PathBuf>, position: Option<Position>) -> Self {
        self.inner.file = file;
        self.inner.position = position;
        self
    }

    pub(crate) fn key(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        if !path.is_empty() {
            self.inner.key_path = Some(path);
        }
        self
    }

    pub(crate) fn env(mut self, var: impl Into<String>) -> Self {
        self.inner.env_var = Some(var.into());
        self
    }

    /// The kind of problem.
    pub fn kind(&self) -> ConfigErrorKind {
        self.inner.kind
    }

    /// The file, when the configuration came from one.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.inner.file.as_deref()
    }

    /// The line and column, when the problem is at a place in the file.
    pub fn position(&self) -> Option<Position> {
        self.inner.position
    }

    /// The key path, e.g. `providers.ihuyi.http.request_timeout`.
    pub fn key_path(&self) -> Option<&str> {
        self.inner.key_path.as_deref()
    }

    /// The environment variable the bad value came from (an override, or a `{ env = … }` value).
    pub fn env_var(&self) -> Option<&str> {
        self.inner.env_var.as_deref()
    }

    /// What is wrong and what is allowed, without the location.
    pub fn message(&self) -> &str {
        &self.inner.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.inner.file, self.inner.position) {
            (Some(file), Some(p)) => write!(f, "{}:{}:{}: ", file.display(), p.line, p.column)?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(p)) => write!(f, "line {}, column {}: ", p.line, p.column)?,
            (None, None) => {}
        }
        if let Some(path) = &self.inner.key_path {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.inner.message)?;
        if let Some(var) = &self.inner.env_var {
            write!(f, " (value from environment variable {var})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for sms_core::Error {
    /// A [`sms_core::ErrorKind::Configuration`] error with the whole description.
    fn from(error: ConfigError) -> Self {
        sms_core::Error::new(sms_core::ErrorKind::Configuration, sms_core::Operation::Configure)
            .with_message(error.to_string())
    }
}
