//! The [`JobStore`] port on PostgreSQL. Every call is async all the way
//! down (sqlx), so none holds an async thread while it waits; every change
//! is one short transaction (a claim locks one row, `SKIP LOCKED`), and none
//! is held while a runbook runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::sync::Arc;

use crate::db::{backend, decode, encode, from_millis, PostgresStore};
use crate::jobs::{self, job_record, lock_plans, place, state, store_module, COLUMNS};
use crate::notify;
use crate::run::{self, Run};
use crate::schedules;
use drbook_core::job::{Admission, Approval, JobRecord, JobSpec, JobStatus, NewJob, Wake};
use drbook_core::journal::{Entry, Record};
use drbook_core::lease::Lease;
use drbook_core::retry::Attempt;
use drbook_core::schedule::{Schedule, TickRecord};
use drbook_core::store::export::{Export, Item};
use drbook_core::store::page::{page_sql, Bind, Dialect};
use drbook_core::store::{
    workers_from, Busy, Changed, HeldJob, JobFilter, JobPage, JobStore, LeaseRow, NewTick,
    NewWebhookRow, OnBusy, PageCursor, RunLog, StoreError, WorkerRow,
};
use drbook_core::token::{StoredSession, StoredToken};
use drbook_core::webhook::{AlertRecord, NewDelivery, Recorded, StoredWebhook};

type Result<T> = std::result::Result<T, StoreError>;

/// How a page's query names a job's plan: the expression migration 0007
/// indexes.
const PAGE_DIALECT: Dialect = Dialect {
    placeholder: '$',
    plan: "(spec::jsonb -> 'plan' ->> 'name')",
    position: "strpos",
};

impl PostgresStore {
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(backend)
    }

    /// Job `id`'s journal, checked whole (numbered from 0 without gaps).
    async fn read_journal(&self, id: &str) -> Result<Vec<Entry>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, entry FROM journal WHERE job_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        let mut entries = Vec::with_capacity(rows.len());
        for (n, (seq, text)) in rows.into_iter().enumerate() {
            if seq != n as i64 {
                return Err(StoreError::Decode {
                    what: "journal",
                    detail: format!("entry {} of job {id} is missing", n + 1),
                });
            }
            let entry = serde_json::from_str(&text).map_err(|e| StoreError::Decode {
                what: "journal entry",
                detail: format!("entry {} of job {id}: {e}", seq + 1),
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// Runs each of `statements` with `$1` bound to `value`, in the caller's
/// transaction.
async fn execute_each<'v, T>(
    conn: &mut sqlx::PgConnection,
    statements: &[&'static str],
    value: T,
) -> Result<()>
where
    T: sqlx::Encode<'v, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Copy + Send + 'v,
{
    for sql in statements {
        sqlx::query(*sql)
            .bind(value)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

#[async_trait]
impl JobStore for PostgresStore {
    fn location(&self) -> String {
        self.location.to_string()
    }

    async fn create(&self, job: NewJob<'_>, module: &[u8]) -> Result<()> {
        let mut tx = self.begin().await?;
        store_module(&mut tx, job.digest, module).await?;
        jobs::insert_job(&mut tx, job, None).await?;
        tx.commit().await.map_err(backend)
    }

    async fn admit(&self, job: NewJob<'_>, module: &[u8], on_busy: OnBusy) -> Result<Option<Busy>> {
        let mut tx = self.begin().await?;
        store_module(&mut tx, job.digest, module).await?;
        lock_plans(&mut tx, &[job]).await?;
        let busy = place(&mut tx, job, on_busy).await?;
        tx.commit().await.map_err(backend)?;
        Ok(busy)
    }

    async fn get(&self, id: &str) -> Result<JobRecord> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::NoSuchJob { id: id.to_string() })?;
        job_record(&row)
    }

    async fn list(&self, status: Option<JobStatus>, limit: usize) -> Result<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE $1::text IS NULL OR state = $1 ORDER BY seq DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(status.map(state))
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(job_record).collect()
    }

    async fn page(
        &self,
        filter: &JobFilter,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> Result<JobPage> {
        let (sql, binds) = page_sql(PAGE_DIALECT, filter, after);
        let limit_at = binds.len() + 1;
        let sql = format!("SELECT {COLUMNS} FROM jobs {sql} LIMIT ${limit_at}");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = match bind {
                Bind::Status(status) => query.bind(state(status)),
                Bind::Text(text) => query.bind(text),
                Bind::Int(n) => query.bind(n),
            };
        }
        let rows = query
            .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let jobs = rows.iter().map(job_record).collect::<Result<_>>()?;
        Ok(JobPage::of(jobs, limit))
    }

    async fn count_by_status(&self) -> Result<Vec<(JobStatus, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        rows.into_iter()
            .map(|(status, n)| Ok((decode("job state", &status)?, n as u64)))
            .collect()
    }

    async fn module(&self, job: &JobRecord) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT bytes FROM modules WHERE digest = $1")
            .bind(&job.digest)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::MissingModule {
                job: job.id.clone(),
                digest: job.digest.clone(),
            })
    }

    async fn repin(
        &self,
        id: &str,
        digest: &str,
        module: &[u8],
        admission: &Admission,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let spec: Option<String> =
            sqlx::query_scalar("SELECT spec FROM jobs WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let spec = spec.ok_or_else(|| StoreError::NoSuchJob { id: id.to_string() })?;
        let mut spec: JobSpec = decode("job spec", &spec)?;
        spec.admission = Some(admission.clone());
        store_module(&mut tx, digest, module).await?;
        sqlx::query("UPDATE jobs SET digest = $2, spec = $3 WHERE id = $1")
            .bind(id)
            .bind(digest)
            .bind(encode(&spec))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn runnable(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<String>> {
        sqlx::query_scalar(jobs::RUNNABLE)
            .bind(state(JobStatus::New))
            .bind(state(JobStatus::Running))
            .bind(now.timestamp_millis())
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn waiting(&self) -> Result<Vec<(String, Wake)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, wake FROM jobs WHERE wake IS NOT NULL AND state IN ($1, $2) ORDER BY seq",
        )
        .bind(state(JobStatus::Running))
        .bind(state(JobStatus::Suspended))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, wake)| Ok((id, decode("wake", &wake)?)))
            .collect()
    }

    async fn wake(&self, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE jobs SET state = $2, reason = NULL, wake = NULL,
             started_ms = coalesce(started_ms, drbook_now_ms())
             WHERE id = $1 AND state IN ($3, $2, $4)",
        )
        .bind(id)
        .bind(state(JobStatus::Running))
        .bind(state(JobStatus::New))
        .bind(state(JobStatus::Suspended))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        notify::runnable(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn finish(
        &self,
        id: &str,
        status: JobStatus,
        reason: Option<&str>,
        result: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        jobs::finish(&mut tx, id, status, reason, result).await?;
        tx.commit().await.map_err(backend)
    }

    async fn retry(&self, id: &str, by: &str, cut: usize) -> Result<Attempt> {
        PostgresStore::retry(self, id, by, cut).await
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "DELETE FROM jobs WHERE ended_ms IS NOT NULL AND ended_ms < $1 RETURNING id",
        )
        .bind(before.timestamp_millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let ended = [
            "DELETE FROM journal WHERE job_id = ANY($1)",
            "DELETE FROM streams WHERE job_id = ANY($1)",
            "DELETE FROM decisions WHERE job_id = ANY($1)",
        ];
        execute_each(&mut tx, &ended, &ids).await?;
        sqlx::query(
            "DELETE FROM modules WHERE digest NOT IN (SELECT digest FROM jobs)
             AND digest NOT IN (SELECT digest FROM webhook_modules)
             AND digest NOT IN (SELECT digest FROM schedules)",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(ids.len())
    }

    async fn claim(&self, id: &str, lease: &Lease) -> Result<bool> {
        if !lease.held() {
            return Ok(false);
        }
        let claimed = sqlx::query(jobs::CLAIM)
            .bind(id)
            .bind(lease.owner())
            .bind(lease.until_ms())
            .bind(state(JobStatus::New))
            .bind(state(JobStatus::Running))
            .bind(lease.renewed_ms())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(claimed.rows_affected() == 1)
    }

    /// The deadline is the database's now plus the lease's duration, and the
    /// lapse is judged on the database's clock too, so that workers on hosts
    /// whose clocks differ agree on who holds a job.
    async fn renew(&self, lease: &Lease) -> Result<bool> {
        let duration = lease.duration().as_millis() as i64;
        let until: Option<i64> = sqlx::query_scalar(
            "WITH now AS (SELECT drbook_now_ms() AS ms),
             renewed AS (UPDATE jobs SET lease_until_ms = (SELECT ms FROM now) + $3,
                     lease_renewed_ms = (SELECT ms FROM now)
                 WHERE lease_owner = $1 AND NOT ($2 <> 0 AND $2 <= (SELECT ms FROM now)))
             SELECT ms + $3 FROM now WHERE NOT ($2 <> 0 AND $2 <= ms)",
        )
        .bind(lease.owner())
        .bind(lease.until_ms())
        .bind(duration)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        if let Some(until) = until {
            lease.extended_to(until);
        }
        Ok(until.is_some())
    }

    /// The store's rows and its now are read in one statement: a lease is
    /// lapsed on the database's clock, as claims judge it.
    async fn workers(&self, lapsed_within: std::time::Duration) -> Result<Vec<WorkerRow>> {
        let rows = sqlx::query(
            "SELECT drbook_now_ms() AS now_ms, lease_owner, id, runbook,
             (spec::jsonb) #>> '{plan,name}' AS plan, lease_renewed_ms, lease_until_ms
             FROM jobs WHERE lease_owner IS NOT NULL ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut now_ms = None;
        let leases = rows
            .iter()
            .map(|row| {
                now_ms = Some(row.try_get("now_ms")?);
                Ok(LeaseRow {
                    owner: row.try_get("lease_owner")?,
                    job: HeldJob {
                        id: row.try_get("id")?,
                        runbook: row.try_get("runbook")?,
                        plan: row
                            .try_get::<Option<String>, _>("plan")?
                            .unwrap_or_default(),
                    },
                    renewed_ms: row.try_get("lease_renewed_ms")?,
                    until_ms: row
                        .try_get::<Option<i64>, _>("lease_until_ms")?
                        .unwrap_or_default(),
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
            .map_err(backend)?;
        // No rows, no owners: any now will do.
        let now_ms = now_ms.unwrap_or_else(|| Utc::now().timestamp_millis());
        Ok(workers_from(leases, now_ms, lapsed_within))
    }

    /// A job released before it ended (its worker drained) is runnable for
    /// any worker at once: they are told.
    async fn release(&self, id: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "WITH released AS (UPDATE jobs SET lease_owner = NULL, lease_until_ms = NULL
                 WHERE id = $1 AND lease_owner = $2 RETURNING ended_ms)
             SELECT pg_notify($3, '') FROM released WHERE ended_ms IS NULL",
        )
        .bind(id)
        .bind(owner)
        .bind(notify::CHANNEL)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    /// Nothing of an earlier run is left to make whole: what it committed is
    /// in the tables, what it had only queued died with it.
    async fn open_run(&self, id: &str, lease: &Lease) -> Result<(Arc<dyn RunLog>, Vec<Entry>)> {
        let attempt: Option<i64> =
            sqlx::query_scalar("SELECT attempt FROM jobs WHERE id = $1 AND lease_owner = $2")
                .bind(id)
                .bind(lease.owner())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        let Some(attempt) = attempt else {
            return Err(StoreError::LeaseLost {
                job: id.to_string(),
                owner: lease.owner().to_string(),
            });
        };
        let last: i64 =
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM streams WHERE job_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        let journal = self.read_journal(id).await?;
        let run = Run::start(self.pool.clone(), id, lease, attempt, last + 1);
        Ok((Arc::new(run), journal))
    }

    /// Nothing to tidy: runs write into the tables, not beside them.
    async fn tidy(&self) -> Result<usize> {
        Ok(0)
    }

    /// Nothing to do: PostgreSQL's autovacuum and checkpoints are the
    /// server's.
    async fn maintain(&self) -> Result<()> {
        Ok(())
    }

    fn changed(&self) -> Changed<'_> {
        // Created now: it counts the `notify_waiters` made from here on,
        // polled yet or not.
        Box::pin(self.events.notified())
    }

    async fn export(&self) -> Result<Export> {
        PostgresStore::export(self).await
    }

    async fn import(&self, items: Vec<Item>) -> Result<()> {
        PostgresStore::import(self, items).await
    }

    async fn journal(&self, id: &str) -> Result<Vec<Entry>> {
        self.read_journal(id).await
    }

    async fn streams(&self, id: &str, after: i64) -> Result<Vec<(i64, Record)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, record FROM streams WHERE job_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(id)
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(seq, text)| Ok((seq, decode("stream line", &text)?)))
            .collect()
    }

    async fn decide(&self, id: &str, journal_seq: usize, approval: &Approval) -> Result<()> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO decisions (job_id, journal_seq, decision) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(journal_seq as i64)
        .bind(encode(approval))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.rows_affected() == 0 {
            // The first decision stands (the insert waited for it to commit).
            let earlier: String = sqlx::query_scalar(
                "SELECT decision FROM decisions WHERE job_id = $1 AND journal_seq = $2",
            )
            .bind(id)
            .bind(journal_seq as i64)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
            let earlier: Approval = decode("decision", &earlier)?;
            return Err(StoreError::AlreadyDecided {
                job: id.to_string(),
                approved: earlier.approved,
                by: earlier.by,
                at: earlier.at,
            });
        }
        // Only a job still suspended goes on; a stopped one stays stopped.
        sqlx::query(
            "UPDATE jobs SET state = $2, reason = NULL, wake = NULL WHERE id = $1 AND state = $3",
        )
        .bind(id)
        .bind(state(JobStatus::Running))
        .bind(state(JobStatus::Suspended))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        notify::runnable(&mut tx).await?;
        tx.commit().await.map_err(backend)
    }

    async fn decision(&self, id: &str, journal_seq: usize) -> Result<Option<Approval>> {
        run::decision(&self.pool, id, journal_seq).await
    }

    async fn request_stop(&self, id: &str, by: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET stop_requested = $2 WHERE id = $1")
            .bind(id)
            .bind(by)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn stops_requested(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        sqlx::query_as(
            "SELECT id, stop_requested FROM jobs WHERE stop_requested IS NOT NULL AND id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn create_schedule(&self, schedule: &Schedule, module: &[u8]) -> Result<bool> {
        schedules::create(self, schedule, module).await
    }

    async fn schedule(&self, name: &str) -> Result<Option<Schedule>> {
        schedules::get(self, name).await
    }

    async fn schedules(&self, due_by: Option<DateTime<Utc>>) -> Result<Vec<Schedule>> {
        schedules::list(&self.pool, due_by).await
    }

    async fn next_tick(&self) -> Result<Option<DateTime<Utc>>> {
        schedules::next_tick(self).await
    }

    async fn pause_schedule(&self, name: &str) -> Result<bool> {
        schedules::pause(self, name).await
    }

    async fn resume_schedule(&self, name: &str, next: Option<DateTime<Utc>>) -> Result<bool> {
        schedules::resume(self, name, next).await
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool> {
        schedules::delete(self, name).await
    }

    async fn fire_ticks(&self, ticks: &[NewTick<'_>]) -> Result<Vec<Option<TickRecord>>> {
        schedules::fire(self, ticks).await
    }

    async fn schedule_ticks(&self, name: &str, limit: usize) -> Result<Vec<TickRecord>> {
        schedules::ticks(&self.pool, name, limit).await
    }

    async fn create_webhook(&self, new: NewWebhookRow<'_>) -> Result<bool> {
        crate::webhooks::create(self, new).await
    }

    async fn webhook(&self, name: &str) -> Result<Option<StoredWebhook>> {
        let sql = format!(
            "SELECT {} FROM webhooks WHERE name = $1",
            crate::webhooks::COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(crate::webhooks::webhook).transpose()
    }

    async fn webhooks(&self) -> Result<Vec<StoredWebhook>> {
        let sql = format!(
            "SELECT {} FROM webhooks ORDER BY name",
            crate::webhooks::COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(crate::webhooks::webhook).collect()
    }

    async fn set_webhook_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        let updated = sqlx::query("UPDATE webhooks SET enabled = $2 WHERE name = $1")
            .bind(name)
            .bind(enabled)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn delete_webhook(&self, name: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM webhooks WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let its = [
            "DELETE FROM webhook_modules WHERE webhook = $1",
            "DELETE FROM alerts WHERE webhook = $1",
            "DELETE FROM webhook_seen WHERE webhook = $1",
        ];
        execute_each(&mut tx, &its, name).await?;
        tx.commit().await.map_err(backend)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn record_delivery(&self, delivery: NewDelivery<'_>) -> Result<Recorded> {
        crate::webhooks::record_delivery(self, &delivery).await
    }

    async fn alerts(&self, webhook: &str, limit: usize) -> Result<Vec<AlertRecord>> {
        let rows = sqlx::query(
            "SELECT alert_id, condition, decision, job_ids, received_ms FROM alerts WHERE webhook = $1
             ORDER BY received_ms DESC, seq DESC LIMIT $2",
        )
        .bind(webhook)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| backend(e);
                Ok(AlertRecord {
                    alert_id: row.try_get("alert_id").map_err(get)?,
                    condition: row.try_get("condition").map_err(get)?,
                    decision: row.try_get("decision").map_err(get)?,
                    job_ids: decode(
                        "alert jobs",
                        &row.try_get::<String, _>("job_ids").map_err(get)?,
                    )?,
                    received: from_millis(row.try_get("received_ms").map_err(get)?),
                })
            })
            .collect()
    }

    async fn create_token(&self, token: &StoredToken) -> Result<bool> {
        PostgresStore::create_token(self, token).await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<StoredToken>> {
        PostgresStore::token_by_hash(self, hash).await
    }

    async fn tokens(&self) -> Result<Vec<StoredToken>> {
        crate::tokens::all(&self.pool).await
    }

    async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool> {
        PostgresStore::revoke_token(self, name, at).await
    }

    async fn token_used(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        PostgresStore::token_used(self, name, at).await
    }

    async fn create_session(&self, session: &StoredSession) -> Result<()> {
        PostgresStore::create_session(self, session).await
    }

    async fn session_by_hash(&self, hash: &str) -> Result<Option<StoredSession>> {
        PostgresStore::session_by_hash(self, hash).await
    }

    async fn revoke_session(&self, hash: &str, at: DateTime<Utc>) -> Result<bool> {
        PostgresStore::revoke_session(self, hash, at).await
    }

    async fn prune_sessions(&self, before: DateTime<Utc>) -> Result<usize> {
        PostgresStore::prune_sessions(self, before).await
    }
}
