//! Runs of jobs: what they write and who reads it, fencing by the lease,
//! how a run ends (unloaded to wait, or for good), decisions, housekeeping.

use chrono::Utc;
use serde_json::json;

use super::fixtures::{
    answered, assert_reads, assert_stamped, completed, create, entry, holding, intent, is_runnable,
    line, now_ms, renewed, runnable_soon, texts, Must, LONG_LEASE, MODULE, SHORT_LEASE,
};
use super::Backend;
use drbook_core::job::{Approval, JobStatus, Wake};
use drbook_core::store::{JobStore, RunEnd, RunLog, StoreError};

/// Makes every write a run can make, from a run whose job another worker
/// took over, and asserts each was refused with `LeaseLost` or landed where
/// no reader sees it (the caller reads); and that the run knows by its end
/// at the latest: `end` is refused if nothing else was, and `lease_lost`
/// says so.
async fn write_stale(run: &dyn RunLog) {
    let result = json!({"by": "the stale run"});
    let writes = [
        ("append", run.append(1, &entry(666), Some(&line("stale")))),
        ("append_stream", run.append_stream(&line("stale"))),
        ("append_intent", run.append_intent(2, &intent()).await),
        ("end", run.end(completed(&result)).await),
    ];
    let mut refused = false;
    for (call, written) in writes {
        match written {
            Ok(()) => {}
            Err(StoreError::LeaseLost { .. }) => refused = true,
            Err(e) => panic!("{call} of a run taken over: {e}, not LeaseLost"),
        }
    }
    assert!(refused, "a run taken over ended as if it held its job");
    assert!(
        run.lease_lost(),
        "a run refused for its lease knows it lost it"
    );
}

/// Asserts that job `id` is running under `owner` (a stale run's end did not
/// end it).
async fn assert_held_by(store: &dyn JobStore, id: &str, owner: &str) {
    let job = store.get(id).await.must("get");
    assert_eq!(job.state, JobStatus::Running, "{job:?}");
    assert_eq!(job.lease_owner.as_deref(), Some(owner), "{job:?}");
    assert_eq!(job.result, None, "{job:?}");
}

/// Fencing: once a job is taken over by a second lease (the first lapsed:
/// its worker stalled), every write of the first run (append,
/// append_stream, append_intent, end) fails with `LeaseLost` or lands where
/// no reader sees it, the run learns it lost its lease, the lapsed lease is
/// not renewed, and readers see only the new holder's writes after the
/// first run's last good ones, whenever the stale run writes.
pub async fn a_run_taken_over_writes_nothing_more(backend: &impl Backend) {
    let store = backend.open().await;
    let id = create(&*store, MODULE).await;
    let stalled = holding(&*store, &id, "stalled", SHORT_LEASE).await;
    let (stale, _) = store.open_run(&id, &stalled).await.must("open_run");
    stale
        .append(0, &entry(0), Some(&line("first")))
        .must("append");
    runnable_soon(&*store, &id).await;
    let reader = backend.open().await;
    let holder = holding(&*reader, &id, "holder", LONG_LEASE).await;
    assert!(!store.renew(&stalled).await.must("renew"), "a lapsed lease");

    write_stale(&*stale).await;
    assert_held_by(&*reader, &id, "holder").await;
    let (run, replay) = reader.open_run(&id, &holder).await.must("open_run");
    assert_eq!(
        replay,
        [entry(0)],
        "the new holder replays the first run's good writes"
    );

    write_stale(&*stale).await;
    assert_held_by(&*reader, &id, "holder").await;
    assert_eq!(reader.journal(&id).await.must("journal"), [entry(0)]);
    assert_eq!(texts(&*reader, &id, 0).await, ["first"]);

    run.append(1, &entry(1), Some(&line("second")))
        .must("append");
    let result = json!({"by": "the holder"});
    run.end(completed(&result)).await.must("end");
    write_stale(&*stale).await;
    for each in [&*store, &*reader] {
        assert_eq!(
            each.journal(&id).await.must("journal"),
            [entry(0), entry(1)]
        );
        assert_eq!(texts(each, &id, 0).await, ["first", "second"]);
        let job = each.get(&id).await.must("get");
        assert_eq!(
            (job.state, job.result),
            (JobStatus::Completed, Some(result.clone()))
        );
    }
    let first = reader.streams(&id, 0).await.must("streams")[0].0;
    assert_eq!(
        texts(&*reader, &id, first).await,
        ["second"],
        "numbered after the first"
    );
}

/// Readers (in this process and another) see what a running job appended,
/// before its run ends: its journal in order, an intent and then its reply
/// once, and its stream lines numbered from 1, `after` honoured; and the
/// same after the run ends and once the next run goes on.
pub async fn readers_see_what_a_running_job_appended(backend: &impl Backend) {
    let store = backend.open().await;
    let other = backend.open().await;
    let readers = [&*store, &*other];
    let id = create(&*store, MODULE).await;
    let lease = holding(&*store, &id, "worker", LONG_LEASE).await;
    let (run, replay) = store.open_run(&id, &lease).await.must("open_run");
    assert!(replay.is_empty(), "a new job replays nothing");

    run.append(0, &entry(0), Some(&line("one"))).must("append");
    run.append_stream(&line("two")).must("append_stream");
    run.append_intent(1, &intent()).await.must("append_intent");
    let mut lines = vec![(1, line("one")), (2, line("two"))];
    assert_reads(
        &readers,
        &id,
        &[entry(0), intent()],
        &lines,
        "with an intent",
    )
    .await;

    run.append(1, &answered(), Some(&line("three")))
        .must("append");
    run.append(2, &entry(2), None).must("append");
    run.append_stream(&line("four")).must("append_stream");
    lines.extend([(3, line("three")), (4, line("four"))]);
    let journal = [entry(0), answered(), entry(2)];
    assert_reads(&readers, &id, &journal, &lines, "the intent answered").await;
    for reader in readers {
        let after = reader.streams(&id, 2).await.must("streams");
        assert_eq!(after, lines[2..], "lines after the second");
        assert!(reader.streams(&id, 4).await.must("streams").is_empty());
    }

    let wake = Wake::Time { at: now_ms() };
    let waiting = RunEnd::Waiting {
        status: JobStatus::Running,
        reason: "sleeping",
        wake: &wake,
    };
    run.end(waiting).await.must("end");
    store.release(&id, lease.owner()).await.must("release");
    assert_reads(&readers, &id, &journal, &lines, "once the run ended").await;

    store.wake(&id).await.must("wake");
    assert!(store.claim(&id, &lease).await.must("claim"));
    let (run, replay) = other.open_run(&id, &lease).await.must("open_run");
    assert_eq!(replay, journal, "the next run replays the journal");
    run.append(3, &entry(3), Some(&line("five"))).must("append");
    let journal = [entry(0), answered(), entry(2), entry(3)];
    lines.push((5, line("five")));
    assert_reads(&readers, &id, &journal, &lines, "from the next run").await;
    run.end(completed(&json!({}))).await.must("end");
    assert_reads(&readers, &id, &journal, &lines, "once the job ended").await;
}

/// A run unloaded to wait (`end(Waiting)`) leaves its job with its status,
/// reason and wake, listed by `waiting` and not runnable; `wake` makes it
/// runnable again (running, no wake), and a job that ended meanwhile stays
/// ended.
pub async fn a_waiting_job_is_unloaded_until_woken(backend: &impl Backend) {
    let store = backend.open().await;
    let (woken, stopped) = (create(&*store, MODULE).await, create(&*store, MODULE).await);
    let wake = Wake::Operations {
        ids: vec!["op-1".to_string(), "op-2".to_string()],
    };
    for id in [&woken, &stopped] {
        let lease = holding(&*store, id, "worker", LONG_LEASE).await;
        let (run, _) = store.open_run(id, &lease).await.must("open_run");
        run.append(0, &entry(0), None).must("append");
        let end = RunEnd::Waiting {
            status: JobStatus::Running,
            reason: "waiting for its failovers",
            wake: &wake,
        };
        run.end(end).await.must("end");
        // The worker gives its lease up once the run ended, as it does.
        store.release(id, lease.owner()).await.must("release");
    }

    let reader = backend.open().await;
    let job = reader.get(&woken).await.must("get");
    assert_eq!(job.state, JobStatus::Running);
    assert_eq!(job.reason.as_deref(), Some("waiting for its failovers"));
    assert_eq!(job.wake.as_ref(), Some(&wake));
    let mut waiting = reader.waiting().await.must("waiting");
    waiting.sort_by(|(a, _), (b, _)| a.cmp(b));
    let mut expected = vec![
        (woken.clone(), wake.clone()),
        (stopped.clone(), wake.clone()),
    ];
    expected.sort_by(|(a, _), (b, _)| a.cmp(b));
    assert_eq!(waiting, expected);
    assert!(
        !is_runnable(&*reader, &woken, Utc::now()).await,
        "a waiting job"
    );
    let other = renewed(&*reader, "other", LONG_LEASE).await;
    assert!(
        !reader.claim(&woken, &other).await.must("claim"),
        "a waiting job"
    );

    reader.wake(&woken).await.must("wake");
    let job = reader.get(&woken).await.must("get");
    assert_eq!(
        (job.state, &job.wake, &job.reason),
        (JobStatus::Running, &None, &None)
    );
    assert!(is_runnable(&*reader, &woken, Utc::now()).await, "woken");
    assert!(reader.claim(&woken, &other).await.must("claim"), "woken");

    // Stopped while unloaded, then woken (its operations ended): it stays
    // stopped, waiting for nothing.
    let why = Some("stopped by alice");
    reader
        .finish(&stopped, JobStatus::Stopped, why, &json!({}))
        .await
        .must("finish");
    reader.wake(&stopped).await.must("wake");
    let job = reader.get(&stopped).await.must("get");
    assert_eq!(
        (job.state, job.reason.as_deref()),
        (JobStatus::Stopped, why)
    );
    assert!(reader.waiting().await.must("waiting").is_empty());
}

/// `end(Finished)` ends the job for good, with what the run wrote, its
/// status, reason and result, and releases its lease: not runnable, never
/// claimed again.
pub async fn a_finished_run_ends_its_job_and_releases_its_lease(backend: &impl Backend) {
    let store = backend.open().await;
    let id = create(&*store, MODULE).await;
    let lease = holding(&*store, &id, "worker", LONG_LEASE).await;
    let (run, _) = store.open_run(&id, &lease).await.must("open_run");
    run.append(0, &entry(0), Some(&line("done"))).must("append");
    let result = json!({"status": "Failed", "failed": ["vm-1"]});
    let end = RunEnd::Finished {
        status: JobStatus::Failed,
        reason: Some("vm-1 did not fail over"),
        result: &result,
    };
    let before = Utc::now();
    run.end(end).await.must("end");
    let after = Utc::now();

    let reader = backend.open().await;
    let job = reader.get(&id).await.must("get");
    assert_eq!(job.state, JobStatus::Failed);
    assert_eq!(job.reason.as_deref(), Some("vm-1 did not fail over"));
    assert_eq!(job.result, Some(result));
    assert_stamped(job.ended.expect("ended"), before, after, "ended");
    assert_eq!(
        (&job.lease_owner, job.lease_until, &job.wake),
        (&None, None, &None)
    );
    assert_eq!(reader.journal(&id).await.must("journal"), [entry(0)]);
    assert_eq!(texts(&*reader, &id, 0).await, ["done"]);
    assert!(!is_runnable(&*reader, &id, Utc::now()).await);
    let other = renewed(&*reader, "other", LONG_LEASE).await;
    for lease in [&lease, &other] {
        assert!(
            !reader.claim(&id, lease).await.must("claim"),
            "an ended job"
        );
    }
}

/// A decision on a suspended job's manual step is recorded (read by anyone
/// and by the job's next run) and makes the job runnable; one on a stopped
/// job is recorded and leaves it stopped.
pub async fn a_decision_resumes_a_suspended_job(backend: &impl Backend) {
    let store = backend.open().await;
    let (suspended, stopped) = (create(&*store, MODULE).await, create(&*store, MODULE).await);
    let wake = Wake::Decision {
        journal_seq: 1,
        prompt: "fail over to northeurope?".to_string(),
    };
    let lease = holding(&*store, &suspended, "worker", LONG_LEASE).await;
    let (run, _) = store.open_run(&suspended, &lease).await.must("open_run");
    run.append(0, &entry(0), None).must("append");
    let end = RunEnd::Waiting {
        status: JobStatus::Suspended,
        reason: "waiting for approval",
        wake: &wake,
    };
    run.end(end).await.must("end");
    store
        .release(&suspended, lease.owner())
        .await
        .must("release");
    let job = store.get(&suspended).await.must("get");
    assert_eq!(
        (job.state, job.wake.as_ref()),
        (JobStatus::Suspended, Some(&wake))
    );
    assert_eq!(store.decision(&suspended, 1).await.must("decision"), None);
    assert!(
        !is_runnable(&*store, &suspended, Utc::now()).await,
        "suspended"
    );

    let approval = Approval {
        approved: true,
        by: "alice".to_string(),
        comment: "go".to_string(),
        at: now_ms(),
    };
    let reader = backend.open().await;
    reader.decide(&suspended, 1, &approval).await.must("decide");
    let decided = store.decision(&suspended, 1).await.must("decision");
    assert_eq!(decided.as_ref(), Some(&approval));
    // The first decision stands: a second is refused, naming who decided.
    let late = Approval {
        approved: false,
        by: "bob".to_string(),
        ..approval.clone()
    };
    match store.decide(&suspended, 1, &late).await {
        Err(StoreError::AlreadyDecided { approved, by, .. }) => {
            assert!(approved && by == "alice", "{by}")
        }
        other => panic!("a second decision must be refused: {other:?}"),
    }
    assert_eq!(
        store
            .decision(&suspended, 1)
            .await
            .must("decision")
            .as_ref(),
        Some(&approval)
    );
    assert_eq!(
        store.decision(&suspended, 0).await.must("decision"),
        None,
        "another step"
    );
    let job = store.get(&suspended).await.must("get");
    assert_eq!(
        (job.state, &job.wake),
        (JobStatus::Running, &None),
        "{job:?}"
    );
    assert!(
        is_runnable(&*store, &suspended, Utc::now()).await,
        "decided"
    );
    assert!(store.claim(&suspended, &lease).await.must("claim"));
    let (run, _) = store.open_run(&suspended, &lease).await.must("open_run");
    assert_eq!(
        run.decision(1).await.must("the run's decision"),
        Some(approval.clone())
    );

    store
        .finish(&stopped, JobStatus::Stopped, Some("stopped"), &json!({}))
        .await
        .must("finish");
    reader.decide(&stopped, 1, &approval).await.must("decide");
    assert_eq!(
        reader.get(&stopped).await.must("get").state,
        JobStatus::Stopped
    );
    let decided = reader.decision(&stopped, 1).await.must("decision");
    assert_eq!(decided, Some(approval), "recorded all the same");
}

/// Housekeeping (`tidy` at a worker's start, `maintain` every second) keeps
/// what runs wrote: the intent of a run killed before its job was stopped,
/// and everything of a run still going, which goes on writing and ends.
pub async fn housekeeping_keeps_what_runs_wrote(backend: &impl Backend) {
    let store = backend.open().await;
    let (killed, running) = (create(&*store, MODULE).await, create(&*store, MODULE).await);
    let lease = holding(&*store, &killed, "killed", LONG_LEASE).await;
    let (run, _) = store.open_run(&killed, &lease).await.must("open_run");
    run.append_intent(0, &intent()).await.must("append_intent");
    drop(run);
    store
        .finish(&killed, JobStatus::Stopped, Some("stopped"), &json!({}))
        .await
        .must("finish");
    let lease = holding(&*store, &running, "worker", LONG_LEASE).await;
    let (run, _) = store.open_run(&running, &lease).await.must("open_run");
    run.append(0, &entry(0), Some(&line("running")))
        .must("append");

    let worker = backend.open().await;
    worker.tidy().await.must("tidy");
    worker.maintain().await.must("maintain");
    assert_eq!(worker.tidy().await.must("tidy"), 0, "tidied already");
    assert_eq!(worker.journal(&killed).await.must("journal"), [intent()]);
    let lines = [(1, line("running"))];
    assert_reads(
        &[&*worker],
        &running,
        &[entry(0)],
        &lines,
        "after housekeeping",
    )
    .await;
    run.append(1, &entry(1), None)
        .must("append after housekeeping");
    run.end(completed(&json!({})))
        .await
        .must("end after housekeeping");
    assert_reads(
        &[&*worker],
        &running,
        &[entry(0), entry(1)],
        &lines,
        "once ended",
    )
    .await;
}
