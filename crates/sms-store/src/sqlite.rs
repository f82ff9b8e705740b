//! The SQLite store: one file, WAL, a busy timeout, and one writer connection for every write, so
//! writes never fight over the lock inside a process (readers use their own pool).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use crate::options::StoreOptions;

/// A [`MessageStore`] in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
    options: StoreOptions,
    /// Concurrent spend charges and settlements, written together.
    spend: std::sync::Arc<crate::spend::SpendGroup>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path` (a file path, or a `sqlite:` URL) and
    /// migrates it.
    ///
    /// # Errors
    /// `Corrupt` for a file that is not a SQLite database, `SchemaTooNew` for one migrated by newer
    /// code, `ReadOnly` when it cannot be written, `Unavailable` when it cannot be opened.
    pub async fn open(path: &str, options: StoreOptions) -> Result<Self> {
        let connect = if path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(path).map_err(db("reading the SQLite location"))?
        } else {
            SqliteConnectOptions::new().filename(path)
        };
        Self::open_with(connect.create_if_missing(true), options, path).await
    }

    /// Opens with your own connect options (for pragmas such as `max_page_count`); WAL, the busy
    /// timeout, `synchronous = NORMAL` and foreign keys are set on top. `label` names the database in
    /// errors.
    ///
    /// # Errors
    /// As [`Self::open`].
    pub async fn open_with(
        connect: SqliteConnectOptions,
        options: StoreOptions,
        label: &str,
    ) -> Result<Self> {
        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        let what = format!("opening SQLite database {label}");
        // The one writer connection is a local file that cannot go stale: no ping before each
        // transaction (it cost a round trip to the connection's thread per group commit).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(options.busy_timeout)
            // Group commits are one statement text per shape of batch (see `common::Script`):
            // room for them besides everything else the writer runs.
            .connect_with(connect.clone().statement_cache_capacity(512))
            .await
            .map_err(|e| StoreError::from_sqlx(&what, e))?;
        {
            let mut conn = writer
                .acquire()
                .await
                .map_err(|e| StoreError::from_sqlx(&what, e))?;
            crate::migrate::run(crate::migrate::SQLITE, &mut *conn, label).await?;
        }
        // Readers are local files too: no ping before each use (a round trip to the connection's
        // thread per read).
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .test_before_acquire(false)
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect.read_only(true))
            .await
            .map_err(|e| StoreError::from_sqlx(&what, e))?;
        Ok(Self {
            writer,
            reader,
            options,
            spend: std::sync::Arc::default(),
        })
    }

    /// Closes both pools, waiting for connections in use.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

crate::common::impl_message_store!(SqliteStore, Sqlite, Backend::Sqlite, "");
crate::reports::impl_store_reports!(SqliteStore);
