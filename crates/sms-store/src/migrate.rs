//! Embedded, versioned migrations, and the check that the database is not newer than this code.

use std::borrow::Cow;

use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationType, Migrator};

use crate::error::{StoreError, StoreErrorKind};

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 8;

/// One backend's migrations, oldest first, as `(version, description, sql)`.
pub(crate) type Steps = &'static [(i64, &'static str, &'static str)];

#[cfg(feature = "sqlite")]
pub(crate) const SQLITE: Steps = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (2, "spend", include_str!("../migrations/sqlite/0002_spend.sql")),
    (3, "events", include_str!("../migrations/sqlite/0003_events.sql")),
    (4, "leases", include_str!("../migrations/sqlite/0004_leases.sql")),
    (
        5,
        "reply links",
        include_str!("../migrations/sqlite/0005_reply_links.sql"),
    ),
    (
        6,
        "weights",
        include_str!("../migrations/sqlite/0006_weights.sql"),
    ),
    (
        7,
        "report indexes",
        include_str!("../migrations/sqlite/0007_report_indexes.sql"),
    ),
    (
        8,
        "notices",
        include_str!("../migrations/sqlite/0008_notices.sql"),
    ),
];

#[cfg(feature = "postgres")]
pub(crate) const POSTGRES: Steps = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (2, "spend", include_str!("../migrations/postgres/0002_spend.sql")),
    (
        3,
        "events",
        include_str!("../migrations/postgres/0003_events.sql"),
    ),
    (
        4,
        "leases",
        include_str!("../migrations/postgres/0004_leases.sql"),
    ),
    (
        5,
        "reply links",
        include_str!("../migrations/postgres/0005_reply_links.sql"),
    ),
    (
        6,
        "weights",
        include_str!("../migrations/postgres/0006_weights.sql"),
    ),
    (
        7,
        "report indexes",
        include_str!("../migrations/postgres/0007_report_indexes.sql"),
    ),
    (
        8,
        "notices",
        include_str!("../migrations/postgres/0008_notices.sql"),
    ),
];

/// Built by hand rather than with `sqlx::migrate!` so that the crate needs no proc-macro build of
/// sqlx (and no second compile of both drivers): the steps are still embedded with `include_str!`.
fn migrator(steps: Steps) -> Migrator {
    let migrations: Vec<Migration> = steps
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Runs the pending migrations on `connection`, refusing a database migrated by newer code.
pub(crate) async fn run<C>(steps: Steps, connection: &mut C, location: &str) -> Result<(), StoreError>
where
    C: Migrate + Send,
{
    let known = steps.last().map_or(0, |s| s.0);
    connection
        .ensure_migrations_table()
        .await
        .map_err(|e| migrate_error(e, location, known))?;
    let applied = connection
        .list_applied_migrations()
        .await
        .map_err(|e| migrate_error(e, location, known))?;
    if let Some(newest) = applied.iter().map(|m| m.version).max().filter(|v| *v > known) {
        return Err(too_new(location, newest, known));
    }
    migrator(steps)
        .run_direct(connection)
        .await
        .map_err(|e| migrate_error(e, location, known))
}

fn too_new(location: &str, found: i64, known: i64) -> StoreError {
    StoreError::new(
        StoreErrorKind::SchemaTooNew,
        format!(
            "{location} has schema version {found}, written by a newer sms-store; this build understands up to \
             version {known}: upgrade this program or point it at another database"
        ),
    )
}

fn migrate_error(error: MigrateError, location: &str, known: i64) -> StoreError {
    match error {
        MigrateError::Execute(e) => StoreError::from_sqlx(&format!("migrating {location}"), e),
        MigrateError::VersionMissing(v) => too_new(location, v, known),
        other => StoreError::new(StoreErrorKind::Database, format!("migrating {location}: {other}")),
    }
}
