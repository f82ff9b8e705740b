//! PostgreSQL databases of a test's own.

use sqlx::Connection;

/// The server's maintenance database, where test databases are made and dropped.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What a test says when the server does not answer.
pub const HOW_TO_START_POSTGRES: &str = "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres, \
    trust auth). Start it with `bash .ci/run` (which installs and starts it if missing), or by hand: \
    `apt-get install -y postgresql && pg_ctlcluster 15 main start` with `host all all 127.0.0.1/32 \
    trust` in pg_hba.conf";

/// What every prefix starts with: with [`MARK`], what tells the databases made here, the only ones
/// ever dropped as left behind.
const OURS: &str = "sms_";

/// Between a database's prefix and the process id.
const MARK: &str = "__t";

/// A fresh, empty database for one test or benchmark run. Drop it with [`TestDatabase::drop_now`]
/// at the end; one left behind (a failed test keeps it for inspection) is dropped by the first
/// [`TestDatabase::create`] after its process has ended.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
}

impl TestDatabase {
    /// Makes `{prefix}__t{process id}_{counter}`. `prefix` is a lower-case SQL identifier starting
    /// with `sms_`, such as `sms_store_test_outbox`.
    ///
    /// # Panics
    /// When the server does not answer (with [`HOW_TO_START_POSTGRES`]) or refuses to make it.
    pub async fn create(prefix: &str) -> Self {
        assert!(
            prefix.starts_with(OURS)
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "a database prefix starts with {OURS:?} and is lower-case letters, digits and `_`: {prefix:?}"
        );
        let mut admin = admin().await;
        drop_leftovers(&mut admin).await;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "{prefix}{MARK}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(&sql)
                .execute(&mut admin)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        Self { name }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    /// Drops it, closing whatever connections are still open to it.
    ///
    /// # Panics
    /// When the server does not answer or refuses.
    pub async fn drop_now(self) {
        let mut admin = admin().await;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(&sql)
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(PG_ADMIN_URL)
        .await
        .unwrap_or_else(|e| panic!("{HOW_TO_START_POSTGRES}\n(error: {e})"))
}

/// The process that made database `name`, when `name` is one of ours.
fn maker_of(name: &str) -> Option<u32> {
    if !name.starts_with(OURS) {
        return None;
    }
    let (_, tail) = name.rsplit_once(MARK)?;
    let (pid, counter) = tail.split_once('_')?;
    counter.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Drops the databases made here by processes that have ended: where `/proc` tells which processes
/// are alive, and only those no session is connected to (a test in another process namespace, a
/// container sharing this server, still holds its connections).
async fn drop_leftovers(admin: &mut sqlx::PgConnection) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database d WHERE starts_with(datname, $1) AND strpos(datname, $2) > 0 \
         AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)",
    )
    .bind(OURS)
    .bind(MARK)
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for name in names {
        let Some(pid) = maker_of(&name) else { continue };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // Another test process may be dropping it at the same time: either way it goes.
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_made_here_have_a_maker() {
        assert_eq!(maker_of("sms_store_test_outbox__t4242_0"), Some(4242));
        assert_eq!(maker_of("sms_gateway_test_a__b__t17_3"), Some(17));
        for other in [
            "postgres",
            "test",
            "sms_store_test_outbox_4242",
            "sms_x__t42",
            "sms_x__tabc_1",
            "sms_x__t42_z",
            "production__t42_1",
        ] {
            assert_eq!(maker_of(other), None, "{other}");
        }
    }

    /// Needs the server, as every database test here does: fails, never skips, without one.
    #[tokio::test]
    async fn a_database_is_made_empty_and_a_dead_processs_database_is_dropped() {
        let db = TestDatabase::create("sms_test_support_test").await;
        let mut conn = sqlx::PgConnection::connect(&db.url()).await.unwrap();
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(tables, 0);
        drop(conn);
        // A database as a process that has ended would have left it (pid 0 is never a process
        // of ours: /proc/0 does not exist).
        let mut server = admin().await;
        let leftover = format!("sms_test_support_test{MARK}0_0");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {leftover}"))
            .execute(&mut server)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {leftover}"))
            .execute(&mut server)
            .await
            .unwrap();
        let next = TestDatabase::create("sms_test_support_test").await;
        let exists = |name: String| async move {
            let mut server = admin().await;
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_one(&mut server)
                .await
                .unwrap()
                == 1
        };
        assert!(!exists(leftover).await, "the dead process's database is gone");
        assert!(exists(db.name().to_owned()).await, "this process's own stays");
        let name = next.name().to_owned();
        next.drop_now().await;
        db.drop_now().await;
        assert!(!exists(name).await);
    }
}
