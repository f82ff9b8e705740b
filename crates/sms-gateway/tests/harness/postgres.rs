//! A PostgreSQL database of a test's own on the server at 127.0.0.1:5432 (user `postgres`, trust
//! auth, as on these machines and in CI). A test that cannot reach the server fails and says how to
//! start one; it never skips.

use sqlx::Connection;

/// The server's maintenance database, where test databases are made and dropped.
pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What every test database's name starts with, then `{tag}_{process id}_{number}`.
const PREFIX: &str = "sms_gateway_test_";

/// A fresh, empty database for one test (`tag` says which file it serves); returns its URL.
/// Databases left behind by test processes that have ended are dropped first, so that runs do not
/// pile them up on a developer's server.
pub async fn database(tag: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(ADMIN_URL).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres, trust auth): {e}. Start it \
             with `bash .ci/run` (which installs and starts it), or `pg_ctlcluster 15 main start`"
        )
    });
    drop_leftovers(&mut admin).await;
    // One database per call: the tests of one binary may run at once.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "{PREFIX}{tag}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&sql).execute(&mut admin).await.unwrap();
    }
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

/// Drops the test databases whose process is gone. Only where `/proc` tells which processes are
/// alive; a database whose name does not parse is left alone.
async fn drop_leftovers(admin: &mut sqlx::PgConnection) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(PREFIX)
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let mut parts = name.rsplit('_');
        let (Some(_number), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // Another test process may be dropping it too: either way it goes.
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// Drops a database made by [`database`] (given its URL), at the end of the test that made it.
pub async fn drop_database(url: &str) {
    let mut admin = sqlx::PgConnection::connect(ADMIN_URL).await.unwrap();
    let name = url.rsplit('/').next().unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
