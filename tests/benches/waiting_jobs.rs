//! Issue 4's eviction target: 10,000 jobs waiting on reprotects in one
//! worker with a resident memory ≤ 500 MB. Not a criterion benchmark: one
//! run, one figure.
//!
//! An estate of N VMs (`DRBOOK_WAITING_JOBS`, default 10,000) is failed over
//! and committed on an instant simulator, then reopened at real speed (a
//! reprotect takes 45 min to 2 h). N `reprotect-plan` jobs, one per VM (a
//! one-VM plan, polling every `DRBOOK_WAITING_POLL_SECONDS`, default 600 s),
//! are run by one in-process worker (concurrency 256, unload after 100 ms)
//! until every job is unloaded and waiting (has a wake in the store). Then
//! the process's `VmRSS` is read, printed and checked. It gives up after
//! `DRBOOK_WAITING_TIMEOUT_SECONDS` (default 1,800 s). Exit status: 0 if the
//! target is met, 1 if not (or a job failed, or the time ran out).
//!
//! `cargo bench -p drbook-tests --bench waiting_jobs`; results and method in
//! `docs/benchmarks.md`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drbook_core::fabric::{Direction, Fabric, OperationRequest, ProtectionState};
use drbook_core::job::{JobStatus, NewJob};
use drbook_core::store::JobStore;
use drbook_core::TimeScale;
use drbook_fabric_sim::Simulator;
use drbook_jobs::{Execution, Worker, WorkerOptions};
use drbook_runtime::{Limits, Observer, Runtime};
use drbook_store_sqlite::SqliteStore;
use drbook_tests::{fixtures, guests};

const TARGET_BYTES: u64 = 500 << 20;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

fn vm_name(i: usize) -> String {
    format!("vm-{i:05}")
}

/// A line of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
        * 1024
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Fails over and commits every VM on an instant simulator, so that each
/// allows a reprotect.
async fn fail_over_and_commit(fabric: &Simulator, n: usize) {
    let failover = OperationRequest::PlannedFailover {
        direction: Direction::PrimaryToRecovery,
    };
    for i in 0..n {
        fabric
            .start(&vm_name(i), &failover, "bench-setup")
            .await
            .expect("failing over");
    }
    for i in 0..n {
        fabric
            .start(&vm_name(i), &OperationRequest::Commit, "bench-setup")
            .await
            .expect("committing");
    }
    for i in [0, n - 1] {
        let item = fabric.get_item(&vm_name(i)).await.expect("reading a VM");
        assert_eq!(item.protection_state, ProtectionState::FailoverCommitted);
    }
}

fn main() {
    let n: usize = env_or("DRBOOK_WAITING_JOBS", 10_000);
    let poll_seconds: u64 = env_or("DRBOOK_WAITING_POLL_SECONDS", 600);
    let timeout = Duration::from_secs(env_or("DRBOOK_WAITING_TIMEOUT_SECONDS", 1_800));
    assert!(n > 0, "DRBOOK_WAITING_JOBS must be at least 1");
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path();

    let setup = Instant::now();
    let estate = fixtures::estate((0..n).map(vm_name));
    let instant = Simulator::init(data, &estate, false, TimeScale::Instant).expect("the simulator");
    tokio.block_on(fail_over_and_commit(&instant, n));
    drop(instant);
    let fabric = Simulator::open(data, TimeScale::Factor(1.0)).expect("reopening the simulator");

    let runtime = Runtime::new(None).expect("the runtime");
    let runbook = runtime
        .load(Path::new(guests::REPROTECT_PLAN))
        .expect("loading reprotect-plan");
    let module = std::fs::read(guests::REPROTECT_PLAN).expect("reading reprotect-plan");
    let store: Arc<dyn JobStore> = Arc::new(SqliteStore::open(data).expect("the job store"));
    for i in 0..n {
        let id = format!("job-{i:05}");
        let plan = fixtures::one_group_plan(&format!("reprotect-{}", vm_name(i)), vec![vm_name(i)]);
        let spec = fixtures::job_spec(&id, &plan, &[("poll-seconds", poll_seconds.to_string())]);
        tokio
            .block_on(store.create(
                NewJob {
                    digest: &runbook.digest,
                    runbook: "reprotect-plan.wasm",
                    spec: &spec,
                },
                &module,
            ))
            .expect("creating a job");
    }
    drop(runbook);
    println!(
        "setup: {n} VMs failed over and committed, {n} jobs created in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let rss_before = proc_status_bytes("VmRSS");

    let exec = Execution {
        store: store.clone(),
        runtime,
        fabric: Arc::new(fabric),
        limits: Limits::default(),
        time_scale: TimeScale::Factor(1.0),
        observer: Observer::none(),
        unload_after: Duration::from_millis(100),
        trust: Default::default(),
        checked: Default::default(),
    };
    let options = WorkerOptions {
        lease: Duration::from_secs(30),
        concurrency: 256,
        poll: Duration::from_millis(50),
        ..WorkerOptions::new("bench-worker".to_string())
    };
    // Every run must end unloaded, waiting (`Running` with a wake).
    let runs = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let report = {
        let (runs, failures) = (runs.clone(), failures.clone());
        Box::new(move |id: &str, result: &Result<_, _>| {
            runs.fetch_add(1, Ordering::Relaxed);
            let failed = match result {
                Ok(outcome) => {
                    let outcome: &drbook_runtime::JobOutcome = outcome;
                    (outcome.status != JobStatus::Running || outcome.wake.is_none())
                        .then(|| format!("{id}: {:?} {:?}", outcome.status, outcome.reason))
                }
                Err(e) => Some(format!("{id}: {e}")),
            };
            if let Some(failed) = failed {
                failures.lock().unwrap().push(failed);
            }
        })
    };
    let worker = Worker::new(exec, options, report);

    let start = Instant::now();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    // Watches the store; when every job waits (or time is up), reads the
    // memory while the worker still holds them, then stops the worker.
    let watch = {
        let store = store.clone();
        let failures = failures.clone();
        tokio.spawn(async move {
            let mut last_print = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let waiting = store.waiting().await.expect("reading the job store").len();
                let failed = failures.lock().unwrap().len();
                if waiting == n || failed > 0 || start.elapsed() > timeout {
                    let figures = (
                        waiting,
                        start.elapsed(),
                        proc_status_bytes("VmRSS"),
                        proc_status_bytes("VmHWM"),
                    );
                    let _ = done_tx.send(());
                    return figures;
                }
                if last_print.elapsed() >= Duration::from_secs(10) {
                    last_print = Instant::now();
                    println!(
                        "  {:>6.1} s: {waiting} of {n} jobs waiting, VmRSS {:.0} MiB",
                        start.elapsed().as_secs_f64(),
                        mib(proc_status_bytes("VmRSS"))
                    );
                }
            }
        })
    };
    tokio
        .block_on(worker.run(async {
            let _ = done_rx.await;
        }))
        .expect("the worker failed");
    let (waiting, took, rss, hwm) = tokio.block_on(watch).expect("the watcher");

    let failures = failures.lock().unwrap();
    println!(
        "{waiting} of {n} jobs waiting on reprotects after {:.1} s ({} job runs, {:.0} jobs/s)",
        took.as_secs_f64(),
        runs.load(Ordering::Relaxed),
        waiting as f64 / took.as_secs_f64()
    );
    println!(
        "resident memory: VmRSS {:.1} MiB (before the worker started: {:.1} MiB; peak VmHWM {:.1} MiB); target ≤ {:.0} MiB",
        mib(rss),
        mib(rss_before),
        mib(hwm),
        mib(TARGET_BYTES)
    );
    let mut ok = true;
    if !failures.is_empty() {
        ok = false;
        eprintln!(
            "{} job run(s) did not end waiting, e.g. {}",
            failures.len(),
            failures[0]
        );
    }
    if waiting < n {
        ok = false;
        eprintln!(
            "only {waiting} of {n} jobs were waiting after {:.0} s",
            took.as_secs_f64()
        );
    }
    if rss > TARGET_BYTES {
        ok = false;
        eprintln!(
            "resident memory {:.1} MiB is over the {:.0} MiB target",
            mib(rss),
            mib(TARGET_BYTES)
        );
    }
    println!("{}", if ok { "target met" } else { "target MISSED" });
    drop(tokio);
    // `exit` runs no destructors: the temp dir (10,000 jobs' store, some
    // 700 MB) is removed here, or it would stay behind after every run.
    drop(dir);
    std::process::exit(if ok { 0 } else { 1 });
}
