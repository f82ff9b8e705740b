//! The parsed file as a small tree that remembers where each key and value came from (a span of the
//! file, or an environment variable), so that every later error can name its line and column.

use std::ops::Range;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::source::Source;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A place in the file (none for tables TOML creates implicitly, e.g. `[a.b]` creates `a`).
    File(Option<Range<usize>>),
    /// A well-known override variable (`SMS_IHUYI_API_KEY`).
    Override(String),
    /// A `{ env = "VAR" }` value at this place in the file.
    EnvRef(String, Option<Range<usize>>),
}

impl Origin {
    pub(crate) fn span(&self) -> Option<Range<usize>> {
        match self {
            Origin::File(span) | Origin::EnvRef(_, span) => span.clone(),
            Origin::Override(_) => None,
        }
    }

    pub(crate) fn env_var(&self) -> Option<&str> {
        match self {
            Origin::Override(var) | Origin::EnvRef(var, _) => Some(var),
            Origin::File(_) => None,
        }
    }
}

/// An empty table, read where a section is absent so that its defaults are read and shown.
pub(crate) static EMPTY: std::sync::LazyLock<Node> = std::sync::LazyLock::new(|| Node {
    value: Value::Table(Table::default()),
    origin: Origin::File(None),
});

/// A value and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) origin: Origin,
}

/// A TOML value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime,
    Array(Vec<Node>),
    Table(Table),
}

impl Value {
    /// The TOML type name, for "expected …, found …" messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A table's entries, in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub(crate) entries: Vec<Entry>,
}

/// One key of a table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_span: Option<Range<usize>>,
    pub(crate) node: Node,
}

impl Table {
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Entry> {
        let index = self.entries.iter().position(|e| e.key == key)?;
        Some(self.entries.remove(index))
    }

    /// Sets `key`, keeping its place (and key span) if it exists.
    pub(crate) fn set(&mut self, key: &str, node: Node) {
        match self.get_mut(key) {
            Some(entry) => entry.node = node,
            None => self.entries.push(Entry {
                key: key.to_owned(),
                key_span: None,
                node,
            }),
        }
    }

    /// Lays `over` on top: tables merge key by key, anything else is replaced.
    pub(crate) fn overlay(&mut self, over: Table) {
        for entry in over.entries {
            match (self.get_mut(&entry.key), entry.node.value) {
                (Some(mine), Value::Table(theirs)) if matches!(mine.node.value, Value::Table(_)) => {
                    if let Value::Table(table) = &mut mine.node.value {
                        table.overlay(theirs);
                    }
                }
                (Some(mine), value) => {
                    mine.node = Node {
                        value,
                        origin: entry.node.origin,
                    };
                    mine.key_span = entry.key_span;
                }
                (None, value) => self.entries.push(Entry {
                    key: entry.key,
                    key_span: entry.key_span,
                    node: Node {
                        value,
                        origin: entry.node.origin,
                    },
                }),
            }
        }
    }
}

/// Parses TOML text into a tree.
///
/// # Errors
/// [`ConfigErrorKind::Syntax`] with the line and column of the mistake.
pub(crate) fn parse(source: &Source) -> Result<Table, ConfigError> {
    let document = toml_edit::ImDocument::parse(source.text()).map_err(|e| {
        // One line: the parser's message spans several.
        let message = e.message().trim().replace('\n', "; ");
        source.error(
            ConfigErrorKind::Syntax,
            format!("invalid TOML: {message}"),
            e.span(),
        )
    })?;
    Ok(table(document.as_table()))
}

fn table(table: &toml_edit::Table) -> Table {
    Table {
        entries: table
            .iter()
            .filter_map(|(key, item)| {
                let node = item_node(item)?;
                Some(Entry {
                    key: key.to_owned(),
                    key_span: table.key(key).and_then(toml_edit::Key::span),
                    node,
                })
            })
            .collect(),
    }
}

fn item_node(item: &toml_edit::Item) -> Option<Node> {
    let origin = Origin::File(item.span());
    let value = match item {
        toml_edit::Item::None => return None,
        toml_edit::Item::Value(value) => return Some(value_node(value)),
        toml_edit::Item::Table(t) => Value::Table(table(t)),
        toml_edit::Item::ArrayOfTables(array) => Value::Array(
            array
                .iter()
                .map(|t| Node {
                    value: Value::Table(table(t)),
                    origin: Origin::File(t.span()),
                })
                .collect(),
        ),
    };
    Some(Node { value, origin })
}

fn value_node(value: &toml_edit::Value) -> Node {
    let origin = Origin::File(value.span());
    let value = match value {
        toml_edit::Value::String(s) => Value::Str(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::Int(*i.value()),
        toml_edit::Value::Float(f) => Value::Float(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(_) => Value::Datetime,
        toml_edit::Value::Array(array) => Value::Array(array.iter().map(value_node).collect()),
        toml_edit::Value::InlineTable(inline) => Value::Table(Table {
            entries: inline
                .iter()
                .map(|(key, v)| Entry {
                    key: key.to_owned(),
                    key_span: inline.key(key).and_then(toml_edit::Key::span),
                    node: value_node(v),
                })
                .collect(),
        }),
    };
    Node { value, origin }
}
