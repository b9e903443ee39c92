//! The scheduler's performance target (issue 15): a tick of 10,000
//! schedules in ≤ 50 ms, on a real SQLite store in a temporary directory.
//! Three passes are timed: one with none of the 10,000 due (what almost
//! every pass is: the due ones are read through an index); one a minute
//! later each time, when the ~167 schedules of that minute are due (each on
//! a plan of its own: a job each, or a skip once its previous job is still
//! there); and the worst case, all 10,000 due in one minute (a monthly drill
//! of every application at 03:00), each a job, on a fresh store each time.
//! Figures are kept in `docs/benchmarks.md`.
//!
//! `cargo bench -p drbook-jobs --bench scheduler`

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use drbook_conformance::store::{schedule, SCHEDULE_MODULE};
use drbook_core::schedule::{Cron, Missed};
use drbook_core::store::JobStore;
use drbook_jobs::Scheduler;
use drbook_store_sqlite::SqliteStore;

const SCHEDULES: usize = 10_000;

/// 10,000 schedules, the `i`th of pattern `cron(i)`, each on a plan of its
/// own, their next ticks the first after `start`.
async fn store(
    dir: &std::path::Path,
    start: DateTime<Utc>,
    cron: impl Fn(usize) -> String,
) -> Arc<dyn JobStore> {
    let store: Arc<dyn JobStore> = Arc::new(SqliteStore::open(dir).expect("a store"));
    for i in 0..SCHEDULES {
        let cron = cron(i);
        let next = Cron::parse(&cron, "Europe/Berlin")
            .unwrap()
            .next_after(start);
        let mut s = schedule(&format!("s{i:05}"), &cron, Missed::RunOnce, next.unwrap());
        s.run.plan.name = format!("plan-{i:05}");
        assert!(store.create_schedule(&s, SCHEDULE_MODULE).await.unwrap());
    }
    store
}

fn scheduler(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let start: DateTime<Utc> = "2026-12-02T10:00:30Z".parse().unwrap();
    let dir = tempfile::tempdir().expect("dir");
    // Hourly, one at each minute in turn.
    let hourly = tokio.block_on(store(dir.path(), start, |i| format!("{} * * * *", i % 60)));
    let scheduler = Scheduler::new(hourly);
    let mut group = c.benchmark_group("scheduler");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));

    group.bench_function("tick_10000_schedules_none_due", |b| {
        b.iter(|| {
            let fired = tokio.block_on(scheduler.tick(start)).unwrap();
            assert!(fired.is_empty());
        })
    });

    // Each pass a minute after the one before: that minute's schedules due.
    let mut minute = 0;
    group.bench_function("tick_10000_schedules_167_due", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                minute += 1;
                let now = start + TimeDelta::minutes(minute);
                let began = Instant::now();
                let fired = tokio.block_on(scheduler.tick(now)).unwrap();
                took += began.elapsed();
                assert!((166..=167).contains(&fired.len()), "{}", fired.len());
            }
            took
        })
    });

    // All due at once: a fresh store each time (not timed), as a pass fires
    // each of its ticks once.
    let monthly: DateTime<Utc> = "2026-12-31T12:00:00Z".parse().unwrap();
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(1));
    group.bench_function("tick_10000_schedules_all_due", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("dir");
                let store = tokio.block_on(store(dir.path(), monthly, |_| "0 3 1 * *".into()));
                let scheduler = Scheduler::new(store);
                // 03:00 in Berlin on 1 January.
                let now: DateTime<Utc> = "2027-01-01T02:00:01Z".parse().unwrap();
                let began = Instant::now();
                let fired = tokio.block_on(scheduler.tick(now)).unwrap();
                took += began.elapsed();
                assert_eq!(fired.len(), SCHEDULES);
                assert!(fired.iter().all(|f| f.record.outcome.job().is_some()));
            }
            took
        })
    });
    group.finish();
}

criterion_group!(benches, scheduler);
criterion_main!(benches);
