//! The text being read, where it came from, and the environment it is read with.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, ConfigErrorKind, Position};

/// The text of a configuration and the file it came from, if any.
#[derive(Debug)]
pub(crate) struct Source {
    file: Option<PathBuf>,
    text: String,
}

impl Source {
    pub(crate) fn new(file: Option<PathBuf>, text: String) -> Self {
        Self { file, text }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The 1-based line and column of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        // A span may end inside a multi-byte character only if the parser is confused; step back to
        // a boundary rather than panic.
        let offset = (0..=offset)
            .rev()
            .find(|&i| self.text.is_char_boundary(i))
            .unwrap_or(0);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column }
    }

    /// An error at `span` of this source.
    pub(crate) fn error(
        &self,
        kind: ConfigErrorKind,
        message: impl Into<String>,
        span: Option<Range<usize>>,
    ) -> ConfigError {
        ConfigError::new(kind, message).at(self.file.clone(), span.map(|s| self.position(s.start)))
    }
}

/// The environment variables a configuration is read with: the process's, or a fixed set (tests,
/// embedding).
#[derive(Debug, Clone, Default)]
pub(crate) enum Env {
    /// `std::env::var`.
    #[default]
    Process,
    /// Only these.
    Fixed(HashMap<String, String>),
}

impl Env {
    /// A variable's value; unset and non-UTF-8 variables are `None`.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        match self {
            Env::Process => std::env::var(name).ok(),
            Env::Fixed(vars) => vars.get(name).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_lines_start_at_one() {
        let source = Source::new(None, "# 巨象 短信\nkey = 1\n".to_owned());
        assert_eq!(source.position(0), Position { line: 1, column: 1 });
        let key = source.text().find("key").unwrap();
        assert_eq!(source.position(key), Position { line: 2, column: 1 });
        assert_eq!(source.position(key + 6), Position { line: 2, column: 7 });
        // Inside a multi-byte character, or past the end: no panic, the nearest place.
        assert_eq!(source.position(3), Position { line: 1, column: 3 });
        assert_eq!(source.position(10_000).line, 3);
    }
}
