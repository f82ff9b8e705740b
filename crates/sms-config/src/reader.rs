//! Typed reading of one table: every getter checks the type, names the key path and the place on
//! error, and records the effective value (defaults included, secrets masked) for
//! [`crate::Config::effective_toml`].

use std::time::Duration;

use sms_core::Secret;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::source::Source;
use crate::suggest::closest;
use crate::tree::{Entry, Node, Origin, Table, Value};

/// How a secret appears in the effective configuration.
pub(crate) const MASK: &str = "[redacted]";

/// Reads one table of the tree.
pub(crate) struct Reader<'a> {
    src: &'a Source,
    path: String,
    table: &'a Table,
    origin: &'a Origin,
    out: toml::Table,
}

impl<'a> Reader<'a> {
    /// The reader of `node`, which must be a table.
    pub(crate) fn new(src: &'a Source, path: String, node: &'a Node) -> Result<Self, ConfigError> {
        match &node.value {
            Value::Table(table) => Ok(Self {
                src,
                path,
                table,
                origin: &node.origin,
                out: toml::Table::new(),
            }),
            other => Err(error_at(
                src,
                ConfigErrorKind::WrongType,
                &path,
                &node.origin,
                format!("expected a table, found {}", other.type_name()),
            )),
        }
    }

    /// The source being read.
    pub(crate) fn source(&self) -> &'a Source {
        self.src
    }

    /// The table's own entries.
    pub(crate) fn entries(&self) -> &'a [Entry] {
        &self.table.entries
    }

    pub(crate) fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Refuses any key not in `allowed`, suggesting the closest allowed one.
    pub(crate) fn allow_only(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        for entry in &self.table.entries {
            if allowed.contains(&entry.key.as_str()) {
                continue;
            }
            let mut message = format!("unknown key `{}`", entry.key);
            if let Some(best) = closest(&entry.key, allowed.iter().copied()) {
                message.push_str(&format!("; did you mean `{best}`?"));
            }
            message.push_str(&format!(" Allowed here: {}", allowed.join(", ")));
            let origin = match &entry.node.origin {
                Origin::Override(_) => entry.node.origin.clone(),
                _ => Origin::File(entry.key_span.clone().or_else(|| entry.node.origin.span())),
            };
            return Err(error_at(
                self.src,
                ConfigErrorKind::UnknownKey,
                &self.key_path(&entry.key),
                &origin,
                message,
            ));
        }
        Ok(())
    }

    fn node(&self, key: &str) -> Option<&'a Node> {
        self.table.get(key).map(|e| &e.node)
    }

    /// An error about the value of `key` (at the value, or at this table when the key is absent).
    pub(crate) fn error(&self, kind: ConfigErrorKind, key: &str, message: impl Into<String>) -> ConfigError {
        if key.is_empty() {
            return error_at(self.src, kind, &self.path, self.origin, message.into());
        }
        let origin = self.node(key).map_or(self.origin, |n| &n.origin);
        error_at(self.src, kind, &self.key_path(key), origin, message.into())
    }

    /// An [`ConfigErrorKind::InvalidValue`] error about `key`.
    pub(crate) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(ConfigErrorKind::InvalidValue, key, message)
    }

    fn wrong_type(&self, key: &str, expected: &str, node: &Node) -> ConfigError {
        self.error(
            ConfigErrorKind::WrongType,
            key,
            format!("expected {expected}, found {}", node.value.type_name()),
        )
    }

    /// Records a value for the effective configuration.
    pub(crate) fn put(&mut self, key: &str, value: impl Into<toml::Value>) {
        self.out.insert(key.to_owned(), value.into());
    }

    /// The recorded effective values.
    pub(crate) fn finish(self) -> toml::Table {
        self.out
    }

    /// A string, if present.
    pub(crate) fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.node(key) {
            None => Ok(None),
            Some(Node {
                value: Value::Str(s), ..
            }) => {
                self.put(key, s.clone());
                Ok(Some(s.clone()))
            }
            Some(node) => Err(self.wrong_type(key, "a string (or { env = \"VAR\" })", node)),
        }
    }

    /// A string that must be present and not blank.
    pub(crate) fn required_string(&mut self, key: &str, what: &str) -> Result<String, ConfigError> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(self.invalid(key, format!("{what} must not be empty"))),
            None => Err(self.error(
                ConfigErrorKind::MissingKey,
                key,
                format!("missing key `{key}`: {what}"),
            )),
        }
    }

    /// A string with a default.
    pub(crate) fn string_or(&mut self, key: &str, default: &str) -> Result<String, ConfigError> {
        match self.string(key)? {
            Some(s) => Ok(s),
            None => {
                self.put(key, default);
                Ok(default.to_owned())
            }
        }
    }

    /// A secret, if present; recorded masked. An empty secret is refused.
    pub(crate) fn secret(&mut self, key: &str) -> Result<Option<Secret>, ConfigError> {
        match self.node(key) {
            None => Ok(None),
            Some(Node {
                value: Value::Str(s), ..
            }) => {
                if s.is_empty() {
                    return Err(self.invalid(key, "the secret is empty"));
                }
                self.put(key, MASK);
                Ok(Some(Secret::new(s.clone())))
            }
            Some(node) => Err(self.wrong_type(key, "a string (or { env = \"VAR\" })", node)),
        }
    }

    /// A secret that must be present.
    pub(crate) fn required_secret(&mut self, key: &str, what: &str) -> Result<Secret, ConfigError> {
        self.secret(key)?.ok_or_else(|| {
            self.error(
                ConfigErrorKind::MissingKey,
                key,
                format!("missing key `{key}`: {what} (a string, or {{ env = \"VAR\" }})"),
            )
        })
    }

    fn integer(&mut self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        match self.node(key) {
            None => Ok(None),
            Some(Node {
                value: Value::Int(i), ..
            }) => {
                if *i < min || *i > max {
                    return Err(self.invalid(key, format!("{i} is out of range: allowed {min} to {max}")));
                }
                self.put(key, *i);
                Ok(Some(*i))
            }
            Some(node) => Err(self.wrong_type(key, "an integer", node)),
        }
    }

    /// An integer in `min..=u32::MAX`, with a default.
    pub(crate) fn u32_or(&mut self, key: &str, default: u32, min: u32) -> Result<u32, ConfigError> {
        match self.integer(key, i64::from(min), i64::from(u32::MAX))? {
            // In range by the check above.
            Some(i) => Ok(u32::try_from(i).unwrap_or(u32::MAX)),
            None => {
                self.put(key, i64::from(default));
                Ok(default)
            }
        }
    }

    /// An integer in `min..=u32::MAX`, if present.
    pub(crate) fn opt_u32(&mut self, key: &str, min: u32) -> Result<Option<u32>, ConfigError> {
        Ok(self
            .integer(key, i64::from(min), i64::from(u32::MAX))?
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX)))
    }

    /// A non-negative integer, if present.
    pub(crate) fn opt_u64(&mut self, key: &str, min: u64) -> Result<Option<u64>, ConfigError> {
        let min = i64::try_from(min).unwrap_or(i64::MAX);
        Ok(self
            .integer(key, min, i64::MAX)?
            .map(|i| u64::try_from(i).unwrap_or(0)))
    }

    /// A count in `min..` with a default.
    pub(crate) fn usize_or(&mut self, key: &str, default: usize, min: usize) -> Result<usize, ConfigError> {
        let min = i64::try_from(min).unwrap_or(i64::MAX);
        let max = i64::try_from(usize::MAX).unwrap_or(i64::MAX);
        match self.integer(key, min, max)? {
            Some(i) => Ok(usize::try_from(i).unwrap_or(usize::MAX)),
            None => {
                self.put(key, i64::try_from(default).unwrap_or(i64::MAX));
                Ok(default)
            }
        }
    }

    /// Whether `key` is present and an array.
    pub(crate) fn is_array(&self, key: &str) -> bool {
        matches!(
            self.node(key),
            Some(Node {
                value: Value::Array(_),
                ..
            })
        )
    }

    /// A boolean with a default.
    pub(crate) fn bool_or(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        let value = match self.node(key) {
            None => default,
            Some(Node {
                value: Value::Bool(b),
                ..
            }) => *b,
            Some(node) => return Err(self.wrong_type(key, "true or false", node)),
        };
        self.put(key, value);
        Ok(value)
    }

    /// A finite, non-negative number (integer or float), if present.
    pub(crate) fn opt_amount(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        let value = match self.node(key) {
            None => return Ok(None),
            // Prices are small: any i64 a price could be is exact in f64.
            #[allow(clippy::cast_precision_loss)]
            Some(Node {
                value: Value::Int(i), ..
            }) => *i as f64,
            Some(Node {
                value: Value::Float(f),
                ..
            }) => *f,
            Some(node) => return Err(self.wrong_type(key, "a number", node)),
        };
        if !value.is_finite() || value < 0.0 {
            return Err(self.invalid(key, format!("{value} is not allowed: a finite number, 0 or more")));
        }
        self.put(key, value);
        Ok(Some(value))
    }

    fn duration_value(&self, key: &str, node: &Node) -> Result<Option<Duration>, ConfigError> {
        let parsed = match &node.value {
            Value::Str(s) if s.trim().eq_ignore_ascii_case("off") => return Ok(None),
            Value::Bool(false) => return Ok(None),
            Value::Str(s) => parse_duration(s),
            Value::Int(i) => u64::try_from(*i)
                .map(Duration::from_secs)
                .map_err(|_| format!("{i} is negative")),
            Value::Float(f) => Duration::try_from_secs_f64(*f).map_err(|_| format!("{f} is not a duration")),
            _ => {
                return Err(self.wrong_type(
                    key,
                    "a duration (seconds, or a string such as \"250ms\", \"5s\", \"2m\", \"1h\", \"1d\")",
                    node,
                ));
            }
        };
        parsed.map(Some).map_err(|message| {
            self.invalid(
                key,
                format!(
                    "{message}: use seconds or a string such as \"250ms\", \"5s\", \"2m\", \"1h\", \"1d\""
                ),
            )
        })
    }

    /// A duration with a default; `positive` refuses zero.
    pub(crate) fn duration_or(
        &mut self,
        key: &str,
        default: Duration,
        positive: bool,
    ) -> Result<Duration, ConfigError> {
        let value = match self.node(key) {
            None => default,
            Some(node) => match self.duration_value(key, node)? {
                Some(d) => d,
                None => return Err(self.invalid(key, "cannot be turned off: give a duration")),
            },
        };
        if positive && value.is_zero() {
            return Err(self.invalid(key, "must be greater than zero"));
        }
        self.put(key, format_duration(value));
        Ok(value)
    }

    /// A duration that may be `"off"` (or `false`); `positive` refuses zero.
    pub(crate) fn optional_duration(
        &mut self,
        key: &str,
        default: Option<Duration>,
        positive: bool,
    ) -> Result<Option<Duration>, ConfigError> {
        let value = match self.node(key) {
            None => default,
            Some(node) => self.duration_value(key, node)?,
        };
        if positive && value.is_some_and(|d| d.is_zero()) {
            return Err(self.invalid(key, "must be greater than zero (or \"off\")"));
        }
        self.put(key, value.map_or_else(|| "off".to_owned(), format_duration));
        Ok(value)
    }

    /// One of named choices, with a default.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &str,
        choices: &[(&'static str, T)],
        default: T,
        default_name: &str,
    ) -> Result<T, ConfigError> {
        let Some(name) = self.string(key)? else {
            self.put(key, default_name);
            return Ok(default);
        };
        if let Some((_, value)) = choices.iter().find(|(n, _)| *n == name) {
            return Ok(*value);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let mut message = format!("`{name}` is not allowed");
        if let Some(best) = closest(&name, names.iter().copied()) {
            message.push_str(&format!("; did you mean `{best}`?"));
        }
        message.push_str(&format!(" Allowed: {}", names.join(", ")));
        Err(self.invalid(key, message))
    }

    /// The reader of a sub-table, if present.
    pub(crate) fn table(&self, key: &str) -> Result<Option<Reader<'a>>, ConfigError> {
        self.node(key)
            .map(|node| Reader::new(self.src, self.key_path(key), node))
            .transpose()
    }

    /// An array's elements, if present.
    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a [Node]>, ConfigError> {
        match self.node(key) {
            None => Ok(None),
            Some(Node {
                value: Value::Array(items),
                ..
            }) => Ok(Some(items)),
            Some(node) => Err(self.wrong_type(key, "an array", node)),
        }
    }

    /// An array of strings, if present.
    pub(crate) fn strings(&mut self, key: &str) -> Result<Option<Vec<(String, &'a Node)>>, ConfigError> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match &item.value {
                Value::Str(s) => out.push((s.clone(), item)),
                other => {
                    return Err(error_at(
                        self.src,
                        ConfigErrorKind::WrongType,
                        &format!("{}[{i}]", self.key_path(key)),
                        &item.origin,
                        format!("expected a string, found {}", other.type_name()),
                    ));
                }
            }
        }
        Ok(Some(out))
    }
}

/// An error at `origin`, with the key path and, for values from the environment, the variable.
pub(crate) fn error_at(
    src: &Source,
    kind: ConfigErrorKind,
    path: &str,
    origin: &Origin,
    message: String,
) -> ConfigError {
    let mut error = src.error(kind, message, origin.span()).key(path);
    if let Some(var) = origin.env_var() {
        error = error.env(var);
    }
    error
}

/// `a.b` + `c` → `a.b.c`; keys that are not bare words are quoted.
pub(crate) fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare { key.to_owned() } else { format!("{key:?}") };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// Parses `"250ms"`, `"5s"`, `"1.5s"`, `"2m"`, `"1h"`, `"1d"` or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, scale) = if let Some(n) = trimmed.strip_suffix('h') {
        (n, 3600.0)
    } else if let Some(n) = trimmed.strip_suffix('d') {
        (n, 86_400.0)
    } else {
        return sms_core::serde_duration::parse(trimmed);
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| format!("invalid duration {text:?}"))
}

/// A duration as the shortest exact string: `"24h"`, `"2m"`, `"5s"`, `"250ms"`, or seconds.
pub(crate) fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() == 0 {
        if secs != 0 && secs.is_multiple_of(86_400) {
            format!("{}d", secs / 86_400)
        } else if secs != 0 && secs.is_multiple_of(3600) {
            format!("{}h", secs / 3600)
        } else if secs != 0 && secs.is_multiple_of(60) {
            format!("{}m", secs / 60)
        } else {
            format!("{secs}s")
        }
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_through_their_shortest_form() {
        for text in ["250ms", "5s", "2m", "1h", "1d", "90s", "1500ms"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d, "{text}");
        }
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1h").is_err());
    }
}
