//! Schedules: created once, listed (all, or the due ones), paused, resumed
//! and deleted with their module kept from `prune` meanwhile; a tick fired
//! once with its job, skipped while the schedule's previous job runs or its
//! plan is busy, recorded as missed without a job; firings racing for one
//! tick create one job; ticks fired together each handled as alone, or none
//! of them on an error, and batches racing for them one job per tick.

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::fixtures::{cli_spec, Must, MODULE, RUNBOOK};
use super::Backend;
use drbook_core::fabric::Direction;
use drbook_core::job::{JobStatus, RunTarget, Trigger};
use drbook_core::module::digest;
use drbook_core::plan::FailoverType;
use drbook_core::schedule::{Missed, Schedule, TickOutcome};
use drbook_core::store::{JobStore, NewTick, OnBusy};

/// A schedule of the suite's plan and module, created now, whose next tick
/// is `next`: for a backend's own tests and benches too.
pub fn schedule(name: &str, cron: &str, missed: Missed, next: DateTime<Utc>) -> Schedule {
    let plan = cli_spec().plan;
    Schedule {
        name: name.to_string(),
        cron: cron.to_string(),
        timezone: "Europe/Berlin".to_string(),
        missed,
        run: RunTarget {
            runbook: RUNBOOK.to_string(),
            digest: digest(MODULE),
            plan,
            failover_type: FailoverType::Test,
            direction: Direction::PrimaryToRecovery,
            parameters: BTreeMap::from([("drill".to_string(), "monthly".to_string())]),
            grant: Default::default(),
            admission: None,
        },
        paused: false,
        created: Utc::now(),
        created_by: "cli:conformance".to_string(),
        next: Some(next),
        last: None,
        last_job: None,
    }
}

/// The module the suite's schedules run.
pub const SCHEDULE_MODULE: &[u8] = MODULE;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a time")
}

/// Fires `tick` of `s` as a scheduler would: a job (its spec's trigger the
/// tick) unless `start` is false, then `next` as the schedule's next tick.
pub(crate) async fn fire(
    store: &dyn JobStore,
    s: &Schedule,
    tick: DateTime<Utc>,
    start: bool,
    next: DateTime<Utc>,
) -> Option<drbook_core::schedule::TickRecord> {
    let spec = s.run.spec(
        Trigger::Schedule {
            name: s.name.clone(),
            tick,
        },
        s.run.parameters.clone(),
    );
    let fired = NewTick {
        schedule: &s.name,
        tick,
        missed: 0,
        job: start.then(|| s.run.job(&spec)),
        next: Some(next),
        at: tick + TimeDelta::seconds(1),
    };
    store.fire_tick(fired).await.must("fire a tick")
}

pub async fn schedules_are_created_once_listed_paused_resumed_and_deleted(backend: &impl Backend) {
    let store = backend.open().await;
    let ten = at("2026-12-02T10:00:00Z");
    let hourly = schedule("hourly", "0 * * * *", Missed::RunOnce, ten);
    let later = schedule(
        "later",
        "0 3 1 * *",
        Missed::Skip,
        at("2027-01-01T02:00:00Z"),
    );
    assert!(store.create_schedule(&hourly, MODULE).await.must("create"));
    assert!(store.create_schedule(&later, MODULE).await.must("create"));
    assert!(
        !store
            .create_schedule(&hourly, MODULE)
            .await
            .must("create again"),
        "a second schedule of one name is refused"
    );
    let read = store.schedule("hourly").await.must("read").expect("stored");
    assert_eq!(read.run, hourly.run);
    assert_eq!(
        (read.next, read.paused, &read.cron),
        (Some(ten), false, &hourly.cron)
    );
    assert_eq!(store.schedule("none").await.must("read"), None);
    let names = |list: Vec<Schedule>| list.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.schedules(None).await.must("list")),
        ["hourly", "later"]
    );
    assert_eq!(
        names(store.schedules(Some(ten)).await.must("due")),
        ["hourly"]
    );
    assert!(store
        .schedules(Some(ten - TimeDelta::seconds(1)))
        .await
        .must("due")
        .is_empty());
    assert_eq!(store.next_tick().await.must("next tick"), Some(ten));

    // Its module is kept while it exists, though no job runs it yet.
    store
        .prune(Utc::now() + TimeDelta::days(1))
        .await
        .must("prune");
    let spec = cli_spec();
    let job = hourly.run.job(&spec);
    store
        .admit(job, b"", OnBusy::Refuse)
        .await
        .must("admit without bytes");
    let record = store.get(&spec.job_id).await.must("the job");
    assert_eq!(store.module(&record).await.must("its module"), MODULE);

    assert!(store.pause_schedule("hourly").await.must("pause"));
    assert!(store.schedule("hourly").await.must("read").unwrap().paused);
    assert!(
        store.schedules(Some(ten)).await.must("due").is_empty(),
        "a paused schedule is not due"
    );
    assert_eq!(store.next_tick().await.must("next tick"), later.next);
    let eleven = at("2026-12-02T11:00:00Z");
    assert!(store
        .resume_schedule("hourly", Some(eleven))
        .await
        .must("resume"));
    let resumed = store.schedule("hourly").await.must("read").unwrap();
    assert_eq!((resumed.paused, resumed.next), (false, Some(eleven)));
    // Resuming one that runs changes nothing.
    assert!(store
        .resume_schedule("hourly", Some(ten))
        .await
        .must("resume"));
    assert_eq!(
        store.schedule("hourly").await.must("read").unwrap().next,
        Some(eleven)
    );
    assert!(!store.pause_schedule("none").await.must("pause"));
    assert!(!store.resume_schedule("none", None).await.must("resume"));

    assert!(store.delete_schedule("hourly").await.must("delete"));
    assert!(!store.delete_schedule("hourly").await.must("delete again"));
    assert_eq!(names(store.schedules(None).await.must("list")), ["later"]);
}

pub async fn a_tick_is_fired_once_and_skipped_while_its_previous_job_runs(backend: &impl Backend) {
    let store = backend.open().await;
    let (ten, eleven, noon, one) = (
        at("2026-12-02T10:00:00Z"),
        at("2026-12-02T11:00:00Z"),
        at("2026-12-02T12:00:00Z"),
        at("2026-12-02T13:00:00Z"),
    );
    let s = schedule("hourly", "0 * * * *", Missed::RunOnce, ten);
    assert!(store.create_schedule(&s, MODULE).await.must("create"));

    // A tick before the schedule's next one is not handled.
    assert_eq!(
        fire(&*store, &s, ten - TimeDelta::hours(1), true, ten).await,
        None
    );
    let first = fire(&*store, &s, ten, true, eleven)
        .await
        .expect("the tick is handled");
    let TickOutcome::Started { job, missed: 0 } = &first.outcome else {
        panic!("the tick starts a job: {first:?}");
    };
    let record = store.get(job).await.must("the tick's job");
    assert_eq!(record.trigger, "schedule:hourly");
    assert_eq!(
        record.spec.trigger,
        Trigger::Schedule {
            name: "hourly".into(),
            tick: ten
        }
    );
    assert_eq!(record.state, JobStatus::New);
    assert_eq!(record.spec.failover_type, FailoverType::Test);
    assert_eq!(
        fire(&*store, &s, ten, true, eleven).await,
        None,
        "a tick is handled once"
    );
    let read = store.schedule("hourly").await.must("read").unwrap();
    assert_eq!(
        (read.next, read.last.as_ref(), read.last_job.as_deref()),
        (Some(eleven), Some(&first), Some(job.as_str()))
    );

    // The job has not ended: the next tick is skipped, and says why.
    let overlap = fire(&*store, &s, eleven, true, noon)
        .await
        .expect("handled");
    assert_eq!(overlap.outcome, TickOutcome::Overlap { job: job.clone() });
    assert_eq!(
        store.list(None, 10).await.must("list").len(),
        1,
        "no second job"
    );

    // Ended: the next tick starts one; a tick missed starts none.
    store
        .finish(job, JobStatus::Completed, None, &serde_json::json!({}))
        .await
        .must("finish");
    let third = fire(&*store, &s, noon, true, one).await.expect("handled");
    let Some(second_job) = third.outcome.job() else {
        panic!("a job once the previous ended: {third:?}");
    };
    store
        .finish(
            second_job,
            JobStatus::Failed,
            Some("drill failed"),
            &serde_json::json!({}),
        )
        .await
        .must("finish");
    let missed = fire(&*store, &s, one, false, one + TimeDelta::hours(1))
        .await
        .expect("handled");
    assert_eq!(missed.outcome, TickOutcome::Missed { missed: 0 });
    assert_eq!(store.list(None, 10).await.must("list").len(), 2);

    // A plan busy with another job skips a tick too, naming it.
    let other = cli_spec();
    store
        .admit(s.run.job(&other), MODULE, OnBusy::Refuse)
        .await
        .must("admit");
    let two = one + TimeDelta::hours(1);
    let busy = fire(&*store, &s, two, true, two + TimeDelta::hours(1))
        .await
        .expect("handled");
    let TickOutcome::Busy { busy } = &busy.outcome else {
        panic!("skipped for the busy plan: {busy:?}");
    };
    assert_eq!(busy.job, other.job_id);

    let ticks: Vec<_> = store.schedule_ticks("hourly", 10).await.must("ticks");
    let times: Vec<_> = ticks.iter().map(|t| t.tick).collect();
    assert_eq!(times, [two, one, noon, eleven, ten], "newest first");
    assert_eq!(
        store.schedule_ticks("hourly", 2).await.must("ticks").len(),
        2
    );

    // Paused: its tick is not handled; deleted: neither.
    let three = two + TimeDelta::hours(1);
    store.pause_schedule("hourly").await.must("pause");
    assert_eq!(fire(&*store, &s, three, true, three).await, None);
    store.delete_schedule("hourly").await.must("delete");
    assert_eq!(fire(&*store, &s, three, true, three).await, None);
    assert!(store
        .schedule_ticks("hourly", 10)
        .await
        .must("ticks")
        .is_empty());
}

pub async fn firings_racing_for_a_tick_create_one_job(backend: &impl Backend) {
    const FIRINGS: usize = 8;
    let ten = at("2026-12-02T10:00:00Z");
    let s = Arc::new(schedule("raced", "0 * * * *", Missed::RunOnce, ten));
    let setup = backend.open().await;
    assert!(setup.create_schedule(&s, MODULE).await.must("create"));
    // Each firing its own handle (as a process of its own), all at once.
    let barrier = Arc::new(tokio::sync::Barrier::new(FIRINGS));
    let mut firings = Vec::new();
    for _ in 0..FIRINGS {
        let (store, s, barrier) = (backend.open().await, s.clone(), barrier.clone());
        firings.push(tokio::spawn(async move {
            barrier.wait().await;
            fire(&*store, &s, ten, true, ten + TimeDelta::hours(1)).await
        }));
    }
    let mut handled = Vec::new();
    for firing in firings {
        handled.extend(firing.await.expect("a firing"));
    }
    assert_eq!(handled.len(), 1, "one firing handles the tick: {handled:?}");
    let jobs = setup.list(None, 100).await.must("list");
    assert_eq!(jobs.len(), 1, "one job for the tick");
    assert_eq!(handled[0].outcome.job(), Some(jobs[0].id.as_str()));
    assert_eq!(
        setup.schedule_ticks("raced", 10).await.must("ticks").len(),
        1
    );
}

/// `s`'s tick at `tick` as a scheduler fires it, a job with `spec` or none.
fn new_tick<'a>(
    s: &'a Schedule,
    spec: Option<&'a drbook_core::job::JobSpec>,
    tick: DateTime<Utc>,
) -> NewTick<'a> {
    NewTick {
        schedule: &s.name,
        tick,
        missed: 0,
        job: spec.map(|spec| s.run.job(spec)),
        next: Some(tick + TimeDelta::hours(1)),
        at: tick,
    }
}

/// A job spec for `s`'s tick at `tick`.
fn tick_spec(s: &Schedule, tick: DateTime<Utc>) -> drbook_core::job::JobSpec {
    let trigger = Trigger::Schedule {
        name: s.name.clone(),
        tick,
    };
    s.run.spec(trigger, s.run.parameters.clone())
}

pub async fn ticks_fired_together_are_each_handled_once_or_not_at_all(backend: &impl Backend) {
    let store = backend.open().await;
    let ten = at("2026-12-02T10:00:00Z");
    let on = |name: &str, plan: &str, missed: Missed, next: DateTime<Utc>| {
        let mut s = schedule(name, "0 * * * *", missed, next);
        s.run.plan.name = plan.to_string();
        s
    };
    // `first` and `second` on one plan; `skip` records its tick as missed;
    // `later` is not due yet; `paused` is paused.
    let first = on("first", "shared", Missed::RunOnce, ten);
    let second = on("second", "shared", Missed::RunOnce, ten);
    let skip = on("skip", "own", Missed::Skip, ten);
    let later = on("later", "later", Missed::RunOnce, ten + TimeDelta::hours(1));
    let paused = on("paused", "paused", Missed::RunOnce, ten);
    for s in [&first, &second, &skip, &later, &paused] {
        assert!(store.create_schedule(s, MODULE).await.must("create"));
    }
    store.pause_schedule("paused").await.must("pause");

    // A batch that fails on its last tick (a job id already taken) changes
    // nothing, its other ticks included.
    let taken = cli_spec();
    store
        .admit(later.run.job(&taken), MODULE, OnBusy::Refuse)
        .await
        .must("admit");
    let first_spec = tick_spec(&first, ten);
    let mut clash = tick_spec(&skip, ten);
    clash.job_id = taken.job_id.clone();
    let failed = store
        .fire_ticks(&[
            new_tick(&first, Some(&first_spec), ten),
            new_tick(&skip, Some(&clash), ten),
        ])
        .await;
    assert!(
        failed.is_err(),
        "a job id taken fails the batch: {failed:?}"
    );
    assert_eq!(
        store.list(None, 10).await.must("list").len(),
        1,
        "no job of the failed batch is left"
    );
    for s in [&first, &skip] {
        let read = store.schedule(&s.name).await.must("read").unwrap();
        assert_eq!(
            (read.next, read.last),
            (Some(ten), None),
            "{} unchanged",
            s.name
        );
        assert!(store
            .schedule_ticks(&s.name, 10)
            .await
            .must("ticks")
            .is_empty());
    }

    let specs = [&first, &second, &later, &paused].map(|s| tick_spec(s, ten));
    let batch = [
        new_tick(&first, Some(&specs[0]), ten),
        new_tick(&second, Some(&specs[1]), ten),
        new_tick(&skip, None, ten),
        new_tick(&later, Some(&specs[2]), ten),
        new_tick(&paused, Some(&specs[3]), ten),
    ];
    let records = store.fire_ticks(&batch).await.must("fire the batch");
    let outcomes: Vec<_> = records
        .iter()
        .map(|r| r.as_ref().map(|r| r.outcome.clone()))
        .collect();
    let [Some(TickOutcome::Started { job, missed: 0 }), Some(TickOutcome::Busy { busy }), Some(TickOutcome::Missed { missed: 0 }), None, None] =
        &outcomes[..]
    else {
        panic!("a job, busy behind it, missed, not due, paused: {outcomes:?}");
    };
    assert_eq!(job, &specs[0].job_id);
    assert_eq!(
        &busy.job, job,
        "the second sees the first's job on its plan"
    );
    assert_eq!(store.list(None, 10).await.must("list").len(), 2);
    for s in [&first, &second, &skip] {
        let read = store.schedule(&s.name).await.must("read").unwrap();
        assert_eq!(
            read.next,
            Some(ten + TimeDelta::hours(1)),
            "{} moved on",
            s.name
        );
        assert_eq!(
            store.schedule_ticks(&s.name, 10).await.must("ticks").len(),
            1
        );
    }

    // Fired again: each tick was handled already.
    let again = store.fire_ticks(&batch).await.must("fire again");
    assert!(again.iter().all(Option::is_none), "{again:?}");
    assert_eq!(store.list(None, 10).await.must("list").len(), 2);
}

pub async fn batches_racing_for_their_ticks_create_one_job_each(backend: &impl Backend) {
    const FIRINGS: usize = 6;
    const SCHEDULES: usize = 5;
    let ten = at("2026-12-02T10:00:00Z");
    let setup = backend.open().await;
    let mut all = Vec::new();
    for i in 0..SCHEDULES {
        let mut s = schedule(&format!("s{i}"), "0 * * * *", Missed::RunOnce, ten);
        s.run.plan.name = format!("plan-{i}");
        assert!(setup.create_schedule(&s, MODULE).await.must("create"));
        all.push(s);
    }
    let all = Arc::new(all);
    // Each firing its own handle, half of them with the ticks in reverse:
    // however the batches overlap, none waits for another in a cycle.
    let barrier = Arc::new(tokio::sync::Barrier::new(FIRINGS));
    let mut firings = Vec::new();
    for n in 0..FIRINGS {
        let (store, all, barrier) = (backend.open().await, all.clone(), barrier.clone());
        firings.push(tokio::spawn(async move {
            let mut order: Vec<&Schedule> = all.iter().collect();
            if n % 2 == 1 {
                order.reverse();
            }
            let specs: Vec<_> = order.iter().map(|s| tick_spec(s, ten)).collect();
            let batch: Vec<_> = order
                .iter()
                .zip(&specs)
                .map(|(s, spec)| new_tick(s, Some(spec), ten))
                .collect();
            barrier.wait().await;
            store.fire_ticks(&batch).await.must("fire a batch")
        }));
    }
    let mut handled = Vec::new();
    for firing in firings {
        handled.extend(firing.await.expect("a firing").into_iter().flatten());
    }
    assert_eq!(
        handled.len(),
        SCHEDULES,
        "each tick handled once: {handled:?}"
    );
    let jobs = setup.list(None, 100).await.must("list");
    assert_eq!(jobs.len(), SCHEDULES, "one job per tick");
    for s in all.iter() {
        assert_eq!(
            setup.schedule_ticks(&s.name, 10).await.must("ticks").len(),
            1
        );
    }
}
