//! Which jobs a worker may take, and leases: claiming, renewing, lapsing,
//! releasing.

use chrono::{DateTime, TimeDelta, Utc};
use drbook_core::job::JobStatus;
use drbook_core::lease::Lease;
use drbook_core::store::JobStore;

use super::fixtures::{
    assert_stamped, create, holding, is_runnable, outlive, renewed, runnable_soon, Must,
    LONG_LEASE, MODULE, RUNBOOK, SHORT_LEASE,
};
use super::Backend;

/// The deadline the store holds for job `id`, in ms since the epoch.
async fn lease_until(store: &dyn JobStore, id: &str) -> Option<i64> {
    let job = store.get(id).await.must("get");
    job.lease_until.map(|t| t.timestamp_millis())
}

/// Who holds job `id`, as the store says.
async fn lease_owner(store: &dyn JobStore, id: &str) -> Option<String> {
    store.get(id).await.must("get").lease_owner
}

async fn runnable(store: &dyn JobStore, now: DateTime<Utc>, limit: usize) -> Vec<String> {
    store.runnable(now, limit).await.must("runnable")
}

/// The jobs a worker may take are the new ones and the interrupted ones
/// (running, not waiting, with a lease that ended before `now`), oldest
/// first, up to a limit; held and ended ones are not.
pub async fn runnable_jobs_are_new_or_interrupted_oldest_first(backend: &impl Backend) {
    let store = backend.open().await;
    let old = create(&*store, MODULE).await;
    let held = create(&*store, MODULE).await;
    let ended = create(&*store, MODULE).await;
    let now = Utc::now();
    let runnable = |now, limit| runnable(&*store, now, limit);
    assert_eq!(runnable(now, 10).await, [old.as_str(), &held, &ended]);
    assert_eq!(runnable(now, 2).await, [old.as_str(), &held]);

    let lease = holding(&*store, &held, "worker", LONG_LEASE).await;
    store
        .finish(&ended, JobStatus::Completed, None, &serde_json::json!({}))
        .await
        .must("finish");
    assert_eq!(
        runnable(Utc::now(), 10).await,
        [old.as_str()],
        "not held, nor ended"
    );
    // Once its lease has ended (asked about a time after it), the held job
    // is an interrupted one.
    let after_lease = DateTime::from_timestamp_millis(lease.until_ms()).unwrap_or_default()
        + TimeDelta::seconds(1);
    assert_eq!(runnable(after_lease, 10).await, [old.as_str(), &held]);
}

/// A job claimed is `Running` under the worker's lease, with the worker's
/// deadline, started now; a second lease cannot claim it; a renewal moves
/// the deadline of every job the lease holds; a release gives the job up
/// (only its holder's counts), and another worker claims it.
pub async fn a_claimed_job_is_running_under_its_lease(backend: &impl Backend) {
    let store = backend.open().await;
    let (first, second) = (create(&*store, MODULE).await, create(&*store, MODULE).await);
    let before = Utc::now();
    let lease = holding(&*store, &first, "worker", LONG_LEASE).await;
    let after = Utc::now();

    let reader = backend.open().await;
    let job = reader.get(&first).await.must("get");
    assert_eq!(job.state, JobStatus::Running, "a job claimed is running");
    assert_stamped(job.started.expect("started"), before, after, "started");
    assert_eq!(job.lease_owner.as_deref(), Some("worker"));
    assert_eq!(lease_until(&*reader, &first).await, Some(lease.until_ms()));

    let other = renewed(&*store, "other", LONG_LEASE).await;
    assert!(
        !store.claim(&first, &other).await.must("claim"),
        "held by another"
    );
    assert_eq!(
        lease_owner(&*reader, &first).await.as_deref(),
        Some("worker")
    );

    assert!(store.claim(&second, &lease).await.must("claim"));
    let deadline = lease.until_ms();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(
        store.renew(&lease).await.must("renew"),
        "a held lease renews"
    );
    assert!(lease.until_ms() > deadline, "renewed from now");
    for id in [&first, &second] {
        assert_eq!(
            lease_until(&*reader, id).await,
            Some(lease.until_ms()),
            "a renewal moves every job of the lease"
        );
    }

    store.release(&first, "other").await.must("release");
    assert_eq!(
        lease_owner(&*reader, &first).await.as_deref(),
        Some("worker"),
        "only the holder releases"
    );
    store.release(&first, "worker").await.must("release");
    assert_eq!(lease_owner(&*reader, &first).await, None);
    assert!(
        store.claim(&first, &other).await.must("claim"),
        "released: taken"
    );
    let taken = reader.get(&first).await.must("get");
    assert_eq!(taken.lease_owner.as_deref(), Some("other"));
    assert_eq!(taken.started, job.started, "it started when first claimed");
}

/// A lease that was never renewed holds nothing, so it claims nothing.
pub async fn a_lease_not_yet_renewed_claims_nothing(backend: &impl Backend) {
    let store = backend.open().await;
    let id = create(&*store, MODULE).await;
    let lease = Lease::new("worker", LONG_LEASE);
    assert!(!store.claim(&id, &lease).await.must("claim"));
    let job = store.get(&id).await.must("get");
    assert_eq!((job.state, job.lease_owner), (JobStatus::New, None));
    assert!(store.renew(&lease).await.must("renew"));
    assert!(
        store.claim(&id, &lease).await.must("claim"),
        "renewed, it does"
    );
}

/// A lease that lapsed is never renewed (its jobs may be another's now),
/// keeps none of its jobs and claims nothing.
pub async fn a_lapsed_lease_is_never_renewed_and_claims_nothing(backend: &impl Backend) {
    let store = backend.open().await;
    let (held, new) = (create(&*store, MODULE).await, create(&*store, MODULE).await);
    let lease = holding(&*store, &held, "stalled", SHORT_LEASE).await;
    assert!(
        store.renew(&lease).await.must("renew"),
        "a held lease renews"
    );
    let deadline = lease.until_ms();
    outlive(&lease).await;

    assert!(
        !store.renew(&lease).await.must("renew"),
        "a lapsed one does not"
    );
    assert!(!lease.held());
    assert_eq!(
        lease_until(&*store, &held).await,
        Some(deadline),
        "its job's deadline stays where it lapsed"
    );
    assert!(
        is_runnable(&*store, &held, Utc::now()).await,
        "its job is free"
    );
    assert!(
        !store.claim(&new, &lease).await.must("claim"),
        "it claims nothing"
    );
    let job = store.get(&new).await.must("get");
    assert_eq!((job.state, job.lease_owner), (JobStatus::New, None));
}

/// The job of a worker that died is nobody else's while its lease runs,
/// and runnable and claimed by another worker once it ended.
pub async fn a_dead_workers_job_is_claimable_after_its_lease_ends(backend: &impl Backend) {
    let store = backend.open().await;
    let id = create(&*store, MODULE).await;
    let dead = holding(&*store, &id, "dead", SHORT_LEASE).await;
    let started = store.get(&id).await.must("get").started;
    drop(dead);

    let reader = backend.open().await;
    let next = renewed(&*reader, "next", LONG_LEASE).await;
    assert!(
        !is_runnable(&*reader, &id, Utc::now()).await,
        "its lease runs"
    );
    assert!(
        !reader.claim(&id, &next).await.must("claim"),
        "its lease runs"
    );
    runnable_soon(&*reader, &id).await;
    assert!(
        reader.claim(&id, &next).await.must("claim"),
        "its lease ended"
    );
    let job = reader.get(&id).await.must("get");
    assert_eq!(job.state, JobStatus::Running);
    assert_eq!(job.lease_owner.as_deref(), Some("next"));
    assert_eq!(job.started, started, "it started when first claimed");
}

/// The owners of leases, as `drbook workers` lists them: one that renews is
/// live, with its jobs, its last renewal as its heartbeat and its deadline;
/// one whose lease lapsed is listed lapsed with the jobs that wait for a
/// takeover, within the window asked for, and not once they are taken over;
/// an owner that released everything is not listed.
pub async fn workers_are_listed_with_their_jobs_and_heartbeats(backend: &impl Backend) {
    let store = backend.open().await;
    let (first, second, left) = (
        create(&*store, MODULE).await,
        create(&*store, MODULE).await,
        create(&*store, MODULE).await,
    );
    let live = holding(&*store, &first, "live", LONG_LEASE).await;
    assert!(store.claim(&second, &live).await.must("claim"));
    let dead = holding(&*store, &left, "dead", SHORT_LEASE).await;
    let claimed_at = live.renewed_ms();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before = Utc::now();
    assert!(store.renew(&live).await.must("renew"));
    let after = Utc::now();
    assert!(live.renewed_ms() > claimed_at, "renewed later");
    outlive(&dead).await;

    let reader = backend.open().await;
    let hour = std::time::Duration::from_secs(3600);
    let workers = reader.workers(hour).await.must("workers");
    let listed: Vec<(&str, bool)> = workers.iter().map(|w| (&*w.owner, w.lapsed)).collect();
    assert_eq!(listed, [("live", false), ("dead", true)], "live ones first");
    let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let (live_row, dead_row) = (&workers[0], &workers[1]);
    let ids: Vec<&str> = live_row.jobs.iter().map(|j| &*j.id).collect();
    assert_eq!(ids, [first.as_str(), &second], "its jobs, oldest first");
    assert_eq!(
        (&*live_row.jobs[0].runbook, &*live_row.jobs[0].plan),
        (RUNBOOK, "conformance")
    );
    let heartbeat = live_row.last_heartbeat.expect("a heartbeat");
    assert_eq!(heartbeat, at(live.renewed_ms()), "its last renewal");
    assert_stamped(heartbeat, before, after, "the heartbeat");
    assert_eq!(live_row.lease_until, at(live.until_ms()));
    assert_eq!(dead_row.jobs.len(), 1);
    assert_eq!(dead_row.jobs[0].id, left, "the job waiting for a takeover");
    assert_eq!(dead_row.last_heartbeat, Some(at(dead.renewed_ms())));
    assert_eq!(dead_row.lease_until, at(dead.until_ms()));

    let recent = reader
        .workers(std::time::Duration::ZERO)
        .await
        .must("workers");
    let owners: Vec<&str> = recent.iter().map(|w| &*w.owner).collect();
    assert_eq!(owners, ["live"], "lapsed before the window: not listed");

    holding(&*reader, &left, "next", LONG_LEASE).await;
    for id in [&first, &second] {
        store.release(id, "live").await.must("release");
    }
    let workers = reader.workers(hour).await.must("workers");
    let owners: Vec<&str> = workers.iter().map(|w| &*w.owner).collect();
    assert_eq!(owners, ["next"], "taken over, released: not listed");
}
