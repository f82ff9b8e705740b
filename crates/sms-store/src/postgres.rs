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
    /// Runs `work` (a write transaction) here: PostgreSQL's connections are sockets the runtime
    /// polls, with no thread of their own to hand over to.
    async fn on_writer<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        work.await
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
