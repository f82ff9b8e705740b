//! The store's error type.

use std::fmt;

/// What went wrong in the store, as one kind a caller can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The database could not be reached or the operation timed out; retrying later may help.
    Unavailable,
    /// The database file is not a database or is damaged.
    Corrupt,
    /// The database was migrated by a newer version of this code.
    SchemaTooNew,
    /// The database refuses writes (read-only file, full disk, permissions).
    ReadOnly,
    /// The location string is not a store this build can open.
    InvalidLocation,
    /// A message with this client reference is already recorded.
    DuplicateReference,
    /// Something the store holds could not be read back (an unknown status name, bad JSON).
    InvalidData,
    /// Any other database error.
    Database,
}

impl StoreErrorKind {
    /// A stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Corrupt => "corrupt",
            Self::SchemaTooNew => "schema_too_new",
            Self::ReadOnly => "read_only",
            Self::InvalidLocation => "invalid_location",
            Self::DuplicateReference => "duplicate_reference",
            Self::InvalidData => "invalid_data",
            Self::Database => "database",
        }
    }
}

/// An error from the store: a kind, a one-line message, and the database error underneath.
#[derive(Debug, thiserror::Error)]
#[error("message store: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    #[source]
    source: Option<sqlx::Error>,
}

/// A copy keeps the kind and the message, not the database error underneath (which cannot be
/// copied): calls written together in one transaction each get the batch's error.
impl Clone for StoreError {
    fn clone(&self) -> Self {
        Self::new(self.kind, self.message.clone())
    }
}

impl StoreError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The kind.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// True when trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind == StoreErrorKind::Unavailable
    }

    /// Classifies a database error met while doing `what`.
    pub(crate) fn from_sqlx(what: &str, error: sqlx::Error) -> Self {
        let (kind, detail) = classify(&error);
        Self {
            kind,
            message: format!("{what}: {detail}"),
            source: Some(error),
        }
    }
}

fn classify(error: &sqlx::Error) -> (StoreErrorKind, String) {
    use StoreErrorKind::*;
    match error {
        sqlx::Error::Io(e) => (Unavailable, format!("cannot reach the database ({e})")),
        sqlx::Error::PoolTimedOut => (Unavailable, "timed out waiting for a database connection".into()),
        sqlx::Error::PoolClosed => (Unavailable, "the store is closed".into()),
        sqlx::Error::Tls(e) => (Unavailable, format!("TLS: {e}")),
        sqlx::Error::Configuration(e) => (InvalidLocation, e.to_string()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
            (InvalidData, error.to_string())
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let text = db.message().to_owned();
            let kind = match code.as_str() {
                // SQLite: SQLITE_CORRUPT (11) and SQLITE_NOTADB (26), with extended codes.
                c if sqlite_primary(c) == Some(11) || sqlite_primary(c) == Some(26) => Corrupt,
                // SQLite: SQLITE_READONLY (8), SQLITE_FULL (13), SQLITE_CANTOPEN (14), SQLITE_PERM (3).
                c if matches!(sqlite_primary(c), Some(8 | 13 | 3)) => ReadOnly,
                c if sqlite_primary(c) == Some(14) => Unavailable,
                // SQLite: SQLITE_BUSY (5) / SQLITE_LOCKED (6) after the busy timeout.
                c if matches!(sqlite_primary(c), Some(5 | 6)) => Unavailable,
                // PostgreSQL: read-only transaction, disk full, insufficient privilege.
                "25006" | "53100" | "42501" => ReadOnly,
                // PostgreSQL: connection exceptions, admin shutdown, cannot connect now.
                c if c.starts_with("08") || c.starts_with("57P") => Unavailable,
                "3D000" => Unavailable,
                _ => Database,
            };
            (
                kind,
                if code.is_empty() {
                    text
                } else {
                    format!("{text} (code {code})")
                },
            )
        }
        other => (Database, other.to_string()),
    }
}

/// SQLite's primary result code from a code string such as `"11"` or `"2067"` (extended codes keep
/// the primary one in the low byte). PostgreSQL's SQLSTATEs are always five characters, and SQLite's
/// codes never are, so five characters means "not SQLite".
fn sqlite_primary(code: &str) -> Option<i64> {
    if code.len() == 5 {
        return None; // a PostgreSQL SQLSTATE
    }
    code.parse::<i64>().ok().map(|c| c & 0xff)
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<StoreError> for sms_core::Error {
    /// The chain sees a store failure as [`sms_core::ErrorKind::Unavailable`] from provider `store`,
    /// so nothing is sent while the store cannot record it.
    fn from(error: StoreError) -> Self {
        sms_core::Error::new(sms_core::ErrorKind::Unavailable, sms_core::Operation::Send)
            .with_provider(crate::STORE_NAME)
            .with_code(error.kind.as_str())
            .with_message(error.message.clone())
            .with_source(error)
    }
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
