//! Retrying a failed job (`JobStore::retry`): the cut and the attempt in one
//! change, refused for a job that is not failed, held under a live lease,
//! or whose plan is busy with another job.

use serde_json::json;

use super::fixtures::{
    cli_spec, create, entry, holding, is_runnable, line, now_ms, Must, LONG_LEASE, MODULE, RUNBOOK,
};
use super::Backend;
use drbook_core::job::{Approval, JobStatus, NewJob};
use drbook_core::journal::Entry;
use drbook_core::module::digest;
use drbook_core::store::{JobStore, RunEnd, StoreError};

/// Runs job `id` once under a new lease: appends `entries` from position
/// `from` (a stream line with each), then ends it `Failed` for `reason`.
async fn fail(store: &dyn JobStore, id: &str, from: usize, entries: &[Entry], reason: &str) {
    let lease = holding(store, id, "worker-retry", LONG_LEASE).await;
    let (run, replay) = store.open_run(id, &lease).await.must("open_run");
    assert_eq!(replay.len(), from, "the run replays what was kept");
    for (n, e) in entries.iter().enumerate() {
        run.append(from + n, e, Some(&line(&format!("line {}", from + n))))
            .must("append");
    }
    let end = RunEnd::Finished {
        status: JobStatus::Failed,
        reason: Some(reason),
        result: &json!({"failed": reason}),
    };
    run.end(end).await.must("end");
    store.release(id, lease.owner()).await.must("release");
}

/// A job of a plan of its own (`retried`), failed once and retried, for
/// suites that need one (an export): its id.
pub(crate) async fn retried(store: &dyn JobStore) -> String {
    let mut spec = cli_spec();
    spec.plan.name = "retried".to_string();
    let module_digest = digest(MODULE);
    let job = NewJob {
        digest: &module_digest,
        runbook: RUNBOOK,
        spec: &spec,
    };
    store.create(job, MODULE).await.must("create");
    fail(store, &spec.job_id, 0, &[entry(0), entry(1)], "boom").await;
    store.retry(&spec.job_id, "ops", 1).await.must("retry");
    spec.job_id
}

#[track_caller]
fn assert_not_failed(refused: Result<impl std::fmt::Debug, StoreError>, status: JobStatus) {
    match refused {
        Err(StoreError::NotFailed { status: s, .. }) if s == status => {}
        other => panic!("a retry of a {status:?} job: {other:?}, not NotFailed"),
    }
}

/// A failed job retried: its journal from the cut on moves into the new
/// attempt (numbered 2, then 3; who, when, why the attempt before failed,
/// its last stream line), with the decisions at those positions; what was
/// kept and every stream line stay; the job is `New` and runnable, with
/// no reason, result or end; a new process reads the same. Refused with
/// `NotFailed` while a live lease holds it, once it is `New` again, and for a
/// completed job; with `PlanBusy` while another job of its plan has not
/// ended.
pub async fn a_failed_job_is_retried_from_its_cut_as_a_new_attempt(backend: &impl Backend) {
    let store = backend.open().await;
    let id = create(&*store, MODULE).await;
    let lease = holding(&*store, &id, "worker-running", LONG_LEASE).await;
    match store.retry(&id, "ops", 0).await {
        Err(StoreError::NotFailed {
            status: JobStatus::Running,
            held_by: Some(owner),
            ..
        }) => assert_eq!(owner, lease.owner()),
        other => panic!("a retry of a running job: {other:?}"),
    }
    store.release(&id, lease.owner()).await.must("release");

    let first: Vec<Entry> = (0..4).map(entry).collect();
    fail(&*store, &id, 0, &first, "group `app` failed").await;
    let approval = Approval {
        approved: true,
        by: "alice".to_string(),
        comment: String::new(),
        at: now_ms(),
    };
    for seq in [1, 3] {
        store.decide(&id, seq, &approval).await.must("decide");
    }
    let before = now_ms();
    let attempt = store.retry(&id, "ops", 2).await.must("retry");
    assert_eq!(
        (attempt.attempt, attempt.by.as_str(), attempt.journal_from),
        (2, "ops", 2)
    );
    assert_eq!(
        attempt.previous_reason.as_deref(),
        Some("group `app` failed")
    );
    assert_eq!(attempt.streams_after, 4, "{attempt:?}");
    assert_eq!(attempt.dropped, first[2..], "the cut's entries are kept");
    assert!(attempt.at >= before - chrono::TimeDelta::seconds(5));

    let reader = backend.open().await;
    let job = reader.get(&id).await.must("get");
    assert_eq!(job.state, JobStatus::New, "{job:?}");
    assert_eq!((job.reason, job.result, job.ended), (None, None, None));
    assert_eq!(job.attempts, std::slice::from_ref(&attempt));
    assert_eq!(reader.journal(&id).await.must("journal"), first[..2]);
    assert_eq!(reader.streams(&id, 0).await.must("streams").len(), 4);
    assert_eq!(reader.decision(&id, 3).await.must("decision"), None);
    assert_eq!(
        reader.decision(&id, 1).await.must("decision"),
        Some(approval)
    );
    assert!(is_runnable(&*reader, &id, chrono::Utc::now()).await);
    assert_not_failed(store.retry(&id, "ops", 2).await, JobStatus::New);

    fail(&*store, &id, 2, &[entry(9)], "again").await;
    let other = create(&*store, MODULE).await;
    match store.retry(&id, "ops", 1).await {
        Err(StoreError::PlanBusy { busy, .. }) => assert_eq!(busy.job, other),
        refused => panic!("a retry while its plan is busy: {refused:?}"),
    }
    store
        .finish(&other, JobStatus::Completed, None, &json!({}))
        .await
        .must("finish");
    assert_not_failed(store.retry(&other, "ops", 0).await, JobStatus::Completed);
    let third = store.retry(&id, "ops", 1).await.must("retry again");
    assert_eq!((third.attempt, third.journal_from), (3, 1));
    assert_eq!(third.dropped, [entry(1), entry(9)]);
    assert_eq!(third.previous_reason.as_deref(), Some("again"));
    let job = reader.get(&id).await.must("get");
    assert_eq!(job.attempts, [attempt, third]);
}
