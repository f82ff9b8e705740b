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
    /// The writer thread, which [`write_loop`] and the checkpointer run on; held for its
    /// lifetime: it stops when the last clone of the store is dropped.
    _thread: crate::writer_thread::WriterThread,
    /// The writer loop's queue.
    parts: tokio::sync::mpsc::UnboundedSender<QueuedPart>,
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
        let (parts, queue) = tokio::sync::mpsc::unbounded_channel();
        thread.spawn(write_loop(writer.clone(), options.clone(), queue));
        Ok(Self {
            writer,
            reader,
            options,
            _thread: thread,
            parts,
            checkpointer,
        })
    }

    /// One call on the spend ledger: a part of its own for the writer loop, which merges the
    /// charges waiting together.
    async fn spend_call(&self, job: crate::spend::SpendJob) -> Result<crate::spend::SpendAnswer> {
        let answers = self
            .write_part(crate::parts::WritePart::Spend(vec![job]))
            .await?
            .spend()?;
        answers.into_iter().next().ok_or_else(|| {
            StoreError::new(
                crate::StoreErrorKind::InvalidData,
                "the writer gave no answer to a spend charge",
            )
        })
    }

    /// Writes `part` on the writer thread, in one transaction with the parts waiting beside it (see
    /// [`write_loop`]).
    async fn write_part(&self, part: crate::parts::WritePart) -> Result<crate::parts::WriteDone> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.parts.send((part, done)).map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    /// Closes the pools, waiting for connections in use. Before the writer closes, it copies the
    /// write-ahead log into the file and empties it (a `TRUNCATE` checkpoint): the last connection to
    /// close would do that too, but each pool's connections close on threads of their own, and when
    /// a read-only one happens to close last, it cannot.
    pub async fn close(&self) {
        self.reader.close().await;
        self.checkpointer.close().await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
        {
            tracing::debug!(%error, "SQLite checkpoint at close failed; the log stays beside the file");
        }
        self.writer.close().await;
    }
}

/// A part waiting for the writer loop, and where its result goes.
type QueuedPart = (
    crate::parts::WritePart,
    tokio::sync::oneshot::Sender<Result<crate::parts::WriteDone>>,
);

/// Most parts in one transaction.
const MAX_PARTS: usize = 64;

fn writer_stopped() -> StoreError {
    StoreError::new(
        crate::StoreErrorKind::Unavailable,
        "the store's writer thread has stopped",
    )
}

/// The writer loop, on the writer thread: the parts that wait together (recording rounds, spend
/// charges, ...) go into one transaction, so they share its commit, and every spend charge waiting
/// is merged into one part (each counter read and written once per turn). A charge waits for the
/// transaction under way, not for a queue of its own ahead of the writer's.
/// When the transaction fails, each part is written again alone, so that each gets its own answer
/// (a duplicate reference in a round fails only that round). It ends when the store is dropped.
async fn write_loop(
    writer: Pool<Sqlite>,
    options: StoreOptions,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<QueuedPart>,
) {
    let mut waiting = Vec::with_capacity(MAX_PARTS);
    while queue.recv_many(&mut waiting, MAX_PARTS).await > 0 {
        let (parts, replies) = crate::parts::merge_spend(std::mem::take(&mut waiting));
        let together = match parts.len() {
            1 => None,
            _ => write_together(&writer, &options, &parts).await.ok(),
        };
        match together {
            Some(done) => {
                for (reply, done) in replies.into_iter().zip(done) {
                    reply.send(Ok(done));
                }
            }
            None => {
                for (part, reply) in parts.iter().zip(replies) {
                    reply.send(write_alone(&writer, &options, part).await);
                }
            }
        }
    }
}

/// Every part in one transaction, or an error (and nothing written).
async fn write_together(
    writer: &Pool<Sqlite>,
    options: &StoreOptions,
    parts: &[crate::parts::WritePart],
) -> Result<Vec<crate::parts::WriteDone>> {
    let mut tx = writer.begin().await.map_err(db("starting a transaction"))?;
    let mut done = Vec::with_capacity(parts.len());
    for part in parts {
        done.push(write_in(&mut tx, options, part).await?);
    }
    tx.commit().await.map_err(db("committing"))?;
    Ok(done)
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

#[cfg(test)]
mod tests {
    use sms_core::{Message, PhoneNumber};
    use sms_failover::state::{Charge, SpendAdmission};

    use super::*;
    use crate::model::NewMessage;
    use crate::parts::{WriteDone, WritePart};
    use crate::spend::{SpendAnswer, SpendJob};
    use crate::store::MessageStore;

    struct Db(std::path::PathBuf);

    impl Drop for Db {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    async fn store() -> (SqliteStore, Db) {
        let path = std::env::temp_dir().join(format!("sms-store-unit-{}.db", crate::new_id()));
        let store = SqliteStore::open(&path.display().to_string(), StoreOptions::default())
            .await
            .unwrap();
        (store, Db(path))
    }

    fn charge(amount: u64) -> WritePart {
        WritePart::Spend(vec![SpendJob::Charge(
            vec![Charge {
                counter: "overall:parts:day".to_owned(),
                amount,
                limit: 10,
                expires_at: u64::MAX >> 2,
            }],
            1,
        )])
    }

    fn message(reference: &str) -> NewMessage {
        let to: PhoneNumber = "13800138000".parse().unwrap();
        NewMessage::new(Message::text(to, "hello").with_reference(reference))
    }

    fn records(sending: Vec<NewMessage>) -> WritePart {
        WritePart::Records {
            sending,
            outcomes: Vec::new(),
            attempts: Vec::new(),
        }
    }

    /// Runs the writer loop over `parts`, all queued before it starts (so they are one turn).
    async fn one_turn(store: &SqliteStore, parts: Vec<WritePart>) -> Vec<Result<WriteDone>> {
        let (queue, rx) = tokio::sync::mpsc::unbounded_channel();
        let answers: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let (done, answer) = tokio::sync::oneshot::channel();
                queue.send((part, done)).unwrap();
                answer
            })
            .collect();
        drop(queue);
        write_loop(store.writer.clone(), store.options.clone(), rx).await;
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.unwrap());
        }
        results
    }

    #[tokio::test]
    async fn parts_waiting_together_share_one_transaction_and_each_gets_its_answer() {
        let (store, _db) = store().await;
        let sent = message("together-1");
        let results = one_turn(&store, vec![records(vec![sent.clone()]), charge(4), charge(7)]).await;
        let mut results = results.into_iter();
        let written = results.next().unwrap().unwrap().records().unwrap();
        assert_eq!(written.moved, 0);
        let answers: Vec<SpendAnswer> = results.flat_map(|r| r.unwrap().spend().unwrap()).collect();
        assert_eq!(
            answers,
            vec![
                SpendAnswer::Charged(SpendAdmission::Reserved { used: vec![4] }),
                SpendAnswer::Charged(SpendAdmission::Refused { index: 0, used: 4 }),
            ]
        );
        assert!(store.message(&sent.id).await.unwrap().is_some());
        assert_eq!(
            store
                .spend_usage(&["overall:parts:day".to_owned()])
                .await
                .unwrap(),
            vec![4]
        );
    }

    #[tokio::test]
    async fn a_failing_part_fails_alone_and_the_others_are_written_once() {
        let (store, _db) = store().await;
        let first = message("dup-1");
        store.insert_sending(std::slice::from_ref(&first)).await.unwrap();
        // The same reference again: that round fails; the charge beside it must still count once.
        let again = message("dup-1");
        let results = one_turn(&store, vec![charge(3), records(vec![again.clone()])]).await;
        assert_eq!(
            results[0].as_ref().map(|_| ()).map_err(|e| e.kind()),
            Ok(()),
            "the charge is written"
        );
        let error = results[1].as_ref().map(|_| ()).unwrap_err();
        assert_eq!(error.kind(), crate::StoreErrorKind::DuplicateReference, "{error}");
        assert!(store.message(&again.id).await.unwrap().is_none());
        assert_eq!(
            store
                .spend_usage(&["overall:parts:day".to_owned()])
                .await
                .unwrap(),
            vec![3],
            "charged once, not once per try"
        );
    }
}
