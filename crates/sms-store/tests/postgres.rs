//! The conformance suite and the bad-input cases on a real PostgreSQL server (a fresh database for
//! this test binary).

mod support;

use std::sync::Arc;

use sms_store::{MessageStore, PostgresStore, StoreErrorKind, StoreOptions};
use sms_test_support::TestDatabase;

#[tokio::test]
async fn conformance_suite_and_schema_check_pass_on_postgres() {
    let db = TestDatabase::create("sms_store_test_conformance").await;
    let url = db.url();
    sms_store::conformance::run(|options| {
        let url = url.clone();
        async move {
            Arc::new(PostgresStore::connect(&url, options).await.expect("connect")) as Arc<dyn MessageStore>
        }
    })
    .await;

    // A schema from a newer build is refused with a clear message.
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (42, 'from the future', TRUE, '\\x00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let error = PostgresStore::connect(&url, StoreOptions::default())
        .await
        .expect_err("a newer schema is refused");
    assert_eq!(error.kind(), StoreErrorKind::SchemaTooNew, "{error}");
    assert!(error.to_string().contains("version 42"), "{error}");
    db.drop_now().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_and_says_where() {
    let options = StoreOptions {
        busy_timeout: std::time::Duration::from_secs(2),
        ..StoreOptions::default()
    };
    let error = PostgresStore::connect("postgres://postgres@127.0.0.1:9/none", options)
        .await
        .expect_err("nothing listens on port 9");
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error}");
    assert!(error.to_string().contains("127.0.0.1:9"), "{error}");
}
