//! The whole store as portable records and back (`drbook store export` /
//! `import`; the format is drbook-core's `store::export`).
//!
//! An export reads every table in one `REPEATABLE READ` transaction: one
//! snapshot, whatever other hosts commit meanwhile, and the check for live
//! leases is made on it, on the database's clock. An import is one
//! transaction under an advisory lock of its own (two imports at once into
//! one empty database would both find it empty), and wakes the workers as it
//! commits: the jobs it brings may be runnable.

use sqlx::{PgConnection, Row};
use std::collections::HashMap;

use crate::db::{backend, decode, encode, PostgresStore};
use crate::jobs::{job_record, state, COLUMNS};
use crate::schema::SCHEMA_VERSION;
use drbook_core::job::Approval;
use drbook_core::journal::{Entry, Record};
use drbook_core::store::export::{
    self, AlertRow, Export, ExportedAlert, ExportedJob, ExportedSeen, ExportedWebhook, Item, Source,
};
use drbook_core::store::{plan_key, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// The first key of the advisory lock imports take, apart from drbook's
/// other locks (plans 1, webhooks 2).
const IMPORT_LOCK: i32 = 3;

/// A job's rows of one table, decoded, by job.
type ByJob<T> = HashMap<String, Vec<T>>;

impl PostgresStore {
    pub(crate) async fn export(&self) -> Result<Export> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let sql = format!(
            "SELECT {COLUMNS}, queued, lease_owner IS NOT NULL AND lease_until_ms > drbook_now_ms() AS live
             FROM jobs ORDER BY seq"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let get =
            |row: &sqlx::postgres::PgRow, name: &str| row.try_get::<bool, _>(name).map_err(backend);
        let mut jobs = Vec::with_capacity(rows.len());
        let mut leased = Vec::new();
        for row in &rows {
            let record = job_record(row)?;
            if get(row, "live")? {
                leased.push((
                    record.id.clone(),
                    record.lease_owner.clone().unwrap_or_default(),
                ));
            }
            jobs.push(ExportedJob::new(record, get(row, "queued")?));
        }
        export::leased(leased)?;
        let mut items = modules(&mut tx).await?;
        let mut entries: ByJob<(i64, String)> = by_job(
            &mut tx,
            "SELECT job_id, seq, entry FROM journal ORDER BY job_id, seq",
        )
        .await?;
        let mut streams = by_job(
            &mut tx,
            "SELECT job_id, seq, record FROM streams ORDER BY job_id, seq",
        )
        .await?;
        let mut decisions = by_job(
            &mut tx,
            "SELECT job_id, journal_seq, decision FROM decisions ORDER BY job_id, journal_seq",
        )
        .await?;
        for job in jobs {
            let id = job.id.clone();
            let entries = entries.remove(&id).unwrap_or_default();
            // Numbered from 0 without gaps, as `journal` reads it.
            if let Some((n, _)) = entries
                .iter()
                .enumerate()
                .find(|(n, (seq, _))| *n as i64 != *seq)
            {
                return Err(StoreError::Decode {
                    what: "journal",
                    detail: format!("entry {} of job {id} is missing", n + 1),
                });
            }
            let entries: Vec<Entry> = decoded("journal entry", entries)?
                .into_iter()
                .map(|(_, e)| e)
                .collect();
            let streams: Vec<(i64, Record)> =
                decoded("stream line", streams.remove(&id).unwrap_or_default())?;
            let decisions: Vec<(i64, Approval)> =
                decoded("decision", decisions.remove(&id).unwrap_or_default())?;
            let decisions = decisions
                .into_iter()
                .map(|(seq, a)| (seq as usize, a))
                .collect();
            items.extend(job.with_parts(entries, streams, decisions));
        }
        items.extend(webhooks(&mut tx).await?);
        items.extend(alerts(&mut tx).await?);
        items.extend(seen(&mut tx).await?);
        items.extend(
            crate::tokens::all(&mut *tx)
                .await?
                .into_iter()
                .map(Item::Token),
        );
        for schedule in crate::schedules::list(&mut *tx, None).await? {
            let mut ticks = crate::schedules::ticks(&mut *tx, &schedule.name, usize::MAX).await?;
            ticks.reverse();
            let name = schedule.name.clone();
            items.push(Item::Schedule(Box::new(schedule)));
            items.extend(ticks.into_iter().map(|record| Item::Tick {
                schedule: name.clone(),
                record,
            }));
        }
        tx.commit().await.map_err(backend)?;
        Ok(Export {
            source: Source {
                kind: "postgres".to_string(),
                schema: SCHEMA_VERSION,
                location: self.location.to_string(),
            },
            items,
        })
    }

    pub(crate) async fn import(&self, items: Vec<Item>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
            .bind(IMPORT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        self.check_empty(&mut tx).await?;
        for item in &items {
            insert(&mut tx, item).await?;
        }
        crate::notify::runnable(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn check_empty(&self, conn: &mut PgConnection) -> Result<()> {
        let mut holds = Vec::new();
        for table in export::TABLES {
            let sql = format!("SELECT count(*) FROM {table}");
            let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
            if rows > 0 {
                holds.push(format!("{rows} rows of {table}"));
            }
        }
        if holds.is_empty() {
            return Ok(());
        }
        Err(StoreError::NotEmpty {
            location: self.location.to_string(),
            holds: holds.join(", "),
        })
    }
}

async fn modules(conn: &mut PgConnection) -> Result<Vec<Item>> {
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT digest, bytes FROM modules ORDER BY digest")
            .fetch_all(conn)
            .await
            .map_err(backend)?;
    Ok(rows
        .into_iter()
        .map(|(digest, bytes)| Item::Module { digest, bytes })
        .collect())
}

/// The rows of `sql` (`job_id, seq, text`), by job, in order.
async fn by_job(conn: &mut PgConnection, sql: &'static str) -> Result<ByJob<(i64, String)>> {
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as(sql).fetch_all(conn).await.map_err(backend)?;
    let mut by_job: ByJob<(i64, String)> = HashMap::new();
    for (job, seq, text) in rows {
        by_job.entry(job).or_default().push((seq, text));
    }
    Ok(by_job)
}

fn decoded<T: for<'de> serde::Deserialize<'de>>(
    what: &'static str,
    rows: Vec<(i64, String)>,
) -> Result<Vec<(i64, T)>> {
    rows.into_iter()
        .map(|(seq, text)| Ok((seq, decode(what, &text)?)))
        .collect()
}

async fn webhooks(conn: &mut PgConnection) -> Result<Vec<Item>> {
    let mut modules: ByJob<String> = HashMap::new();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT webhook, digest FROM webhook_modules ORDER BY webhook, digest")
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
    for (webhook, digest) in rows {
        modules.entry(webhook).or_default().push(digest);
    }
    let sql = format!(
        "SELECT {} FROM webhooks ORDER BY name",
        crate::webhooks::COLUMNS
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|row| {
            let webhook = crate::webhooks::webhook(row)?;
            let digests = modules.remove(&webhook.name).unwrap_or_default();
            Ok(Item::Webhook(ExportedWebhook::new(webhook, digests)))
        })
        .collect()
}

/// Every alert, a webhook's in the order they arrived.
async fn alerts(conn: &mut PgConnection) -> Result<Vec<Item>> {
    let rows: Vec<AlertRow> = sqlx::query_as(
        "SELECT webhook, alert_id, condition, decision, job_ids, received_ms, busy FROM alerts
         ORDER BY webhook, received_ms, seq",
    )
    .fetch_all(conn)
    .await
    .map_err(backend)?;
    rows.into_iter()
        .map(|row| Ok(Item::Alert(ExportedAlert::from_row(row)?)))
        .collect()
}

/// The message ids kept for retries. A message SQLite recorded before its
/// schema 4 has no body hash and no answer: it is kept here with an empty
/// hash, which no body has, so that its retry is refused as reused there and
/// here alike.
async fn seen(conn: &mut PgConnection) -> Result<Vec<Item>> {
    let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
        "SELECT webhook, message_id, at_ms, body_sha256, answer FROM webhook_seen
         ORDER BY webhook, message_id",
    )
    .fetch_all(conn)
    .await
    .map_err(backend)?;
    rows.into_iter()
        .map(|(webhook, message_id, at_ms, body_sha256, answer)| {
            let kept = !body_sha256.is_empty();
            Ok(Item::Seen(ExportedSeen {
                webhook,
                message_id,
                at_ms,
                answer: kept
                    .then(|| decode("delivery answer", &answer))
                    .transpose()?,
                body_sha256: kept.then_some(body_sha256),
            }))
        })
        .collect()
}

/// Writes one record, in the import's transaction.
async fn insert(conn: &mut PgConnection, item: &Item) -> Result<()> {
    let query = match item {
        Item::Module { digest, bytes } => sqlx::query("INSERT INTO modules (digest, bytes) VALUES ($1, $2)")
            .bind(digest)
            .bind(bytes),
        Item::Job(job) => sqlx::query(
            "INSERT INTO jobs (id, digest, runbook, spec, trigger, state, reason, wake, stop_requested, result,
             created_ms, started_ms, ended_ms, plan_key, queued, retries)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&job.id)
        .bind(&job.digest)
        .bind(&job.runbook)
        .bind(encode(&job.spec))
        .bind(&job.trigger)
        .bind(state(job.status))
        .bind(&job.reason)
        .bind(job.wake.as_ref().map(encode))
        .bind(&job.stop_requested)
        .bind(job.result.as_ref().map(encode))
        .bind(job.created_ms)
        .bind(job.started_ms)
        .bind(job.ended_ms)
        .bind(plan_key(&job.spec.plan))
        .bind(job.queued)
        .bind((!job.attempts.is_empty()).then(|| encode(&job.attempts))),
        Item::Entry { job, seq, entry } => sqlx::query("INSERT INTO journal (job_id, seq, entry) VALUES ($1, $2, $3)")
            .bind(job)
            .bind(*seq as i64)
            .bind(encode(entry)),
        Item::Stream { job, seq, record } => {
            sqlx::query("INSERT INTO streams (job_id, seq, record) VALUES ($1, $2, $3)")
                .bind(job)
                .bind(*seq)
                .bind(encode(record))
        }
        Item::Decision {
            job,
            journal_seq,
            approval,
        } => sqlx::query("INSERT INTO decisions (job_id, journal_seq, decision) VALUES ($1, $2, $3)")
            .bind(job)
            .bind(*journal_seq as i64)
            .bind(encode(approval)),
        Item::Webhook(w) => {
            for digest in &w.modules {
                sqlx::query("INSERT INTO webhook_modules (webhook, digest) VALUES ($1, $2)")
                    .bind(&w.name)
                    .bind(digest)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
            }
            sqlx::query(
                "INSERT INTO webhooks (name, token_hash, signing_secret, target, enabled, expires_ms, created_ms,
                 created_by, last_used_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&w.name)
            .bind(&w.token_hash)
            .bind(&w.signing_secret)
            .bind(encode(&w.target))
            .bind(w.enabled)
            .bind(w.expires_ms)
            .bind(w.created_ms)
            .bind(&w.created_by)
            .bind(w.last_used_ms)
        }
        // Numbered by the table's identity, in the records' order.
        Item::Alert(a) => sqlx::query(
            "INSERT INTO alerts (webhook, alert_id, condition, decision, job_ids, received_ms, busy)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.webhook)
        .bind(&a.alert_id)
        .bind(&a.condition)
        .bind(&a.decision)
        .bind(encode(&a.job_ids))
        .bind(a.received_ms)
        .bind(a.busy.as_ref().map(encode)),
        Item::Token(t) => crate::tokens::insert(t),
        Item::Schedule(s) => crate::schedules::insert(s),
        Item::Tick { schedule, record } => crate::schedules::insert_tick(schedule, record),
        Item::Seen(s) => sqlx::query(
            "INSERT INTO webhook_seen (webhook, message_id, at_ms, body_sha256, answer)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.webhook)
        .bind(&s.message_id)
        .bind(s.at_ms)
        .bind(s.body_sha256.clone().unwrap_or_default())
        .bind(s.answer.as_ref().map_or_else(|| "null".to_string(), encode)),
    };
    query.execute(conn).await.map_err(backend)?;
    Ok(())
}
