//! The PostgreSQL store, for several instances on one database. Claims use
//! `FOR UPDATE SKIP LOCKED`, so workers never wait on each other's rows.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres};

use crate::options::StoreOptions;

/// A [`MessageStore`] in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    writer: Pool<Postgres>,
    reader: Pool<Postgres>,
    options: StoreOptions,
    /// Concurrent spend charges and settlements, written together.
    spend: std::sync::Arc<crate::spend::SpendGroup>,
}

impl PostgresStore {
    /// One call on the spend ledger, written together with the calls in flight beside it (one
    /// transaction per batch: the counters' row locks are taken once per batch, not per send).
    async fn spend_call(&self, job: crate::spend::SpendJob) -> Result<crate::spend::SpendAnswer> {
        let this = self.clone();
        self.spend
            .call(
                job,
                crate::spend::MAX_JOBS,
                move |jobs| {
                    let this = this.clone();
                    Box::pin(async move {
                        this.write_part(crate::parts::WritePart::Spend(jobs))
                            .await?
                            .spend()
                    })
                },
                |fault| StoreError::new(crate::StoreErrorKind::Unavailable, format!("spend caps: {fault}")),
            )
            .await
    }

    /// Writes `part` in a transaction of its own: on PostgreSQL, concurrent transactions run on
    /// the pool's connections side by side.
    async fn write_part(&self, part: crate::parts::WritePart) -> Result<crate::parts::WriteDone> {
        write_alone(&self.writer, &self.options, &part).await
    }

    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the database. No TLS is
    /// compiled in: use it on loopback or a private network.
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached (the message says where), `SchemaTooNew` for
    /// a database migrated by newer code, `InvalidLocation` for a malformed URL.
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self> {
        let connect = PgConnectOptions::from_str(url).map_err(db("reading the PostgreSQL URL"))?;
        let label = format!(
            "PostgreSQL database {} at {}:{}",
            connect.get_database().unwrap_or("(default)"),
            connect.get_host(),
            connect.get_port()
        );
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::from_sqlx(&format!("connecting to {label}"), e))?;
        {
            let mut conn = pool
                .acquire()
                .await
                .map_err(|e| StoreError::from_sqlx(&format!("connecting to {label}"), e))?;
            crate::migrate::run(crate::migrate::POSTGRES, &mut *conn, &label).await?;
        }
        Ok(Self {
            writer: pool.clone(),
            reader: pool,
            options,
            spend: std::sync::Arc::default(),
        })
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.writer.close().await;
    }
}

crate::common::impl_message_store!(
    PostgresStore,
    Postgres,
    Backend::Postgres,
    "FOR UPDATE SKIP LOCKED"
);
crate::reports::impl_store_reports!(PostgresStore);
