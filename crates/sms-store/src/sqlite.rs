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
    /// Where the writer's hot transactions (group commits, spend batches) run.
    thread: crate::writer_thread::WriterThread,
    /// The checkpointer's connection (see [`checkpoints`]).
    checkpointer: Pool<Sqlite>,
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
            // room for them besides everything else the writer runs. No checkpoint inside a
            // commit (one took 5 ms every thousand pages, with every writer waiting): the
            // checkpointer below does them beside it.
            .connect_with(
                connect
                    .clone()
                    .statement_cache_capacity(512)
                    .pragma("wal_autocheckpoint", "0"),
            )
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
            .connect_with(connect.clone().read_only(true))
            .await
            .map_err(|e| StoreError::from_sqlx(&what, e))?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(connect.clone())
            .await
            .map_err(|e| StoreError::from_sqlx(&what, e))?;
        let thread = crate::writer_thread::WriterThread::start(label)?;
        thread.spawn(checkpoints(checkpointer.clone()));
        Ok(Self {
            writer,
            reader,
            options,
            spend: std::sync::Arc::default(),
            thread,
            checkpointer,
        })
    }

    /// Runs `work` (a write transaction) on the writer's own thread: see `writer_thread`.
    async fn on_writer<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.thread.run(work).await
    }

    /// Closes the pools, waiting for connections in use.
    pub async fn close(&self) {
        self.checkpointer.close().await;
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// How often the checkpointer copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Checkpoints the write-ahead log on a connection of its own, every [`CHECKPOINT_EVERY`], until the
/// store is closed or dropped (the writer thread then stops, and this with it). `PASSIVE`: it never waits for
/// the writer or readers, and copies what it can; the writer starts the log over once a checkpoint
/// has copied all of it. A failed checkpoint is retried next time (the log only grows meanwhile).
async fn checkpoints(checkpointer: Pool<Sqlite>) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if checkpointer.is_closed() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&checkpointer)
            .await
        {
            tracing::debug!(%error, "SQLite checkpoint failed; trying again later");
        }
    }
}

crate::common::impl_message_store!(SqliteStore, Sqlite, Backend::Sqlite, "");
crate::reports::impl_store_reports!(SqliteStore);
