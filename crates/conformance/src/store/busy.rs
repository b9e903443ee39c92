//! One job at a time changes a plan: a start of a busy plan attaches to its
//! job, queues behind it or is refused, decided in the change that would
//! create the job, however many starts race.

use std::collections::BTreeSet;

use super::fixtures::{holding, is_runnable, renewed, Must, LONG_LEASE, RUNBOOK};
use super::webhooks::{create_webhook, plan_spec, webhook, Delivery, HOOK_MODULE};
use super::Backend;
use drbook_core::job::{JobStatus, NewJob};
use drbook_core::module::digest;
use drbook_core::store::{Busy, OnBusy, StoreError};

fn busy(job: &str, on_busy: OnBusy) -> Option<Busy> {
    Some(Busy {
        plan: "conformance".to_string(),
        job: job.to_string(),
        on_busy,
    })
}

/// A delivery to a busy plan: `attach` creates nothing, answers with the
/// busy job and records the alert on it; `queue` creates a job that is
/// neither runnable nor claimable until every earlier job of its plan has
/// ended; `refuse` creates nothing and records the alert without jobs; a
/// command's start (`admit`) does the same. A plan whose jobs have ended is
/// free again.
pub async fn a_busy_plan_attaches_queues_or_refuses_a_start(backend: &impl Backend) {
    let store = backend.open().await;
    assert!(create_webhook(&*store, &webhook("hook")).await);
    let deliver = |alert: &'static str, on_busy, spec| {
        let store = store.clone();
        async move {
            let specs = [spec];
            let delivery = Delivery {
                on_busy,
                ..Delivery::new("hook", Some((alert, "Fired")), &specs)
            };
            let recorded = delivery.record(&*store).await.must("deliver");
            (recorded, specs[0].job_id.clone())
        }
    };
    let (first, running) = deliver("alert-1", OnBusy::Attach, plan_spec("hook")).await;
    assert_eq!((first.job_ids, first.busy), (vec![running.clone()], None));

    let reader = backend.open().await;
    let (attached, not_created) = deliver("alert-2", OnBusy::Attach, plan_spec("hook")).await;
    assert_eq!(
        attached.job_ids,
        std::slice::from_ref(&running),
        "answered with the busy job"
    );
    assert_eq!(attached.busy, busy(&running, OnBusy::Attach));
    assert!(!attached.duplicate);
    let (queued, waiting) = deliver("alert-3", OnBusy::Queue, plan_spec("hook")).await;
    assert_eq!(
        (queued.job_ids, queued.busy),
        (vec![waiting.clone()], busy(&running, OnBusy::Queue))
    );
    let (refused, refused_job) = deliver("alert-4", OnBusy::Refuse, plan_spec("hook")).await;
    assert_eq!(
        (refused.job_ids, refused.busy),
        (vec![], busy(&running, OnBusy::Refuse))
    );
    for id in [&not_created, &refused_job] {
        assert!(
            matches!(reader.get(id).await, Err(StoreError::NoSuchJob { .. })),
            "{id} was not created"
        );
    }
    let alerts = reader.alerts("hook", 10).await.must("alerts");
    let recorded: Vec<(&str, Vec<String>)> = alerts
        .iter()
        .map(|a| (a.alert_id.as_str(), a.job_ids.clone()))
        .collect();
    assert_eq!(
        recorded,
        [
            ("alert-4", vec![]),
            ("alert-3", vec![waiting.clone()]),
            ("alert-2", vec![running.clone()]),
            ("alert-1", vec![running.clone()]),
        ],
        "every alert recorded, an attached one on the busy job"
    );
    let (again, _) = deliver("alert-4", OnBusy::Refuse, plan_spec("hook")).await;
    assert!(again.duplicate);
    assert_eq!(
        again.busy,
        busy(&running, OnBusy::Refuse),
        "a refused alert again: refused again"
    );

    // A command's start meets the same plan.
    let spec = plan_spec("hook");
    let digest = digest(HOOK_MODULE);
    let job = NewJob {
        digest: &digest,
        runbook: RUNBOOK,
        spec: &spec,
    };
    assert_eq!(
        reader
            .admit(job, HOOK_MODULE, OnBusy::Refuse)
            .await
            .must("admit"),
        busy(&running, OnBusy::Refuse)
    );
    assert!(matches!(
        reader.get(&spec.job_id).await,
        Err(StoreError::NoSuchJob { .. })
    ));

    // The queued job waits for the busy one, running or not.
    let lease = renewed(&*reader, "worker", LONG_LEASE).await;
    let queued_job = reader.get(&waiting).await.must("the queued job");
    assert_eq!(queued_job.state, JobStatus::New);
    assert!(
        !is_runnable(&*reader, &waiting, chrono::Utc::now()).await,
        "queued"
    );
    assert!(
        !reader.claim(&waiting, &lease).await.must("claim"),
        "not claimable"
    );
    holding(&*reader, &running, "worker", LONG_LEASE).await;
    assert!(!is_runnable(&*reader, &waiting, chrono::Utc::now()).await);
    reader
        .finish(&running, JobStatus::Completed, None, &serde_json::json!({}))
        .await
        .must("finish");
    assert!(
        is_runnable(&*reader, &waiting, chrono::Utc::now()).await,
        "its turn"
    );
    assert!(reader.claim(&waiting, &lease).await.must("claim"));

    // Now the queued job is the one the plan is busy with; once it has
    // ended, the plan is free.
    let (later, _) = deliver("alert-5", OnBusy::Attach, plan_spec("hook")).await;
    assert_eq!(later.job_ids, std::slice::from_ref(&waiting));
    reader
        .finish(
            &waiting,
            JobStatus::Failed,
            Some("failed"),
            &serde_json::json!({}),
        )
        .await
        .must("finish");
    let (free, created) = deliver("alert-6", OnBusy::Refuse, plan_spec("hook")).await;
    assert_eq!((free.job_ids, free.busy), (vec![created], None));
}

/// Twelve deliveries at once, each through a store handle of its own (as
/// from as many servers), each an alert of one plan's outage: one job is
/// created, and every delivery is answered with it.
pub async fn starts_racing_for_a_plan_create_one_job(backend: &impl Backend) {
    let store = backend.open().await;
    assert!(create_webhook(&*store, &webhook("hook")).await);
    let mut racers = Vec::new();
    for n in 0..12 {
        let handle = backend.open().await;
        racers.push(tokio::spawn(async move {
            let specs = [plan_spec("hook")];
            let alert = format!("vm-{n}-down");
            let delivery = Delivery::new("hook", Some((&alert, "Fired")), &specs);
            delivery.record(&*handle).await.must("deliver").job_ids
        }));
    }
    let mut answers = BTreeSet::new();
    for racer in racers {
        answers.insert(racer.await.expect("a racing delivery"));
    }
    let jobs = store.list(None, 100).await.must("list");
    assert_eq!(jobs.len(), 1, "one job for the plan: {jobs:?}");
    assert_eq!(
        answers.into_iter().collect::<Vec<_>>(),
        [vec![jobs[0].id.clone()]]
    );
    let alerts = store.alerts("hook", 100).await.must("alerts");
    assert_eq!(alerts.len(), 12);
    assert!(alerts.iter().all(|a| a.job_ids == [jobs[0].id.clone()]));
}
