//! The conformance suite and the bad-input cases on SQLite.

mod support;

use std::sync::Arc;

use sms_store::{MessageStore, SqliteStore, StoreErrorKind, StoreOptions};
use support::TempDb;

#[tokio::test]
async fn conformance_suite_passes_on_sqlite() {
    let files = std::sync::Mutex::new(Vec::new());
    sms_store::conformance::run(|options| {
        let db = TempDb::new("conformance");
        let path = db.path().to_owned();
        files.lock().unwrap().push(db);
        async move { Arc::new(SqliteStore::open(&path, options).await.expect("open")) as Arc<dyn MessageStore> }
    })
    .await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_reported_corrupt() {
    let db = TempDb::new("corrupt");
    std::fs::write(
        db.path(),
        b"this is not a SQLite database, just some bytes that are long enough ......",
    )
    .unwrap();
    let error = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .expect_err("a corrupt file is refused");
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
    assert!(
        error.to_string().contains(db.path()),
        "the message names the file: {error}"
    );
}

#[tokio::test]
async fn a_damaged_database_is_reported_corrupt() {
    let db = TempDb::new("damaged");
    let store = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    store.close().await;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.path()));
    }
    let mut bytes = std::fs::read(db.path()).unwrap();
    // Keep the 100-byte header (so it still looks like SQLite), garble every page after it.
    for b in &mut bytes[100..] {
        *b = 0xA5;
    }
    std::fs::write(db.path(), &bytes).unwrap();
    let error = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .expect_err("a damaged file is refused");
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error}");
}

#[tokio::test]
async fn a_newer_schema_is_a_clear_error() {
    let db = TempDb::new("newer");
    let store = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    store.close().await;
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.path()))
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99, 'from the future', TRUE, x'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let error = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .expect_err("a newer schema is refused");
    assert_eq!(error.kind(), StoreErrorKind::SchemaTooNew, "{error}");
    let text = error.to_string();
    assert!(
        text.contains("version 99") && text.contains(&format!("up to version {}", sms_store::SCHEMA_VERSION)),
        "{text}"
    );
}

#[tokio::test]
async fn a_full_disk_fails_the_write_and_records_nothing() {
    use sms_core::Message;
    use sms_store::NewMessage;
    use std::str::FromStr;
    let db = TempDb::new("full");
    let store = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    store.close().await;
    let pages: i64 = {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.path()))
            .await
            .unwrap();
        sqlx::query("PRAGMA page_count")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0)
    };
    // SQLite answers SQLITE_FULL ("database or disk is full") past max_page_count: a full disk
    // without needing one.
    let connect = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", db.path()))
        .unwrap()
        .pragma("max_page_count", pages.to_string());
    let store = SqliteStore::open_with(connect, StoreOptions::default(), db.path())
        .await
        .unwrap();
    let big = "x".repeat(64 * 1024);
    let record = NewMessage::new(Message::text(
        "13800138000".parse::<sms_core::PhoneNumber>().unwrap(),
        big,
    ));
    let error = store
        .insert_sending(std::slice::from_ref(&record))
        .await
        .expect_err("the disk is full");
    assert_eq!(error.kind(), StoreErrorKind::ReadOnly, "{error}");
    assert!(
        store.message(&record.id).await.unwrap().is_none(),
        "nothing half-written"
    );
}

#[tokio::test]
async fn a_read_only_database_refuses_writes_clearly() {
    use sms_core::Message;
    use sms_store::NewMessage;
    use std::str::FromStr;
    let db = TempDb::new("ro");
    let store = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    store.close().await;
    // Root ignores file permissions, so open it read-only the way a read-only mount would.
    let connect =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}?mode=ro", db.path())).unwrap();
    let result = SqliteStore::open_with(connect, StoreOptions::default(), db.path()).await;
    let error = match result {
        Err(error) => error,
        Ok(store) => store
            .insert_sending(&[NewMessage::new(Message::text(
                "13800138000".parse::<sms_core::PhoneNumber>().unwrap(),
                "x",
            ))])
            .await
            .expect_err("a read-only database refuses writes"),
    };
    assert_eq!(error.kind(), StoreErrorKind::ReadOnly, "{error}");
}

#[tokio::test]
async fn a_location_string_picks_the_backend() {
    let db = TempDb::new("open");
    let store = sms_store::open(db.path(), StoreOptions::default()).await.unwrap();
    assert_eq!(store.backend(), sms_store::Backend::Sqlite);
    let error = sms_store::open("  ", StoreOptions::default())
        .await
        .expect_err("empty");
    assert_eq!(error.kind(), StoreErrorKind::InvalidLocation);
}

/// The writer never checkpoints inside a commit (`wal_autocheckpoint = 0`): a checkpointer beside it
/// copies the write-ahead log into the database file, so the file grows without any commit waiting.
#[tokio::test]
async fn the_checkpointer_copies_the_log_into_the_database_file() {
    use sms_core::Message;
    use sms_store::NewMessage;
    let db = TempDb::new("checkpoint");
    let store = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    let file_size = || std::fs::metadata(db.path()).map_or(0, |m| m.len());
    let before = file_size();
    let records: Vec<NewMessage> = (0..400)
        .map(|i| {
            let to: sms_core::PhoneNumber = format!("1380013{i:04}").parse().unwrap();
            NewMessage::new(Message::text(to, "x".repeat(2_000)))
        })
        .collect();
    store.insert_sending(&records).await.unwrap();
    // About 800 KB of rows went to the log; the checkpointer runs twice a second on its own thread.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while file_size() < before + 500_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint copied the log into {} within 20 s ({} -> {} bytes)",
            db.path(),
            before,
            file_size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let last = records.last().unwrap();
    assert!(
        store.message(&last.id).await.unwrap().is_some(),
        "readers see the rows"
    );
}

/// Closing a store leaves one file: the last connection to close (the writer) copies the log into
/// the database and removes it, so the file alone holds everything that was committed.
#[tokio::test]
async fn a_closed_store_leaves_everything_in_the_database_file() {
    use sms_core::Message;
    use sms_store::NewMessage;
    let db = TempDb::new("closed");
    let store = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    let to: sms_core::PhoneNumber = "13800138000".parse().unwrap();
    let record = NewMessage::new(Message::text(to, "kept"));
    store.insert_sending(std::slice::from_ref(&record)).await.unwrap();
    store.close().await;
    let wal = format!("{}-wal", db.path());
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the log was copied into the file and removed"
    );
    let reopened = SqliteStore::open(db.path(), StoreOptions::default())
        .await
        .unwrap();
    assert!(reopened.message(&record.id).await.unwrap().is_some());
}
