//! Jobs in SQLite: creating them, leases, how runs end, journals and
//! streams (merged with what a running job's spool holds), approvals, stop
//! requests, retention.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::db::{decode, encode, from_millis, millis, Result, SqliteStore};
use crate::spool::Line;
use drbook_core::job::{Admission, Approval, JobRecord, JobSpec, JobStatus, NewJob, Wake};
use drbook_core::journal::{Entry, Record};
use drbook_core::lease::Lease;
use drbook_core::store::page::{page_sql, Bind, Dialect};
use drbook_core::store::{
    plan_key, Busy, HeldJob, JobFilter, JobPage, LeaseRow, OnBusy, PageCursor, StoreError,
};

impl SqliteStore {
    /// Creates a job pinned to `module` (stored once per digest), on disk
    /// when it returns: a job whose id was handed out survives a power loss.
    pub(crate) fn create(&self, job: NewJob<'_>, module: &[u8]) -> Result<()> {
        self.write_durably(|tx| {
            store_module(tx, job.digest, module)?;
            insert_job(tx, job, None)
        })
    }

    /// Creates a job as `create` does unless its plan is busy, in one
    /// transaction (see [`place`]).
    pub(crate) fn admit(
        &self,
        job: NewJob<'_>,
        module: &[u8],
        on_busy: OnBusy,
    ) -> Result<Option<Busy>> {
        self.write_durably(|tx| {
            store_module(tx, job.digest, module)?;
            place(tx, job, on_busy)
        })
    }

    pub(crate) fn module(&self, job: &JobRecord) -> Result<Vec<u8>> {
        self.conn()?
            .query_row(
                "SELECT bytes FROM modules WHERE digest = ?1",
                [&job.digest],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                StoreError::MissingModule {
                    job: job.id.clone(),
                    digest: job.digest.clone(),
                }
                .into()
            })
    }

    /// Stores a module and re-pins a job to it (`drbook jobs resume --module`).
    pub(crate) fn repin(
        &self,
        id: &str,
        digest: &str,
        module: &[u8],
        admission: &Admission,
    ) -> Result<()> {
        self.write(|tx| {
            let spec: Option<String> = tx
                .query_row("SELECT spec FROM jobs WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            let spec = spec.ok_or_else(|| StoreError::NoSuchJob { id: id.to_string() })?;
            let mut spec: JobSpec = decode("job spec", &spec)?;
            spec.admission = Some(admission.clone());
            store_module(tx, digest, module)?;
            tx.execute(
                "UPDATE jobs SET digest = ?2, spec = ?3 WHERE id = ?1",
                params![id, digest, encode(&spec)],
            )?;
            Ok(())
        })
    }

    pub(crate) fn get(&self, id: &str) -> Result<JobRecord> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))?;
        let row = stmt.query_row([id], raw_job).optional()?;
        row.ok_or_else(|| StoreError::NoSuchJob { id: id.to_string() })?
            .decode()
    }

    /// How many jobs are in each status.
    pub(crate) fn count_by_status(&self) -> Result<Vec<(JobStatus, u64)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM jobs GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(state, n)| Ok((decode("job state", &state)?, n as u64)))
            .collect()
    }

    /// The jobs under a lease, for [`JobStore::workers`](drbook_core::store::JobStore::workers).
    pub(crate) fn lease_rows(&self) -> Result<Vec<LeaseRow>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT lease_owner, id, runbook, json_extract(spec, '$.plan.name'), lease_renewed_ms,
             lease_until_ms FROM jobs WHERE lease_owner IS NOT NULL ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LeaseRow {
                    owner: r.get(0)?,
                    job: HeldJob {
                        id: r.get(1)?,
                        runbook: r.get(2)?,
                        plan: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    },
                    renewed_ms: r.get(4)?,
                    until_ms: r.get::<_, Option<i64>>(5)?.unwrap_or_default(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Jobs, newest first, optionally only those in `state`.
    pub(crate) fn list(&self, state: Option<JobStatus>, limit: usize) -> Result<Vec<JobRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY seq DESC LIMIT ?2"
        ))?;
        let state = state.map(|s| encode(&s));
        let rows = stmt
            .query_map(params![state, limit as i64], raw_job)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(RawJob::decode).collect()
    }

    /// A page of jobs (see [`drbook_core::store::page`]): the query of
    /// [`page_sql`] on the indexes of migration 10, its first `limit + 1`
    /// rows (not `LIMIT ?`, which makes SQLite plan the statement again at
    /// every call).
    pub(crate) fn page(
        &self,
        filter: &JobFilter,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> Result<JobPage> {
        let (sql, binds) = page_sql(PAGE_DIALECT, filter, after);
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs {sql}"))?;
        let rows = stmt
            .query_map(sql_values(binds), raw_job)?
            .take(limit.saturating_add(1))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let jobs = rows
            .into_iter()
            .map(RawJob::decode)
            .collect::<Result<_>>()?;
        Ok(JobPage::of(jobs, limit))
    }

    /// The ids of jobs a worker may take now: new ones, interrupted ones
    /// (running with an expired lease and not waiting), oldest first.
    pub(crate) fn runnable(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<String>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&RUNNABLE)?;
        let rows = stmt.query_map(
            params![
                encode(&JobStatus::New),
                encode(&JobStatus::Running),
                millis(now)
            ],
            |r| r.get(0),
        )?;
        // The first `limit` rows, not `LIMIT ?`: a bound limit makes SQLite
        // prepare the statement again at every call (it plans with the
        // value), which cost as much as the rest of a job's start.
        Ok(rows.take(limit).collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Jobs unloaded while they wait (on operations, a decision or a timer).
    pub(crate) fn waiting(&self) -> Result<Vec<(String, Wake)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, wake FROM jobs WHERE wake IS NOT NULL AND state IN (?1, ?2)",
        )?;
        let rows = stmt
            .query_map(
                params![encode(&JobStatus::Running), encode(&JobStatus::Suspended)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, wake)| Ok((id, decode::<Wake>("wake", &wake)?)))
            .collect()
    }

    /// Takes a job into `lease` if nobody holds it and it is still runnable
    /// (see [`runnable`](Self::runnable)); true if taken. The state is
    /// checked again here because the list a worker claims from may be
    /// stale: another worker may have finished or unloaded the job since.
    /// The job's lease ends with the worker's others (see `lease`); a lease
    /// not held (never renewed, or lapsed) claims nothing. A job claimed is
    /// `Running` (started now, if it never started before).
    pub(crate) fn claim(&self, id: &str, lease: &Lease) -> Result<bool> {
        if !lease.held() {
            return Ok(false);
        }
        let (owner, until) = (lease.owner(), lease.until_ms());
        let now = Utc::now();
        self.write(|tx| {
            let n = tx.prepare_cached(&CLAIM)?.execute(params![
                id,
                owner,
                until,
                millis(now),
                encode(&JobStatus::New),
                encode(&JobStatus::Running),
                lease.renewed_ms()
            ])?;
            Ok(n == 1)
        })
    }

    /// Extends `lease` (every job it holds) by its duration from now; true
    /// if done. A lease that has lapsed is never renewed: another worker may
    /// have taken any of its jobs over, so its runs must stop writing, and
    /// the worker goes on under a new lease. The check is inside the write
    /// transaction, which claims serialise with: a lease not lapsed at that
    /// moment has lost no job.
    pub(crate) fn renew(&self, lease: &Lease) -> Result<bool> {
        let until = self.write(|tx| {
            let now = Utc::now();
            if lease.lapsed(millis(now)) {
                return Ok(None);
            }
            let until =
                millis(now + chrono::Duration::from_std(lease.duration()).unwrap_or_default());
            tx.prepare_cached(
                "UPDATE jobs SET lease_until_ms = ?2, lease_renewed_ms = ?3 WHERE lease_owner = ?1",
            )?
            .execute(params![lease.owner(), until, millis(now)])?;
            Ok(Some(until))
        })?;
        if let Some(until) = until {
            lease.extended_to(until);
        }
        Ok(until.is_some())
    }

    pub(crate) fn release(&self, id: &str, owner: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("UPDATE jobs SET lease_owner = NULL, lease_until_ms = NULL WHERE id = ?1 AND lease_owner = ?2")?.execute(
                params![id, owner],
            )?;
            Ok(())
        })
    }

    /// Marks a job running (first start or resume); clears its wake.
    /// A job that has ended (stopped meanwhile, say) stays as it is.
    pub(crate) fn set_running(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET state = ?2, reason = NULL, wake = NULL, started_ms = coalesce(started_ms, ?3)
                 WHERE id = ?1 AND state IN (?4, ?2, ?5)",
                params![
                    id,
                    encode(&JobStatus::Running),
                    millis(Utc::now()),
                    encode(&JobStatus::New),
                    encode(&JobStatus::Suspended)
                ],
            )?;
            Ok(())
        })
    }

    /// Ends a job for good.
    pub(crate) fn finish(
        &self,
        id: &str,
        state: JobStatus,
        reason: Option<&str>,
        result: &serde_json::Value,
    ) -> Result<()> {
        self.write(|tx| finish(tx, id, state, reason, result))
    }

    pub(crate) fn request_stop(&self, id: &str, by: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET stop_requested = ?2 WHERE id = ?1",
                params![id, by],
            )?;
            Ok(())
        })
    }

    pub(crate) fn stops_requested(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, stop_requested FROM jobs WHERE stop_requested IS NOT NULL
             AND id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt
            .query_map([encode(&ids)], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Job `id`'s journal: what the store holds, and after it what its
    /// spool holds (a job running, or one whose host died).
    pub(crate) fn journal(&self, id: &str) -> Result<Vec<Entry>> {
        // The spool first: a fold between the two reads moves lines from
        // the spool into the store, never out of both.
        let spooled = self.spooled(id)?;
        self.journal_with(id, spooled)
    }

    /// The journal in the store, with `spooled` after it.
    pub(crate) fn journal_with(&self, id: &str, spooled: Vec<Line<'static>>) -> Result<Vec<Entry>> {
        whole_journal(id, self.stored_journal(id)?, spooled)
    }

    /// The journal entries the store holds for job `id`, by position.
    pub(crate) fn stored_journal(&self, id: &str) -> Result<BTreeMap<usize, Entry>> {
        let rows = {
            let conn = self.conn()?;
            let mut stmt = conn
                .prepare_cached("SELECT seq, entry FROM journal WHERE job_id = ?1 ORDER BY seq")?;
            let rows = stmt
                .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        let mut entries = BTreeMap::new();
        for (seq, text) in rows {
            let entry = serde_json::from_str(&text).map_err(|e| StoreError::Decode {
                what: "journal entry",
                detail: format!("entry {} of job {id}: {e}", seq + 1),
            })?;
            entries.insert(seq as usize, entry);
        }
        Ok(entries)
    }

    /// Stream lines after `after` (a stream sequence number), in order:
    /// those in the store and those still in the job's spool.
    pub(crate) fn streams(&self, id: &str, after: i64) -> Result<Vec<(i64, Record)>> {
        // The spool first, as in `journal`.
        let spooled = self.spooled(id)?;
        let rows = {
            let conn = self.conn()?;
            let mut stmt = conn.prepare_cached(
                "SELECT seq, record FROM streams WHERE job_id = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map(params![id, after], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        let mut records = BTreeMap::new();
        for (seq, text) in rows {
            records.insert(seq, decode("stream line", &text)?);
        }
        for line in spooled {
            if let Line::Stream { seq, record } = line {
                if seq > after {
                    records.insert(seq, record.into_owned());
                }
            }
        }
        Ok(records.into_iter().collect())
    }

    pub(crate) fn decide(&self, id: &str, journal_seq: usize, approval: &Approval) -> Result<()> {
        self.write(|tx| {
            let earlier: Option<String> = tx
                .query_row(
                    "SELECT decision FROM decisions WHERE job_id = ?1 AND journal_seq = ?2",
                    params![id, journal_seq as i64],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(earlier) = earlier {
                let earlier: Approval = decode("decision", &earlier)?;
                return Err(StoreError::AlreadyDecided {
                    job: id.to_string(),
                    approved: earlier.approved,
                    by: earlier.by,
                    at: earlier.at,
                }
                .into());
            }
            tx.execute(
                "INSERT INTO decisions (job_id, journal_seq, decision) VALUES (?1, ?2, ?3)",
                params![id, journal_seq as i64, encode(approval)],
            )?;
            // Only a job still suspended goes on; a stopped one stays stopped.
            tx.execute(
                "UPDATE jobs SET state = ?2, reason = NULL, wake = NULL WHERE id = ?1 AND state = ?3",
                params![id, encode(&JobStatus::Running), encode(&JobStatus::Suspended)],
            )?;
            Ok(())
        })
    }

    pub(crate) fn decision(&self, id: &str, journal_seq: usize) -> Result<Option<Approval>> {
        let text: Option<String> = self
            .conn()?
            .query_row(
                "SELECT decision FROM decisions WHERE job_id = ?1 AND journal_seq = ?2",
                params![id, journal_seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| decode("decision", &t)).transpose()
    }

    /// Deletes finished jobs that ended before `before`, with their journals,
    /// streams and spools (retention).
    pub(crate) fn prune(&self, before: DateTime<Utc>) -> Result<usize> {
        let ended = "SELECT id FROM jobs WHERE ended_ms IS NOT NULL AND ended_ms < ?1";
        let pruned = self.write(|tx| {
            let ids = tx
                .prepare(ended)?
                .query_map([millis(before)], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for table in ["journal", "streams", "decisions"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE job_id IN ({ended})"),
                    [millis(before)],
                )?;
            }
            tx.execute(
                "DELETE FROM jobs WHERE ended_ms IS NOT NULL AND ended_ms < ?1",
                [millis(before)],
            )?;
            tx.execute(
                "DELETE FROM modules WHERE digest NOT IN (SELECT digest FROM jobs)
                 AND digest NOT IN (SELECT digest FROM webhook_modules)
                 AND digest NOT IN (SELECT digest FROM schedules)",
                [],
            )?;
            Ok(ids)
        })?;
        // A job that ended without its last run's spool folded (stopped
        // after its host died) still has one.
        for id in &pruned {
            let _ = std::fs::remove_file(self.spool_path(id));
        }
        Ok(pruned.len())
    }
}

/// Keeps a module, once per digest.
fn store_module(tx: &rusqlite::Transaction<'_>, digest: &str, bytes: &[u8]) -> Result<()> {
    tx.prepare_cached("INSERT OR IGNORE INTO modules (digest, bytes) VALUES (?1, ?2)")?
        .execute(params![digest, bytes])?;
    Ok(())
}

/// SQL of [`JobStore::runnable`](SqliteStore::runnable): made once, as every
/// statement a worker runs per job is (`format!` and the statement's parse
/// cost a webhook's job tens of microseconds before its start).
static RUNNABLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id FROM jobs WHERE (state = ?1 OR (state = ?2 AND wake IS NULL))
         AND (lease_until_ms IS NULL OR lease_until_ms < ?3) AND NOT {} ORDER BY seq",
        *WAITING_ITS_TURN
    )
});

/// SQL of [`claim`](SqliteStore::claim).
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET lease_owner = ?2, lease_until_ms = ?3, lease_renewed_ms = ?7, state = ?6,
         reason = NULL, started_ms = coalesce(started_ms, ?4)
         WHERE id = ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?4 OR lease_owner = ?2)
         AND (state = ?5 OR (state = ?6 AND wake IS NULL)) AND NOT {}",
        *WAITING_ITS_TURN
    )
});

/// SQL: the states of a job that has not ended, as a list.
fn not_ended() -> String {
    let states: Vec<String> = JobStatus::ALL
        .iter()
        .filter(|s| !s.is_terminal())
        .map(|s| format!("'{}'", encode(s)))
        .collect();
    states.join(", ")
}

/// SQL: a job of `jobs` waits its turn: it was queued, has not started, and
/// a job of its plan created before it has not ended.
static WAITING_ITS_TURN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "(jobs.queued = 1 AND jobs.state = '{}' AND EXISTS (SELECT 1 FROM jobs AS ahead
         WHERE ahead.plan_key = jobs.plan_key AND ahead.seq < jobs.seq AND ahead.state IN ({})))",
        encode(&JobStatus::New),
        not_ended()
    )
});

/// SQL: the job plan `?1` is busy with.
static BUSY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id FROM jobs WHERE plan_key = ?1 AND state IN ({}) ORDER BY seq LIMIT 1",
        not_ended()
    )
});

/// The job plan `key` is busy with: its oldest that has not ended.
pub(crate) fn busy_with(tx: &rusqlite::Transaction<'_>, key: &str) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached(&BUSY)?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Creates `job` if its plan is free; if it is busy, does what `on_busy`
/// says (queued: created behind the busy job) and returns the busy job.
pub(crate) fn place(
    tx: &rusqlite::Transaction<'_>,
    job: NewJob<'_>,
    on_busy: OnBusy,
) -> Result<Option<Busy>> {
    let Some(busy) = busy_with(tx, &plan_key(&job.spec.plan))? else {
        insert_job(tx, job, None)?;
        return Ok(None);
    };
    let busy = Busy {
        plan: job.spec.plan.name.clone(),
        job: busy,
        on_busy,
    };
    if on_busy == OnBusy::Queue {
        insert_job(tx, job, Some(&busy))?;
    }
    Ok(Some(busy))
}

/// Inserts a new job pinned to `digest`, a module already in the store;
/// queued behind `behind`'s job when given.
fn insert_job(
    tx: &rusqlite::Transaction<'_>,
    job: NewJob<'_>,
    behind: Option<&Busy>,
) -> Result<()> {
    let spec = job.spec;
    tx.prepare_cached(
        "INSERT INTO jobs (id, digest, runbook, spec, trigger, state, created_ms, plan_key, queued, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        spec.job_id,
        job.digest,
        job.runbook,
        encode(spec),
        spec.trigger.label(),
        encode(&JobStatus::New),
        millis(Utc::now()),
        plan_key(&spec.plan),
        behind.is_some(),
        behind.map(Busy::to_string)
    ])?;
    Ok(())
}

/// Records that a job was unloaded to wait; `Suspended` for a person.
pub(crate) fn set_waiting(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    state: JobStatus,
    reason: &str,
    wake: &Wake,
) -> Result<()> {
    tx.prepare_cached("UPDATE jobs SET state = ?2, reason = ?3, wake = ?4 WHERE id = ?1")?
        .execute(params![id, encode(&state), reason, encode(wake)])?;
    Ok(())
}

/// Ends a job for good (see `finish` above), in the caller's transaction.
pub(crate) fn finish(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    state: JobStatus,
    reason: Option<&str>,
    result: &serde_json::Value,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE jobs SET state = ?2, reason = ?3, result = ?4, wake = NULL, ended_ms = ?5,
         lease_owner = NULL, lease_until_ms = NULL WHERE id = ?1",
    )?
    .execute(params![
        id,
        encode(&state),
        reason,
        result.to_string(),
        millis(Utc::now())
    ])?;
    Ok(())
}

/// Fails with `LeaseLost` unless `owner` holds the lease of job `id` (inside
/// the caller's write transaction, so nobody can take it over meanwhile).
pub(crate) fn holds_lease(tx: &rusqlite::Transaction<'_>, id: &str, owner: &str) -> Result<()> {
    let current: Option<String> = tx
        .prepare_cached("SELECT lease_owner FROM jobs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten();
    if current.as_deref() == Some(owner) {
        Ok(())
    } else {
        Err(StoreError::LeaseLost {
            job: id.to_string(),
            owner: owner.to_string(),
        }
        .into())
    }
}

/// A page's values to bind, as SQLite takes them.
fn sql_values(binds: Vec<Bind>) -> rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>> {
    let values = binds.into_iter().map(|bind| match bind {
        Bind::Status(status) => encode(&status).into(),
        Bind::Text(text) => text.into(),
        Bind::Int(n) => n.into(),
    });
    rusqlite::params_from_iter(values.collect())
}

/// How a page's query names a job's plan: the expression migration 10
/// indexes.
const PAGE_DIALECT: Dialect = Dialect {
    placeholder: '?',
    plan: "json_extract(spec, '$.plan.name')",
    position: "instr",
};

const COLUMNS: &str =
    "id, digest, runbook, spec, trigger, state, reason, wake, stop_requested, result, created_ms, \
                       started_ms, ended_ms, lease_owner, lease_until_ms, retries";

struct RawJob {
    id: String,
    digest: String,
    runbook: String,
    spec: String,
    trigger: String,
    state: String,
    reason: Option<String>,
    wake: Option<String>,
    stop_requested: Option<String>,
    result: Option<String>,
    created_ms: i64,
    started_ms: Option<i64>,
    ended_ms: Option<i64>,
    lease_owner: Option<String>,
    lease_until_ms: Option<i64>,
    retries: Option<String>,
}

fn raw_job(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawJob> {
    Ok(RawJob {
        id: r.get(0)?,
        digest: r.get(1)?,
        runbook: r.get(2)?,
        spec: r.get(3)?,
        trigger: r.get(4)?,
        state: r.get(5)?,
        reason: r.get(6)?,
        wake: r.get(7)?,
        stop_requested: r.get(8)?,
        result: r.get(9)?,
        created_ms: r.get(10)?,
        started_ms: r.get(11)?,
        ended_ms: r.get(12)?,
        lease_owner: r.get(13)?,
        lease_until_ms: r.get(14)?,
        retries: r.get(15)?,
    })
}

impl RawJob {
    fn decode(self) -> Result<JobRecord> {
        Ok(JobRecord {
            spec: decode("job spec", &self.spec)?,
            state: decode("job state", &self.state)?,
            wake: self
                .wake
                .as_deref()
                .map(|w| decode("wake", w))
                .transpose()?,
            result: self
                .result
                .as_deref()
                .map(|r| decode("result", r))
                .transpose()?,
            id: self.id,
            digest: self.digest,
            runbook: self.runbook,
            trigger: self.trigger,
            reason: self.reason,
            stop_requested: self.stop_requested,
            created: from_millis(self.created_ms),
            started: self.started_ms.map(from_millis),
            ended: self.ended_ms.map(from_millis),
            lease_owner: self.lease_owner,
            lease_until: self.lease_until_ms.map(from_millis),
            attempts: self
                .retries
                .as_deref()
                .map(|a| decode("job attempts", a))
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

/// Job `id`'s whole journal: `stored` (from [`SqliteStore::stored_journal`]),
/// then `spooled` (the last line for a position wins).
pub(crate) fn whole_journal(
    id: &str,
    mut entries: BTreeMap<usize, Entry>,
    spooled: Vec<Line<'static>>,
) -> Result<Vec<Entry>> {
    for line in spooled {
        if let Line::Entry { seq, entry } = line {
            entries.insert(seq, entry.into_owned());
        }
    }
    // Entries are numbered from 0 without gaps; a gap is a loss.
    if let Some((missing, _)) = entries.keys().enumerate().find(|(i, seq)| i != *seq) {
        return Err(StoreError::Decode {
            what: "journal",
            detail: format!("entry {} of job {id} is missing", missing + 1),
        }
        .into());
    }
    Ok(entries.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page reads the index of its filter from the cursor on, in the
    /// page's order (no sort of the matching jobs): what makes a page cost
    /// the same however many jobs the store holds.
    #[test]
    fn a_page_reads_the_index_of_its_filter_in_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = store.conn().unwrap();
        let text = |s: &str| Some(s.to_string());
        let cursor = PageCursor {
            created_ms: 1,
            id: "job-1".to_string(),
        };
        let cases = [
            (JobFilter::default(), "jobs_created"),
            (
                JobFilter {
                    status: Some(JobStatus::Failed),
                    ..Default::default()
                },
                "jobs_state_created",
            ),
            (
                JobFilter {
                    runbook: text("r.wasm"),
                    ..Default::default()
                },
                "jobs_runbook_created",
            ),
            (
                JobFilter {
                    plan: text("web"),
                    ..Default::default()
                },
                "jobs_plan_created",
            ),
            (
                JobFilter {
                    trigger: text("cli:a"),
                    ..Default::default()
                },
                "jobs_trigger_created",
            ),
            (
                JobFilter {
                    since: Some(Utc::now()),
                    ..Default::default()
                },
                "jobs_created",
            ),
            (
                JobFilter {
                    q: text("db"),
                    ..Default::default()
                },
                "jobs_created",
            ),
        ];
        for (filter, index) in cases {
            for after in [None, Some(&cursor)] {
                let (sql, binds) = page_sql(PAGE_DIALECT, &filter, after);
                let explain = format!("EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM jobs {sql}");
                let plan: Vec<String> = conn
                    .prepare(&explain)
                    .unwrap()
                    .query_map(sql_values(binds), |r| r.get(3))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                assert!(
                    plan.iter().any(|step| step.contains(index)),
                    "{filter:?}: {plan:?}, not {index}"
                );
                assert!(
                    plan.iter().all(|step| !step.contains("TEMP B-TREE")),
                    "{filter:?} sorts its matches: {plan:?}"
                );
            }
        }
    }

    /// The statements a worker runs for every job are parsed once, not at
    /// every call (with `LIMIT ?`, SQLite prepared `runnable` again each
    /// time).
    #[test]
    fn a_workers_statements_are_not_prepared_again_at_every_call() {
        use rusqlite::StatementStatus::RePrepare;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let lease = drbook_core::lease::Lease::new("w", std::time::Duration::from_secs(30));
        assert!(store.renew(&lease).unwrap());
        for limit in 1..4 {
            assert!(store.runnable(Utc::now(), limit).unwrap().is_empty());
            assert!(!store.claim("no such job", &lease).unwrap());
            store
                .write(|tx| busy_with(tx, &format!("plan {limit}")))
                .unwrap();
        }
        let conn = store.conn().unwrap();
        for sql in [&*RUNNABLE, &*CLAIM, &*BUSY] {
            let prepared = conn.prepare_cached(sql).unwrap();
            assert_eq!(prepared.get_status(RePrepare), 0, "{sql}");
        }
    }

    /// Finding a busy plan, and whether a queued job's turn has come, read
    /// the index of jobs not ended (its states are written as these queries
    /// write them), never a plan's ended jobs.
    #[test]
    fn busy_plans_are_found_through_the_index_of_jobs_not_ended() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = store.conn().unwrap();
        for sql in [&*BUSY, &*RUNNABLE, &*CLAIM] {
            // Its parameters as literals: `?1` a plan key, the rest (up to
            // `?9`; CLAIM takes seven) NULL.
            let sql = (2..=9).fold(sql.replace("?1", "'key'"), |sql, n| {
                sql.replace(&format!("?{n}"), "NULL")
            });
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let plan: Vec<String> = conn
                .prepare(&explain)
                .unwrap()
                .query_map([], |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains("jobs_plan_open")),
                "{sql}: {plan:?}"
            );
        }
    }
}
