//! The job store (`<data-dir>/jobs.db`): jobs, the modules they are pinned
//! to, their journals, streams and approvals, in SQLite. Several processes
//! (workers, the CLI) share it: WAL mode, a busy timeout, and one
//! `BEGIN IMMEDIATE` transaction per write. Leases keep two workers from
//! running the same job at once. What a running job writes is in its spool
//! until its run ends (see `spool`); reads of journals and streams merge it.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::lease::Lease;
use super::spool::Line;
use super::{JobRecord, JobStatus, Wake};
use crate::runtime::Entry;
use crate::runtime::{JobSpec, Record};

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE modules (digest TEXT PRIMARY KEY, bytes BLOB NOT NULL);
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        digest TEXT NOT NULL REFERENCES modules(digest),
        runbook TEXT NOT NULL,
        spec TEXT NOT NULL,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        wake TEXT,
        stop_requested TEXT,
        result TEXT,
        created_ms INTEGER NOT NULL,
        started_ms INTEGER,
        ended_ms INTEGER,
        lease_owner TEXT,
        lease_until_ms INTEGER
    );
    CREATE INDEX jobs_state ON jobs (state);
    CREATE TABLE journal (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE streams (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE decisions (
        job_id TEXT NOT NULL,
        journal_seq INTEGER NOT NULL,
        decision TEXT NOT NULL,
        PRIMARY KEY (job_id, journal_seq)
    ) WITHOUT ROWID;
";

/// `MIGRATIONS[n]` takes a store from schema `n + 1` to `n + 2`. A new
/// store gets `SCHEMA` (version 1), then every migration.
const MIGRATIONS: &[&str] = &[
    // 2: webhooks (`serve::webhooks`). Only a hash of a webhook's token is
    // kept. `webhook_modules` keeps the modules a webhook runs from `prune`;
    // `alerts` records every alert delivered, and the jobs it started, so
    // that a second delivery starts nothing; `webhook_seen` holds the
    // message ids of signed deliveries within their replay window.
    "
    CREATE TABLE webhooks (
        name TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL,
        signing_secret TEXT,
        target TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        last_used_ms INTEGER
    );
    CREATE TABLE webhook_modules (
        webhook TEXT NOT NULL,
        digest TEXT NOT NULL REFERENCES modules(digest),
        PRIMARY KEY (webhook, digest)
    ) WITHOUT ROWID;
    CREATE TABLE alerts (
        webhook TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        condition TEXT NOT NULL,
        decision TEXT NOT NULL,
        job_ids TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        PRIMARY KEY (webhook, alert_id, condition)
    ) WITHOUT ROWID;
    CREATE TABLE webhook_seen (
        webhook TEXT NOT NULL,
        message_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (webhook, message_id)
    ) WITHOUT ROWID;
    ",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no job `{id}`; `drbook jobs list` lists the jobs")]
    NoSuchJob { id: String },
    #[error(
        "{} is not a readable drbook job store ({detail}); it was left untouched: move it away to start \
         with an empty job store",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{} was written by a newer drbook (schema {found}, this build reads {SCHEMA_VERSION}); upgrade drbook",
        path.display()
    )]
    Newer { path: PathBuf, found: i64 },
    #[error("the module {digest} of job `{job}` is missing from the job store")]
    MissingModule { job: String, digest: String },
    #[error(
        "job `{job}` is no longer leased to {owner} (another worker took it over); this run stops writing and \
         leaves the job to its new owner"
    )]
    LeaseLost { job: String, owner: String },
    #[error("the spool of a running job, {}, cannot be used: {detail}", path.display())]
    Spool { path: PathBuf, detail: String },
    #[error("the job store holds a value it cannot read ({what}): {detail}")]
    Decode { what: &'static str, detail: String },
    #[error("job store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A decision on a manual step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approved: bool,
    pub by: String,
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// The job store; cheap to clone.
#[derive(Clone)]
pub struct JobStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Decode {
        what,
        detail: e.to_string(),
    })
}

pub(super) fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("job store values serialise")
}

impl JobStore {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("jobs.db")
    }

    /// The data directory the store is in (beside it: the jobs' spools).
    pub(super) fn data_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Opens (creating if needed) the job store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = Self::path(data_dir);
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        };
        // The jobs' spools live beside the store (see `spool`).
        std::fs::create_dir_all(data_dir.join("spool")).map_err(|e| corrupt(&e))?;
        let conn = Connection::open(&path).map_err(|e| corrupt(&e))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| corrupt(&e))?;
        // A process crash loses nothing in WAL mode with NORMAL; a power loss
        // may lose the last commits, which resume tolerates (see `journal`).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // No automatic checkpoints: one journal write in ~500 would wait for
        // the checkpoint's two fsyncs. Workers checkpoint off the path of host
        // calls (`checkpoint`); a short-lived command's connection
        // checkpoints as it closes.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let tx = conn.unchecked_transaction()?;
        let has_meta: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| corrupt(&e))?;
        let found = if !has_meta {
            tx.execute_batch(SCHEMA)?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')", [])?;
            1
        } else {
            let found: String = tx
                .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                    r.get(0)
                })
                .map_err(|e| corrupt(&e))?;
            let found: i64 = found.parse().map_err(|e| corrupt(&e))?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::Newer { path, found });
            }
            found
        };
        for (version, migration) in (found + 1..).zip(&MIGRATIONS[(found - 1).max(0) as usize..]) {
            tx.execute_batch(migration).map_err(|e| corrupt(&e))?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema'",
                [version.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(JobStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// Copies the write-ahead log back into the database on a connection of
    /// its own, so that host calls keep writing meanwhile (a passive
    /// checkpoint never blocks writers). Workers call it every second.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        transaction(&mut self.conn(), f)
    }

    /// [`write`](Self::write), on disk when it returns (`synchronous =
    /// FULL` for this commit: the write-ahead log is synced, with every
    /// commit before it), for what must survive a power loss.
    pub(crate) fn write_durably<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        let value = transaction(&mut conn, f);
        // Failing to go back leaves the connection syncing every commit:
        // slower, never less safe, and no reason to report the commit failed.
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        value
    }

    /// Creates a job pinned to `module` (stored once per digest), on disk
    /// when it returns: a job whose id was handed out survives a power loss.
    pub fn create(
        &self,
        id: &str,
        digest: &str,
        module: &[u8],
        runbook: &str,
        spec: &JobSpec,
        trigger: &str,
    ) -> Result<(), StoreError> {
        self.write_durably(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO modules (digest, bytes) VALUES (?1, ?2)",
                params![digest, module],
            )?;
            insert_job(tx, id, digest, runbook, spec, trigger)
        })
    }

    pub fn module(&self, job: &JobRecord) -> Result<Vec<u8>, StoreError> {
        self.conn()
            .query_row(
                "SELECT bytes FROM modules WHERE digest = ?1",
                [&job.digest],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::MissingModule {
                job: job.id.clone(),
                digest: job.digest.clone(),
            })
    }

    /// Stores a module and re-pins a job to it (`drbook jobs resume --module`).
    pub fn repin(&self, id: &str, digest: &str, module: &[u8]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO modules (digest, bytes) VALUES (?1, ?2)",
                params![digest, module],
            )?;
            tx.execute(
                "UPDATE jobs SET digest = ?2 WHERE id = ?1",
                params![id, digest],
            )?;
            Ok(())
        })
    }

    pub fn get(&self, id: &str) -> Result<JobRecord, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"))?;
        let row = stmt.query_row([id], raw_job).optional()?;
        row.ok_or_else(|| StoreError::NoSuchJob { id: id.to_string() })?
            .decode()
    }

    /// Jobs, newest first, optionally only those in `state`.
    pub fn list(
        &self,
        state: Option<JobStatus>,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY seq DESC LIMIT ?2"
        ))?;
        let state = state.map(|s| encode(&s));
        let rows = stmt
            .query_map(params![state, limit as i64], raw_job)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RawJob::decode).collect()
    }

    /// The ids of jobs a worker may take now: new ones, interrupted ones
    /// (running with an expired lease and not waiting), oldest first.
    pub fn runnable(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id FROM jobs WHERE (state = ?1 OR (state = ?2 AND wake IS NULL))
             AND (lease_until_ms IS NULL OR lease_until_ms < ?3) ORDER BY seq LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![
                encode(&JobStatus::New),
                encode(&JobStatus::Running),
                millis(now),
                limit as i64
            ],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Jobs unloaded while they wait (on operations, a decision or a timer).
    pub fn waiting(&self) -> Result<Vec<(String, Wake)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, wake FROM jobs WHERE wake IS NOT NULL AND state IN (?1, ?2)",
        )?;
        let rows = stmt
            .query_map(
                params![encode(&JobStatus::Running), encode(&JobStatus::Suspended)],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?;
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
    pub fn claim(&self, id: &str, lease: &Lease) -> Result<bool, StoreError> {
        if !lease.held() {
            return Ok(false);
        }
        let (owner, until) = (lease.owner(), lease.until_ms());
        let now = Utc::now();
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE jobs SET lease_owner = ?2, lease_until_ms = ?3, state = ?6, reason = NULL,
                 started_ms = coalesce(started_ms, ?4)
                 WHERE id = ?1 AND (lease_until_ms IS NULL OR lease_until_ms < ?4 OR lease_owner = ?2)
                 AND (state = ?5 OR (state = ?6 AND wake IS NULL))",
                params![
                    id,
                    owner,
                    until,
                    millis(now),
                    encode(&JobStatus::New),
                    encode(&JobStatus::Running)
                ],
            )?;
            Ok(n == 1)
        })
    }

    /// Extends `lease` (every job it holds) by its duration from now; true
    /// if done. A lease that has lapsed is never renewed: another worker may
    /// have taken any of its jobs over, so its runs must stop writing, and
    /// the worker goes on under a new lease. The check is inside the write
    /// transaction, which claims serialise with: a lease not lapsed at that
    /// moment has lost no job.
    pub fn renew(&self, lease: &Lease) -> Result<bool, StoreError> {
        let until = self.write(|tx| {
            let now = Utc::now();
            if lease.lapsed(millis(now)) {
                return Ok(None);
            }
            let until =
                millis(now + chrono::Duration::from_std(lease.duration()).unwrap_or_default());
            tx.execute(
                "UPDATE jobs SET lease_until_ms = ?2 WHERE lease_owner = ?1",
                params![lease.owner(), until],
            )?;
            Ok(Some(until))
        })?;
        if let Some(until) = until {
            lease.extended_to(until);
        }
        Ok(until.is_some())
    }

    pub fn release(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET lease_owner = NULL, lease_until_ms = NULL WHERE id = ?1 AND lease_owner = ?2",
                params![id, owner],
            )?;
            Ok(())
        })
    }

    /// Marks a job running (first start or resume); clears its wake.
    /// A job that has ended (stopped meanwhile, say) stays as it is.
    pub fn set_running(&self, id: &str) -> Result<(), StoreError> {
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
    pub fn finish(
        &self,
        id: &str,
        state: JobStatus,
        reason: Option<&str>,
        result: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|tx| finish(tx, id, state, reason, result))
    }

    pub fn request_stop(&self, id: &str, by: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "UPDATE jobs SET stop_requested = ?2 WHERE id = ?1",
                params![id, by],
            )?;
            Ok(())
        })
    }

    pub fn stop_requested(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT stop_requested FROM jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })?)
    }

    /// Job `id`'s journal: what the store holds, and after it what its
    /// spool holds (a job running, or one whose host died).
    pub fn journal(&self, id: &str) -> Result<Vec<Entry>, StoreError> {
        // The spool first: a fold between the two reads moves lines from
        // the spool into the store, never out of both.
        let spooled = self.spooled(id)?;
        self.journal_with(id, spooled)
    }

    /// The journal in the store, with `spooled` after it.
    pub(super) fn journal_with(
        &self,
        id: &str,
        spooled: Vec<Line<'static>>,
    ) -> Result<Vec<Entry>, StoreError> {
        let rows = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached("SELECT seq, entry FROM journal WHERE job_id = ?1 ORDER BY seq")?;
            let rows = stmt
                .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
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
            });
        }
        Ok(entries.into_values().collect())
    }

    /// Stream lines after `after` (a stream sequence number), in order:
    /// those in the store and those still in the job's spool.
    pub fn streams(&self, id: &str, after: i64) -> Result<Vec<(i64, Record)>, StoreError> {
        // The spool first, as in `journal`.
        let spooled = self.spooled(id)?;
        let rows = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(
                "SELECT seq, record FROM streams WHERE job_id = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map(params![id, after], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
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

    pub fn decide(
        &self,
        id: &str,
        journal_seq: usize,
        decision: &Decision,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO decisions (job_id, journal_seq, decision) VALUES (?1, ?2, ?3)",
                params![id, journal_seq as i64, encode(decision)],
            )?;
            // Only a job still suspended goes on; a stopped one stays stopped.
            tx.execute(
                "UPDATE jobs SET state = ?2, reason = NULL, wake = NULL WHERE id = ?1 AND state = ?3",
                params![id, encode(&JobStatus::Running), encode(&JobStatus::Suspended)],
            )?;
            Ok(())
        })
    }

    pub fn decision(&self, id: &str, journal_seq: usize) -> Result<Option<Decision>, StoreError> {
        let text: Option<String> = self
            .conn()
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
    pub fn prune(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let ended = "SELECT id FROM jobs WHERE ended_ms IS NOT NULL AND ended_ms < ?1";
        let pruned = self.write(|tx| {
            let ids = tx
                .prepare(ended)?
                .query_map([millis(before)], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
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
                 AND digest NOT IN (SELECT digest FROM webhook_modules)",
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

    pub fn file(&self) -> &Path {
        &self.path
    }
}

/// Inserts a new job pinned to `digest`, a module already in the store.
pub(crate) fn insert_job(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    digest: &str,
    runbook: &str,
    spec: &JobSpec,
    trigger: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO jobs (id, digest, runbook, spec, trigger, state, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, digest, runbook, encode(spec), trigger, encode(&JobStatus::New), millis(Utc::now())])?;
    Ok(())
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction on `conn`.
fn transaction<T>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// Records that a job was unloaded to wait; `Suspended` for a person.
pub(super) fn set_waiting(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    state: JobStatus,
    reason: &str,
    wake: &Wake,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE jobs SET state = ?2, reason = ?3, wake = ?4 WHERE id = ?1",
        params![id, encode(&state), reason, encode(wake)],
    )?;
    Ok(())
}

/// Ends a job for good (see [`JobStore::finish`]), in the caller's transaction.
pub(super) fn finish(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    state: JobStatus,
    reason: Option<&str>,
    result: &serde_json::Value,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE jobs SET state = ?2, reason = ?3, result = ?4, wake = NULL, ended_ms = ?5,
         lease_owner = NULL, lease_until_ms = NULL WHERE id = ?1",
        params![
            id,
            encode(&state),
            reason,
            result.to_string(),
            millis(Utc::now())
        ],
    )?;
    Ok(())
}

/// Fails with `LeaseLost` unless `owner` holds the lease of job `id` (inside
/// the caller's write transaction, so nobody can take it over meanwhile).
pub(super) fn holds_lease(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    owner: &str,
) -> Result<(), StoreError> {
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
        })
    }
}

const COLUMNS: &str =
    "id, digest, runbook, spec, trigger, state, reason, wake, stop_requested, result, created_ms, \
                       started_ms, ended_ms, lease_owner, lease_until_ms";

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
    })
}

impl RawJob {
    fn decode(self) -> Result<JobRecord, StoreError> {
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
        })
    }
}
