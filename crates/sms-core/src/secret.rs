//! A string that must never be printed: API keys and passwords.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::REDACTED;

/// An API key or password. `Debug` and `Display` print `[redacted]`; only [`Secret::expose`] gives
/// the text, and only the code that signs or sends a request should call it.
///
/// Its memory is overwritten with zeros when it is dropped (`zeroize`), so a freed key does not
/// linger in the heap for a core dump or a later allocation to reveal.
///
/// It deserialises from a plain string so that configuration files work, and deliberately does not
/// implement `Serialize`, so that a config cannot be written back out with the key in it by accident.
///
/// ```
/// use sms_core::Secret;
/// let key = Secret::new("s3cr3t");
/// assert_eq!(format!("{key:?} {key}"), "[redacted] [redacted]");
/// assert_eq!(key.expose(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret text. Call it only where the value goes on the wire or into a signature.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is empty (a configuration mistake worth reporting early).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Config {
        account: String,
        key: Secret,
    }

    #[test]
    fn never_printed_even_inside_other_types() {
        let config: Config = serde_json::from_str(r#"{"account":"a1","key":"hunter2-key"}"#).unwrap();
        let debug = format!("{config:?} {config:#?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"));
        assert_eq!(config.key.expose(), "hunter2-key");
        assert!(!config.key.is_empty());
    }
}
