//! What the suite's tests share: jobs, leases, entries and lines to write,
//! and the reads they check.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, UNIX_EPOCH};

use drbook_core::fabric::{Direction, OperationRequest};
use drbook_core::job::{new_id, JobSpec, JobStatus, NewJob, Trigger};
use drbook_core::journal::{Call, Entry, Record, Stream};
use drbook_core::lease::Lease;
use drbook_core::module::digest;
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::store::{JobStore, RunEnd, StoreError};

/// A lease the suite lets lapse: long enough for a run's first writes on a
/// loaded machine (a lease is only written for while more than a fifth of
/// it is left), short enough to wait out.
pub const SHORT_LEASE: Duration = Duration::from_secs(1);

/// A lease no test outlives.
pub(crate) const LONG_LEASE: Duration = Duration::from_secs(600);

/// How far the clock that stamps a backend's times (a database server's)
/// may be from this process's.
pub(crate) const CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// How long the suite waits for what is due (a lapsed lease's job to be
/// runnable) before it calls the backend wrong.
const PATIENCE: Duration = Duration::from_secs(15);

/// The module the suite's jobs run unless a test needs others: the store
/// keeps bytes, it never runs them.
pub(crate) const MODULE: &[u8] = b"\0asm conformance module";

pub(crate) const RUNBOOK: &str = "conformance.wasm";

/// A port call that must succeed: its error, shown as the store words it,
/// fails the test where it was made.
pub(crate) trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for Result<T, StoreError> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

/// A spec with a fresh id, started by `trigger`.
pub(crate) fn spec(trigger: Trigger) -> JobSpec {
    let plan = RecoveryPlan::parse(
        "name = \"conformance\"\nprimary_region = \"westeurope\"\nrecovery_region = \"northeurope\"\n\
         [[groups]]\nname = \"web\"\nvms = [\"vm-1\"]\n",
        "conformance.toml",
    )
    .expect("the suite's plan parses");
    JobSpec {
        job_id: new_id(),
        plan,
        failover_type: FailoverType::Planned,
        direction: Direction::PrimaryToRecovery,
        parameters: BTreeMap::from([("region".to_string(), "northeurope".to_string())]),
        trigger,
        grant: Default::default(),
        admission: None,
    }
}

/// A spec with a fresh id, started from the command line.
pub(crate) fn cli_spec() -> JobSpec {
    spec(Trigger::CommandLine {
        user: "conformance".to_string(),
    })
}

/// Creates a job from the command line pinned to `module` (on the suite's
/// plan); its id.
pub async fn create(store: &dyn JobStore, module: &[u8]) -> String {
    let spec = cli_spec();
    let digest = digest(module);
    let job = NewJob {
        digest: &digest,
        runbook: RUNBOOK,
        spec: &spec,
    };
    store.create(job, module).await.must("create a job");
    spec.job_id
}

/// A lease renewed once, so that it holds (and may claim).
pub(crate) async fn renewed(store: &dyn JobStore, owner: &str, duration: Duration) -> Lease {
    let lease = Lease::new(owner, duration);
    assert!(
        store.renew(&lease).await.must("renew a new lease"),
        "a new lease is renewed"
    );
    lease
}

/// A renewed lease that has claimed job `id`.
pub(crate) async fn holding(
    store: &dyn JobStore,
    id: &str,
    owner: &str,
    duration: Duration,
) -> Lease {
    let lease = renewed(store, owner, duration).await;
    assert!(
        store.claim(id, &lease).await.must("claim"),
        "{owner} claims the runnable job {id}"
    );
    lease
}

pub(crate) async fn is_runnable(store: &dyn JobStore, id: &str, now: DateTime<Utc>) -> bool {
    let runnable = store.runnable(now, 1000).await.must("list runnable jobs");
    runnable.iter().any(|r| r == id)
}

/// Waits until job `id` is runnable (the lease it was held by ended).
pub(crate) async fn runnable_soon(store: &dyn JobStore, id: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !is_runnable(store, id, Utc::now()).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} is still not runnable {PATIENCE:?} later"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sleeps until `lease` has lapsed, in this process and in the store.
pub(crate) async fn outlive(lease: &Lease) {
    let until = DateTime::from_timestamp_millis(lease.until_ms()).unwrap_or_default();
    let left = (until - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(50)).await;
}

/// A plain journal entry: a `now` call answered with `n`.
pub(crate) fn entry(n: u64) -> Entry {
    Entry {
        call: Call::Now,
        reply: Some(serde_json::json!(n)),
        at: 1_700_000_000_000 + n as i64,
    }
}

/// An intent: a call that starts an operation, not answered yet.
pub(crate) fn intent() -> Entry {
    Entry {
        call: Call::Start {
            vm: "vm-1".to_string(),
            request: OperationRequest::PlannedFailover {
                direction: Direction::PrimaryToRecovery,
            },
        },
        reply: None,
        at: 1_700_000_000_500,
    }
}

/// [`intent`], answered: the entry that replaces it.
pub(crate) fn answered() -> Entry {
    Entry {
        reply: Some(serde_json::json!({"operation": "op-1"})),
        ..intent()
    }
}

/// A stream line, its time in whole milliseconds (what stores keep).
pub(crate) fn line(text: &str) -> Record {
    Record {
        stream: Stream::Output,
        time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_000),
        text: text.to_string(),
    }
}

/// A run's end for good, `Completed` with `result`.
pub(crate) fn completed(result: &serde_json::Value) -> RunEnd<'_> {
    RunEnd::Finished {
        status: JobStatus::Completed,
        reason: None,
        result,
    }
}

/// The text of job `id`'s stream lines after `after`.
pub(crate) async fn texts(store: &dyn JobStore, id: &str, after: i64) -> Vec<String> {
    let lines = store.streams(id, after).await.must("read streams");
    lines.into_iter().map(|(_, r)| r.text).collect()
}

/// Asserts what every one of `readers` reads of job `id`: its journal, and
/// its stream lines with their numbers, once the store has committed what
/// the run appended: at once on SQLite (its spool is on the host), a group
/// commit later on PostgreSQL. Until then each read must be part of what is
/// expected: stream lines in order from the first, none twice, and no more
/// journal entries than were appended.
pub(crate) async fn assert_reads(
    readers: &[&dyn JobStore],
    id: &str,
    journal: &[Entry],
    streams: &[(i64, Record)],
    when: &str,
) {
    for (n, reader) in readers.iter().enumerate() {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let read_journal = reader.journal(id).await.must("read the journal");
            let read_streams = reader.streams(id, 0).await.must("read streams");
            assert!(
                streams.starts_with(&read_streams),
                "the stream lines reader {n} reads {when}: {read_streams:?}, not a part of {streams:?}"
            );
            assert!(
                read_journal.len() <= journal.len(),
                "the journal reader {n} reads {when}: {read_journal:?}, more than {journal:?}"
            );
            let seen = read_journal == journal && read_streams == streams;
            if seen || tokio::time::Instant::now() >= deadline {
                assert_eq!(read_journal, journal, "the journal reader {n} reads {when}");
                assert_eq!(
                    read_streams, streams,
                    "the stream lines reader {n} reads {when}"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The ids of `jobs`, in their order.
pub(crate) fn ids(jobs: Vec<drbook_core::job::JobRecord>) -> Vec<String> {
    jobs.into_iter().map(|j| j.id).collect()
}

/// The store's counts by status, each status once.
pub(crate) async fn counts(store: &dyn JobStore) -> HashMap<JobStatus, u64> {
    let counts = store.count_by_status().await.must("count jobs by status");
    let by_status: HashMap<_, _> = counts.iter().copied().collect();
    assert_eq!(
        by_status.len(),
        counts.len(),
        "each status counted once: {counts:?}"
    );
    by_status
}

/// Asserts that the store stamped `time` between `before` and `after`
/// (give or take [`CLOCK_SLACK`]).
#[track_caller]
pub(crate) fn assert_stamped(
    time: DateTime<Utc>,
    before: DateTime<Utc>,
    after: DateTime<Utc>,
    what: &str,
) {
    assert!(
        before - CLOCK_SLACK <= time && time <= after + CLOCK_SLACK,
        "{what} is {time}, not between {before} and {after}"
    );
}

/// Now, in whole milliseconds (what stores keep), for times a test writes
/// and reads back.
pub(crate) fn now_ms() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}
