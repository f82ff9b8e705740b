//! Read-only reports for operators (the gateway's dashboard): the latest recipients with filters and
//! a cursor, per-provider activity in time buckets, bulk summaries and the latest replies.
//!
//! A separate trait from [`crate::MessageStore`] so that stores without it still build: a store
//! hands it out through [`crate::MessageStore::reports`].

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{InboundRecord, Millis, RecipientRecord, StatusCounts};
use crate::status::Status;

/// Which recipients [`StoreReports::recipients`] returns. Every field set narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientQuery {
    /// Exactly this number (E.164).
    pub number: Option<String>,
    /// Exactly this client reference.
    pub reference: Option<String>,
    /// In this status.
    pub status: Option<Status>,
    /// Handled by this provider.
    pub provider: Option<String>,
    /// Only recipients after this one in the order (newest message first, then number): the last
    /// row of the previous page.
    pub after: Option<RecipientCursor>,
}

/// A position in the newest-first order of recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientCursor {
    /// The message's creation time.
    pub created_at: Millis,
    /// The message id.
    pub message_id: String,
    /// The recipient's number.
    pub number: String,
}

impl RecipientCursor {
    /// The cursor just after `row`, with the message's creation time (which the recipient row
    /// repeats in `created_at`).
    pub fn after(row: &RecipientRecord) -> Self {
        Self {
            created_at: row.created_at,
            message_id: row.message_id.clone(),
            number: row.number.clone(),
        }
    }
}

/// One provider's outcomes within one time bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderBucket {
    /// The provider.
    pub provider: String,
    /// The bucket's start.
    pub start: Millis,
    /// Recipients whose outcome (accepted, failed or unknown) was recorded in the bucket.
    pub outcomes: u64,
    /// Of those, failed or unknown.
    pub errors: u64,
    /// Of those, accepted by the provider (whatever the receipt said later).
    pub accepted: u64,
    /// Of the accepted, delivered.
    pub delivered: u64,
    /// Of the accepted, undelivered or expired.
    pub undelivered: u64,
}

/// What the providers did since a time: outcomes per bucket and failed attempts in total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderActivity {
    /// Buckets with at least one outcome, by provider then start.
    pub buckets: Vec<ProviderBucket>,
    /// Failed attempts (before a failover) per provider, for messages created since the time.
    pub failed_attempts: Vec<(String, u64)>,
}

/// One bulk: its recipients per status and what it has cost so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    /// The bulk's id.
    pub batch_id: String,
    /// When its first message was recorded.
    pub first_created: Millis,
    /// When its last message was recorded.
    pub last_created: Millis,
    /// Messages in it.
    pub messages: u64,
    /// Recipients per status.
    pub counts: StatusCounts,
    /// Billed parts of its accepted recipients so far, per provider (by name).
    pub billed_parts: Vec<(String, u64)>,
}

/// Operator reports over the store. Every method only reads.
///
/// # Errors
/// As every store method: a [`crate::StoreError`].
#[async_trait]
pub trait StoreReports: Send + Sync {
    /// Recipients matching `query`, newest message first (then by number), at most `limit`.
    async fn recipients(&self, query: &RecipientQuery, limit: u32) -> Result<Vec<RecipientRecord>>;

    /// Outcomes per provider in buckets of `bucket` milliseconds from `since` (bucket starts are
    /// `since + k * bucket`), and failed attempts per provider since `since`.
    async fn provider_activity(&self, since: Millis, bucket: Millis) -> Result<ProviderActivity>;

    /// The latest bulks (by their last message), at most `limit`.
    async fn batches(&self, limit: u32) -> Result<Vec<BatchSummary>>;

    /// The latest replies, newest first, at most `limit`.
    async fn latest_inbound(&self, limit: u32) -> Result<Vec<InboundRecord>>;
}

/// Implements [`StoreReports`] for `$store` inside a module where `impl_message_store!` was invoked
/// (it uses that expansion's row readers).
macro_rules! impl_store_reports {
    ($store:ident) => {
        use crate::reports::{
            BatchSummary, ProviderActivity, ProviderBucket, RecipientQuery, StoreReports,
        };

        #[async_trait]
        impl StoreReports for $store {
            async fn recipients(
                &self,
                query: &RecipientQuery,
                limit: u32,
            ) -> Result<Vec<RecipientRecord>> {
                // Without a filter on recipients, walk messages newest first by their index and
                // stop at the limit (SQLite keeps the order of a CROSS JOIN; PostgreSQL plans it as
                // an inner join). With one, let the planner start from the recipients' indexes.
                let by_recipient =
                    query.number.is_some() || query.status.is_some() || query.provider.is_some();
                let mut sql: QueryBuilder<'_, _> = QueryBuilder::new(if by_recipient {
                    "SELECT recipients.* FROM recipients JOIN messages ON messages.id = recipients.message_id WHERE 1 = 1"
                } else {
                    "SELECT recipients.* FROM messages CROSS JOIN recipients WHERE recipients.message_id = messages.id"
                });
                if let Some(number) = &query.number {
                    sql.push(" AND recipients.number = ").push_bind(number.clone());
                }
                if let Some(reference) = &query.reference {
                    sql.push(" AND messages.reference = ").push_bind(reference.clone());
                }
                if let Some(status) = query.status {
                    sql.push(" AND recipients.status = ").push_bind(status.as_str());
                }
                if let Some(provider) = &query.provider {
                    sql.push(" AND recipients.provider = ").push_bind(provider.clone());
                }
                if let Some(after) = &query.after {
                    // The first bound is for the index range; the rest is the exact position.
                    sql.push(" AND messages.created_at <= ")
                        .push_bind(after.created_at)
                        .push(" AND (messages.created_at < ")
                        .push_bind(after.created_at)
                        .push(" OR (messages.created_at = ")
                        .push_bind(after.created_at)
                        .push(" AND (messages.id < ")
                        .push_bind(after.message_id.clone())
                        .push(" OR (messages.id = ")
                        .push_bind(after.message_id.clone())
                        .push(" AND recipients.number > ")
                        .push_bind(after.number.clone())
                        .push("))))");
                }
                sql.push(
                    " ORDER BY messages.created_at DESC, messages.id DESC, recipients.number LIMIT ",
                )
                .push_bind(i64::from(limit));
                sql.build()
                    .fetch_all(&self.reader)
                    .await
                    .map_err(db("listing recipients"))?
                    .iter()
                    .map(recipient_from)
                    .collect()
            }

            async fn provider_activity(&self, since: Millis, bucket: Millis) -> Result<ProviderActivity> {
                let bucket = bucket.max(1);
                let rows = sqlx::query(
                    "SELECT provider, (outcome_at - $1) / $2 AS slot, COUNT(*) AS n, \
                     SUM(CASE WHEN status IN ('failed', 'unknown') THEN 1 ELSE 0 END) AS errors, \
                     SUM(CASE WHEN status IN ('accepted', 'delivered', 'undelivered', 'expired') THEN 1 ELSE 0 END) AS accepted, \
                     SUM(CASE WHEN status = 'delivered' THEN 1 ELSE 0 END) AS delivered, \
                     SUM(CASE WHEN status IN ('undelivered', 'expired') THEN 1 ELSE 0 END) AS undelivered \
                     FROM recipients WHERE status IN ('accepted', 'failed', 'unknown', 'delivered', 'undelivered', 'expired') \
                     AND outcome_at >= $1 AND provider IS NOT NULL \
                     GROUP BY provider, slot ORDER BY provider, slot",
                )
                .bind(since)
                .bind(bucket)
                .fetch_all(&self.reader)
                .await
                .map_err(db("reading provider activity"))?;
                let mut activity = ProviderActivity::default();
                let read = db("reading provider activity");
                let get = |row: &DbRow| -> std::result::Result<ProviderBucket, sqlx::Error> {
                    let count = |name: &str| -> std::result::Result<u64, sqlx::Error> {
                        Ok(row.try_get::<Option<i64>, _>(name)?.unwrap_or(0).max(0) as u64)
                    };
                    let slot: i64 = row.try_get("slot")?;
                    Ok(ProviderBucket {
                        provider: row.try_get("provider")?,
                        start: since + slot * bucket,
                        outcomes: count("n")?,
                        errors: count("errors")?,
                        accepted: count("accepted")?,
                        delivered: count("delivered")?,
                        undelivered: count("undelivered")?,
                    })
                };
                let mut failure = None;
                for row in &rows {
                    match get(row) {
                        Ok(b) => activity.buckets.push(b),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                if let Some(e) = failure {
                    return Err(read(e));
                }
                let rows = sqlx::query(
                    "SELECT attempts.provider AS provider, COUNT(*) AS n FROM attempts \
                     JOIN messages ON messages.id = attempts.message_id WHERE messages.created_at >= $1 \
                     GROUP BY attempts.provider ORDER BY attempts.provider",
                )
                .bind(since)
                .fetch_all(&self.reader)
                .await
                .map_err(db("reading failed attempts"))?;
                for row in rows {
                    let provider: String = row.try_get("provider").map_err(db("reading failed attempts"))?;
                    let n: i64 = row.try_get("n").map_err(db("reading failed attempts"))?;
                    activity.failed_attempts.push((provider, n.max(0) as u64));
                }
                Ok(activity)
            }

            async fn batches(&self, limit: u32) -> Result<Vec<BatchSummary>> {
                let what = "summarising bulks";
                let heads = sqlx::query(
                    "SELECT batch_id, MIN(created_at) AS first_created, MAX(created_at) AS last_created, \
                     COUNT(*) AS n FROM messages WHERE batch_id IS NOT NULL GROUP BY batch_id \
                     ORDER BY last_created DESC, batch_id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
                .map_err(db(what))?;
                let mut out = Vec::with_capacity(heads.len());
                for head in heads {
                    let batch_id: String = head.try_get("batch_id").map_err(db(what))?;
                    let rows = sqlx::query(
                        "SELECT recipients.status AS status, recipients.provider AS provider, COUNT(*) AS n, \
                         CAST(SUM(recipients.billed_parts) AS BIGINT) AS parts \
                         FROM recipients JOIN messages ON messages.id = recipients.message_id \
                         WHERE messages.batch_id = $1 GROUP BY recipients.status, recipients.provider",
                    )
                    .bind(&batch_id)
                    .fetch_all(&self.reader)
                    .await
                    .map_err(db(what))?;
                    let mut counts = StatusCounts::new();
                    let mut billed_parts: Vec<(String, u64)> = Vec::new();
                    for row in rows {
                        let status: String = row.try_get("status").map_err(db(what))?;
                        let n: i64 = row.try_get("n").map_err(db(what))?;
                        let parts: Option<i64> = row.try_get("parts").map_err(db(what))?;
                        let provider: Option<String> = row.try_get("provider").map_err(db(what))?;
                        *counts.entry(text_status(&status)?).or_insert(0) += n.max(0) as u64;
                        let parts = parts.unwrap_or(0).max(0) as u64;
                        if let (Some(provider), true) = (provider, parts > 0) {
                            match billed_parts.iter_mut().find(|(p, _)| *p == provider) {
                                Some((_, total)) => *total += parts,
                                None => billed_parts.push((provider, parts)),
                            }
                        }
                    }
                    let n: i64 = head.try_get("n").map_err(db(what))?;
                    out.push(BatchSummary {
                        batch_id,
                        first_created: head.try_get("first_created").map_err(db(what))?,
                        last_created: head.try_get("last_created").map_err(db(what))?,
                        messages: n.max(0) as u64,
                        counts,
                        billed_parts,
                    });
                }
                Ok(out)
            }

            async fn latest_inbound(&self, limit: u32) -> Result<Vec<InboundRecord>> {
                sqlx::query("SELECT * FROM inbound ORDER BY id DESC LIMIT $1")
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await
                    .map_err(db("reading replies"))?
                    .iter()
                    .map(inbound_from)
                    .collect()
            }
        }
    };
}

pub(crate) use impl_store_reports;
