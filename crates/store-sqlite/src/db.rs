//! The SQLite database of the job store: two connections per process, one
//! that writes and one that reads when the first is busy (several processes
//! share the file: WAL
//! mode, a busy timeout, and one `BEGIN IMMEDIATE` transaction per write),
//! its schema and migrations, and the error type of this crate's synchronous
//! core.
//!
//! Why a connection for reads: in WAL mode a read never waits for a write,
//! but a connection runs one statement at a time. With one connection, a
//! webhook's lookup waited behind the commit (and its sync to disk) of a job
//! that was ending; with two, only writes queue behind writes, as SQLite
//! makes them anyway.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use drbook_core::private;
use drbook_core::store::StoreError;

/// The schema this build reads and writes: `SCHEMA`'s, then one per migration.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64 + 1;

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
    // 2: webhooks (`webhooks`, for drbook-triggers). Only a hash of a webhook's token is
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
    // 3: alerts are listed newest first even when several arrive within a
    // millisecond: each gets the next number of its webhook.
    "
    ALTER TABLE alerts ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ",
    // 4: one job at a time changes a plan. `plan_key` is the plan a job
    // changes (`drbook_core::store::plan_key`, of the spec's plan), `queued`
    // says it waits for its plan's earlier jobs to end; an alert keeps the
    // busy plan it met, and a signed delivery's message id the hash of its
    // body and its answer (`[job ids, busy]`), for its retries. The index
    // holds the jobs not ended only (its states written as `jobs::not_ended`
    // writes them, or SQLite does not use it), so that a busy plan is found
    // without reading the plan's ended jobs.
    "
    ALTER TABLE jobs ADD COLUMN plan_key TEXT;
    ALTER TABLE jobs ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET plan_key = lower(json_extract(spec, '$.plan.name')) || char(31)
        || lower(json_extract(spec, '$.plan.primary_region')) || char(31)
        || lower(json_extract(spec, '$.plan.recovery_region'));
    CREATE INDEX jobs_plan_open ON jobs (plan_key, seq)
        WHERE state IN ('\"New\"', '\"Running\"', '\"Suspended\"');
    ALTER TABLE alerts ADD COLUMN busy TEXT;
    ALTER TABLE webhook_seen ADD COLUMN body_sha256 TEXT;
    ALTER TABLE webhook_seen ADD COLUMN answer TEXT;
    ",
    // 5: when a job's lease was last renewed (its holder's heartbeat, for
    // `JobStore::workers`); NULL for leases renewed before.
    "
    ALTER TABLE jobs ADD COLUMN lease_renewed_ms INTEGER;
    ",
    // 6: schedules (`drbook schedule`). `schedule` is the schedule as
    // created (its pattern, zone and `RunTarget`), the columns what changes:
    // `next_ms` its next tick (indexed for the scheduler's tick, which reads
    // the due ones), `last` its latest tick's record, `last_job` the latest
    // job it started (no overlap). `digest` keeps its module from `prune`.
    // `schedule_ticks` is keyed by (schedule, tick): one job per tick.
    "
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        schedule TEXT NOT NULL,
        digest TEXT NOT NULL REFERENCES modules(digest),
        paused INTEGER NOT NULL,
        next_ms INTEGER,
        last TEXT,
        last_job TEXT
    );
    CREATE INDEX schedules_due ON schedules (next_ms) WHERE paused = 0;
    CREATE TABLE schedule_ticks (
        schedule TEXT NOT NULL,
        tick_ms INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (schedule, tick_ms)
    ) WITHOUT ROWID;
    ",
    // 7: a job's retries (`drbook jobs retry`): its attempts after the
    // first, oldest first, as JSON (`drbook_core::retry::Attempt`, with the
    // journal entries each cut dropped); NULL for a job that ran once.
    "
    ALTER TABLE jobs ADD COLUMN retries TEXT;
    ",
    // 8: API tokens (drbook-triggers' API, `drbook token`): only the hash of a
    // token's secret is kept, unique and indexed (every request is one lookup
    // by it); `scopes` is a JSON array of scope names; a revoked token keeps
    // its row (and its name) with the time it was revoked.
    "
    CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        expires_ms INTEGER NOT NULL,
        last_used_ms INTEGER,
        revoked_ms INTEGER
    );
    ",
    // 9: browser sessions (drbook-triggers' console): the SHA-256 of the
    // cookie's random id is the key; `scopes` a JSON array as a token's;
    // `token` the API token it signed in with (revoking the token revokes
    // its sessions, by this index), `subject` the OpenID Connect `sub`.
    "
    CREATE TABLE sessions (
        hash TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        scopes TEXT NOT NULL,
        token TEXT,
        subject TEXT,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        revoked_ms INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX sessions_by_token ON sessions (token) WHERE token IS NOT NULL;
    CREATE INDEX sessions_by_expiry ON sessions (expires_ms);
    ",
    // 10: pages of jobs (`JobStore::page`): keyset pages on (created_ms, id),
    // newest first, one index per filter a page may have, each ending in
    // (created_ms, id) so that a filtered page reads its index from the
    // cursor on and stops when it is full. The plan is indexed by the
    // expression the page's query names it by. `jobs_state` is a prefix of
    // `jobs_state_created`: it goes.
    "
    CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_ms, id);
    CREATE INDEX IF NOT EXISTS jobs_state_created ON jobs (state, created_ms, id);
    CREATE INDEX IF NOT EXISTS jobs_runbook_created ON jobs (runbook, created_ms, id);
    CREATE INDEX IF NOT EXISTS jobs_plan_created
        ON jobs (json_extract(spec, '$.plan.name'), created_ms, id);
    CREATE INDEX IF NOT EXISTS jobs_trigger_created ON jobs (trigger, created_ms, id);
    DROP INDEX IF EXISTS jobs_state;
    ",
];

/// An error of the synchronous core: the port's, or SQLite's own.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("job store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A call tried in place would have to wait (see [`inline`]); it is
    /// made again off the async threads, so callers never see this.
    #[error("the job store call would wait")]
    WouldWait,
}

impl Error {
    /// Whether the call stopped because it would have waited: another
    /// process's lock on the database (`SQLITE_BUSY` with no busy timeout),
    /// this process's connection in use, or a sync to disk ahead.
    fn would_wait(&self) -> bool {
        match self {
            Error::WouldWait => true,
            Error::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Error::Store(_) => false,
        }
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            Error::Sqlite(e) => StoreError::Backend(e.to_string()),
            Error::WouldWait => StoreError::Backend(e.to_string()),
        }
    }
}

thread_local! {
    /// Whether this thread is making a call in place (see [`inline`]).
    static INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long a call off the async threads waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Tries `f` in place, on the calling (async) thread, under the promise that
/// it does not wait: the connection is taken only if free, SQLite gives up
/// at once instead of waiting for another process's lock, and a sync to disk
/// is not started. `None` if it would have waited: nothing was changed, and
/// the caller makes the call off the async threads instead. Most calls are
/// short reads and writes to the page cache, which then cost what they cost
/// before the store was async, with no hop to another thread.
pub(crate) fn inline<T>(f: impl FnOnce() -> Result<T>) -> Option<Result<T>> {
    INLINE.set(true);
    let result = f();
    INLINE.set(false);
    match result {
        Err(e) if e.would_wait() => None,
        other => Some(other),
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// The job store on SQLite; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    /// Every write, each in a transaction of its own ([`write`](Self::write)).
    writer: Arc<Mutex<Connection>>,
    /// Reads while the writer is busy ([`conn`](Self::conn)).
    reader: Arc<Mutex<Connection>>,
    path: PathBuf,
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::Decode {
            what,
            detail: e.to_string(),
        }
        .into()
    })
}

pub(crate) fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("job store values serialise")
}

impl SqliteStore {
    /// Where the store of `data_dir` is.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("jobs.db")
    }

    /// The data directory the store is in (beside it: the jobs' spools).
    pub(crate) fn data_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Opens (creating if needed) the job store in `data_dir`.
    pub fn open(data_dir: &Path) -> std::result::Result<Self, StoreError> {
        Self::open_db(data_dir).map_err(Into::into)
    }

    /// Opens the store, waiting out another process that opens (creates,
    /// migrates) it at the same moment: SQLite answers some of those races
    /// with `SQLITE_BUSY` at once, without its busy timeout, so the whole
    /// open is tried again until the timeout.
    fn open_db(data_dir: &Path) -> Result<Self> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match Self::try_open(data_dir) {
                Err(e) if e.would_wait() && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    fn try_open(data_dir: &Path) -> Result<Self> {
        let path = Self::path(data_dir);
        // What cannot be read is corrupt, unless it was only busy.
        let corrupt = |e: rusqlite::Error| -> Error {
            let detail = e.to_string();
            let e = Error::Sqlite(e);
            if e.would_wait() {
                return e;
            }
            StoreError::Corrupt {
                path: path.clone(),
                detail,
            }
            .into()
        };
        // The jobs' spools live beside the store (see `spool`); both hold
        // secrets (see `drbook_core::private`).
        let io = |e: std::io::Error| StoreError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        };
        private::create_dir(data_dir).map_err(io)?;
        private::create_dir(&data_dir.join("spool")).map_err(io)?;
        private::create_file(&path).map_err(io)?;
        let mut conn = Connection::open(&path).map_err(corrupt)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        // A process crash loses nothing in WAL mode with NORMAL; a power loss
        // may lose the last commits, which resume tolerates (see `journal`).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // No automatic checkpoints: one journal write in ~500 would wait for
        // the checkpoint's two fsyncs. Workers checkpoint off the path of host
        // calls (`checkpoint`); a short-lived command's connection
        // checkpoints as it closes.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // The write lock first: two processes creating or migrating the
        // store at once take turns.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(corrupt)?;
        let has_meta: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get(0),
            )
            .map_err(corrupt)?;
        let found = if !has_meta {
            tx.execute_batch(SCHEMA)?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('schema', '1')", [])?;
            1
        } else {
            let found: String = tx
                .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                    r.get(0)
                })
                .map_err(corrupt)?;
            let found: i64 =
                found
                    .parse()
                    .map_err(|e: std::num::ParseIntError| StoreError::Corrupt {
                        path: path.clone(),
                        detail: e.to_string(),
                    })?;
            if found > SCHEMA_VERSION {
                return Err(StoreError::Newer {
                    path,
                    found,
                    supported: SCHEMA_VERSION,
                }
                .into());
            }
            found
        };
        for (version, migration) in (found + 1..).zip(&MIGRATIONS[(found - 1).max(0) as usize..]) {
            tx.execute_batch(migration).map_err(corrupt)?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema'",
                [version.to_string()],
            )?;
        }
        tx.commit()?;
        let reader = Connection::open(&path).map_err(corrupt)?;
        reader.busy_timeout(BUSY_TIMEOUT)?;
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(reader)),
            path,
        })
    }

    /// Copies the write-ahead log back into the database on a connection of
    /// its own, so that host calls keep writing meanwhile (a passive
    /// checkpoint never blocks writers). Workers call it every second.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A connection to read with: the writer's if it is free (its cache
    /// holds what was just written: a run's journal, read back as it
    /// resumes), else the one for reads (see the module docs).
    pub(crate) fn conn(&self) -> Result<MutexGuard<'_, Connection>> {
        match try_take(&self.writer) {
            Some(writer) => with_timeout(writer),
            None => lock(&self.reader),
        }
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        transaction(&mut *lock(&self.writer)?, f)
    }

    /// [`write`](Self::write), on disk when it returns (`synchronous =
    /// FULL` for this commit: the write-ahead log is synced, with every
    /// commit before it), for what must survive a power loss.
    pub(crate) fn write_durably<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        may_wait()?;
        let mut conn = lock(&self.writer)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let value = transaction(&mut conn, f);
        // Failing to go back leaves the connection syncing every commit:
        // slower, never less safe, and no reason to report the commit failed.
        let _ = conn.pragma_update(None, "synchronous", "NORMAL");
        value
    }

    pub fn file(&self) -> &Path {
        &self.path
    }
}

/// `conn` if it is free, else `None`.
fn try_take(conn: &Mutex<Connection>) -> Option<MutexGuard<'_, Connection>> {
    match conn.try_lock() {
        Ok(conn) => Some(conn),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// `conn`: taken only if free in a call made in place ([`inline`]); waited
/// for otherwise.
fn lock(conn: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>> {
    let conn = if INLINE.get() {
        try_take(conn).ok_or(Error::WouldWait)?
    } else {
        conn.lock().unwrap_or_else(|e| e.into_inner())
    };
    with_timeout(conn)
}

/// `conn` with its busy timeout for this call: none in a call made in place
/// ([`inline`]), which must not wait for another process's lock.
fn with_timeout(conn: MutexGuard<'_, Connection>) -> Result<MutexGuard<'_, Connection>> {
    conn.busy_timeout(if INLINE.get() {
        Duration::ZERO
    } else {
        BUSY_TIMEOUT
    })?;
    Ok(conn)
}

/// `Err(WouldWait)` in a call made in place ([`inline`]), which must not
/// wait: for what is about to sync to disk. Asked before the work that leads
/// up to the sync, which a call made again off the async threads would
/// otherwise do twice.
pub(crate) fn may_wait() -> Result<()> {
    if INLINE.get() {
        return Err(Error::WouldWait);
    }
    Ok(())
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction on `conn`.
fn transaction<T>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes that open a new store at the same moment take turns: every
    /// one opens it (none sees "database is locked", none calls it corrupt).
    #[test]
    fn several_opening_a_new_store_at_once_all_open_it() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = Arc::new(std::sync::Barrier::new(8));
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    let (dir, barrier) = (dir.path().to_path_buf(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        SqliteStore::open(&dir).map(|_| ())
                    })
                })
                .collect();
            for opener in openers {
                opener
                    .join()
                    .unwrap()
                    .expect("every opener opens the store");
            }
        }
    }

    /// A read tried in place does not wait for a write under way (it has a
    /// connection of its own), and a write tried in place gives way to it.
    #[test]
    fn a_read_in_place_does_not_wait_for_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let writing = store.writer.lock().unwrap();
        let read = inline(|| store.webhooks()).expect("the read did not wait");
        assert!(read.unwrap().is_empty());
        assert!(inline(|| store.write(|_| Ok(()))).is_none());
        drop(writing);
        assert!(inline(|| store.write(|_| Ok(()))).is_some());
    }

    /// The store's directory, database and spools are the owner's only.
    #[cfg(unix)]
    #[test]
    fn the_store_is_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let store = SqliteStore::open(&dir).unwrap();
        store
            .conn()
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("spool")), 0o700);
        for file in ["jobs.db", "jobs.db-wal", "jobs.db-shm"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
    }
}
