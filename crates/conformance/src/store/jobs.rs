//! Jobs as records: created, read, listed, counted, pinned to modules,
//! ended, asked to stop, pruned.

use chrono::Utc;
use serde_json::json;
use std::collections::HashMap;

use super::fixtures::{
    assert_stamped, cli_spec, completed, counts, create, entry, holding, ids, is_runnable, line,
    renewed, Must, LONG_LEASE, MODULE, RUNBOOK,
};
use super::webhooks::{create_webhook, deliver, hook_spec, webhook, HOOK_MODULE};
use super::Backend;
use drbook_core::job::{Admission, AdmittedBy, JobStatus, NewJob};
use drbook_core::module::digest;
use drbook_core::store::{JobStore, StoreError};

/// A job is created `New`, durable when `create` returns (another process
/// reads it as it was created); jobs are listed newest first, by status and
/// up to a limit, and counted by status, statuses without jobs left out.
pub async fn jobs_are_created_read_listed_and_counted(backend: &impl Backend) {
    let store = backend.open().await;
    assert!(!store.location().is_empty(), "a store says where it is");
    assert!(store.list(None, 10).await.must("list").is_empty());
    assert!(
        counts(&*store).await.is_empty(),
        "an empty store counts nothing"
    );

    let specs = [cli_spec(), cli_spec(), cli_spec()];
    let before = Utc::now();
    for spec in &specs {
        let job = NewJob {
            digest: &digest(MODULE),
            runbook: RUNBOOK,
            spec,
        };
        store.create(job, MODULE).await.must("create");
    }
    let after = Utc::now();

    let reader = backend.open().await;
    for spec in &specs {
        let job = reader.get(&spec.job_id).await.must("get a job created");
        assert_eq!(job.id, spec.job_id);
        assert_eq!(job.digest, digest(MODULE));
        assert_eq!(job.runbook, RUNBOOK);
        assert_eq!(job.spec, *spec, "the spec reads back as created");
        assert_eq!(job.trigger, spec.trigger.label());
        assert_eq!(job.state, JobStatus::New);
        assert_stamped(job.created, before, after, "created");
        let untouched = (&job.reason, &job.wake, &job.stop_requested, &job.result);
        assert_eq!(
            untouched,
            (&None, &None, &None, &None),
            "a new job: {job:?}"
        );
        assert_eq!((job.started, job.ended), (None, None), "a new job: {job:?}");
        assert_eq!(
            (&job.lease_owner, job.lease_until),
            (&None, None),
            "a new job: {job:?}"
        );
    }
    match reader.get("no-such-job").await {
        Err(StoreError::NoSuchJob { id }) => assert_eq!(id, "no-such-job"),
        other => panic!("get of a job never created: {other:?}, not NoSuchJob"),
    }

    let newest_first: Vec<String> = specs.iter().rev().map(|s| s.job_id.clone()).collect();
    assert_eq!(ids(reader.list(None, 10).await.must("list")), newest_first);
    assert_eq!(
        ids(reader.list(None, 2).await.must("list")),
        newest_first[..2]
    );
    store
        .finish(
            &specs[1].job_id,
            JobStatus::Completed,
            None,
            &json!({"ok": true}),
        )
        .await
        .must("finish");
    let listed = |state| listed(&*reader, state);
    assert_eq!(
        listed(JobStatus::Completed).await,
        [specs[1].job_id.clone()]
    );
    assert_eq!(
        listed(JobStatus::New).await,
        [specs[2].job_id.clone(), specs[0].job_id.clone()]
    );
    assert!(listed(JobStatus::Failed).await.is_empty());
    assert_eq!(
        counts(&*reader).await,
        HashMap::from([(JobStatus::New, 2), (JobStatus::Completed, 1)])
    );
}

/// The ids of the jobs in `state`, newest first.
async fn listed(store: &dyn JobStore, state: JobStatus) -> Vec<String> {
    ids(store.list(Some(state), 10).await.must("list"))
}

/// A job reads the bytes of the module it is pinned to, by digest (one
/// module serves every job pinned to it), and `repin` moves it to another
/// with that module's admission on the job's record.
pub async fn a_job_reads_the_module_it_is_pinned_to(backend: &impl Backend) {
    let store = backend.open().await;
    let (first, second) = (b"first module".as_slice(), b"second module".as_slice());
    let repinned = create(&*store, first).await;
    let kept = create(&*store, first).await;

    let reader = backend.open().await;
    for id in [&repinned, &kept] {
        let job = reader.get(id).await.must("get");
        assert_eq!(job.digest, digest(first));
        assert_eq!(reader.module(&job).await.must("read its module"), first);
    }
    let admission = Admission {
        digest: digest(second),
        source: "second.wasm".to_string(),
        signers: Vec::new(),
        admitted_by: AdmittedBy::NoPolicy,
        capabilities: Default::default(),
        replaces: None,
    };
    store
        .repin(&repinned, &digest(second), second, &admission)
        .await
        .must("repin");
    let job = reader.get(&repinned).await.must("get");
    assert_eq!(job.digest, digest(second), "re-pinned");
    assert_eq!(job.spec.admission.as_ref(), Some(&admission));
    assert_eq!(reader.module(&job).await.must("read its module"), second);
    let unknown = store
        .repin("no-such-job", &digest(second), second, &admission)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NoSuchJob { .. })),
        "{unknown:?}"
    );
    let job = reader.get(&kept).await.must("get");
    assert_eq!(job.digest, digest(first), "another job keeps its pin");
    assert_eq!(reader.module(&job).await.must("read its module"), first);
}

/// `finish` ends a job for good, with its status, reason and result: no
/// lease, no wake, not runnable, never claimed again.
pub async fn finish_ends_a_job_for_good(backend: &impl Backend) {
    let store = backend.open().await;
    let id = create(&*store, MODULE).await;
    let result = json!({"error": "the module cannot be loaded"});
    let before = Utc::now();
    store
        .finish(&id, JobStatus::Failed, Some("cannot run"), &result)
        .await
        .must("finish");
    let after = Utc::now();

    let job = backend.open().await.get(&id).await.must("get");
    assert_eq!(job.state, JobStatus::Failed);
    assert_eq!(job.reason.as_deref(), Some("cannot run"));
    assert_eq!(job.result, Some(result));
    assert_stamped(
        job.ended.expect("an ended job has its end"),
        before,
        after,
        "ended",
    );
    assert_eq!((&job.lease_owner, &job.wake), (&None, &None), "{job:?}");
    assert!(
        !is_runnable(&*store, &id, Utc::now()).await,
        "a failed job is not runnable"
    );
    let lease = renewed(&*store, "worker", LONG_LEASE).await;
    assert!(!store.claim(&id, &lease).await.must("claim"), "nor claimed");
}

/// A stop is asked of a job, loaded or not, and read back by its worker
/// (and by anyone, on the job's record).
pub async fn a_stop_is_requested_and_read_back(backend: &impl Backend) {
    let store = backend.open().await;
    let id = create(&*store, MODULE).await;
    holding(&*store, &id, "worker", LONG_LEASE).await;
    let other = create(&*store, MODULE).await;
    let ids = [id.clone(), other, "no such job".to_string()];
    let none = store.stops_requested(&ids).await.must("stops_requested");
    assert_eq!(none, Vec::new());
    store.request_stop(&id, "alice").await.must("request_stop");
    let reader = backend.open().await;
    let stops = reader.stops_requested(&ids).await.must("stops_requested");
    assert_eq!(stops, vec![(id.clone(), "alice".to_string())]);
    let job = reader.get(&id).await.must("get");
    assert_eq!(job.stop_requested.as_deref(), Some("alice"));
}

/// `prune` deletes the jobs that ended before its time, with their
/// journals, streams and the modules nothing else needs; jobs not ended, or
/// ended later, stay with theirs, and so do modules of other jobs and of
/// webhooks.
pub async fn prune_removes_old_ended_jobs_with_their_journals_and_streams(backend: &impl Backend) {
    let store = backend.open().await;
    let (own, shared, hooks) = (b"own".as_slice(), b"shared".as_slice(), HOOK_MODULE);
    assert!(create_webhook(&*store, &webhook("hook")).await);

    // Old: one that ran and wrote, one sharing a module with a job that
    // stays, one of the webhook's module.
    let ran = create(&*store, own).await;
    let lease = holding(&*store, &ran, "worker", LONG_LEASE).await;
    let (run, _) = store.open_run(&ran, &lease).await.must("open_run");
    run.append(0, &entry(0), Some(&line("old"))).must("append");
    run.end(completed(&json!({}))).await.must("end");
    let sharing = create(&*store, shared).await;
    let hooked = create(&*store, hooks).await;
    for id in [&sharing, &hooked] {
        store
            .finish(id, JobStatus::Stopped, Some("stopped"), &json!({}))
            .await
            .must("finish");
    }
    let not_ended = create(&*store, shared).await;
    let mut old = Vec::new();
    for id in [&ran, &sharing, &hooked] {
        old.push(store.get(id).await.must("get"));
    }
    let last_old = old
        .iter()
        .filter_map(|j| j.ended)
        .max()
        .expect("ended jobs have their ends");
    // Ended later: after the cut, which falls between the two.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let late = create(&*store, MODULE).await;
    store
        .finish(&late, JobStatus::Completed, None, &json!({}))
        .await
        .must("finish");
    let late_end = store.get(&late).await.must("get").ended.expect("ended");
    assert!(late_end > last_old, "a job finished 50 ms later ends later");
    let cut = last_old + (late_end - last_old) / 2;

    assert_eq!(
        store.prune(cut).await.must("prune"),
        3,
        "the three old jobs"
    );
    let reader = backend.open().await;
    for id in [&ran, &sharing, &hooked] {
        assert!(
            matches!(reader.get(id).await, Err(StoreError::NoSuchJob { .. })),
            "pruned job {id} is gone"
        );
        assert!(
            gone(reader.journal(id).await),
            "the journal of a pruned job is gone"
        );
        assert!(
            gone(reader.streams(id, 0).await),
            "the streams of a pruned job are gone"
        );
    }
    assert!(
        matches!(
            reader.module(&old[0]).await,
            Err(StoreError::MissingModule { .. } | StoreError::NoSuchJob { .. })
        ),
        "a module no job or webhook needs is pruned with its job"
    );
    for (id, module) in [(&not_ended, shared), (&late, MODULE)] {
        let job = reader.get(id).await.must("a job not pruned stays");
        assert_eq!(reader.module(&job).await.must("module"), module);
    }
    // A delivery creates its jobs pinned to the webhook's module, which
    // must still be there.
    let spec = hook_spec("hook");
    let delivered = std::slice::from_ref(&spec);
    deliver(&*reader, "hook", None, delivered)
        .await
        .must("deliver");
    let job = reader.get(&spec.job_id).await.must("get");
    assert_eq!(
        reader.module(&job).await.must("the webhook's module"),
        hooks
    );
    assert_eq!(
        reader.prune(cut).await.must("prune"),
        0,
        "nothing old is left"
    );
}

/// Whether a read of a pruned job's journal or streams found nothing: empty,
/// or no such job.
fn gone<T>(read: Result<Vec<T>, StoreError>) -> bool {
    match read {
        Ok(found) => found.is_empty(),
        Err(StoreError::NoSuchJob { .. }) => true,
        Err(e) => panic!("a pruned job's journal or streams: {e}"),
    }
}
