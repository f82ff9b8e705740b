//! Serde for durations in configuration files: a number of seconds (`2.5`) or a string with a unit
//! (`"250ms"`, `"5s"`, `"2m"`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `"250ms"`, `"5s"`, `"1.5s"`, `"2m"` or a bare number of seconds.
///
/// # Errors
/// A message naming the input when it is not such a duration.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: use seconds or a unit (ms, s, m)"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("invalid duration {text:?}"))
}

/// Deserialises a duration from seconds or a string with a unit.
///
/// # Errors
/// When the value is neither.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Seconds(secs) => Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom),
        Raw::Text(text) => parse(&text).map_err(serde::de::Error::custom),
    }
}

/// Serialises a duration as fractional seconds.
///
/// # Errors
/// Only the serializer's own.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse("-1s").is_err());
        assert!(parse("soon").is_err());
    }
}
