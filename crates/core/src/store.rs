//! The job store port: where jobs, their journals and streams, approvals,
//! stop requests, webhooks and their alerts live, shared by every worker,
//! server and command on one store.
//!
//! Who implements it: `drbook-store-sqlite` (a file per data directory, the
//! reference); next, PostgreSQL for several hosts. Both pass the conformance
//! suite in `drbook-conformance`'s `store` module.
//!
//! What every backend guarantees:
//! - **Leases and fencing.** A job is run only under a lease ([`Lease`]): a
//!   claim takes it for the worker's lease, and every write a run makes (its
//!   journal, its streams, how it ended) is checked against it, so a run whose
//!   lease lapsed (its worker stalled) and whose job was taken over writes
//!   nothing more: its writes fail with [`StoreError::LeaseLost`]. A lease
//!   that lapsed is never renewed.
//! - **Intents are durable before they return.** [`RunLog::append_intent`]
//!   returns only once the entry would survive a crash of the writer and a
//!   power loss, and any worker that later runs the job (on any host) reads
//!   it back: a resumed job never starts an operation twice. Other appends may
//!   be buffered; a crash may lose the last of them, which the resumed job
//!   makes again.
//! - **Readers see what was appended.** [`JobStore::journal`] and
//!   [`JobStore::streams`] include what a running job appended, in order,
//!   once each: what [`RunLog::append_intent`] and [`RunLog::end`] wrote as
//!   soon as they return, buffered appends once the backend has committed
//!   them (at once on SQLite, whose spool is on the host; a group commit
//!   later on PostgreSQL). A line a reader has seen is never lost nor
//!   repeated by a takeover.
//! - **One decision per step, one job per alert.** Approvals, stop requests
//!   and deliveries are each one atomic change.
//! - **One job at a time changes a plan.** A store serves one fabric, and
//!   knows a plan by its name with its primary and recovery regions
//!   ([`plan_key`]). A plan is *busy* while a job of it has not ended
//!   (`New`, `Running`, `Suspended`, unloaded or not). A start through
//!   [`JobStore::admit`] or [`JobStore::record_delivery`] looks for a busy
//!   job and acts on it in the same atomic change that creates the job, so
//!   that of starts racing each other (many deliveries at once, several
//!   servers on one store) exactly one finds the plan free and creates its
//!   job, and the others find it busy. A busy plan's start does what its [`OnBusy`]
//!   says: `Attach` creates nothing and names the busy job; `Queue` creates
//!   the job *queued*: neither [`JobStore::runnable`] lists it nor
//!   [`JobStore::claim`] takes it while a job of its plan created before it
//!   has not ended; `Refuse` creates nothing. [`JobStore::create`] does not
//!   look (it is for what tests and tools set up).
//! - **A retry is answered as the first delivery.** A signed delivery's
//!   message id is kept with the SHA-256 of its body and the answer it got:
//!   the same id and body again get that answer and create nothing; the same
//!   id with another body is refused ([`StoreError::MessageReused`]).
//! - **One job per tick.** A schedule's tick is keyed by the schedule and
//!   the tick's time, in the change that creates its job
//!   ([`JobStore::fire_tick`]): however many schedulers fire it, one does.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

use crate::job::{Admission, Approval, JobRecord, JobStatus, NewJob, Wake};
use crate::journal::{Entry, Record};
use crate::lease::Lease;
use crate::plan::RecoveryPlan;
use crate::retry::Attempt;
use crate::schedule::{Schedule, TickRecord};
use crate::token::{StoredSession, StoredToken};
use crate::webhook::{AlertRecord, NewDelivery, Recorded, StoredWebhook, WebhookModule};

pub mod export;
pub mod page;

pub use page::{JobFilter, JobPage, PageCursor};

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
        "{} was written by a newer drbook (schema {found}, this build reads {supported}); upgrade drbook",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "the manual step of job `{job}` was already {} by {by} at {at}; the first decision stands",
        if *approved { "approved" } else { "rejected" }
    )]
    AlreadyDecided {
        job: String,
        approved: bool,
        by: String,
        at: chrono::DateTime<chrono::Utc>,
    },
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
    #[error(
        "message id `{}` was already delivered with another body; a retry resends the same body, and a new \
         message needs a new webhook-id",
        message_id.escape_debug()
    )]
    MessageReused { message_id: String },
    /// The backend cannot be reached now: its server is down or restarting,
    /// or the connection dropped. A passing outage, not a fault of a job:
    /// workers wait for the store and go on (see [`StoreError::is_unavailable`]).
    #[error(
        "the job store cannot be reached ({0}); start its server if it is down: workers wait for it and go on, \
         a command can be run again once it is back"
    )]
    Unavailable(String),
    /// An export found jobs a live lease holds (see [`export`]).
    #[error(
        "jobs {jobs} are held under a live lease: a worker is running them and would go on writing to this \
         store after the export; stop the workers (`drbook workers` lists them) or wait for their leases to \
         end, then export again"
    )]
    Leased { jobs: String },
    /// An import found the store holding something already.
    #[error(
        "the job store at {location} is not empty (it holds {holds}); import into a new store (SQLite: an \
         empty data dir or [store] path; PostgreSQL: a new database, after `drbook store migrate`): nothing \
         was written"
    )]
    NotEmpty { location: String, holds: String },
    /// A retry of a job that is not failed, or that a live lease holds
    /// (see [`JobStore::retry`]).
    #[error(
        "job `{job}` is {status:?}{}, not Failed: only a failed job is retried ({})",
        held_by.as_ref().map(|o| format!(" and held by {o}")).unwrap_or_default(),
        match status {
            JobStatus::Completed => "it completed; `drbook jobs rerun` runs it again as a new job",
            JobStatus::Stopped => "it was stopped; `drbook jobs rerun` runs it again as a new job",
            _ => "it has not ended: wait for it, or `drbook jobs stop` it",
        }
    )]
    NotFailed {
        job: String,
        status: JobStatus,
        held_by: Option<String>,
    },
    /// A retry of a job whose plan is busy with another job meanwhile.
    #[error("job `{job}` is not retried now: {busy}; retry it once that job has ended")]
    PlanBusy { job: String, busy: Busy },
    /// The backend itself failed (its database, its connection).
    #[error("job store error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether the store could not be reached (its server down, restarting,
    /// a connection lost): what was asked may be asked again once it is
    /// back. What was written in a call that failed so may or may not be
    /// stored (a commit whose answer was lost): a caller that retries must
    /// make the same write, and a run whose intent failed so must stop (see
    /// [`RunLog::interrupted`]). SQLite, a file on the host, never is.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// How a run of a job ended, recorded with the last of what it wrote.
#[derive(Debug, Clone, Copy)]
pub enum RunEnd<'a> {
    /// Unloaded to wait: `Running` (operations, a timer) or `Suspended` (a
    /// person), until `wake`.
    Waiting {
        status: JobStatus,
        reason: &'a str,
        wake: &'a Wake,
    },
    /// Ended for good, with its summary.
    Finished {
        status: JobStatus,
        reason: Option<&'a str>,
        result: &'a serde_json::Value,
    },
}

/// What a start of a busy plan does (see the module docs): the rules
/// file's `on-busy`, `drbook run --queue`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBusy {
    /// No job: the start is the busy job's too (an alert of the outage it
    /// is already recovering from).
    #[default]
    Attach,
    /// A job that runs once the busy job has ended.
    Queue,
    /// No job: the start is refused, naming the busy job.
    Refuse,
}

/// A start found its plan busy: which job it is busy with, and what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Busy {
    /// The plan's name.
    pub plan: String,
    /// The oldest job of the plan that has not ended.
    pub job: String,
    pub on_busy: OnBusy,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (plan, job) = (&self.plan, &self.job);
        match self.on_busy {
            OnBusy::Attach => write!(f, "attached to job `{job}`: plan `{plan}` is busy with it"),
            OnBusy::Queue => write!(
                f,
                "queued behind job `{job}`: plan `{plan}` is busy with it"
            ),
            OnBusy::Refuse => write!(f, "refused: plan `{plan}` is busy with job `{job}`"),
        }
    }
}

/// A delivery's answer, built as each of its jobs is placed: the job ids it
/// names and the first busy plan it met. One rule for every backend's
/// [`JobStore::record_delivery`]: a job created (or queued) is named, an
/// attached one names the busy job, a refused one nothing.
#[derive(Debug, Default)]
pub struct Placed {
    pub job_ids: Vec<String>,
    pub busy: Option<Busy>,
}

impl Placed {
    /// Job `job_id` was placed: created if `found` is `None`, else its plan
    /// was busy and `found` says what was done.
    pub fn add(&mut self, job_id: &str, found: Option<Busy>) {
        let Some(found) = found else {
            self.job_ids.push(job_id.to_string());
            return;
        };
        match found.on_busy {
            OnBusy::Attach => self.job_ids.push(found.job.clone()),
            OnBusy::Queue => self.job_ids.push(job_id.to_string()),
            OnBusy::Refuse => {}
        }
        self.busy.get_or_insert(found);
    }
}

/// What a plan is known by in a store: its name with its primary and
/// recovery regions, in ASCII lowercase (ARM names are case-insensitive),
/// separated by U+001F. Every backend keys busy plans by it.
pub fn plan_key(plan: &RecoveryPlan) -> String {
    [&plan.name, &plan.primary_region, &plan.recovery_region]
        .map(|part| part.to_ascii_lowercase())
        .join("\u{1f}")
}

/// A job a lease holds, as [`JobStore::workers`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldJob {
    pub id: String,
    pub runbook: String,
    /// The name of the job's plan.
    pub plan: String,
}

/// A lease owner and what it holds ([`JobStore::workers`], `drbook workers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerRow {
    /// The lease's name, `<kind>-<user>@<host>#<pid>` (`.<n>` after a lapse):
    /// which process on which host.
    pub owner: String,
    /// Every lease of the owner has ended: it died or stalled, and its jobs
    /// wait for another worker to take them over.
    pub lapsed: bool,
    /// Its jobs, oldest first.
    pub jobs: Vec<HeldJob>,
    /// Its latest renewal, on the store's clock; `None` if it renewed only
    /// before the store recorded renewals.
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// When its leases end (or ended), on the store's clock.
    pub lease_until: DateTime<Utc>,
}

/// One job under a lease, as a backend reads it for [`JobStore::workers`].
#[derive(Debug, Clone)]
pub struct LeaseRow {
    pub owner: String,
    pub job: HeldJob,
    pub renewed_ms: Option<i64>,
    pub until_ms: i64,
}

/// What every backend's [`JobStore::workers`] answers from its lease rows
/// (in job order) at `now_ms` (the store's clock): one rule, so that the
/// stores differ only in how they read their rows.
pub fn workers_from(
    rows: impl IntoIterator<Item = LeaseRow>,
    now_ms: i64,
    lapsed_within: std::time::Duration,
) -> Vec<WorkerRow> {
    let mut owners: std::collections::BTreeMap<String, (Vec<HeldJob>, Option<i64>, i64)> =
        Default::default();
    for row in rows {
        let (jobs, renewed, until) = owners.entry(row.owner).or_insert((vec![], None, i64::MIN));
        jobs.push(row.job);
        *renewed = (*renewed).max(row.renewed_ms);
        *until = (*until).max(row.until_ms);
    }
    let oldest = now_ms.saturating_sub(lapsed_within.as_millis().try_into().unwrap_or(i64::MAX));
    let from_ms = |ms| DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let mut workers: Vec<WorkerRow> = owners
        .into_iter()
        .filter(|(_, (_, _, until))| *until > oldest)
        .map(|(owner, (jobs, renewed, until))| WorkerRow {
            owner,
            lapsed: until <= now_ms,
            jobs,
            last_heartbeat: renewed.map(from_ms),
            lease_until: from_ms(until),
        })
        .collect();
    // Live ones first; by owner within each (the map's order, kept).
    workers.sort_by_key(|w| w.lapsed);
    workers
}

/// A schedule's tick to handle ([`JobStore::fire_tick`]).
#[derive(Debug, Clone, Copy)]
pub struct NewTick<'a> {
    pub schedule: &'a str,
    /// The tick (when it was due): with the schedule, its key.
    pub tick: DateTime<Utc>,
    /// How many ticks before it were missed.
    pub missed: u32,
    /// The job to start (its spec's trigger the schedule's tick), or `None`
    /// to record the tick as missed ([`crate::schedule::Missed::Skip`]).
    pub job: Option<NewJob<'a>>,
    /// The schedule's next tick once this one is handled.
    pub next: Option<DateTime<Utc>>,
    /// When it is handled (the scheduler's `now`).
    pub at: DateTime<Utc>,
}

/// A webhook to create, with the modules it runs.
#[derive(Debug, Clone)]
pub struct NewWebhookRow<'a> {
    pub webhook: &'a StoredWebhook,
    pub modules: Vec<WebhookModule<'a>>,
}

/// What [`JobStore::changed`] returns: resolves at the store's next change.
pub type Changed<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// The job store. Object-safe: everything holds an `Arc<dyn JobStore>`.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Where the store is, for messages (`/data/jobs.db`, a database URL
    /// without its password).
    fn location(&self) -> String;

    // Jobs.

    /// Creates a job `New`, pinned to `module` (stored once per digest);
    /// durable when it returns: a job whose id was handed out survives a
    /// power loss. It does not look whether the job's plan is busy.
    async fn create(&self, job: NewJob<'_>, module: &[u8]) -> Result<(), StoreError>;

    /// Creates a job as [`create`](Self::create) does if its plan is free;
    /// if it is busy, does what `on_busy` says and returns the busy job,
    /// checked in the change that creates the job (see the module docs).
    async fn admit(
        &self,
        job: NewJob<'_>,
        module: &[u8],
        on_busy: OnBusy,
    ) -> Result<Option<Busy>, StoreError>;

    async fn get(&self, id: &str) -> Result<JobRecord, StoreError>;

    /// Jobs, newest first, optionally only those in `state`.
    async fn list(
        &self,
        state: Option<JobStatus>,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// The page of at most `limit` jobs that `filter` matches, newest first
    /// by `(created, id)`, after `after` (the `next` of the page before):
    /// keyset pages on indexes, so that a page costs the same however many
    /// jobs the store holds, and jobs created between pages never show a
    /// job twice nor skip one (see [`page`]).
    async fn page(
        &self,
        filter: &JobFilter,
        after: Option<&PageCursor>,
        limit: usize,
    ) -> Result<JobPage, StoreError>;

    /// How many jobs are in each status (statuses without jobs left out).
    async fn count_by_status(&self) -> Result<Vec<(JobStatus, u64)>, StoreError>;

    /// The bytes of the module `job` is pinned to.
    async fn module(&self, job: &JobRecord) -> Result<Vec<u8>, StoreError>;

    /// Stores a module and re-pins a job to it (`drbook jobs resume --module`),
    /// with the module's `admission` in the job's spec, in one write: the
    /// job's record never names one module while it runs another.
    async fn repin(
        &self,
        id: &str,
        digest: &str,
        module: &[u8],
        admission: &Admission,
    ) -> Result<(), StoreError>;

    /// The ids of jobs a worker may take now: new ones (but not a queued
    /// one whose plan is still busy), interrupted ones (running, not
    /// waiting, with a lease that ended before `now`), oldest first.
    async fn runnable(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<String>, StoreError>;

    /// Jobs unloaded while they wait (on operations, a decision or a timer).
    async fn waiting(&self) -> Result<Vec<(String, Wake)>, StoreError>;

    /// Marks a waiting job runnable again (its wait is over): `Running`, no
    /// wake. A job that ended meanwhile stays as it is.
    async fn wake(&self, id: &str) -> Result<(), StoreError>;

    /// Ends a job for good (a job that cannot run at all, a stop while it
    /// was not loaded).
    async fn finish(
        &self,
        id: &str,
        state: JobStatus,
        reason: Option<&str>,
        result: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Makes failed job `id` run again from its journal, as a new attempt
    /// (`drbook jobs retry`; see [`crate::retry`] for where `cut` is), in
    /// one atomic change: refused with [`StoreError::NotFailed`] unless the
    /// job is `Failed` and no live lease holds it, and with
    /// [`StoreError::PlanBusy`] while another job of its plan has not ended
    /// (one job at a time changes a plan); else its journal entries from
    /// position `cut` on move into the new [`Attempt`]'s `dropped` (with
    /// the decisions on manual steps at those positions, which are asked
    /// again), the attempt is recorded (numbered after the job's attempts,
    /// by `by`, now, with the job's reason as why the previous one failed
    /// and its last stream line, whose lines stay), and the job is `New`
    /// again (no reason, result, end, wake or stop request), for a worker to
    /// claim. Returns the attempt.
    async fn retry(&self, id: &str, by: &str, cut: usize) -> Result<Attempt, StoreError>;

    /// Deletes jobs that ended before `before`, with their journals, streams
    /// and modules no job or webhook needs; returns how many.
    async fn prune(&self, before: DateTime<Utc>) -> Result<usize, StoreError>;

    // Leases.

    /// Takes job `id` into `lease` if nobody holds it and it is still
    /// runnable (checked again here: the list claimed from may be stale);
    /// true if taken. A job claimed is `Running` (started now, if it never
    /// started). A lease not held (never renewed, or lapsed) claims nothing.
    async fn claim(&self, id: &str, lease: &Lease) -> Result<bool, StoreError>;

    /// Extends `lease` (every job it holds) by its duration from now, and
    /// records now as their last renewal ([`workers`](Self::workers)); false
    /// if it had lapsed, which is never renewed (another worker may have
    /// taken its jobs over): the worker goes on under a new lease.
    async fn renew(&self, lease: &Lease) -> Result<bool, StoreError>;

    /// Every lease owner that holds a job, and those whose leases all
    /// ended less than `lapsed_within` ago (a dead worker whose jobs wait
    /// for a takeover), live ones first: what each holds, its last renewal
    /// (its heartbeat) and when its leases end, judged on the store's clock.
    ///
    /// Derived from the jobs' leases (plus the time of their last renewal),
    /// not from a registry of workers: a lease is what a worker holds and
    /// what another waits out before taking its jobs over, so the listing
    /// cannot disagree with what the store enforces, and nothing has to be
    /// registered, kept alive or cleaned up after a worker that died. An
    /// owner that holds nothing (idle, or released everything) is not
    /// listed: it has nothing to take over.
    async fn workers(
        &self,
        lapsed_within: std::time::Duration,
    ) -> Result<Vec<WorkerRow>, StoreError>;

    /// Gives up `owner`'s lease on job `id` (its run ended or was dropped).
    async fn release(&self, id: &str, owner: &str) -> Result<(), StoreError>;

    /// Starts a run of job `id` held by `lease`: whatever an earlier run left
    /// unfinished (its host died) is made whole first, then the run's log is
    /// opened. Returns it with the journal the run replays.
    async fn open_run(
        &self,
        id: &str,
        lease: &Lease,
    ) -> Result<(Arc<dyn RunLog>, Vec<Entry>), StoreError>;

    /// Housekeeping after crashes, at a worker's start: what killed runs of
    /// jobs that have ended left behind is stored or removed. Returns how
    /// many leftovers were tidied.
    async fn tidy(&self) -> Result<usize, StoreError>;

    /// Periodic upkeep off the path of host calls (a worker calls it every
    /// second): SQLite checkpoints its write-ahead log.
    async fn maintain(&self) -> Result<(), StoreError>;

    /// Resolves when the store learns that a job may have become runnable
    /// (created, woken, decided, or its plan's job ended, by any process on
    /// any host), so that a worker looks at once instead of at its next
    /// poll; PostgreSQL listens for it. A wake-up may be lost, so workers
    /// keep polling. The future is armed when this is called, not when it
    /// is first polled: a worker calls it before it looks at the store, so
    /// that a change made while it looks still wakes it. The default never
    /// resolves: SQLite's workers poll (and `drbook serve` wakes its own
    /// worker directly).
    fn changed(&self) -> Changed<'_> {
        Box::pin(std::future::pending())
    }

    // What people and programs ask of a job.

    /// Job `id`'s whole journal, a running job's latest entries included.
    async fn journal(&self, id: &str) -> Result<Vec<Entry>, StoreError>;

    /// Stream lines after `after` (a stream sequence number, from 1), in
    /// order, a running job's latest lines included.
    async fn streams(&self, id: &str, after: i64) -> Result<Vec<(i64, Record)>, StoreError>;

    /// Records `approval` on the manual step at `journal_seq`; a suspended
    /// job becomes runnable, a stopped one stays stopped. The first decision
    /// wins: a second is refused with [`StoreError::AlreadyDecided`], checked
    /// in the same atomic change that records the first.
    async fn decide(
        &self,
        id: &str,
        journal_seq: usize,
        approval: &Approval,
    ) -> Result<(), StoreError>;

    async fn decision(&self, id: &str, journal_seq: usize) -> Result<Option<Approval>, StoreError>;

    /// Asks job `id` to stop (`by` says who); its worker stops it at its
    /// next host call.
    async fn request_stop(&self, id: &str, by: &str) -> Result<(), StoreError>;

    /// The stop requests of jobs `ids`: `(id, by)` for each that has one
    /// (a worker asks for all the jobs it runs at once).
    async fn stops_requested(&self, ids: &[String]) -> Result<Vec<(String, String)>, StoreError>;

    // Schedules (`drbook schedule`; see [`crate::schedule`]).

    /// Creates a schedule with its module (kept in the store, and from
    /// [`prune`](Self::prune), while the schedule exists); false (nothing
    /// written) if one of that name exists.
    async fn create_schedule(&self, schedule: &Schedule, module: &[u8])
        -> Result<bool, StoreError>;

    async fn schedule(&self, name: &str) -> Result<Option<Schedule>, StoreError>;

    /// Schedules by name: every one, or (`due_by`) only those not paused
    /// whose next tick is at or before it, which a scheduler's tick reads
    /// (indexed: a tick of many schedules with few due reads few).
    async fn schedules(&self, due_by: Option<DateTime<Utc>>) -> Result<Vec<Schedule>, StoreError>;

    /// The earliest next tick of a schedule not paused: when a scheduler
    /// has something to do.
    async fn next_tick(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Pauses a schedule (its ticks are not handled until it is resumed);
    /// false if there is none.
    async fn pause_schedule(&self, name: &str) -> Result<bool, StoreError>;

    /// Resumes a paused schedule with `next` as its next tick (the first
    /// after the resume: ticks that fell while it was paused are not
    /// missed, they were not wanted); false if there is none. Resuming one
    /// that is not paused changes nothing.
    async fn resume_schedule(
        &self,
        name: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError>;

    /// Deletes a schedule with its ticks' records (its jobs stay); false if
    /// there was none.
    async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError>;

    /// Handles one tick of a schedule, once: in one atomic change, the tick
    /// is keyed by (schedule, tick) and recorded with what it did, and the
    /// schedule moves on to `tick.next`, so that of firings racing each
    /// other (several workers and servers on one store) exactly one handles
    /// it and creates its job; the others, and a firing of a schedule that
    /// is paused, deleted or already past the tick, get `None` and change
    /// nothing. A start creates its job as [`admit`](Self::admit) with
    /// [`OnBusy::Refuse`] would, durable when it returns, unless the
    /// schedule's previous job has not ended (the tick is skipped as an
    /// overlap) or the plan is busy with another job (skipped as busy).
    async fn fire_tick(&self, tick: NewTick<'_>) -> Result<Option<TickRecord>, StoreError> {
        Ok(self.fire_ticks(&[tick]).await?.pop().flatten())
    }

    /// Handles several ticks, each as [`fire_tick`](Self::fire_tick) would
    /// in turn (a later one sees what an earlier one did: a plan the first
    /// made busy), in one atomic change with one durable commit: a pass with
    /// many ticks due (a monthly drill of every application at 03:00) pays
    /// one sync, not one each. Returns each tick's record, in order; on any
    /// error nothing is changed (a scheduler then fires them one by one, so
    /// that one bad tick does not hold back the others).
    async fn fire_ticks(
        &self,
        ticks: &[NewTick<'_>],
    ) -> Result<Vec<Option<TickRecord>>, StoreError>;

    /// The latest `limit` ticks a schedule handled, newest first.
    async fn schedule_ticks(&self, name: &str, limit: usize)
        -> Result<Vec<TickRecord>, StoreError>;

    // Webhooks and the alerts they receive.

    /// Creates a webhook with its modules; false if one of that name exists.
    async fn create_webhook(&self, new: NewWebhookRow<'_>) -> Result<bool, StoreError>;

    async fn webhook(&self, name: &str) -> Result<Option<StoredWebhook>, StoreError>;

    /// Every webhook, by name.
    async fn webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError>;

    /// False if there is no such webhook.
    async fn set_webhook_enabled(&self, name: &str, enabled: bool) -> Result<bool, StoreError>;

    /// Deletes a webhook with its alert records (its jobs stay); false if
    /// there was none.
    async fn delete_webhook(&self, name: &str) -> Result<bool, StoreError>;

    /// Records a delivery and creates its jobs, atomically: if its signed
    /// message was recorded before (a retry) or the same alert (id and
    /// condition) was, nothing is created and the first delivery's job ids
    /// (and busy plan) are returned, marked duplicate; a job whose plan is
    /// busy does what the delivery's `on_busy` says (the alert is recorded
    /// with the busy job's id when it attaches). A message id seen with
    /// another body is refused with [`StoreError::MessageReused`]; ids
    /// recorded before the delivery's `forget_before` are forgotten.
    async fn record_delivery(&self, delivery: NewDelivery<'_>) -> Result<Recorded, StoreError>;

    /// The latest `limit` alerts a webhook received, newest first.
    async fn alerts(&self, webhook: &str, limit: usize) -> Result<Vec<AlertRecord>, StoreError>;

    // API tokens (drbook-triggers' API; see [`crate::token`]).

    /// Creates a token; false (nothing written) if one of that name exists,
    /// revoked or not (or one with its hash, which a secret of 256 random
    /// bits never meets).
    async fn create_token(&self, token: &StoredToken) -> Result<bool, StoreError>;

    /// The token whose secret hashes to `hash` (hex SHA-256), revoked and
    /// expired ones included: one indexed lookup, what a server does for
    /// every request it authenticates, before anything else.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<StoredToken>, StoreError>;

    /// Every token, by name, revoked and expired ones included.
    async fn tokens(&self) -> Result<Vec<StoredToken>, StoreError>;

    /// Marks token `name` revoked at `at` (it stays listed), and with it
    /// every session it signed in, in one transaction; false if there is no
    /// such token. Revoking a revoked token keeps its first time.
    async fn revoke_token(&self, name: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Records that token `name` authenticated a request at `at`.
    async fn token_used(&self, name: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    // Browser sessions (drbook-triggers' console; see
    // [`crate::token::StoredSession`]). They are not exported: a moved
    // store signs everyone in again.

    /// Records a new session (its hash is of 256 random bits: never taken).
    async fn create_session(&self, session: &StoredSession) -> Result<(), StoreError>;

    /// The session whose id hashes to `hash`, revoked and expired ones
    /// included (until pruned): one indexed lookup per request.
    async fn session_by_hash(&self, hash: &str) -> Result<Option<StoredSession>, StoreError>;

    /// Marks the session revoked at `at` (signing out); false if there is
    /// no such session. Revoking again keeps the first time.
    async fn revoke_session(&self, hash: &str, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Deletes the sessions that expired before `before`, revoked ones
    /// included; returns how many.
    async fn prune_sessions(&self, before: DateTime<Utc>) -> Result<usize, StoreError>;

    // Moving a store (`drbook store export` / `import`, see [`export`]).

    /// Everything the store holds, as records in the order [`export::Item`]
    /// says (jobs oldest first), held in memory. Refused with
    /// [`StoreError::Leased`] while a job is held under a live lease; a
    /// lapsed lease is left out, so that the importing store resumes the job.
    /// A consistent copy needs the store's workers and servers stopped: a
    /// job created while the export reads may be left out.
    async fn export(&self) -> Result<export::Export, StoreError>;

    /// Writes `items` (read whole and checked by [`export::read`]) into this
    /// store, which must be empty ([`StoreError::NotEmpty`]), in one
    /// transaction: all of them or, on any error, nothing. Jobs keep their
    /// order, ids and times; none is leased.
    async fn import(&self, items: Vec<export::Item>) -> Result<(), StoreError>;
}

/// What one run of a job writes: its journal entries and stream lines, then
/// how it ended. Every write is fenced by the run's lease (see the module
/// docs); after a [`StoreError::LeaseLost`] the run must end without
/// recording anything.
#[async_trait]
pub trait RunLog: Send + Sync {
    fn job_id(&self) -> &str;

    /// Appends journal entry `seq` (a new one, or the reply to an intent)
    /// and, atomically with it, the stream line the call produced. Called on
    /// the path of every host call, so it must not block: a backend writes
    /// to the page cache or a buffer, and may commit later in the background
    /// (its errors then surface at the run's next call or at its end).
    fn append(&self, seq: usize, entry: &Entry, stream: Option<&Record>) -> Result<(), StoreError>;

    /// Appends an intent: an entry without its reply, for a call with an
    /// effect outside the job about to be made. Durable when it returns.
    async fn append_intent(&self, seq: usize, entry: &Entry) -> Result<(), StoreError>;

    /// Appends a stream line that is not a host call's (stdout, stderr); as
    /// [`append`](Self::append), it must not block.
    fn append_stream(&self, record: &Record) -> Result<(), StoreError>;

    /// Records how the run ended, with everything it appended, atomically.
    async fn end(&self, end: RunEnd<'_>) -> Result<(), StoreError>;

    /// Whether a write was refused because the run's lease was lost.
    fn lease_lost(&self) -> bool;

    /// Whether an intent could not be made durable because the store was
    /// unavailable ([`StoreError::is_unavailable`]): the run stops where it
    /// is, as if its host had died, and must not record how it ended; the
    /// job is resumed by replay once the store is back. The default is for
    /// a store that is never unavailable (SQLite's, a file on the host).
    fn interrupted(&self) -> bool {
        false
    }

    /// The decision on the manual step at `journal_seq`, if a person made it.
    async fn decision(&self, journal_seq: usize) -> Result<Option<Approval>, StoreError>;
}
