//! The scheduler on a real SQLite store, driven by a clock of the test's
//! own (`tick(now)`, no sleeping): ticks missed during downtime under each
//! policy, a daily tick across both daylight-saving changes, a tick skipped
//! while the previous run goes on, a paused schedule,
//! two schedulers at once making one job per tick, and a tick the store
//! refuses (a fault injected in SQLite) leaving the others to be fired.

use super::*;
use drbook_conformance::store::{schedule, SCHEDULE_MODULE};
use drbook_core::job::JobStatus;
use drbook_core::schedule::{Missed, Schedule};
use drbook_store_sqlite::SqliteStore;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn store(dir: &tempfile::TempDir) -> Arc<dyn JobStore> {
    Arc::new(SqliteStore::open(dir.path()).unwrap())
}

/// The outcome of each tick a pass handled, by schedule.
fn outcomes(fired: &[Fired]) -> Vec<(&str, DateTime<Utc>, &TickOutcome)> {
    fired
        .iter()
        .map(|f| (f.schedule.as_str(), f.record.tick, &f.record.outcome))
        .collect()
}

#[tokio::test]
async fn ticks_missed_during_downtime_run_once_or_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let ten = at("2026-12-02T10:00:00Z");
    // Two plans, so that one schedule's job does not make the other's busy.
    let once = schedule("once", "0 * * * *", Missed::RunOnce, ten);
    let mut skip = schedule("skip", "0 * * * *", Missed::Skip, ten);
    skip.run.plan.name = "other".into();
    for s in [&once, &skip] {
        assert!(store.create_schedule(s, SCHEDULE_MODULE).await.unwrap());
    }
    let scheduler = Scheduler::new(store.clone());
    assert!(scheduler
        .tick(at("2026-12-02T09:59:00Z"))
        .await
        .unwrap()
        .is_empty());

    // Nothing ran from before 10:00 until 13:20: 10:00 to 13:00 missed.
    let fired = scheduler.tick(at("2026-12-02T13:20:00Z")).await.unwrap();
    let one = at("2026-12-02T13:00:00Z");
    let [(_, tick, TickOutcome::Started { job, missed: 3 }), (_, skipped_tick, skipped)] =
        outcomes(&fired)[..]
    else {
        panic!("run-once starts one job for the four ticks: {fired:?}");
    };
    assert_eq!((tick, skipped_tick), (one, one));
    assert_eq!(*skipped, TickOutcome::Missed { missed: 3 });
    let jobs = store.list(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "skip starts none");
    assert_eq!(
        (&jobs[0].id, jobs[0].trigger.as_str()),
        (job, "schedule:once")
    );
    assert_eq!(
        jobs[0].spec.trigger,
        Trigger::Schedule {
            name: "once".into(),
            tick: one
        }
    );
    let skip_now = store.schedule("skip").await.unwrap().unwrap();
    assert_eq!(skip_now.next, Some(at("2026-12-02T14:00:00Z")));
    assert!(skip_now
        .last
        .unwrap()
        .outcome
        .to_string()
        .contains("missed"));

    // Back on time: the skipping schedule starts its next tick.
    let fired = scheduler.tick(at("2026-12-02T14:00:02Z")).await.unwrap();
    let skip_fired = fired.iter().find(|f| f.schedule == "skip").unwrap();
    assert!(matches!(
        skip_fired.record.outcome,
        TickOutcome::Started { missed: 0, .. }
    ));
}

#[tokio::test]
async fn a_tick_is_skipped_while_the_previous_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let ten = at("2026-12-02T10:00:00Z");
    let s = schedule("drill", "0 * * * *", Missed::RunOnce, ten);
    store.create_schedule(&s, SCHEDULE_MODULE).await.unwrap();
    let scheduler = Scheduler::new(store.clone());

    let fired = scheduler.tick(ten).await.unwrap();
    let first = fired[0].record.outcome.job().unwrap().to_string();
    let fired = scheduler.tick(at("2026-12-02T11:00:01Z")).await.unwrap();
    assert_eq!(
        outcomes(&fired),
        [(
            "drill",
            at("2026-12-02T11:00:00Z"),
            &TickOutcome::Overlap { job: first.clone() }
        )]
    );
    let listed = store.schedule("drill").await.unwrap().unwrap();
    assert_eq!(
        listed.last.unwrap().outcome.to_string(),
        format!("skipped: the previous run, {first}, had not ended")
    );
    store
        .finish(&first, JobStatus::Completed, None, &serde_json::json!({}))
        .await
        .unwrap();
    let fired = scheduler.tick(at("2026-12-02T12:00:00Z")).await.unwrap();
    assert!(fired[0].record.outcome.job().is_some());
    assert_eq!(store.list(None, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_paused_schedule_is_not_fired_and_resumes_at_its_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let ten = at("2026-12-02T10:00:00Z");
    store
        .create_schedule(
            &schedule("drill", "0 * * * *", Missed::RunOnce, ten),
            SCHEDULE_MODULE,
        )
        .await
        .unwrap();
    let scheduler = Scheduler::new(store.clone());
    store.pause_schedule("drill").await.unwrap();
    assert!(scheduler
        .tick(at("2026-12-02T12:30:00Z"))
        .await
        .unwrap()
        .is_empty());
    // Resumed at 12:30: the ticks while paused were not wanted, not missed.
    let next = store
        .schedule("drill")
        .await
        .unwrap()
        .unwrap()
        .cron()
        .unwrap()
        .next_after(at("2026-12-02T12:30:00Z"));
    store.resume_schedule("drill", next).await.unwrap();
    assert!(scheduler
        .tick(at("2026-12-02T12:59:00Z"))
        .await
        .unwrap()
        .is_empty());
    let fired = scheduler.tick(at("2026-12-02T13:00:00Z")).await.unwrap();
    assert_eq!(
        outcomes(&fired)[0].2,
        &TickOutcome::Started {
            job: fired[0].record.outcome.job().unwrap().to_string(),
            missed: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_schedulers_at_once_make_one_job_per_tick() {
    let dir = tempfile::tempdir().unwrap();
    let ten = at("2026-12-02T10:00:00Z");
    let setup = store(&dir);
    for n in 0..20 {
        let mut s = schedule(&format!("s{n}"), "0 * * * *", Missed::RunOnce, ten);
        s.run.plan.name = format!("plan-{n}");
        setup.create_schedule(&s, SCHEDULE_MODULE).await.unwrap();
    }
    // Each its own store handle, as two processes on one file.
    let (a, b) = (Scheduler::new(store(&dir)), Scheduler::new(store(&dir)));
    let now = at("2026-12-02T10:00:01Z");
    let (fa, fb) = tokio::join!(a.tick(now), b.tick(now));
    let (fa, fb) = (fa.unwrap(), fb.unwrap());
    assert_eq!(
        fa.len() + fb.len(),
        20,
        "each tick handled once: {fa:?} {fb:?}"
    );
    assert_eq!(setup.list(None, 100).await.unwrap().len(), 20);
    // Again at the same instant: nothing more is due.
    assert!(a.tick(now).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_tick_the_store_refuses_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path()).unwrap();
    let file = sqlite.file().to_path_buf();
    let store: Arc<dyn JobStore> = Arc::new(sqlite);
    let ten = at("2026-12-02T10:00:00Z");
    let broken = schedule("broken", "0 * * * *", Missed::RunOnce, ten);
    let mut good = schedule("good", "0 * * * *", Missed::RunOnce, ten);
    good.run.plan.name = "other".into();
    for s in [&broken, &good] {
        assert!(store.create_schedule(s, SCHEDULE_MODULE).await.unwrap());
    }
    // A fault in the store itself for one schedule's ticks: the pass's
    // batch fails, and its ticks are fired again each alone.
    let db = rusqlite::Connection::open(&file).unwrap();
    db.execute_batch(
        "CREATE TRIGGER fault BEFORE INSERT ON schedule_ticks WHEN NEW.schedule = 'broken'
         BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
    )
    .unwrap();
    let scheduler = Scheduler::new(store.clone());
    let fired = scheduler.tick(at("2026-12-02T10:00:01Z")).await.unwrap();
    let [("good", tick, TickOutcome::Started { .. })] = outcomes(&fired)[..] else {
        panic!("the good schedule's tick alone: {fired:?}");
    };
    assert_eq!(tick, ten);
    let left = store.schedule("broken").await.unwrap().unwrap();
    assert_eq!(
        (left.next, left.last),
        (Some(ten), None),
        "left for the next pass"
    );

    // The fault cleared, the next pass fires it.
    db.execute_batch("DROP TRIGGER fault").unwrap();
    let fired = scheduler.tick(at("2026-12-02T10:00:02Z")).await.unwrap();
    let [("broken", tick, TickOutcome::Started { .. })] = outcomes(&fired)[..] else {
        panic!("the broken schedule's tick once the fault is gone: {fired:?}");
    };
    assert_eq!(tick, ten);
    assert_eq!(store.list(None, 10).await.unwrap().len(), 2);
}

/// The ticks a scheduler fires for `s` in passes every five minutes from
/// `from` to `to`, each tick's job ended before the next pass.
async fn ticks_between(s: &Schedule, from: &str, to: &str) -> Vec<DateTime<Utc>> {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    assert!(store.create_schedule(s, SCHEDULE_MODULE).await.unwrap());
    let scheduler = Scheduler::new(store.clone());
    let (mut now, to) = (at(from), at(to));
    let mut ticks = Vec::new();
    while now <= to {
        for fired in scheduler.tick(now).await.unwrap() {
            let job = fired.record.outcome.job().expect("a job each tick");
            store
                .finish(job, JobStatus::Completed, None, &serde_json::json!({}))
                .await
                .unwrap();
            ticks.push(fired.record.tick);
        }
        now += chrono::TimeDelta::minutes(5);
    }
    ticks
}

#[tokio::test]
async fn a_daily_drill_ticks_once_a_day_across_both_daylight_saving_changes() {
    // 02:30 in Berlin, every day; passes every five minutes, as a clock
    // running through both changes of 2026 would make them.
    let daily = |next: &str| schedule("daily", "30 2 * * *", Missed::RunOnce, at(next));
    // Spring: 02:30 does not exist on 29 March; that day's tick is at the
    // jump, 03:00 CEST.
    assert_eq!(
        ticks_between(
            &daily("2026-03-28T01:30:00Z"),
            "2026-03-28T00:00:00Z",
            "2026-03-30T02:00:00Z"
        )
        .await,
        [
            at("2026-03-28T01:30:00Z"),
            at("2026-03-29T01:00:00Z"),
            at("2026-03-30T00:30:00Z"),
        ]
    );
    // Autumn: 02:30 comes twice on 25 October; the day's tick is the first.
    assert_eq!(
        ticks_between(
            &daily("2026-10-24T00:30:00Z"),
            "2026-10-24T00:00:00Z",
            "2026-10-26T02:00:00Z"
        )
        .await,
        [
            at("2026-10-24T00:30:00Z"),
            at("2026-10-25T00:30:00Z"),
            at("2026-10-26T01:30:00Z"),
        ]
    );
}
