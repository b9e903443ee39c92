//! Moving a store: everything it holds exported, imported into a new store
//! and exported again, the same; the new store answers every read as the old
//! one did; a job under a live lease is not exported, a lapsed lease is
//! dropped so the new store's workers resume its job; a store that is not
//! empty takes no import.

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::fixtures::{
    answered, completed, create, entry, holding, intent, is_runnable, line, now_ms, outlive, Must,
    LONG_LEASE, MODULE, RUNBOOK, SHORT_LEASE,
};
use super::tokens::token;
use super::webhooks::{create_webhook, deliver, hook_spec, webhook, Delivery};
use super::Backend;
use drbook_core::job::{Approval, JobStatus, NewJob, Wake};
use drbook_core::module::digest;
use drbook_core::schedule::Missed;
use drbook_core::store::export::Item;
use drbook_core::store::{JobStore, OnBusy, RunEnd, StoreError};
use drbook_core::token::Scope;
use drbook_core::webhook::Message;

/// A store with every kind of record: jobs new, retried (its attempt with
/// the entries its cut dropped), completed, suspended and decided, suspended
/// and waiting, interrupted (its worker died after an
/// intent), with a stop requested, queued; a webhook with an alert and a
/// signed message. Returns the ids of its jobs and of the interrupted one.
async fn fill(store: &dyn JobStore) -> (Vec<String>, String) {
    let mut ids = vec![super::retries::retried(store).await];
    ids.push(create(store, MODULE).await);

    let done = create(store, MODULE).await;
    let lease = holding(store, &done, "worker-done", LONG_LEASE).await;
    let (run, _) = store.open_run(&done, &lease).await.must("open_run");
    run.append(0, &entry(0), Some(&line("one"))).must("append");
    run.append_stream(&line("two")).must("append_stream");
    run.append_intent(1, &intent()).await.must("append_intent");
    run.append(1, &answered(), Some(&line("three")))
        .must("append");
    run.end(completed(&json!({"vms": 1}))).await.must("end");
    store.release(&done, lease.owner()).await.must("release");
    ids.push(done);

    for decided in [true, false] {
        let id = create(store, MODULE).await;
        let lease = holding(store, &id, "worker-approval", LONG_LEASE).await;
        let (run, _) = store.open_run(&id, &lease).await.must("open_run");
        run.append(0, &entry(7), None).must("append");
        let wake = Wake::Decision {
            journal_seq: 1,
            prompt: "fail over?".to_string(),
        };
        let end = RunEnd::Waiting {
            status: JobStatus::Suspended,
            reason: "waiting for approval",
            wake: &wake,
        };
        run.end(end).await.must("end");
        store.release(&id, lease.owner()).await.must("release");
        if decided {
            let approval = Approval {
                approved: true,
                by: "alice".to_string(),
                comment: "go".to_string(),
                at: now_ms(),
            };
            store.decide(&id, 1, &approval).await.must("decide");
        }
        ids.push(id);
    }

    // Its worker dies after the intent: the lease lapses, the job waits
    // for a takeover.
    let interrupted = create(store, MODULE).await;
    let lease = holding(store, &interrupted, "worker-died", SHORT_LEASE).await;
    let (run, _) = store.open_run(&interrupted, &lease).await.must("open_run");
    run.append(0, &entry(1), Some(&line("before the crash")))
        .must("append");
    run.append_intent(1, &intent()).await.must("append_intent");
    drop(run);
    outlive(&lease).await;
    ids.push(interrupted.clone());

    let stopped = create(store, MODULE).await;
    store
        .request_stop(&stopped, "bob")
        .await
        .must("request_stop");
    ids.push(stopped);

    // The suite's plan is busy with the first job: this one is queued.
    let spec = super::fixtures::cli_spec();
    let module_digest = digest(MODULE);
    let job = NewJob {
        digest: &module_digest,
        runbook: RUNBOOK,
        spec: &spec,
    };
    let busy = store.admit(job, MODULE, OnBusy::Queue).await.must("admit");
    assert!(busy.is_some(), "queued behind the plan's first job");
    ids.push(spec.job_id.clone());

    assert!(create_webhook(store, &webhook("hook")).await);
    let specs = [hook_spec("hook")];
    deliver(store, "hook", Some(("alert-1", "Fired")), &specs)
        .await
        .must("deliver");
    ids.push(specs[0].job_id.clone());
    let signed = [hook_spec("hook")];
    signed_delivery(&signed)
        .record(store)
        .await
        .must("a signed delivery");
    ids.push(signed[0].job_id.clone());
    let revoked = token("revoked", &"d4".repeat(32), &[Scope::Admin]);
    assert!(store.create_token(&revoked).await.must("create_token"));
    store
        .revoke_token("revoked", Utc::now())
        .await
        .must("revoke_token");
    // A schedule with a tick missed and one skipped for the busy plan.
    let ten: chrono::DateTime<Utc> = "2026-12-02T10:00:00Z".parse().unwrap();
    let drill = super::schedules::schedule("drill", "0 * * * *", Missed::Skip, ten);
    assert!(store
        .create_schedule(&drill, MODULE)
        .await
        .must("create_schedule"));
    let eleven = ten + TimeDelta::hours(1);
    let noon = eleven + TimeDelta::hours(1);
    assert!(super::schedules::fire(store, &drill, ten, false, eleven)
        .await
        .is_some());
    assert!(super::schedules::fire(store, &drill, eleven, true, noon)
        .await
        .is_some());
    (ids, interrupted)
}

/// The signed message `message-1` to webhook `hook`, starting `specs`.
fn signed_delivery(specs: &[drbook_core::job::JobSpec]) -> Delivery<'_> {
    Delivery {
        message: Some(Message {
            id: "message-1",
            body_sha256: "body-a",
            forget_before: Utc::now() - TimeDelta::minutes(5),
        }),
        ..Delivery::new("hook", None, specs)
    }
}

/// A job as `get` reads it, without its lease (which an export drops).
async fn unleased(store: &dyn JobStore, id: &str) -> serde_json::Value {
    let mut job = serde_json::to_value(store.get(id).await.must("get")).unwrap();
    job["leaseOwner"] = serde_json::Value::Null;
    job["leaseUntil"] = serde_json::Value::Null;
    job
}

/// What a store answers of `ids` and of webhook `hook`, lease aside.
async fn reads(store: &dyn JobStore, ids: &[String]) -> serde_json::Value {
    let mut jobs = Vec::new();
    for id in ids {
        jobs.push(json!({
            "job": unleased(store, id).await,
            "journal": store.journal(id).await.must("journal"),
            "streams": store.streams(id, 0).await.must("streams"),
            "decision": store.decision(id, 1).await.must("decision"),
            "stop": store.stops_requested(std::slice::from_ref(id)).await.must("stops_requested"),
            "module": store.module(&store.get(id).await.must("get")).await.must("module"),
        }));
    }
    let listed: Vec<String> = store
        .list(None, 100)
        .await
        .must("list")
        .into_iter()
        .map(|j| j.id)
        .collect();
    let mut counts = store.count_by_status().await.must("count_by_status");
    counts.sort_by_key(|(status, _)| format!("{status:?}"));
    let alerts = store.alerts("hook", 100).await.must("alerts");
    let webhooks: Vec<serde_json::Value> = store
        .webhooks()
        .await
        .must("webhooks")
        .into_iter()
        .map(|w| {
            json!([
                w.name,
                w.token_hash,
                w.signing_secret,
                w.target,
                w.enabled,
                w.expires,
                w.last_used
            ])
        })
        .collect();
    json!({
        "jobs": jobs,
        "listed": listed,
        "counts": counts,
        "alerts": alerts,
        "webhooks": webhooks,
        "tokens": super::tokens::listed(store).await,
        "schedules": store.schedules(None).await.must("schedules"),
        "ticks": store.schedule_ticks("drill", 100).await.must("schedule_ticks"),
    })
}

/// A store with every kind of record, exported, imported into an empty
/// store (`into`) and exported again: the same records, and the same
/// answers to every read (`get` but the lease, `journal`, `streams`,
/// `decision`, stop requests, modules, `list`, counts, webhooks, alerts,
/// API tokens, schedules and their ticks).
/// A job under a live lease is refused by name until it is released; the
/// interrupted job's lapsed lease is dropped, and it is runnable in the new
/// store. A signed message's retry gets its first answer there. A second
/// import is refused (the store is not empty) and changes nothing.
pub async fn a_store_exported_and_imported_reads_the_same(
    from: &impl Backend,
    into: &impl Backend,
) {
    let store = from.open().await;
    let (ids, interrupted) = fill(&*store).await;

    let held = create(&*store, MODULE).await;
    let lease = holding(&*store, &held, "worker-live", LONG_LEASE).await;
    match store.export().await {
        Err(StoreError::Leased { jobs }) => {
            assert!(
                jobs.contains(&held) && jobs.contains("worker-live"),
                "{jobs}"
            );
            assert!(
                !jobs.contains(&interrupted),
                "a lapsed lease is no live one: {jobs}"
            );
        }
        other => panic!("an export with a live lease: {other:?}, not Leased"),
    }
    store.release(&held, lease.owner()).await.must("release");
    let ids = [ids, vec![held]].concat();

    let exported = store.export().await.must("export");
    let kinds: std::collections::BTreeSet<&str> = exported
        .items
        .iter()
        .map(|item| match item {
            Item::Module { .. } => "module",
            Item::Job(_) => "job",
            Item::Entry { .. } => "entry",
            Item::Stream { .. } => "stream",
            Item::Decision { .. } => "decision",
            Item::Webhook(_) => "webhook",
            Item::Alert(_) => "alert",
            Item::Seen(_) => "seen",
            Item::Token(_) => "token",
            Item::Schedule(_) => "schedule",
            Item::Tick { .. } => "tick",
        })
        .collect();
    assert_eq!(kinds.len(), 11, "every kind of record: {kinds:?}");

    let target = into.open().await;
    target.import(exported.items.clone()).await.must("import");
    let again = target.export().await.must("export the imported store");
    assert_eq!(again.items, exported.items, "export after import");
    assert_eq!(again.source.kind, exported.source.kind);
    assert_eq!(reads(&*target, &ids).await, reads(&*store, &ids).await);

    let moved = target.get(&interrupted).await.must("get");
    assert_eq!(moved.state, JobStatus::Running);
    assert_eq!(moved.lease_owner, None, "its lapsed lease is not imported");
    assert!(
        is_runnable(&*target, &interrupted, Utc::now()).await,
        "the interrupted job is resumable in the new store"
    );
    let retry = [hook_spec("hook")];
    let answer = signed_delivery(&retry)
        .record(&*target)
        .await
        .must("a retry");
    assert!(
        answer.duplicate,
        "a retry is answered as the first delivery: {answer:?}"
    );

    let before = target.export().await.must("export");
    match target.import(exported.items.clone()).await {
        Err(StoreError::NotEmpty { holds, .. }) => assert!(holds.contains("jobs"), "{holds}"),
        other => panic!("an import into a store with jobs: {other:?}, not NotEmpty"),
    }
    let after = target.export().await.must("export");
    assert_eq!(after.items, before.items, "a refused import writes nothing");
}
