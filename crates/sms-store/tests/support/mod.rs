//! Shared by the integration tests: a temporary SQLite file and a fresh PostgreSQL database per test
//! binary.

#![allow(dead_code)]

use std::path::PathBuf;

use sqlx::Connection;

/// A SQLite file path under the system temp dir, removed (with its WAL files) on drop.
pub struct TempDb(pub PathBuf);

impl TempDb {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sms-store-{tag}-{}-{}.db", std::process::id(), sms_store::new_id()));
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path()));
        }
    }
}

/// The server the tests use.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const HOW_TO_START: &str = "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres, trust auth). \
    Start it with `bash .ci/run` (which installs and starts it if missing), or by hand: \
    `apt-get install -y postgresql && pg_ctlcluster 15 main start` with `host all all 127.0.0.1/32 trust` \
    in pg_hba.conf";

/// A database of its own for this test binary, dropped when the value is dropped. Fails (never
/// skips) when the server cannot be reached.
pub struct PgDb {
    pub name: String,
}

impl PgDb {
    pub async fn create(tag: &str) -> Self {
        let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL)
            .await
            .unwrap_or_else(|e| panic!("{HOW_TO_START}\n(error: {e})"));
        let name = format!("sms_store_test_{tag}_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("drop a stale test database");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// Drops the database (call at the end of the test; a failed test leaves it for inspection,
    /// and the next run of the same binary under the same pid replaces it).
    pub async fn drop_now(self) {
        let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL).await.expect("reconnect");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await
            .expect("drop the test database");
    }
}
