//! Opening a store from one location string, as config files and command lines give it.

use std::sync::Arc;

use crate::error::{Result, StoreError, StoreErrorKind};
use crate::options::StoreOptions;
use crate::store::MessageStore;

/// Opens the store at `location`: a `postgres://` or `postgresql://` URL picks PostgreSQL; a
/// `sqlite:` URL or any other string is a SQLite file path (created if missing). Migrations run
/// before it returns.
///
/// # Errors
/// `InvalidLocation` when the location names a backend this build was compiled without; otherwise
/// as [`crate::SqliteStore::open`] / [`crate::PostgresStore::connect`].
pub async fn open(location: &str, options: StoreOptions) -> Result<Arc<dyn MessageStore>> {
    let location = location.trim();
    if location.is_empty() {
        return Err(StoreError::new(
            StoreErrorKind::InvalidLocation,
            "empty store location",
        ));
    }
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(crate::PostgresStore::connect(location, options).await?));
        #[cfg(not(feature = "postgres"))]
        return Err(StoreError::new(
            StoreErrorKind::InvalidLocation,
            "a PostgreSQL store needs sms-store's `postgres` feature (the facade's `store-postgres`)",
        ));
    }
    #[cfg(feature = "sqlite")]
    return Ok(Arc::new(crate::SqliteStore::open(location, options).await?));
    #[cfg(not(feature = "sqlite"))]
    {
        let _ = options;
        Err(StoreError::new(
            StoreErrorKind::InvalidLocation,
            "a SQLite store needs sms-store's `sqlite` feature (the facade's `store-sqlite`)",
        ))
    }
}
