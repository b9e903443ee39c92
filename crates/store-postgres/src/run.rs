//! One run of a job on PostgreSQL: its journal entries and stream lines go
//! into the `journal` and `streams` tables, group-committed.
//!
//! Why buffered: a host call must not wait for a commit (a round trip and a
//! WAL flush), and [`RunLog::append`] is synchronous. An append checks the
//! lease locally, queues its lines and wakes the run's committer task, which
//! commits everything queued in one transaction; lines queued while a commit
//! is under way go in the next one, so commits are as frequent as the
//! database allows and as large as the runbook's pace makes them. An intent
//! and the run's end commit what is queued with them, before they return.
//!
//! Fencing: every commit checks, in its transaction and with the job's row
//! locked, that the job is still leased to this run's owner *at this run's
//! attempt* (one more at every claim), so a run whose job was claimed again
//! (by another worker, or by this one after its lease lapsed) commits
//! nothing more. A claim waits for a commit under way to end, so a run that
//! takes a job over reads every line committed before it, and a stale run
//! commits none after it: readers never see a line lost or repeated. An
//! intent also checks that the lease has not lapsed on the database's clock.
//!
//! Commits are synchronous (`synchronous_commit` as the server has it, on by
//! default): a line a reader has seen survives a crash of the server too.

use async_trait::async_trait;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::db::{backend, decode, encode};
use crate::jobs::{finish, set_waiting};
use drbook_core::job::Approval;
use drbook_core::journal::{Entry, Record};
use drbook_core::lease::Lease;
use drbook_core::store::{RunEnd, RunLog, StoreError};

/// What a run has queued and not committed yet.
#[derive(Default)]
struct Lines {
    /// Journal entries by position, encoded (an intent's reply replaces it).
    entries: BTreeMap<i64, String>,
    /// Stream lines with their numbers, encoded, in order.
    streams: Vec<(i64, String)>,
}

impl Lines {
    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.streams.is_empty()
    }

    /// Puts `self` (taken earlier, not committed) back before `later`.
    fn before(mut self, later: Lines) -> Lines {
        self.entries.extend(later.entries);
        self.streams.extend(later.streams);
        self
    }
}

struct Queue {
    lines: Lines,
    /// The number of the run's next stream line.
    next_stream: i64,
}

struct Shared {
    pool: PgPool,
    job_id: String,
    lease: Lease,
    /// The job's attempt this run was opened at: its fencing token.
    attempt: i64,
    queue: Mutex<Queue>,
    /// One commit at a time, each of what it took from the queue: commits
    /// land in the order of their lines.
    turn: tokio::sync::Mutex<()>,
    /// Lines were queued (wakes the committer).
    queued: tokio::sync::Notify,
    lease_lost: AtomicBool,
    /// An intent's commit failed with the server unreachable (see
    /// [`RunLog::interrupted`]).
    interrupted: AtomicBool,
    /// The run was dropped or ended: the committer commits what is left and
    /// stops.
    closed: AtomicBool,
}

/// A run's log; its committer task runs while it exists.
pub(crate) struct Run(Arc<Shared>);

impl Run {
    /// The log of a run of job `id` at `attempt`, whose next stream line is
    /// `next_stream`; starts its committer (on the caller's runtime).
    pub(crate) fn start(
        pool: PgPool,
        job_id: &str,
        lease: &Lease,
        attempt: i64,
        next_stream: i64,
    ) -> Self {
        let shared = Arc::new(Shared {
            pool,
            job_id: job_id.to_string(),
            lease: lease.clone(),
            attempt,
            queue: Mutex::new(Queue {
                lines: Lines::default(),
                next_stream,
            }),
            turn: tokio::sync::Mutex::new(()),
            queued: tokio::sync::Notify::new(),
            lease_lost: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        let committer = shared.clone();
        tokio::spawn(async move {
            loop {
                committer.queued.notified().await;
                // A failed commit leaves its lines queued for the next one
                // (at the latest, the run's intent or end, which reports it);
                // a lost lease is marked for the run's next call.
                let _ = committer.commit(None, None).await;
                if committer.closed.load(Ordering::Acquire) {
                    return;
                }
            }
        });
        Run(shared)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.queued.notify_one();
    }
}

/// How a run ended, owned, to be recorded in its last commit.
enum End {
    Waiting(drbook_core::job::JobStatus, String, drbook_core::job::Wake),
    Finished(
        drbook_core::job::JobStatus,
        Option<String>,
        serde_json::Value,
    ),
}

impl Shared {
    /// Fails with `LeaseLost` if the run lost its lease, or if the lease is
    /// not held by this process's clock (see [`Lease::held`]): a write that
    /// would come too close to its end is not made.
    fn check(&self) -> Result<(), StoreError> {
        if !self.lease_lost.load(Ordering::Acquire) && self.lease.held() {
            return Ok(());
        }
        self.lease_lost.store(true, Ordering::Release);
        Err(self.lost())
    }

    fn lost(&self) -> StoreError {
        StoreError::LeaseLost {
            job: self.job_id.clone(),
            owner: self.lease.owner().to_string(),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `entry` at `seq` and the stream line `stream`.
    fn push(&self, entry: Option<(usize, &Entry)>, stream: Option<&Record>) {
        let mut queue = self.queue();
        if let Some((seq, entry)) = entry {
            queue.lines.entries.insert(seq as i64, encode(entry));
        }
        if let Some(record) = stream {
            let n = queue.next_stream;
            queue.next_stream += 1;
            queue.lines.streams.push((n, encode(record)));
        }
        drop(queue);
        self.queued.notify_one();
    }

    /// Commits what is queued, with `intent` (a journal entry that must not
    /// be committed unless the lease is live by the database's clock) and
    /// `end`, in one fenced transaction. Lines that failed to commit stay
    /// queued; an intent that failed does not (its caller learns it).
    async fn commit(
        &self,
        intent: Option<(i64, String)>,
        end: Option<&End>,
    ) -> Result<(), StoreError> {
        let _turn = self.turn.lock().await;
        let lines = std::mem::take(&mut self.queue().lines);
        if lines.is_empty() && intent.is_none() && end.is_none() {
            return Ok(());
        }
        match self.transaction(&lines, intent.as_ref(), end).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if let StoreError::LeaseLost { .. } = e {
                    self.lease_lost.store(true, Ordering::Release);
                } else {
                    let mut queue = self.queue();
                    let later = std::mem::take(&mut queue.lines);
                    queue.lines = lines.before(later);
                }
                Err(e)
            }
        }
    }

    async fn transaction(
        &self,
        lines: &Lines,
        intent: Option<&(i64, String)>,
        end: Option<&End>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let held: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM jobs WHERE id = $1 AND lease_owner = $2 AND attempt = $3
             AND (NOT $4 OR lease_until_ms > drbook_now_ms()) FOR UPDATE",
        )
        .bind(&self.job_id)
        .bind(self.lease.owner())
        .bind(self.attempt)
        .bind(intent.is_some())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if held.is_none() {
            return Err(self.lost());
        }
        let (mut seqs, mut entries): (Vec<i64>, Vec<&str>) = lines
            .entries
            .iter()
            .map(|(seq, entry)| (*seq, entry.as_str()))
            .unzip();
        if let Some((seq, entry)) = intent {
            // Queued lines are older than the intent: a queued entry at its
            // position (none is expected) gives way to it.
            if let Some(at) = seqs.iter().position(|s| s == seq) {
                entries[at] = entry;
            } else {
                seqs.push(*seq);
                entries.push(entry);
            }
        }
        if !seqs.is_empty() {
            sqlx::query(
                "INSERT INTO journal (job_id, seq, entry) SELECT $1, seq, entry
                 FROM unnest($2::bigint[], $3::text[]) AS t(seq, entry)
                 ON CONFLICT (job_id, seq) DO UPDATE SET entry = EXCLUDED.entry",
            )
            .bind(&self.job_id)
            .bind(&seqs)
            .bind(&entries)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        if !lines.streams.is_empty() {
            let (seqs, records): (Vec<i64>, Vec<&str>) = lines
                .streams
                .iter()
                .map(|(seq, record)| (*seq, record.as_str()))
                .unzip();
            // A commit whose answer was lost (the connection dropped after
            // COMMIT) is made again with the same lines: each is this run's,
            // numbered by it under its fence, so one already there is it.
            sqlx::query(
                "INSERT INTO streams (job_id, seq, record) SELECT $1, seq, record
                 FROM unnest($2::bigint[], $3::text[]) AS t(seq, record)
                 ON CONFLICT (job_id, seq) DO NOTHING",
            )
            .bind(&self.job_id)
            .bind(&seqs)
            .bind(&records)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        match end {
            None => {}
            Some(End::Waiting(status, reason, wake)) => {
                set_waiting(&mut tx, &self.job_id, *status, reason, wake).await?
            }
            Some(End::Finished(status, reason, result)) => {
                finish(&mut tx, &self.job_id, *status, reason.as_deref(), result).await?
            }
        }
        tx.commit().await.map_err(backend)
    }
}

#[async_trait]
impl RunLog for Run {
    fn job_id(&self) -> &str {
        &self.0.job_id
    }

    fn append(&self, seq: usize, entry: &Entry, stream: Option<&Record>) -> Result<(), StoreError> {
        self.0.check()?;
        self.0.push(Some((seq, entry)), stream);
        Ok(())
    }

    /// An intent whose commit failed with the server unreachable may be
    /// committed or not (the connection may have dropped after COMMIT was
    /// sent); the run is [interrupted](RunLog::interrupted) either way, so
    /// its operation is never started by it, and the replay that resumes the
    /// job finds the intent (and re-attaches to the operation by its
    /// initiator, which never started it: a start that finds none starts it,
    /// once) or finds nothing there (and makes the call live, a first time).
    async fn append_intent(&self, seq: usize, entry: &Entry) -> Result<(), StoreError> {
        self.0.check()?;
        let committed = self.0.commit(Some((seq as i64, encode(entry))), None).await;
        if committed.as_ref().is_err_and(StoreError::is_unavailable) {
            self.0.interrupted.store(true, Ordering::Release);
        }
        committed
    }

    fn append_stream(&self, record: &Record) -> Result<(), StoreError> {
        self.0.check()?;
        self.0.push(None, Some(record));
        Ok(())
    }

    async fn end(&self, end: RunEnd<'_>) -> Result<(), StoreError> {
        if self.0.lease_lost.load(Ordering::Acquire) {
            return Err(self.0.lost());
        }
        let end = match end {
            RunEnd::Waiting {
                status,
                reason,
                wake,
            } => End::Waiting(status, reason.to_string(), wake.clone()),
            RunEnd::Finished {
                status,
                reason,
                result,
            } => End::Finished(status, reason.map(str::to_string), result.clone()),
        };
        self.0.commit(None, Some(&end)).await?;
        self.0.closed.store(true, Ordering::Release);
        Ok(())
    }

    fn lease_lost(&self) -> bool {
        self.0.lease_lost.load(Ordering::Acquire)
    }

    fn interrupted(&self) -> bool {
        self.0.interrupted.load(Ordering::Acquire)
    }

    async fn decision(&self, journal_seq: usize) -> Result<Option<Approval>, StoreError> {
        decision(&self.0.pool, &self.0.job_id, journal_seq).await
    }
}

/// The decision on job `id`'s manual step at `journal_seq`.
pub(crate) async fn decision(
    pool: &PgPool,
    id: &str,
    journal_seq: usize,
) -> Result<Option<Approval>, StoreError> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT decision FROM decisions WHERE job_id = $1 AND journal_seq = $2")
            .bind(id)
            .bind(journal_seq as i64)
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    text.map(|t| decode("decision", &t)).transpose()
}
