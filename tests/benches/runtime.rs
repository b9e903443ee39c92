//! The runtime benchmarks of issue 3, with their targets:
//! - `instantiate/probe-noop`: instantiate a cached runbook and call `run` of
//!   the no-op probe (≤ 50 µs for instantiate-to-first-guest-instruction; the
//!   figure also holds the probe's tiny run: one `plan.context` call), and
//!   `instantiate/to-first-host-call`: from `run_job` to the runbook's first
//!   host call, which its first instructions make.
//! - `host_call/round_trip`: one `clock.now` round trip, as
//!   (`probe calls=10000` − `probe calls=0`) / 10,000 (≤ 2 µs).
//! - `plan/failover-1000-vms-10-groups`: `failover-plan`, planned, on an
//!   instant simulator of 1,000 VMs in 10 groups of 100 (≤ 1 s).
//!
//! Jobs run with an in-memory journal (no job store), as the integration
//! tests do. Every job's outcome is checked, so a failing job stops the bench instead of
//! being measured. Results and method: `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use drbook_core::fabric::{Direction, Fabric};
use drbook_core::job::{JobSpec, JobStatus, Trigger};
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::TimeScale;
use drbook_fabric_sim::{Estate, Simulator};
use drbook_runtime::{JobEvent, JobOptions, JobOutcome, Journal, Observer, Runbook, Runtime};
use drbook_tests::fixtures::{self, PRIMARY, RECOVERY};
use drbook_tests::guests;
use tempfile::TempDir;

const HOST_CALLS: u64 = 10_000;

/// `groups` groups of `per_group` VMs: the estate and the plan over it.
fn estate_and_plan(groups: usize, per_group: usize) -> (Estate, RecoveryPlan) {
    let name = |g: usize, v: usize| format!("vm-{g:02}-{v:03}");
    let estate =
        fixtures::estate((0..groups).flat_map(|g| (0..per_group).map(move |v| name(g, v))));
    let mut toml = format!(
        "name = \"bench-{groups}x{per_group}\"\nprimary_region = \"{PRIMARY}\"\nrecovery_region = \"{RECOVERY}\"\n"
    );
    for g in 0..groups {
        let vms: Vec<String> = (0..per_group)
            .map(|v| format!("\"{}\"", name(g, v)))
            .collect();
        toml.push_str(&format!(
            "\n[[groups]]\nname = \"group-{g:02}\"\nvms = [{}]\npost = [\"check-{g:02}\"]\n",
            vms.join(", ")
        ));
    }
    let plan =
        RecoveryPlan::parse(&toml, "generated bench plan").expect("the generated plan is valid");
    (estate, plan)
}

/// A new instant simulator holding `estate`, in a directory of its own.
fn fresh_fabric(estate: &Estate) -> (TempDir, Arc<dyn Fabric>) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let simulator = Simulator::init(dir.path(), estate, false, TimeScale::Instant)
        .expect("initialising the simulator");
    (dir, Arc::new(simulator))
}

/// Everything a job needs but the fabric.
struct Bench {
    tokio: tokio::runtime::Runtime,
    runtime: Runtime,
    runbook: Arc<Runbook>,
    plan: RecoveryPlan,
}

impl Bench {
    fn new(runbook: &str, plan: RecoveryPlan) -> Self {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let runtime = Runtime::new(None).expect("the runtime");
        // Loaded (compiled) once here: every measured job uses the cached
        // `InstancePre`, as a second run of the same runbook does.
        let runbook = runtime
            .load(Path::new(runbook))
            .expect("loading the runbook");
        Bench {
            tokio,
            runtime,
            runbook,
            plan,
        }
    }

    fn run(
        &self,
        fabric: Arc<dyn Fabric>,
        failover_type: FailoverType,
        parameters: &[(&str, String)],
    ) -> JobOutcome {
        self.run_observed(fabric, failover_type, parameters, Observer::none())
    }

    fn run_observed(
        &self,
        fabric: Arc<dyn Fabric>,
        failover_type: FailoverType,
        parameters: &[(&str, String)],
        observer: Observer,
    ) -> JobOutcome {
        let spec = JobSpec {
            job_id: "bench".to_string(),
            plan: self.plan.clone(),
            failover_type,
            direction: Direction::PrimaryToRecovery,
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            trigger: Trigger::CommandLine {
                user: "bench".into(),
            },
            grant: Default::default(),
            admission: None,
        };
        let options = JobOptions {
            time_scale: TimeScale::Instant,
            observer,
            ..JobOptions::default()
        };
        // A journal kept in memory only: every host call is journaled, as in
        // a job, but not written to a job store (that cost is the store's).
        let journal = Journal::new(Vec::new(), None);
        let outcome = self.tokio.block_on(self.runtime.run_job(
            &self.runbook,
            spec,
            fabric,
            options,
            journal,
        ));
        assert_eq!(
            outcome.status,
            JobStatus::Completed,
            "the benchmarked job failed: {:?} {:?}",
            outcome.failure,
            outcome.reason
        );
        outcome
    }

    /// Runs the probe with `calls` host calls; returns how long the job took.
    fn probe(&self, fabric: &Arc<dyn Fabric>, calls: u64) -> Duration {
        let start = Instant::now();
        self.run(
            fabric.clone(),
            FailoverType::Planned,
            &[("calls", calls.to_string())],
        );
        start.elapsed()
    }
}

fn instantiate(c: &mut Criterion) {
    let (estate, plan) = estate_and_plan(1, 1);
    let (_dir, fabric) = fresh_fabric(&estate);
    let bench = Bench::new(guests::PROBE, plan);
    let mut group = c.benchmark_group("instantiate");
    group.bench_function("probe-noop", |b| {
        b.iter(|| bench.run(fabric.clone(), FailoverType::Planned, &[]))
    });
    // From the call of `run_job` to the runbook's first host call (its
    // `plan.context`, made by the SDK before anything else): a new store,
    // instantiation from the cached `InstancePre`, and the guest's first
    // instructions.
    group.bench_function("to-first-host-call", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let first: Arc<Mutex<Option<Instant>>> = Arc::default();
                let seen = first.clone();
                let observer = Observer::new(move |event| {
                    if let JobEvent::Started { .. } = event {
                        seen.lock().unwrap().get_or_insert_with(Instant::now);
                    }
                });
                let start = Instant::now();
                bench.run_observed(fabric.clone(), FailoverType::Planned, &[], observer);
                let first = first
                    .lock()
                    .unwrap()
                    .expect("the runbook made its first host call");
                total += first - start;
            }
            total
        })
    });
    group.finish();
}

fn host_call(c: &mut Criterion) {
    let (estate, plan) = estate_and_plan(1, 1);
    let (_dir, fabric) = fresh_fabric(&estate);
    let bench = Bench::new(guests::PROBE, plan);
    // The probe counts its calls: check that it made them.
    let outcome = bench.run(
        fabric.clone(),
        FailoverType::Planned,
        &[("calls", HOST_CALLS.to_string())],
    );
    assert!(outcome
        .output
        .as_deref()
        .unwrap_or_default()
        .starts_with(&format!("{HOST_CALLS} calls")));

    let mut group = c.benchmark_group("host_call");
    group.bench_function("probe-calls-0", |b| b.iter(|| bench.probe(&fabric, 0)));
    group.bench_function("probe-calls-10000", |b| {
        b.iter(|| bench.probe(&fabric, HOST_CALLS))
    });
    // One iteration = one round trip: a run with 10,000 calls minus a run
    // without, back to back, divided by 10,000.
    group.bench_function("round_trip", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let with = bench.probe(&fabric, HOST_CALLS);
                    let without = bench.probe(&fabric, 0);
                    with.saturating_sub(without) / HOST_CALLS as u32
                })
                .sum()
        })
    });
    group.finish();
}

fn plan(c: &mut Criterion) {
    let (estate, plan) = estate_and_plan(10, 100);
    let bench = Bench::new(guests::FAILOVER_PLAN, plan);
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    // Each VM fails over once, so each iteration gets a new fabric; creating
    // it is not measured, nor is dropping it (the routine returns it).
    group.bench_function("failover-1000-vms-10-groups", |b| {
        b.iter_batched(
            || fresh_fabric(&estate),
            |(dir, fabric)| {
                let outcome = bench.run(fabric.clone(), FailoverType::Planned, &[]);
                // The runbook fails the job if any VM did not fail over.
                assert_eq!(
                    outcome.status,
                    JobStatus::Completed,
                    "{:?}",
                    outcome.failure
                );
                (dir, fabric, outcome)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = instantiate, host_call, plan
}
criterion_main!(benches);
