//! The parts of the store both backends share: SQL that is the same on SQLite and PostgreSQL, and the
//! `MessageStore` implementation written once as a macro over the database type.
//!
//! Both backends accept `$n` placeholders and `UPDATE … FROM` with a `WITH v(…) AS (VALUES …)` table,
//! so nearly every statement is literally the same; the macro only differs in the claim statement
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and in how the pools are made.

use sha2::{Digest, Sha256};
use sms_core::{DeliveryStatus, Message};

use crate::model::{self, Millis, NewMessage};
use crate::options::{ContentMode, StoreOptions};
use crate::status::Status;

/// A count as the databases' signed 64-bit integer, saturating.
pub(crate) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A duration in store milliseconds.
pub(crate) fn millis_of(d: std::time::Duration) -> Millis {
    crate::options::millis(d)
}

/// Rows per multi-row statement: well under both databases' bind-parameter limits.
pub(crate) const CHUNK: usize = 500;

/// The row counts of multi-row statements. A statement's text depends on its row count, and
/// preparing a new text costs far more than running a cached one, and every statement is a round
/// trip to the connection: so a batch is cut into chunks of at most 256 rows and each chunk is padded
/// with rows of NULLs (which match and insert nothing) up to the next of these sizes. A batch of 30
/// is one statement of 64 rows, and every connection caches at most five texts per statement.
const SHAPES: [usize; 5] = [1, 4, 16, 64, 256];

/// `items` in chunks of at most 256, each with the padded row count to write it with.
pub(crate) fn shaped<T>(items: &[T]) -> Vec<(&[T], usize)> {
    items
        .chunks(SHAPES[SHAPES.len() - 1])
        .map(|chunk| {
            let shape = SHAPES
                .into_iter()
                .find(|s| *s >= chunk.len())
                .unwrap_or(chunk.len());
            (chunk, shape)
        })
        .collect()
}

/// The chunk's rows, then `None` up to its shape.
pub(crate) fn padded<T>(chunk: &[T], shape: usize) -> impl Iterator<Item = Option<&T>> {
    chunk
        .iter()
        .map(Some)
        .chain(std::iter::repeat_n(None, shape - chunk.len()))
}

/// As [`padded`], for owned rows: the `len` rows of `rows`, then `None` up to `shape`.
pub(crate) fn padded_owned<T>(
    rows: impl Iterator<Item = T>,
    len: usize,
    shape: usize,
) -> impl Iterator<Item = Option<T>> {
    rows.map(Some)
        .chain(std::iter::repeat_with(|| None).take(shape - len))
}

/// The columns of a message row as they are inserted.
pub(crate) struct MessageRow {
    pub id: String,
    pub reference: String,
    pub batch_id: Option<String>,
    pub kind: String,
    pub content: Option<String>,
    pub digest: String,
    pub schedule: Option<Millis>,
    pub policy: Option<String>,
}

pub(crate) fn message_row(new: &NewMessage, options: &StoreOptions) -> MessageRow {
    let message: &Message = &new.message;
    let (content, digest) = content_columns(message, options.content);
    MessageRow {
        id: new.id.clone(),
        reference: message.reference().as_str().to_owned(),
        batch_id: new.batch_id.clone(),
        kind: model::kind_name(message.kind()),
        content,
        digest,
        schedule: schedule_column(message),
        policy: model::policy_name(message.ambiguity_policy()),
    }
}

/// The content (unless only the digest is kept) and the content's SHA-256, hex, as stored.
pub(crate) fn content_columns(message: &Message, mode: ContentMode) -> (Option<String>, String) {
    let content = model::content_of(message.body());
    let digest = hex(&Sha256::digest(content.as_bytes()));
    ((mode == ContentMode::Full).then_some(content), digest)
}

/// The digest the store keeps of `message`'s content ([`crate::StoredMessage::content_digest`]),
/// for telling whether a message is the one a record holds without reading its content (which
/// may be redacted or never kept).
pub fn content_digest(message: &Message) -> String {
    content_columns(message, ContentMode::DigestOnly).1
}

/// The requested send time as stored: milliseconds.
pub(crate) fn schedule_column(message: &Message) -> Option<Millis> {
    message.schedule().map(|t| t.unix_seconds() * 1000)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

pub(crate) fn receipt_status(status: DeliveryStatus) -> Status {
    match status {
        DeliveryStatus::Delivered => Status::Delivered,
        _ => Status::Undelivered,
    }
}

/// The guard that keeps an outcome from moving a recipient anywhere the status machine forbids:
/// `recipients.status` must be a legal source of the outcome's status `v.st`.
pub(crate) fn outcome_guard() -> String {
    [Status::Accepted, Status::Failed, Status::Unknown]
        .iter()
        .map(|to| {
            format!(
                "(v.st = '{}' AND recipients.status IN ({}))",
                to.as_str(),
                Status::sources_of(*to)
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Implements `MessageStore` for `$store`, whose fields `writer` and `reader` are pools of `$db`
/// and `options` a `StoreOptions`. `$claim_lock` is appended to the claim's inner SELECT.
macro_rules! impl_message_store {
    ($store:ident, $db:ty, $backend:expr, $claim_lock:expr) => {
        use std::time::Duration;

        use async_trait::async_trait;
        use sms_core::{DeliveryReport, InboundMessage, PhoneNumber};
        use sqlx::{QueryBuilder, Row};

        use crate::common::{self, CHUNK};
        use crate::error::{Result, StoreError, StoreErrorKind};
        use crate::events::{Event, EventBody, EventOutcome};
        use crate::model::{
            AttemptRecord, Claim, InboundRecord, Millis, NewMessage, OutcomeUpdate, Payload, ReceiptDisposition,
            ReceiptRecord, RecipientRecord, Reservation, StatusCounts, StoredMessage, Suppression, SweepReport,
        };
        use crate::normalise;
        use crate::options::millis;
        use crate::status::Status;
        use crate::store::{Backend, BatchWritten, MessageStore};

        type Conn = <$db as sqlx::Database>::Connection;
        type DbRow = <$db as sqlx::Database>::Row;

        fn db(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
            move |e| StoreError::from_sqlx(what, e)
        }

        fn text_status(s: &str) -> Result<Status> {
            s.parse().map_err(|e: String| StoreError::new(StoreErrorKind::InvalidData, e))
        }

        fn recipient_from(row: &DbRow) -> Result<RecipientRecord> {
            let status: String = row.try_get("status").map_err(db("reading a recipient"))?;
            let get = |e| StoreError::from_sqlx("reading a recipient", e);
            Ok(RecipientRecord {
                message_id: row.try_get("message_id").map_err(get)?,
                number: row.try_get("number").map_err(get)?,
                status: text_status(&status)?,
                provider: row.try_get("provider").map_err(get)?,
                provider_message_id: row.try_get("provider_message_id").map_err(get)?,
                billed_parts: row.try_get("billed_parts").map_err(get)?,
                error_kind: row.try_get("error_kind").map_err(get)?,
                error_code: row.try_get("error_code").map_err(get)?,
                error_message: row.try_get("error_message").map_err(get)?,
                receipt_code: row.try_get("receipt_code").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
                queued_at: row.try_get("queued_at").map_err(get)?,
                sending_at: row.try_get("sending_at").map_err(get)?,
                outcome_at: row.try_get("outcome_at").map_err(get)?,
                final_at: row.try_get("final_at").map_err(get)?,
            })
        }

        fn receipt_from(row: &DbRow) -> Result<ReceiptRecord> {
            let get = |e| StoreError::from_sqlx("reading a receipt", e);
            let status: String = row.try_get("status").map_err(get)?;
            let disposition: String = row.try_get("disposition").map_err(get)?;
            Ok(ReceiptRecord {
                id: row.try_get("id").map_err(get)?,
                provider: row.try_get("provider").map_err(get)?,
                provider_message_id: row.try_get("provider_message_id").map_err(get)?,
                number: row.try_get("number").map_err(get)?,
                status: text_status(&status)?,
                code: row.try_get("code").map_err(get)?,
                description: row.try_get("description").map_err(get)?,
                reported_at: row.try_get("reported_at").map_err(get)?,
                received_at: row.try_get("received_at").map_err(get)?,
                message_id: row.try_get("message_id").map_err(get)?,
                disposition: ReceiptDisposition::parse(&disposition).ok_or_else(|| {
                    StoreError::new(StoreErrorKind::InvalidData, format!("unknown receipt disposition `{disposition}`"))
                })?,
            })
        }

        fn inbound_from(row: &DbRow) -> Result<InboundRecord> {
            let get = |e| StoreError::from_sqlx("reading a reply", e);
            Ok(InboundRecord {
                id: row.try_get("id").map_err(get)?,
                provider: row.try_get("provider").map_err(get)?,
                sender: row.try_get("sender").map_err(get)?,
                service_number: row.try_get("service_number").map_err(get)?,
                text: row.try_get("text").map_err(get)?,
                opt_out: row.try_get::<i64, _>("opt_out").map_err(get)? != 0,
                received_at: row.try_get("received_at").map_err(get)?,
                stored_at: row.try_get("stored_at").map_err(get)?,
                message_id: row.try_get("message_id").map_err(get)?,
            })
        }

        /// The latest send to `number` through `provider` recorded within `window` before `now`.
        async fn latest_send(
            conn: &mut Conn,
            provider: &str,
            number: &str,
            now: Millis,
            window: Millis,
        ) -> Result<Option<String>> {
            let row = sqlx::query(
                "SELECT message_id FROM recipients WHERE provider = $1 AND number = $2 \
                 AND outcome_at >= $3 AND outcome_at <= $4 ORDER BY outcome_at DESC, message_id DESC LIMIT 1",
            )
            .bind(provider)
            .bind(number)
            .bind(now.saturating_sub(window))
            .bind(now)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("linking a reply"))?;
            row.map(|row| row.try_get("message_id").map_err(|e| StoreError::from_sqlx("linking a reply", e)))
                .transpose()
        }

        fn check_outcomes(outcomes: &[OutcomeUpdate]) -> Result<()> {
            match outcomes
                .iter()
                .find(|o| !matches!(o.status, Status::Accepted | Status::Failed | Status::Unknown))
            {
                Some(bad) => Err(StoreError::new(
                    StoreErrorKind::InvalidData,
                    format!("an outcome must be accepted, failed or unknown, not {}", bad.status),
                )),
                None => Ok(()),
            }
        }

        /// What a statement of a [`Script`] does: names its errors and says how to read its result.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Part {
            Messages,
            Recipients,
            Outcomes,
            /// Receipts that arrived before their send, waiting under a provider id.
            WaitingById,
            /// The same, for providers whose receipts carry no id: waiting under the number.
            WaitingByNumber,
        }

        impl Part {
            fn error(self, e: sqlx::Error) -> StoreError {
                match (self, &e) {
                    (Part::Messages, sqlx::Error::Database(d)) if d.is_unique_violation() => StoreError::new(
                        StoreErrorKind::DuplicateReference,
                        "a message with one of these client references is already recorded",
                    ),
                    (Part::Messages, _) => StoreError::from_sqlx("recording messages", e),
                    (Part::Recipients, _) => StoreError::from_sqlx("recording recipients", e),
                    (Part::Outcomes, _) => StoreError::from_sqlx("recording outcomes", e),
                    (Part::WaitingById | Part::WaitingByNumber, _) => {
                        StoreError::from_sqlx("looking for early receipts", e)
                    }
                }
            }
        }

        /// Statements that run in order inside one transaction. On SQLite they are one text, run in
        /// one round trip to the connection's thread (its driver steps through the statements of a
        /// text in turn, binding the `?` parameters in order): each round trip is two thread
        /// wake-ups, and a group commit used to make six. PostgreSQL prepares one statement per
        /// query, so there each is its own.
        struct Script {
            builders: Vec<QueryBuilder<'static, $db>>,
            parts: Vec<Part>,
        }

        /// One statement's result: rows affected and rows returned.
        struct Step {
            part: Part,
            affected: u64,
            rows: Vec<DbRow>,
        }

        impl Script {
            const ONE_TEXT: bool = matches!($backend, Backend::Sqlite);

            fn new() -> Self {
                Self { builders: Vec::new(), parts: Vec::new() }
            }

            /// Starts a statement with `sql`; bind and push the rest on the builder returned.
            fn statement(&mut self, part: Part, sql: &str) -> &mut QueryBuilder<'static, $db> {
                self.parts.push(part);
                match self.builders.last_mut() {
                    Some(last) if Self::ONE_TEXT => {
                        last.push("; ");
                        last.push(sql);
                    }
                    _ => self.builders.push(QueryBuilder::new(sql)),
                }
                self.builders.last_mut().expect("a builder was just pushed")
            }

            /// Runs every statement; an error names the part that failed.
            async fn run(self, conn: &mut Conn) -> Result<Vec<Step>> {
                use futures_util::TryStreamExt;
                use sqlx::Executor;
                let mut steps: Vec<Step> = Vec::with_capacity(self.parts.len());
                let mut rows = Vec::new();
                let parts = self.parts;
                for mut builder in self.builders {
                    let mut results = (&mut *conn).fetch_many(builder.build());
                    loop {
                        let item = results.try_next().await.map_err(|e| {
                            let part = parts.get(steps.len()).copied().unwrap_or(Part::Outcomes);
                            part.error(e)
                        })?;
                        match item {
                            None => break,
                            Some(sqlx::Either::Right(row)) => rows.push(row),
                            Some(sqlx::Either::Left(done)) => {
                                let part = parts.get(steps.len()).copied().unwrap_or(Part::Outcomes);
                                steps.push(Step {
                                    part,
                                    affected: done.rows_affected(),
                                    rows: std::mem::take(&mut rows),
                                });
                            }
                        }
                    }
                }
                Ok(steps)
            }
        }

        /// Adds the inserts of message rows and their recipients in `status` to `script`, in chunks
        /// of multi-row statements.
        fn push_inserts(
            script: &mut Script,
            messages: &[NewMessage],
            options: &crate::options::StoreOptions,
            status: Status,
            now: Millis,
        ) {
            for (chunk, shape) in common::shaped(messages) {
                let rows = chunk.iter().map(|m| common::message_row(m, options));
                let insert = script.statement(
                    Part::Messages,
                    "INSERT INTO messages (id, reference, batch_id, kind, content, content_digest, schedule, policy, created_at) \
                     SELECT column1, column2, column3, column4, column5, column6, column7, column8, column9 FROM (",
                );
                insert.push_values(common::padded_owned(rows, chunk.len(), shape), |mut b, r| {
                    let present = r.is_some();
                    let (id, reference, batch, kind, content, digest, schedule, policy) = match r {
                        Some(r) => (Some(r.id), Some(r.reference), r.batch_id, Some(r.kind), r.content, Some(r.digest), r.schedule, r.policy),
                        None => (None, None, None, None, None, None, None, None),
                    };
                    b.push_bind(id)
                        .push_bind(reference)
                        .push_bind(batch)
                        .push_bind(kind)
                        .push_bind(content)
                        .push_bind(digest)
                        .push_bind(schedule)
                        .push_bind(policy)
                        .push_bind(present.then_some(now));
                });
                insert.push(") AS v WHERE column1 IS NOT NULL");
            }
            let recipients: Vec<(&str, String)> = messages
                .iter()
                .flat_map(|m| m.message.recipients().iter().map(move |n| (m.id.as_str(), n.e164())))
                .collect();
            let sending = (status == Status::Sending).then_some(now);
            let queued = (status == Status::Queued).then_some(now);
            for (chunk, shape) in common::shaped(&recipients) {
                let insert = script.statement(
                    Part::Recipients,
                    "INSERT INTO recipients (message_id, number, status, created_at, queued_at, sending_at) \
                     SELECT column1, column2, column3, column4, column5, column6 FROM (",
                );
                insert.push_values(common::padded(chunk, shape), |mut b, row| {
                    b.push_bind(row.map(|(id, _)| id.to_string()))
                        .push_bind(row.map(|(_, number)| number.clone()))
                        .push_bind(row.map(|_| status.as_str()))
                        .push_bind(row.map(|_| now))
                        .push_bind(row.and(queued))
                        .push_bind(row.and(sending));
                });
                insert.push(") AS v WHERE column1 IS NOT NULL");
            }
        }

        /// Adds the moves of recipients per the outcomes (status machine enforced in SQL) to
        /// `script`, and the look-ups of receipts that arrived before these sends (those under the
        /// recorded provider ids, and for providers without ids those under the numbers): one
        /// indexed probe per outcome, and they find nothing unless a receipt was early.
        fn push_outcomes(script: &mut Script, outcomes: &[OutcomeUpdate], now: Millis) {
            for (chunk, shape) in common::shaped(outcomes) {
                let update = script.statement(
                    Part::Outcomes,
                    "WITH v (mid, num, st, prov, pid, parts, ekind, ecode, emsg) AS (",
                );
                update.push_values(common::padded(chunk, shape), |mut b, o| {
                    b.push_bind(o.map(|o| o.message_id.clone()))
                        .push_bind(o.map(|o| o.number.clone()))
                        .push_bind(o.map(|o| o.status.as_str()))
                        .push_bind(o.and_then(|o| o.provider.clone()))
                        .push_bind(o.and_then(|o| {
                            o.provider_message_id
                                .as_deref()
                                .map(|id| normalise::provider_message_id(o.provider.as_deref().unwrap_or(""), id))
                        }))
                        .push_bind(o.and_then(|o| o.billed_parts))
                        .push_bind(o.and_then(|o| o.error_kind.clone()))
                        .push_bind(o.and_then(|o| o.error_code.clone()))
                        .push_bind(o.and_then(|o| o.error_message.clone()));
                });
                update.push(
                    ") UPDATE recipients SET status = v.st, provider = COALESCE(v.prov, recipients.provider), \
                     provider_message_id = COALESCE(v.pid, recipients.provider_message_id), \
                     billed_parts = v.parts, error_kind = v.ekind, error_code = v.ecode, error_message = v.emsg, \
                     outcome_at = ",
                );
                update.push_bind(now);
                update.push(" FROM v WHERE recipients.message_id = v.mid AND recipients.number = v.num AND (");
                update.push(common::outcome_guard());
                update.push(")");
            }
            let keyed: Vec<(String, String)> = outcomes
                .iter()
                .filter_map(|o| {
                    let provider = o.provider.clone()?;
                    let id = normalise::provider_message_id(&provider, o.provider_message_id.as_deref()?);
                    Some((provider, id))
                })
                .collect();
            for (chunk, shape) in common::shaped(&keyed) {
                let waiting = script.statement(Part::WaitingById, "WITH v (prov, pid) AS (");
                waiting.push_values(common::padded(chunk, shape), |mut b, key| {
                    b.push_bind(key.map(|(p, _)| p.clone())).push_bind(key.map(|(_, id)| id.clone()));
                });
                waiting.push(
                    ") SELECT receipts.* FROM receipts JOIN v ON receipts.provider = v.prov \
                     AND receipts.provider_message_id = v.pid WHERE receipts.disposition = 'unmatched' \
                     ORDER BY receipts.id",
                );
            }
            let by_number: Vec<(String, String)> = outcomes
                .iter()
                .filter(|o| o.status == Status::Accepted && o.provider_message_id.is_none())
                .filter_map(|o| Some((o.provider.clone()?, o.number.clone())))
                .collect();
            for (chunk, shape) in common::shaped(&by_number) {
                let waiting = script.statement(Part::WaitingByNumber, "WITH v (prov, num) AS (");
                waiting.push_values(common::padded(chunk, shape), |mut b, key| {
                    b.push_bind(key.map(|(p, _)| p.clone())).push_bind(key.map(|(_, n)| n.clone()));
                });
                waiting.push(
                    ") SELECT receipts.* FROM receipts JOIN v ON receipts.provider = v.prov \
                     AND receipts.provider_message_id = '' AND receipts.number = v.num \
                     WHERE receipts.disposition = 'unmatched' ORDER BY receipts.id",
                );
            }
        }

        /// Inserts `messages` with recipients in `status` and applies `outcomes` in one script, then
        /// files the receipts that were waiting for these sends. Returns recipients moved by the
        /// outcomes and early receipts filed.
        async fn write_records(
            conn: &mut Conn,
            messages: &[NewMessage],
            status: Status,
            outcomes: &[OutcomeUpdate],
            options: &crate::options::StoreOptions,
            now: Millis,
        ) -> Result<(u64, usize)> {
            let mut script = Script::new();
            push_inserts(&mut script, messages, options, status, now);
            push_outcomes(&mut script, outcomes, now);
            let mut moved = 0;
            let mut waiting = Vec::new();
            for step in script.run(conn).await? {
                match step.part {
                    Part::Outcomes => moved += step.affected,
                    Part::WaitingById | Part::WaitingByNumber => waiting.extend(step.rows),
                    Part::Messages | Part::Recipients => {}
                }
            }
            let window = common::millis_of(options.receipt_expiry);
            let mut filed = std::collections::HashSet::new();
            for row in &waiting {
                let receipt = receipt_from(row)?;
                if filed.insert(receipt.id) {
                    file_receipt(conn, &receipt, now, window, Some(receipt.id)).await?;
                }
            }
            Ok((moved, filed.len()))
        }

        /// Appends failed attempts to a message's history, numbered after those recorded before.
        async fn insert_attempts(conn: &mut Conn, message_id: &str, attempts: &[AttemptRecord]) -> Result<()> {
            let next: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM attempts WHERE message_id = $1")
                    .bind(message_id)
                    .fetch_one(&mut *conn)
                    .await
                    .and_then(|row| row.try_get("n"))
                    .map_err(db("numbering attempts"))?;
                for (i, a) in attempts.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO attempts (message_id, seq, provider, recipients, error_kind, error_code, \
                         error_message, elapsed_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(message_id)
                    .bind(next + 1 + i as i64)
                    .bind(&a.provider)
                    .bind(a.recipients)
                    .bind(&a.error_kind)
                    .bind(&a.error_code)
                    .bind(&a.error_message)
                    .bind(a.elapsed_ms)
                    .execute(&mut *conn)
                    .await
                    .map_err(db("recording attempts"))?;
                }
            Ok(())
        }

        /// For providers whose receipts carry no message id (Juxiang): the send to `number` through
        /// `provider` recorded within `window` before `now` that the receipt belongs to. The oldest
        /// one still waiting for its receipt (accepted), as receipts come in the order of sending;
        /// else the latest one (the receipt is then a duplicate or late, kept and ignored).
        async fn match_by_number(
            conn: &mut Conn,
            provider: &str,
            number: &str,
            now: Millis,
            window: Millis,
        ) -> Result<Option<(String, String)>> {
            let row = sqlx::query(
                "SELECT message_id, number FROM recipients WHERE provider = $1 AND number = $2 \
                 AND outcome_at >= $3 AND outcome_at <= $4 \
                 ORDER BY CASE WHEN status = 'accepted' THEN 0 ELSE 1 END, \
                 CASE WHEN status = 'accepted' THEN outcome_at ELSE -outcome_at END, message_id LIMIT 1",
            )
            .bind(provider)
            .bind(number)
            .bind(now.saturating_sub(window))
            .bind(now)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("correlating by number"))?;
            row.map(|row| {
                let get = |e| StoreError::from_sqlx("correlating by number", e);
                Ok((row.try_get("message_id").map_err(get)?, row.try_get("number").map_err(get)?))
            })
            .transpose()
        }

        /// Correlates one receipt and applies it; inserts it (or, for `existing`, updates the stored
        /// unmatched one).
        async fn file_receipt(
            conn: &mut Conn,
            r: &ReceiptRecord,
            now: Millis,
            window: Millis,
            existing: Option<i64>,
        ) -> Result<ReceiptDisposition> {
            let target = if r.provider_message_id.is_empty() {
                match_by_number(conn, &r.provider, &r.number, now, window).await?
            } else {
                match_by_id(conn, r).await?
            };
            file_matched(conn, r, now, existing, target).await
        }

        /// The recipient a receipt with a provider id belongs to.
        async fn match_by_id(conn: &mut Conn, r: &ReceiptRecord) -> Result<Option<(String, String)>> {
            let candidates = sqlx::query(
                "SELECT message_id, number FROM recipients WHERE provider = $1 AND provider_message_id = $2",
            )
            .bind(&r.provider)
            .bind(&r.provider_message_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db("correlating a receipt"))?;
            let mut target: Option<(String, String)> = None;
            for row in &candidates {
                let mid: String = row.try_get("message_id").map_err(db("correlating a receipt"))?;
                let number: String = row.try_get("number").map_err(db("correlating a receipt"))?;
                // One id for one recipient matches whatever number the report shows; an id shared by
                // a batch needs the number too.
                if candidates.len() == 1 || number == r.number {
                    target = Some((mid, number));
                    break;
                }
            }
            Ok(target)
        }

        /// Applies a receipt to its recipient (if any) and stores it.
        async fn file_matched(
            conn: &mut Conn,
            r: &ReceiptRecord,
            now: Millis,
            existing: Option<i64>,
            target: Option<(String, String)>,
        ) -> Result<ReceiptDisposition> {
            let disposition = match &target {
                None => ReceiptDisposition::Unmatched,
                Some((mid, number)) => {
                    let sql = format!(
                        "UPDATE recipients SET status = $1, receipt_code = $2, final_at = $3 \
                         WHERE message_id = $4 AND number = $5 AND status IN ({})",
                        Status::sources_of(r.status)
                    );
                    let moved = sqlx::query(&sql)
                        .bind(r.status.as_str())
                        .bind(&r.code)
                        .bind(now)
                        .bind(mid)
                        .bind(number)
                        .execute(&mut *conn)
                        .await
                        .map_err(db("applying a receipt"))?
                        .rows_affected();
                    if moved == 1 { ReceiptDisposition::Applied } else { ReceiptDisposition::Ignored }
                }
            };
            let mid = target.map(|t| t.0);
            match existing {
                Some(id) => {
                    sqlx::query("UPDATE receipts SET message_id = $1, disposition = $2 WHERE id = $3")
                        .bind(mid)
                        .bind(disposition.as_str())
                        .bind(id)
                        .execute(&mut *conn)
                        .await
                        .map_err(db("filing a receipt"))?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO receipts (provider, provider_message_id, number, status, code, description, \
                         reported_at, received_at, message_id, disposition) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&r.provider)
                    .bind(&r.provider_message_id)
                    .bind(&r.number)
                    .bind(r.status.as_str())
                    .bind(&r.code)
                    .bind(&r.description)
                    .bind(r.reported_at)
                    .bind(r.received_at)
                    .bind(mid)
                    .bind(disposition.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(db("storing a receipt"))?;
                }
            }
            Ok(disposition)
        }

        async fn load_message(conn: &mut Conn, column: &str, key: &str) -> Result<Option<StoredMessage>> {
            let sql = format!(
                "SELECT id, reference, batch_id, kind, content, content_digest, schedule, policy, created_at \
                 FROM messages WHERE {column} = $1"
            );
            let Some(row) = sqlx::query(&sql)
                .bind(key)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db("reading a message"))?
            else {
                return Ok(None);
            };
            let get = |e| StoreError::from_sqlx("reading a message", e);
            let id: String = row.try_get("id").map_err(get)?;
            let kind: String = row.try_get("kind").map_err(get)?;
            let recipients = sqlx::query("SELECT * FROM recipients WHERE message_id = $1 ORDER BY number")
                .bind(&id)
                .fetch_all(&mut *conn)
                .await
                .map_err(db("reading recipients"))?
                .iter()
                .map(recipient_from)
                .collect::<Result<Vec<_>>>()?;
            let attempts = sqlx::query("SELECT * FROM attempts WHERE message_id = $1 ORDER BY seq")
                .bind(&id)
                .fetch_all(&mut *conn)
                .await
                .map_err(db("reading attempts"))?
                .iter()
                .map(|row| {
                    Ok(AttemptRecord {
                        provider: row.try_get("provider").map_err(get)?,
                        recipients: row.try_get("recipients").map_err(get)?,
                        error_kind: row.try_get("error_kind").map_err(get)?,
                        error_code: row.try_get("error_code").map_err(get)?,
                        error_message: row.try_get("error_message").map_err(get)?,
                        elapsed_ms: row.try_get("elapsed_ms").map_err(get)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(StoredMessage {
                kind: crate::model::kind_from(&kind).ok_or_else(|| {
                    StoreError::new(StoreErrorKind::InvalidData, format!("unknown message kind `{kind}`"))
                })?,
                id,
                reference: row.try_get("reference").map_err(get)?,
                batch_id: row.try_get("batch_id").map_err(get)?,
                content: row.try_get("content").map_err(get)?,
                content_digest: row.try_get("content_digest").map_err(get)?,
                schedule: row.try_get("schedule").map_err(get)?,
                policy: row.try_get("policy").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
                recipients,
                attempts,
            }))
        }

        /// Runs `part` in a transaction of its own.
        async fn write_alone(
            writer: &sqlx::Pool<$db>,
            options: &crate::options::StoreOptions,
            part: &crate::parts::WritePart,
        ) -> Result<crate::parts::WriteDone> {
            let mut tx = writer.begin().await.map_err(db("starting a transaction"))?;
            let done = write_in(&mut *tx, options, part).await?;
            tx.commit().await.map_err(db("committing"))?;
            Ok(done)
        }

        /// Runs `part` inside the transaction `tx`.
        async fn write_in(
            tx: &mut Conn,
            options: &crate::options::StoreOptions,
            part: &crate::parts::WritePart,
        ) -> Result<crate::parts::WriteDone> {
            use crate::parts::{WriteDone, WritePart};
            match part {
                WritePart::Records { sending, outcomes, attempts } => {
                    let now = options.now();
                    let (moved, early) = write_records(tx, sending, Status::Sending, outcomes, options, now).await?;
                    for (message_id, attempts) in attempts {
                        insert_attempts(tx, message_id, attempts).await?;
                    }
                    Ok(WriteDone::Records(BatchWritten { at: now, moved, early_receipts: early }))
                }
                WritePart::Spend(jobs) => spend_in(tx, jobs).await.map(WriteDone::Spend),
            }
        }

        /// Spend jobs inside a transaction: every counter they name read (and locked, in name
        /// order) once, the jobs applied in order, each changed counter written once.
        async fn spend_in(
            tx: &mut Conn,
            jobs: &[crate::spend::SpendJob],
        ) -> Result<Vec<crate::spend::SpendAnswer>> {
            use crate::spend::{Counter, apply, batch_now, counters_named, statement_chunks};
            let now = common::signed(batch_now(jobs));
            let named = counters_named(jobs);
            let mut counters = std::collections::BTreeMap::new();
            for chunk in statement_chunks(&named) {
                // Upsert: locks the rows until the transaction ends, and reads an expired counter as
                // zero.
                let mut query = QueryBuilder::<$db>::new("INSERT INTO spend_counters (counter, used, expires_at) ");
                query.push_values(chunk, |mut row, (counter, expires_at)| {
                    row.push_bind(counter.as_str())
                        .push_bind(0_i64)
                        .push_bind(common::signed(*expires_at));
                });
                query.push(" ON CONFLICT (counter) DO UPDATE SET used = CASE WHEN spend_counters.expires_at <= ");
                query.push_bind(now);
                query.push(" THEN 0 ELSE spend_counters.used END, expires_at = CASE WHEN spend_counters.expires_at <= ");
                query.push_bind(now);
                query.push(" THEN excluded.expires_at ELSE spend_counters.expires_at END RETURNING counter, used, expires_at");
                let rows = query
                    .build()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading spend counters"))?;
                for row in rows {
                    let get = db("reading spend counters");
                    let counter: String = row.try_get("counter").map_err(get)?;
                    let used: i64 = row.try_get("used").map_err(db("reading spend counters"))?;
                    let expires_at: i64 = row.try_get("expires_at").map_err(db("reading spend counters"))?;
                    counters.insert(
                        counter,
                        Counter {
                            used: u64::try_from(used).unwrap_or(0),
                            expires_at: u64::try_from(expires_at).unwrap_or(0),
                            changed: false,
                        },
                    );
                }
            }
            let answers = apply(jobs, &mut counters);
            let changed: Vec<(&String, &Counter)> = counters.iter().filter(|(_, c)| c.changed).collect();
            for chunk in statement_chunks(&changed) {
                let mut query = QueryBuilder::<$db>::new("INSERT INTO spend_counters (counter, used, expires_at) ");
                query.push_values(chunk, |mut row, (counter, value)| {
                    row.push_bind(counter.as_str())
                        .push_bind(common::signed(value.used))
                        .push_bind(common::signed(value.expires_at));
                });
                query.push(" ON CONFLICT (counter) DO UPDATE SET used = excluded.used, expires_at = excluded.expires_at");
                query
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(db("writing spend counters"))?;
            }
            sqlx::query("DELETE FROM spend_counters WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("forgetting expired spend counters"))?;
            Ok(answers)
        }

        #[async_trait]
        impl MessageStore for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn spend_charge(
                &self,
                charges: &[sms_failover::state::Charge],
                now: u64,
            ) -> Result<sms_failover::state::SpendAdmission> {
                match self.spend_call(crate::spend::SpendJob::Charge(charges.to_vec(), now)).await? {
                    crate::spend::SpendAnswer::Charged(admission) => Ok(admission),
                    crate::spend::SpendAnswer::Settled => Err(StoreError::new(
                        StoreErrorKind::InvalidData,
                        "a spend charge was answered as a settlement",
                    )),
                }
            }

            async fn spend_settle(&self, adjustments: &[sms_failover::state::Adjustment], now: u64) -> Result<()> {
                self.spend_call(crate::spend::SpendJob::Settle(adjustments.to_vec(), now))
                    .await
                    .map(drop)
            }

            async fn spend_usage(&self, counters: &[String]) -> Result<Vec<u64>> {
                let mut used = Vec::with_capacity(counters.len());
                for counter in counters {
                    let value: Option<i64> = sqlx::query_scalar("SELECT used FROM spend_counters WHERE counter = $1")
                        .bind(counter)
                        .fetch_optional(&self.writer)
                        .await
                        .map_err(db("reading a spend counter"))?;
                    used.push(value.map_or(0, |v| u64::try_from(v).unwrap_or(0)));
                }
                Ok(used)
            }

            fn reports(&self) -> Option<&dyn crate::reports::StoreReports> {
                Some(self)
            }

            async fn insert_sending(&self, messages: &[NewMessage]) -> Result<()> {
                let now = self.options.now();
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                write_records(&mut tx, messages, Status::Sending, &[], &self.options, now).await?;
                tx.commit().await.map_err(db("committing messages"))
            }

            async fn record_outcomes(&self, outcomes: &[OutcomeUpdate]) -> Result<u64> {
                check_outcomes(outcomes)?;
                let now = self.options.now();
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                let (moved, _) = write_records(&mut tx, &[], Status::Sending, outcomes, &self.options, now).await?;
                tx.commit().await.map_err(db("committing outcomes"))?;
                Ok(moved)
            }

            async fn record_batch(
                &self,
                sending: &[NewMessage],
                outcomes: &[OutcomeUpdate],
                attempts: &[(String, Vec<AttemptRecord>)],
            ) -> Result<BatchWritten> {
                check_outcomes(outcomes)?;
                self.write_part(crate::parts::WritePart::Records {
                    sending: sending.to_vec(),
                    outcomes: outcomes.to_vec(),
                    attempts: attempts.to_vec(),
                })
                .await?
                .records()
            }

            async fn record_attempts(&self, message_id: &str, attempts: &[AttemptRecord]) -> Result<()> {
                if attempts.is_empty() {
                    return Ok(());
                }
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                insert_attempts(&mut tx, message_id, attempts).await?;
                tx.commit().await.map_err(db("committing attempts"))
            }

            fn content_mode(&self) -> crate::options::ContentMode {
                self.options.content
            }

            async fn record_receipts(&self, reports: &[DeliveryReport]) -> Result<Vec<ReceiptDisposition>> {
                let now = self.options.now();
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                let mut out = Vec::with_capacity(reports.len());
                for report in reports {
                    let record = ReceiptRecord {
                        id: 0,
                        provider: report.provider.clone(),
                        provider_message_id: normalise::provider_message_id(&report.provider, &report.message_id),
                        number: normalise::number(&report.recipient),
                        status: common::receipt_status(report.status),
                        code: report.code.clone(),
                        description: report.description.clone(),
                        reported_at: report.reported_at.map(|t| t.unix_seconds() * 1000),
                        received_at: now,
                        message_id: None,
                        disposition: ReceiptDisposition::Unmatched,
                    };
                    out.push(file_receipt(&mut tx, &record, now, common::millis_of(self.options.receipt_expiry), None).await?);
                }
                tx.commit().await.map_err(db("committing receipts"))?;
                Ok(out)
            }

            async fn record_inbound(&self, reply: &InboundMessage) -> Result<InboundRecord> {
                let now = self.options.now();
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                // The send this replies to: the latest to the number through the provider within the
                // receipt window (replies carry no message id).
                let linked = match reply.sender_number() {
                    Some(number) => {
                        let window = common::millis_of(self.options.receipt_expiry);
                        latest_send(&mut tx, &reply.provider, &number.e164(), now, window).await?
                    }
                    None => None,
                };
                let row = sqlx::query(
                    "INSERT INTO inbound (provider, sender, service_number, text, opt_out, received_at, stored_at, \
                     message_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
                )
                .bind(&reply.provider)
                .bind(&reply.sender)
                .bind(&reply.service_number)
                .bind(&reply.text)
                .bind(i64::from(reply.opt_out))
                .bind(reply.received_at.map(|t| t.unix_seconds() * 1000))
                .bind(now)
                .bind(linked)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("storing a reply"))?;
                if let (true, Some(number)) = (reply.opt_out, reply.sender_number()) {
                    sqlx::query(
                        "INSERT INTO suppressions (number, reason, source, created_at) VALUES ($1, 'opt_out', $2, $3) \
                         ON CONFLICT (number) DO NOTHING",
                    )
                    .bind(number.e164())
                    .bind(&reply.provider)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("suppressing an opted-out number"))?;
                }
                let record = inbound_from(&row)?;
                tx.commit().await.map_err(db("committing a reply"))?;
                Ok(record)
            }

            async fn inbound_since(&self, after: i64, limit: u32) -> Result<Vec<InboundRecord>> {
                sqlx::query("SELECT * FROM inbound WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await
                    .map_err(db("reading replies"))?
                    .iter()
                    .map(inbound_from)
                    .collect()
            }

            async fn suppress(&self, number: &PhoneNumber, reason: &str, source: &str) -> Result<bool> {
                let now = self.options.now();
                let done = sqlx::query(
                    "INSERT INTO suppressions (number, reason, source, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (number) DO NOTHING",
                )
                .bind(number.e164())
                .bind(reason)
                .bind(source)
                .bind(now)
                .execute(&self.writer)
                .await
                .map_err(db("adding a suppression"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool> {
                let done = sqlx::query("DELETE FROM suppressions WHERE number = $1")
                    .bind(number.e164())
                    .execute(&self.writer)
                    .await
                    .map_err(db("removing a suppression"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>> {
                let wanted: Vec<String> = numbers.iter().map(PhoneNumber::e164).collect();
                let mut found = std::collections::HashSet::new();
                for chunk in wanted.chunks(CHUNK) {
                    let mut query = QueryBuilder::<$db>::new("SELECT number FROM suppressions WHERE number IN (");
                    let mut list = query.separated(", ");
                    for n in chunk {
                        list.push_bind(n.clone());
                    }
                    query.push(")");
                    for row in query
                        .build()
                        .fetch_all(&self.reader)
                        .await
                        .map_err(db("looking up suppressions"))?
                    {
                        found.insert(row.try_get::<String, _>("number").map_err(db("looking up suppressions"))?);
                    }
                }
                Ok(wanted.iter().map(|n| found.contains(n)).collect())
            }

            async fn suppressions(&self, after: Option<&str>, limit: u32) -> Result<Vec<Suppression>> {
                let rows = sqlx::query("SELECT * FROM suppressions WHERE number > $1 ORDER BY number LIMIT $2")
                    .bind(after.unwrap_or(""))
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await
                    .map_err(db("listing suppressions"))?;
                rows.iter()
                    .map(|row| {
                        let get = |e| StoreError::from_sqlx("listing suppressions", e);
                        Ok(Suppression {
                            number: row.try_get("number").map_err(get)?,
                            reason: row.try_get("reason").map_err(get)?,
                            source: row.try_get("source").map_err(get)?,
                            created_at: row.try_get("created_at").map_err(get)?,
                        })
                    })
                    .collect()
            }

            async fn reserve(&self, reference: &str, fingerprint: &str, retention: Duration) -> Result<Reservation> {
                let now = self.options.now();
                // Insert, or take over a row whose retention has passed; a live row is left alone.
                let inserted = sqlx::query(
                    "INSERT INTO idempotency (reference, fingerprint, created_at, expires_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (reference) DO UPDATE SET fingerprint = excluded.fingerprint, outcome = NULL, \
                     created_at = excluded.created_at, completed_at = NULL, expires_at = excluded.expires_at \
                     WHERE idempotency.expires_at <= $3",
                )
                .bind(reference)
                .bind(fingerprint)
                .bind(now)
                .bind(now.saturating_add(millis(retention)))
                .execute(&self.writer)
                .await
                .map_err(db("reserving a client reference"))?;
                if inserted.rows_affected() == 1 {
                    return Ok(Reservation::Reserved);
                }
                // Read on the writer: a reader could be a snapshot older than the conflict just met.
                let row = sqlx::query("SELECT fingerprint, outcome FROM idempotency WHERE reference = $1")
                    .bind(reference)
                    .fetch_one(&self.writer)
                    .await
                    .map_err(db("reading a reservation"))?;
                let fingerprint: String = row.try_get("fingerprint").map_err(db("reading a reservation"))?;
                let outcome: Option<String> = row.try_get("outcome").map_err(db("reading a reservation"))?;
                Ok(match outcome {
                    None => Reservation::Pending { fingerprint },
                    Some(outcome) => Reservation::Completed { fingerprint, outcome },
                })
            }

            async fn complete(&self, reference: &str, outcome: &str, retention: Duration) -> Result<bool> {
                let now = self.options.now();
                let done = sqlx::query(
                    "UPDATE idempotency SET outcome = $1, completed_at = $2, expires_at = $3 \
                     WHERE reference = $4 AND outcome IS NULL",
                )
                .bind(outcome)
                .bind(now)
                .bind(now.saturating_add(millis(retention)))
                .bind(reference)
                .execute(&self.writer)
                .await
                .map_err(db("completing a reservation"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_reservation(&self, reference: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM idempotency WHERE reference = $1 AND outcome IS NULL")
                    .bind(reference)
                    .execute(&self.writer)
                    .await
                    .map_err(db("releasing a reservation"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn enqueue(&self, messages: &[NewMessage], available_at: Option<Millis>) -> Result<()> {
                let now = self.options.now();
                let mut payloads = Vec::with_capacity(messages.len());
                for m in messages {
                    let payload = Payload::of(&m.message).ok_or_else(|| {
                        StoreError::new(StoreErrorKind::InvalidData, "this message kind cannot be queued")
                    })?;
                    let json = serde_json::to_string(&payload)
                        .map_err(|e| StoreError::new(StoreErrorKind::InvalidData, e.to_string()))?;
                    payloads.push((m.id.clone(), json));
                }
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                write_records(&mut tx, messages, Status::Queued, &[], &self.options, now).await?;
                for (chunk, _) in common::shaped(&payloads) {
                    let mut insert = QueryBuilder::<$db>::new("INSERT INTO outbox (message_id, payload, available_at) ");
                    insert.push_values(chunk, |mut b, (id, json)| {
                        b.push_bind(id.clone()).push_bind(json.clone()).push_bind(available_at.unwrap_or(now));
                    });
                    insert.build().execute(&mut *tx).await.map_err(db("queueing messages"))?;
                }
                tx.commit().await.map_err(db("committing the queue"))
            }

            async fn claim(&self, worker: &str, limit: u32, lease: Duration) -> Result<Vec<Claim>> {
                let now = self.options.now();
                let until = now + millis(lease);
                let sql = format!(
                    "UPDATE outbox SET lease_owner = $1, lease_until = $2, claims = claims + 1 \
                     WHERE message_id IN (SELECT message_id FROM outbox WHERE lease_owner IS NULL \
                     AND available_at <= $3 ORDER BY available_at LIMIT $4 {}) RETURNING message_id, payload",
                    $claim_lock
                );
                let rows = sqlx::query(&sql)
                    .bind(worker)
                    .bind(until)
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&self.writer)
                    .await
                    .map_err(db("claiming from the outbox"))?;
                let mut claims = Vec::with_capacity(rows.len());
                for row in rows {
                    let message_id: String = row.try_get("message_id").map_err(db("claiming"))?;
                    let payload: String = row.try_get("payload").map_err(db("claiming"))?;
                    let message = serde_json::from_str::<Payload>(&payload)
                        .map_err(|e| e.to_string())
                        .and_then(Payload::into_message)
                        .map_err(|e| {
                            StoreError::new(StoreErrorKind::InvalidData, format!("outbox message {message_id}: {e}"))
                        })?;
                    claims.push(Claim {
                        message_id,
                        message,
                        worker: worker.to_owned(),
                        lease_until: until,
                    });
                }
                Ok(claims)
            }

            async fn start(&self, claims: &[Claim]) -> Result<Vec<bool>> {
                let now = self.options.now();
                let mut held = std::collections::HashSet::new();
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                for (chunk, _) in common::shaped(claims) {
                    let mut update = QueryBuilder::<$db>::new("UPDATE outbox SET started_at = ");
                    update.push_bind(now);
                    update.push(" WHERE started_at IS NULL AND lease_until > ");
                    update.push_bind(now);
                    update.push(" AND (message_id, lease_owner) IN (");
                    let mut list = update.separated(", ");
                    for claim in chunk {
                        list.push("(");
                        list.push_bind_unseparated(claim.message_id.clone());
                        list.push_unseparated(", ");
                        list.push_bind_unseparated(claim.worker.clone());
                        list.push_unseparated(")");
                    }
                    update.push(") RETURNING message_id");
                    for row in update
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db("starting claimed messages"))?
                    {
                        held.insert(row.try_get::<String, _>("message_id").map_err(db("starting"))?);
                    }
                }
                let started: Vec<&String> = held.iter().collect();
                for (chunk, _) in common::shaped(&started) {
                    let mut update = QueryBuilder::<$db>::new("UPDATE recipients SET status = 'sending', sending_at = ");
                    update.push_bind(now);
                    update.push(" WHERE status = 'queued' AND message_id IN (");
                    let mut list = update.separated(", ");
                    for id in chunk {
                        list.push_bind((*id).clone());
                    }
                    update.push(")");
                    update.build().execute(&mut *tx).await.map_err(db("starting claimed messages"))?;
                }
                tx.commit().await.map_err(db("committing a start"))?;
                Ok(claims.iter().map(|c| held.contains(&c.message_id)).collect())
            }

            async fn finish(&self, claims: &[Claim], outcomes: &[OutcomeUpdate]) -> Result<()> {
                let now = self.options.now();
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                write_records(&mut tx, &[], Status::Sending, outcomes, &self.options, now).await?;
                for (chunk, _) in common::shaped(claims) {
                    let mut delete = QueryBuilder::<$db>::new("DELETE FROM outbox WHERE (message_id, lease_owner) IN (");
                    let mut list = delete.separated(", ");
                    for claim in chunk {
                        list.push("(");
                        list.push_bind_unseparated(claim.message_id.clone());
                        list.push_unseparated(", ");
                        list.push_bind_unseparated(claim.worker.clone());
                        list.push_unseparated(")");
                    }
                    delete.push(")");
                    delete.build().execute(&mut *tx).await.map_err(db("finishing claimed messages"))?;
                }
                tx.commit().await.map_err(db("committing a finish"))
            }

            async fn release(&self, claims: &[Claim]) -> Result<()> {
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                for claim in claims {
                    sqlx::query(
                        "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE message_id = $1 \
                         AND lease_owner = $2 AND started_at IS NULL",
                    )
                    .bind(&claim.message_id)
                    .bind(&claim.worker)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("releasing a claim"))?;
                }
                tx.commit().await.map_err(db("committing releases"))
            }

            async fn outbox_depth(&self) -> Result<u64> {
                let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM outbox")
                    .fetch_one(&self.reader)
                    .await
                    .and_then(|row| row.try_get("n"))
                    .map_err(db("counting the outbox"))?;
                Ok(n as u64)
            }

            async fn sweep(&self) -> Result<SweepReport> {
                let now = self.options.now();
                let grace_cutoff = now - millis(self.options.sending_grace);
                let expiry_cutoff = now - millis(self.options.receipt_expiry);
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                let mut report = SweepReport::default();
                report.released = sqlx::query(
                    "UPDATE outbox SET lease_owner = NULL, lease_until = NULL \
                     WHERE lease_until < $1 AND started_at IS NULL",
                )
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("releasing expired leases"))?
                .rows_affected();
                // A request may have gone out under an expired lease: never send it again.
                report.unknown = sqlx::query(
                    "UPDATE recipients SET status = 'unknown', outcome_at = $1, error_kind = 'ambiguous outcome', \
                     error_message = 'the worker lost its lease after the request started' \
                     WHERE status = 'sending' AND message_id IN \
                     (SELECT message_id FROM outbox WHERE lease_until < $1 AND started_at IS NOT NULL)",
                )
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("sweeping started claims"))?
                .rows_affected();
                sqlx::query("DELETE FROM outbox WHERE lease_until < $1 AND started_at IS NOT NULL")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("sweeping started claims"))?;
                report.unknown += sqlx::query(
                    "UPDATE recipients SET status = 'unknown', outcome_at = $1, error_kind = 'ambiguous outcome', \
                     error_message = 'the sending process stopped before recording an outcome' \
                     WHERE status = 'sending' AND sending_at < $2 \
                     AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.message_id = recipients.message_id)",
                )
                .bind(now)
                .bind(grace_cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db("sweeping interrupted sends"))?
                .rows_affected();
                report.expired = sqlx::query(
                    "UPDATE recipients SET status = 'expired', final_at = $1 \
                     WHERE status = 'accepted' AND outcome_at < $2",
                )
                .bind(now)
                .bind(expiry_cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db("expiring receipts"))?
                .rows_affected();
                tx.commit().await.map_err(db("committing a sweep"))?;
                Ok(report)
            }

            async fn message(&self, id: &str) -> Result<Option<StoredMessage>> {
                let mut conn = self.reader.acquire().await.map_err(db("reading a message"))?;
                load_message(&mut conn, "id", id).await
            }

            async fn message_by_reference(&self, reference: &str) -> Result<Option<StoredMessage>> {
                let mut conn = self.reader.acquire().await.map_err(db("reading a message"))?;
                load_message(&mut conn, "reference", reference).await
            }

            async fn history(
                &self,
                number: &PhoneNumber,
                from: Millis,
                to: Millis,
                limit: u32,
            ) -> Result<Vec<RecipientRecord>> {
                sqlx::query(
                    "SELECT * FROM recipients WHERE number = $1 AND created_at >= $2 AND created_at < $3 \
                     ORDER BY created_at DESC, message_id LIMIT $4",
                )
                .bind(number.e164())
                .bind(from)
                .bind(to)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
                .map_err(db("reading history"))?
                .iter()
                .map(recipient_from)
                .collect()
            }

            async fn by_provider_id(&self, provider: &str, provider_message_id: &str) -> Result<Vec<RecipientRecord>> {
                sqlx::query(
                    "SELECT * FROM recipients WHERE provider = $1 AND provider_message_id = $2 ORDER BY number",
                )
                .bind(provider)
                .bind(normalise::provider_message_id(provider, provider_message_id))
                .fetch_all(&self.reader)
                .await
                .map_err(db("looking up a provider id"))?
                .iter()
                .map(recipient_from)
                .collect()
            }

            async fn receipts_for(&self, message_id: &str) -> Result<Vec<ReceiptRecord>> {
                sqlx::query("SELECT * FROM receipts WHERE message_id = $1 ORDER BY id")
                    .bind(message_id)
                    .fetch_all(&self.reader)
                    .await
                    .map_err(db("reading receipts"))?
                    .iter()
                    .map(receipt_from)
                    .collect()
            }

            async fn unmatched_receipts(&self, limit: u32) -> Result<Vec<ReceiptRecord>> {
                sqlx::query("SELECT * FROM receipts WHERE disposition = 'unmatched' ORDER BY id LIMIT $1")
                    .bind(i64::from(limit))
                    .fetch_all(&self.reader)
                    .await
                    .map_err(db("reading receipts"))?
                    .iter()
                    .map(receipt_from)
                    .collect()
            }

            async fn status_counts(&self, batch_id: &str) -> Result<StatusCounts> {
                let rows = sqlx::query(
                    "SELECT recipients.status AS status, COUNT(*) AS n FROM recipients \
                     JOIN messages ON messages.id = recipients.message_id WHERE messages.batch_id = $1 \
                     GROUP BY recipients.status",
                )
                .bind(batch_id)
                .fetch_all(&self.reader)
                .await
                .map_err(db("counting a bulk"))?;
                let mut counts = StatusCounts::new();
                for row in rows {
                    let status: String = row.try_get("status").map_err(db("counting a bulk"))?;
                    let n: i64 = row.try_get("n").map_err(db("counting a bulk"))?;
                    counts.insert(text_status(&status)?, n as u64);
                }
                Ok(counts)
            }

            async fn sent_within(&self, window: Duration) -> Result<Vec<sms_failover::adaptive::SentMessage>> {
                use sms_failover::adaptive::{ReceiptState, SentMessage};
                let now = self.options.now();
                let rows = sqlx::query(
                    "SELECT provider, status, outcome_at, final_at FROM recipients \
                     WHERE status IN ('accepted', 'delivered', 'undelivered', 'expired') \
                     AND outcome_at >= $1 AND provider IS NOT NULL",
                )
                .bind(now - millis(window))
                .fetch_all(&self.reader)
                .await
                .map_err(db("reading delivery evidence"))?;
                let since = |from: Millis, to: Millis| Duration::from_millis(u64::try_from(to - from).unwrap_or(0));
                rows.into_iter()
                    .map(|row| {
                        let get = db("reading delivery evidence");
                        let provider: String = row.try_get("provider").map_err(get)?;
                        let status: String = row.try_get("status").map_err(db("reading delivery evidence"))?;
                        let accepted: Millis = row.try_get("outcome_at").map_err(db("reading delivery evidence"))?;
                        let final_at: Option<Millis> =
                            row.try_get("final_at").map_err(db("reading delivery evidence"))?;
                        let receipt = match (text_status(&status)?, final_at) {
                            (Status::Delivered, Some(at)) => ReceiptState::Delivered(since(accepted, at)),
                            (Status::Undelivered, _) => ReceiptState::Failed,
                            _ => ReceiptState::Pending,
                        };
                        Ok(SentMessage::new(provider, since(accepted, now), receipt))
                    })
                    .collect()
            }

            async fn billed_parts(&self, batch_id: &str) -> Result<Vec<(String, u64)>> {
                let rows = sqlx::query(
                    "SELECT recipients.provider AS provider, CAST(SUM(recipients.billed_parts) AS BIGINT) AS parts FROM recipients \
                     JOIN messages ON messages.id = recipients.message_id WHERE messages.batch_id = $1 \
                     AND recipients.provider IS NOT NULL AND recipients.billed_parts IS NOT NULL \
                     GROUP BY recipients.provider ORDER BY recipients.provider",
                )
                .bind(batch_id)
                .fetch_all(&self.reader)
                .await
                .map_err(db("summing a bulk's parts"))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let provider: String = row.try_get("provider").map_err(db("summing a bulk's parts"))?;
                    let parts: i64 = row.try_get("parts").map_err(db("summing a bulk's parts"))?;
                    out.push((provider, parts.max(0) as u64));
                }
                Ok(out)
            }

            async fn purge(&self, age: Duration) -> Result<u64> {
                let cutoff = self.options.now() - millis(age);
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                sqlx::query(
                    "DELETE FROM receipts WHERE received_at < $1 OR message_id IN \
                     (SELECT id FROM messages WHERE created_at < $1 \
                     AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.message_id = messages.id))",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db("purging receipts"))?;
                let messages = sqlx::query(
                    "DELETE FROM messages WHERE created_at < $1 \
                     AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.message_id = messages.id)",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db("purging messages"))?
                .rows_affected();
                sqlx::query("DELETE FROM inbound WHERE stored_at < $1")
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("purging replies"))?;
                sqlx::query("DELETE FROM idempotency WHERE expires_at <= $1")
                    .bind(self.options.now())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("purging idempotency records"))?;
                // The newest weight change is the routing every instance follows: kept at any age.
                sqlx::query(
                    "DELETE FROM weight_changes WHERE recorded_at < $1 \
                     AND seq < (SELECT MAX(seq) FROM weight_changes)",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db("purging weight changes"))?;
                tx.commit().await.map_err(db("committing a purge"))?;
                Ok(messages)
            }

            async fn redact(&self, age: Duration) -> Result<u64> {
                let cutoff = self.options.now() - millis(age);
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                let mut n = 0;
                for sql in [
                    "UPDATE messages SET content = NULL WHERE created_at < $1 AND content IS NOT NULL",
                    "UPDATE inbound SET text = NULL WHERE stored_at < $1 AND text IS NOT NULL",
                ] {
                    n += sqlx::query(sql)
                        .bind(cutoff)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("redacting"))?
                        .rows_affected();
                }
                tx.commit().await.map_err(db("committing a redaction"))?;
                Ok(n)
            }

            async fn enable_events(&self) -> Result<()> {
                sqlx::query(
                    "INSERT INTO event_settings (id, enabled) VALUES (1, 1) \
                     ON CONFLICT (id) DO UPDATE SET enabled = 1",
                )
                .execute(&self.writer)
                .await
                .map_err(db("enabling events"))?;
                Ok(())
            }

            async fn claim_events(&self, worker: &str, limit: u32, lease: Duration) -> Result<Vec<Event>> {
                let now = self.options.now();
                let until = now + millis(lease);
                let sql = format!(
                    "UPDATE events SET lease_owner = $1, lease_until = $2 WHERE seq IN (\
                     SELECT e.seq FROM events e WHERE e.state = 'pending' AND e.next_attempt_at <= $3 \
                     AND (e.lease_until IS NULL OR e.lease_until <= $3) \
                     AND (e.message_id IS NULL OR NOT EXISTS (SELECT 1 FROM events p WHERE p.state = 'pending' \
                     AND p.message_id = e.message_id AND p.seq < e.seq)) \
                     ORDER BY e.seq LIMIT $4 {})",
                    $claim_lock
                );
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                sqlx::query(&sql)
                    .bind(worker)
                    .bind(until)
                    .bind(now)
                    .bind(i64::from(limit))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("claiming events"))?;
                let rows = sqlx::query(
                    "SELECT e.seq, e.kind, e.message_id, e.number, e.status, e.provider, e.provider_message_id, \
                     e.billed_parts, e.error_kind, e.error_code, e.error_message, e.receipt_code, e.inbound_id, \
                     e.occurred_at, e.attempts, e.data, m.reference, i.service_number, i.text, i.opt_out \
                     FROM events e LEFT JOIN messages m ON m.id = e.message_id \
                     LEFT JOIN inbound i ON i.id = e.inbound_id \
                     WHERE e.lease_owner = $1 AND e.lease_until = $2 AND e.state = 'pending' ORDER BY e.seq",
                )
                .bind(worker)
                .bind(until)
                .fetch_all(&mut *tx)
                .await
                .map_err(db("reading claimed events"))?;
                tx.commit().await.map_err(db("committing an event claim"))?;
                rows.iter().map(|row| event_from(row, worker)).collect()
            }

            async fn settle_event(&self, event: &Event, outcome: &EventOutcome) -> Result<bool> {
                let now = self.options.now();
                let (state, next, status, error): (&str, Option<Millis>, Option<u16>, Option<&str>) = match outcome {
                    EventOutcome::Delivered { status } => ("delivered", None, Some(*status), None),
                    EventOutcome::Retry { at, status, error } => ("pending", Some(*at), *status, Some(error)),
                    EventOutcome::GaveUp { status, error } => ("failed", None, *status, Some(error)),
                };
                let done = sqlx::query(
                    "UPDATE events SET state = $1, attempts = attempts + 1, \
                     next_attempt_at = COALESCE($2, next_attempt_at), last_status = $3, last_error = $4, \
                     settled_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $5 END, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE seq = $6 AND lease_owner = $7 AND state = 'pending'",
                )
                .bind(state)
                .bind(next)
                .bind(status.map(i64::from))
                .bind(error)
                .bind(now)
                .bind(event.seq)
                .bind(&event.worker)
                .execute(&self.writer)
                .await
                .map_err(db("settling an event"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn acquire_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
                let now = self.options.now();
                let done = sqlx::query(lease_sql())
                    .bind(name)
                    .bind(holder)
                    .bind(now + millis(ttl))
                    .bind(now)
                    .execute(&self.writer)
                    .await
                    .map_err(db("taking a lease"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                    .bind(name)
                    .bind(holder)
                    .execute(&self.writer)
                    .await
                    .map_err(db("releasing a lease"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn record_weight_change(&self, reason: &str, body: &str) -> Result<i64> {
                let now = self.options.now();
                sqlx::query(
                    "INSERT INTO weight_changes (recorded_at, reason, body) VALUES ($1, $2, $3) RETURNING seq",
                )
                .bind(now)
                .bind(reason)
                .bind(body)
                .fetch_one(&self.writer)
                .await
                .and_then(|row| row.try_get::<i64, _>("seq"))
                .map_err(db("storing a weight change"))
            }

            async fn weight_changes(&self, limit: u32) -> Result<Vec<crate::StoredWeightChange>> {
                let rows = sqlx::query(
                    "SELECT seq, recorded_at, reason, body FROM weight_changes ORDER BY seq DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await
                .map_err(db("reading weight changes"))?;
                rows.iter()
                    .map(|row| {
                        Ok(crate::StoredWeightChange {
                            seq: row.try_get("seq")?,
                            recorded_at: row.try_get("recorded_at")?,
                            reason: row.try_get("reason")?,
                            body: row.try_get("body")?,
                        })
                    })
                    .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                    .map_err(db("reading weight changes"))
            }

            async fn set_weight_overrides(&self, body: &str) -> Result<()> {
                let now = self.options.now();
                sqlx::query(
                    "INSERT INTO weight_overrides (name, body, updated_at) VALUES ('chain', $1, $2) \
                     ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                )
                .bind(body)
                .bind(now)
                .execute(&self.writer)
                .await
                .map(drop)
                .map_err(db("storing routing overrides"))
            }

            async fn weight_overrides(&self) -> Result<Option<String>> {
                sqlx::query("SELECT body FROM weight_overrides WHERE name = 'chain'")
                    .fetch_optional(&self.reader)
                    .await
                    .and_then(|row| row.map(|row| row.try_get::<String, _>("body")).transpose())
                    .map_err(db("reading routing overrides"))
            }

            async fn pending_events(&self) -> Result<u64> {
                let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE state = 'pending'")
                    .fetch_one(&self.reader)
                    .await
                    .and_then(|row| row.try_get("n"))
                    .map_err(db("counting events"))?;
                Ok(n as u64)
            }

            async fn record_balance(&self, reading: &crate::BalanceReading) -> Result<crate::BalanceChange> {
                let now = self.options.now();
                let low = i64::from(reading.is_low());
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                // The row is written (and locked) first: a second reader of the same provider waits
                // here and then sees the flag this one leaves.
                sqlx::query(
                    "INSERT INTO provider_balances (provider, amount, unit, threshold, low, checked_at) \
                     VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (provider) DO UPDATE SET amount = excluded.amount, \
                     unit = excluded.unit, threshold = excluded.threshold, checked_at = excluded.checked_at",
                )
                .bind(&reading.provider)
                .bind(reading.amount)
                .bind(&reading.unit)
                .bind(reading.threshold)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("storing a balance"))?;
                let flipped = sqlx::query(
                    "UPDATE provider_balances SET low = $2, changed_at = $3 WHERE provider = $1 AND low <> $2",
                )
                .bind(&reading.provider)
                .bind(low)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("storing a balance"))?
                .rows_affected()
                    == 1;
                let change = match (flipped, reading.threshold) {
                    (false, _) => crate::BalanceChange::Unchanged,
                    (true, Some(threshold)) if low == 1 => {
                        let data = serde_json::json!({
                            "amount": reading.amount,
                            "threshold": threshold,
                            "unit": reading.unit,
                        });
                        insert_notice(&mut tx, "balance.low", Some(&reading.provider), &data, None, now).await?;
                        crate::BalanceChange::WentLow
                    }
                    (true, _) => crate::BalanceChange::Recovered,
                };
                tx.commit().await.map_err(db("committing a balance"))?;
                Ok(change)
            }

            async fn balances(&self) -> Result<Vec<crate::StoredBalance>> {
                let rows = sqlx::query(
                    "SELECT provider, amount, unit, threshold, low, checked_at FROM provider_balances ORDER BY provider",
                )
                .fetch_all(&self.reader)
                .await
                .map_err(db("reading balances"))?;
                rows.iter()
                    .map(|row| {
                        Ok(crate::StoredBalance {
                            provider: row.try_get("provider")?,
                            amount: row.try_get("amount")?,
                            unit: row.try_get("unit")?,
                            threshold: row.try_get("threshold")?,
                            low: row.try_get::<i64, _>("low")? != 0,
                            checked_at: row.try_get("checked_at")?,
                        })
                    })
                    .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
                    .map_err(db("reading balances"))
            }

            async fn record_spend_warning(&self, notice: &crate::SpendNotice) -> Result<bool> {
                let now = self.options.now();
                let data = serde_json::json!({
                    "cap": notice.cap,
                    "period_kind": notice.period_kind,
                    "period": notice.period,
                    "unit": notice.unit,
                    "used": notice.used,
                    "limit": notice.limit,
                });
                let mut tx = self.writer.begin().await.map_err(db("starting a transaction"))?;
                let recorded =
                    insert_notice(&mut tx, "spend.warning", None, &data, Some(&notice.dedupe_key()), now).await?;
                tx.commit().await.map_err(db("committing a spend warning"))?;
                Ok(recorded)
            }
        }

        /// Records an event about no message when events are enabled; with `dedupe_key`, at most once
        /// for that key. True when a row was written.
        async fn insert_notice(
            tx: &mut sqlx::Transaction<'_, $db>,
            kind: &str,
            provider: Option<&str>,
            data: &serde_json::Value,
            dedupe_key: Option<&str>,
            now: Millis,
        ) -> Result<bool> {
            let done = sqlx::query(
                "INSERT INTO events (kind, provider, data, dedupe_key, occurred_at, next_attempt_at) \
                 SELECT $1, $2, $3, $4, $5, $5 WHERE EXISTS (SELECT 1 FROM event_settings WHERE enabled = 1) \
                 ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING",
            )
            .bind(kind)
            .bind(provider)
            .bind(data.to_string())
            .bind(dedupe_key)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db("recording an event"))?;
            Ok(done.rows_affected() == 1)
        }

        /// The `data` column of an event about no message.
        fn notice_data(row: &DbRow) -> Result<serde_json::Value> {
            let text: Option<String> = row
                .try_get("data")
                .map_err(|e| StoreError::from_sqlx("reading an event", e))?;
            serde_json::from_str(text.as_deref().unwrap_or("{}"))
                .map_err(|e| StoreError::new(StoreErrorKind::InvalidData, format!("an event's data: {e}")))
        }

        fn lease_sql() -> &'static str {
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4"
        }

        fn event_from(row: &DbRow, worker: &str) -> Result<Event> {
            let get = |e| StoreError::from_sqlx("reading an event", e);
            let kind: String = row.try_get("kind").map_err(get)?;
            let body = match kind.as_str() {
                "status" => {
                    let status: String = row.try_get("status").map_err(get)?;
                    EventBody::Status {
                        message_id: row.try_get("message_id").map_err(get)?,
                        reference: row.try_get("reference").map_err(get)?,
                        number: row.try_get("number").map_err(get)?,
                        status: text_status(&status)?,
                        provider_message_id: row.try_get("provider_message_id").map_err(get)?,
                        billed_parts: row.try_get("billed_parts").map_err(get)?,
                        error_kind: row.try_get("error_kind").map_err(get)?,
                        error_code: row.try_get("error_code").map_err(get)?,
                        error_message: row.try_get("error_message").map_err(get)?,
                        receipt_code: row.try_get("receipt_code").map_err(get)?,
                    }
                }
                "reply" => EventBody::Reply {
                    inbound_id: row.try_get("inbound_id").map_err(get)?,
                    sender: row.try_get("number").map_err(get)?,
                    service_number: row.try_get("service_number").map_err(get)?,
                    text: row.try_get("text").map_err(get)?,
                    opt_out: row.try_get::<Option<i64>, _>("opt_out").map_err(get)?.unwrap_or(0) != 0,
                },
                "balance.low" => {
                    let data = notice_data(row)?;
                    EventBody::BalanceLow {
                        amount: data["amount"].as_i64().unwrap_or_default(),
                        threshold: data["threshold"].as_i64().unwrap_or_default(),
                        unit: data["unit"].as_str().unwrap_or_default().to_owned(),
                    }
                }
                "spend.warning" => {
                    let data = notice_data(row)?;
                    let text = |key: &str| data[key].as_str().unwrap_or_default().to_owned();
                    EventBody::SpendWarning(crate::SpendNotice::new(
                        text("cap"),
                        text("period_kind"),
                        text("period"),
                        text("unit"),
                        data["used"].as_u64().unwrap_or_default(),
                        data["limit"].as_u64().unwrap_or_default(),
                    ))
                }
                other => {
                    return Err(StoreError::new(
                        StoreErrorKind::InvalidData,
                        format!("unknown event kind `{other}`"),
                    ));
                }
            };
            Ok(Event {
                seq: row.try_get("seq").map_err(get)?,
                provider: row.try_get("provider").map_err(get)?,
                occurred_at: row.try_get("occurred_at").map_err(get)?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts").map_err(get)?).unwrap_or(u32::MAX),
                worker: worker.to_owned(),
                body,
            })
        }
    };
}

pub(crate) use impl_message_store;

#[cfg(test)]
mod tests {
    #[test]
    fn batches_are_cut_into_few_cached_shapes() {
        let items: Vec<u32> = (0..600).collect();
        let cut: Vec<(usize, usize)> = super::shaped(&items).iter().map(|(c, s)| (c.len(), *s)).collect();
        assert_eq!(cut, [(256, 256), (256, 256), (88, 256)]);
        let few: Vec<(usize, usize)> = super::shaped(&items[..30])
            .iter()
            .map(|(c, s)| (c.len(), *s))
            .collect();
        assert_eq!(few, [(30, 64)]);
        assert_eq!(super::padded(&items[..3], 4).filter(Option::is_none).count(), 1);
        assert!(super::shaped::<u32>(&[]).is_empty());
    }
}
