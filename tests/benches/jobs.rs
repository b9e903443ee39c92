//! The durable-job benchmarks of issue 4, with their targets:
//! - `journal/*`: what journaling to the job store adds per host call, as
//!   (`probe calls=1000` journaled to a job's spool − the same run with an
//!   in-memory journal) / 1,000 (≤ 20 µs at the median). Each call is one
//!   append to the spool file; the fold of the spool into the store at the
//!   end of the run is off the calls' path, and measured too
//!   (`added_per_call_with_fold`); an intent (before an operation starts) is
//!   synced to disk (`append_intent`).
//! - `resume/*`: resuming a job whose journal holds 1,000 entries (≤ 50 ms):
//!   `replay-1000` loads the journal from the store and runs the job against
//!   it with no sink (all 1,000 calls answered from the journal, then `run`
//!   returns); `execute-1000` is the whole `drbook_jobs::execute` of a fresh copy of
//!   such a job, as a worker resumes it (read the job and its module, load
//!   the module from the runtime's cache, read the journal, mark it running,
//!   replay, read its streams, record its end).
//!
//! - `start/*` (issue 12): a job's start under a trust policy, from
//!   `drbook_jobs::execute` to the runbook's first host call (≤ 50 µs), for a
//!   signed probe whose signatures a job like it had checked already
//!   (`checked-once`, what every job after a digest's first pays), and, for
//!   comparison, with the check forgotten before each start (`verify-each`)
//!   and with no policy at all (`no-policy`).
//!
//! The 10,000 waiting jobs of the issue are measured by `waiting_jobs.rs`.
//! Every job's outcome is checked, so a failing job stops the bench instead
//! of being measured. Results and method: `docs/benchmarks.md`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use drbook_core::fabric::Fabric;
use drbook_core::job::{JobSpec, JobStatus, NewJob};
use drbook_core::lease::Lease;
use drbook_core::plan::RecoveryPlan;
use drbook_core::store::{JobStore, RunEnd, RunLog};
use drbook_core::TimeScale;
use drbook_fabric_sim::Simulator;
use drbook_jobs::{execute, Execution};
use drbook_runtime::{
    JobOptions, JobOutcome, Journal, Limits, Observer, Runbook, Runtime, StopSignal,
};
use drbook_store_sqlite::SqliteStore;
use drbook_tests::{fixtures, guests};
use tempfile::TempDir;

/// The lease holder of the bench's jobs.
const OWNER: &str = "bench";
const CALLS: u64 = 1_000;

/// A job store, an instant one-VM simulator and the probe, in one temp dir.
struct Bench {
    _dir: TempDir,
    tokio: tokio::runtime::Runtime,
    runtime: Runtime,
    probe: Arc<Runbook>,
    module: Vec<u8>,
    store: Arc<dyn JobStore>,
    /// Holds every job of the bench, as a worker holds the jobs it runs.
    lease: Lease,
    fabric: Arc<dyn Fabric>,
    plan: RecoveryPlan,
    next_id: AtomicU64,
}

impl Bench {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let estate = fixtures::estate(["vm-0".to_string()]);
        let simulator = Simulator::init(dir.path(), &estate, false, TimeScale::Instant)
            .expect("initialising the simulator");
        let plan = fixtures::one_group_plan("bench", vec!["vm-0".to_string()]);
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        let runtime = Runtime::new(None).expect("the runtime");
        // Compiled once here, as for every job after a worker's first.
        let probe = runtime
            .load(Path::new(guests::PROBE))
            .expect("loading the probe");
        let module = std::fs::read(guests::PROBE).expect("reading the probe");
        let store: Arc<dyn JobStore> =
            Arc::new(SqliteStore::open(dir.path()).expect("opening the job store"));
        let lease = Lease::new(OWNER, Duration::from_secs(3600));
        assert!(tokio
            .block_on(store.renew(&lease))
            .expect("renewing the lease"));
        Bench {
            _dir: dir,
            tokio,
            runtime,
            probe,
            module,
            store,
            lease,
            fabric: Arc::new(simulator),
            plan,
            next_id: AtomicU64::new(0),
        }
    }

    fn spec(&self, id: &str, calls: u64) -> JobSpec {
        fixtures::job_spec(id, &self.plan, &[("calls", calls.to_string())])
    }

    /// A new job of the probe in the store (not measured where it is used).
    fn new_job(&self, calls: u64) -> String {
        let id = format!("job-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let spec = self.spec(&id, calls);
        self.tokio
            .block_on(self.store.create(
                NewJob {
                    digest: &self.probe.digest,
                    runbook: "probe.wasm",
                    spec: &spec,
                },
                &self.module,
            ))
            .expect("creating a job");
        // Every append checks the lease, as in a worker.
        assert!(self
            .tokio
            .block_on(self.store.claim(&id, &self.lease))
            .unwrap());
        id
    }

    /// A run of job `id`: its log, which appends to the job's spool.
    fn spool(&self, id: &str) -> Arc<dyn RunLog> {
        self.tokio
            .block_on(self.store.open_run(id, &self.lease))
            .expect("opening the spool")
            .0
    }

    /// Ends the run of `spool` (its job completed): what it spooled is
    /// folded into the store, with how it ended.
    fn fold(&self, spool: &dyn RunLog) {
        let result = serde_json::json!({});
        self.tokio
            .block_on(spool.end(RunEnd::Finished {
                status: JobStatus::Completed,
                reason: None,
                result: &result,
            }))
            .expect("folding the spool");
    }

    /// Job `id`'s journal.
    fn journal(&self, id: &str) -> Vec<drbook_core::journal::Entry> {
        self.tokio
            .block_on(self.store.journal(id))
            .expect("reading the journal")
    }

    /// Runs the probe as job `id` with `journal`; checks it completed having
    /// made (or replayed) `calls` calls.
    fn run(&self, id: &str, calls: u64, journal: Journal) -> JobOutcome {
        let options = JobOptions {
            time_scale: TimeScale::Instant,
            ..JobOptions::default()
        };
        let outcome = self.tokio.block_on(self.runtime.run_job(
            &self.probe,
            self.spec(id, calls),
            self.fabric.clone(),
            options,
            journal,
        ));
        check(&outcome, calls);
        outcome
    }

    /// The probe with `calls` host calls, journaled to the spool of job `id`
    /// or in memory; returns how long `run_job` took, and how long the fold
    /// of the spool into the store took after it.
    fn probe(&self, id: Option<&str>, calls: u64) -> (Duration, Duration) {
        let spool = id.map(|id| self.spool(id));
        let journal = Journal::new(Vec::new(), spool.clone());
        let start = Instant::now();
        self.run(id.unwrap_or("in-memory"), calls, journal);
        let ran = start.elapsed();
        let start = Instant::now();
        if let Some(spool) = spool {
            self.fold(&*spool);
        }
        (ran, start.elapsed())
    }

    fn execution(&self) -> Execution {
        Execution {
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            fabric: self.fabric.clone(),
            limits: Limits::default(),
            time_scale: TimeScale::Instant,
            observer: Observer::none(),
            unload_after: Duration::from_secs(60),
            trust: Default::default(),
            checked: Default::default(),
        }
    }
}

fn check(outcome: &JobOutcome, calls: u64) {
    assert_eq!(
        outcome.status,
        JobStatus::Completed,
        "the benchmarked job failed: {:?} {:?}",
        outcome.failure,
        outcome.reason
    );
    let output = outcome.output.as_deref().unwrap_or_default();
    assert!(
        output.starts_with(&format!("{calls} calls")),
        "the probe made {calls} calls: {output}"
    );
}

fn journal(c: &mut Criterion) {
    let bench = Bench::new();
    // Each store run is a new job: its 1,000 entries are inserted, not
    // replacing those of an earlier run.
    let job = bench.new_job(CALLS);
    bench.probe(Some(&job), CALLS);
    assert_eq!(
        bench.journal(&job).len(),
        CALLS as usize,
        "one journal entry per host call"
    );

    let mut group = c.benchmark_group("journal");
    // The spool's part alone: one append of an entry like the probe's; and
    // one of an intent, which is synced to disk (an operation start's).
    let entry = bench.journal(&job)[0].clone();
    for (name, intent) in [("append", false), ("append_intent", true)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let spool = bench.spool(&bench.new_job(CALLS));
                // On the runtime, as in a worker (a spool grown to its limit
                // is folded on the blocking pool).
                let elapsed = bench.tokio.block_on(async {
                    let start = Instant::now();
                    for seq in 0..iters as usize {
                        if intent {
                            spool.append_intent(seq, &entry).await
                        } else {
                            spool.append(seq, &entry, None)
                        }
                        .expect("appending an entry");
                    }
                    start.elapsed()
                });
                bench.fold(&*spool);
                elapsed
            })
        });
    }
    group.bench_function("probe-1000-in-memory", |b| {
        b.iter(|| bench.probe(None, CALLS))
    });
    group.bench_function("probe-1000-store", |b| {
        b.iter_batched(
            || bench.new_job(CALLS),
            |id| bench.probe(Some(&id), CALLS),
            BatchSize::PerIteration,
        )
    });
    // The fold of a 1,000-entry spool into the store, at the end of a run.
    group.bench_function("fold-1000", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| bench.probe(Some(&bench.new_job(CALLS)), CALLS).1)
                .sum()
        })
    });
    // One iteration = the cost journaling adds to one host call: a spooled
    // run minus an in-memory run, back to back, / 1,000. `_with_fold` adds
    // the fold after the run, spread over its calls.
    for (name, with_fold) in [
        ("added_per_call", false),
        ("added_per_call_with_fold", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let id = bench.new_job(CALLS);
                        let (ran, folded) = bench.probe(Some(&id), CALLS);
                        let stored = if with_fold { ran + folded } else { ran };
                        let (in_memory, _) = bench.probe(None, CALLS);
                        stored.saturating_sub(in_memory) / CALLS as u32
                    })
                    .sum()
            })
        });
    }
    group.finish();
}

fn resume(c: &mut Criterion) {
    let bench = Bench::new();
    let source = bench.new_job(CALLS);
    bench.probe(Some(&source), CALLS);
    let entries = bench.journal(&source);
    assert_eq!(entries.len(), CALLS as usize);

    let mut group = c.benchmark_group("resume");
    group.sample_size(20);
    group.bench_function("replay-1000", |b| {
        b.iter(|| {
            let entries = bench.journal(&source);
            let outcome = bench.run(&source, CALLS, Journal::new(entries, None));
            assert_eq!(outcome.replayed, CALLS as usize);
            outcome
        })
    });

    // `execute` ends the job it resumes, so each iteration resumes a fresh
    // copy: a new job whose journal holds the source's 1,000 entries.
    let exec = bench.execution();
    group.bench_function("execute-1000", |b| {
        b.iter_batched(
            || {
                let id = bench.new_job(CALLS);
                let spool = bench.spool(&id);
                for (seq, entry) in entries.iter().enumerate() {
                    spool.append(seq, entry, None).expect("copying the journal");
                }
                // Folded by the next run's opening, as after a crash; the
                // job stays runnable (ending the run would end the job).
                drop(spool);
                drop(bench.spool(&id));
                id
            },
            |id| {
                let outcome = bench
                    .tokio
                    .block_on(execute(&exec, &id, &bench.lease, StopSignal::default()))
                    .expect("resuming the job");
                check(&outcome, CALLS);
                assert_eq!(outcome.replayed, CALLS as usize);
                outcome
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// A job's start under a trust policy that requires the probe's signer,
/// to the probe's first host call (see the module docs).
fn start(c: &mut Criterion) {
    use drbook_signing::{Organisation, Rule, SigningKey, Trust, TrustPolicy, TrustedKey};
    let bench = Bench::new();
    let key = SigningKey::generate("bench").expect("a key");
    let signed = drbook_signing::sign(&bench.module, &key).expect("signing the probe");
    let policy = TrustPolicy::new(
        vec![Organisation {
            name: "platform".into(),
            keys: vec![TrustedKey {
                key: key.public_key(),
                expires: None,
            }],
        }],
        vec![Rule {
            name: "bench".into(),
            runbooks: vec!["probe".into()],
            require: vec!["platform".into()],
            operations: None,
            require_manifest: false,
            http: None,
            azure: None,
        }],
    )
    .expect("the policy");
    let trust = Trust::enforce(policy);
    let admission = trust
        .admit("probe.wasm", "probe.wasm", &signed, false)
        .expect("the signed probe is admitted");
    let runbook = bench
        .runtime
        .load_bytes(&signed, "probe.wasm")
        .expect("loading the signed probe");
    let first: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let seen = first.clone();
    let exec = Execution {
        trust,
        observer: Observer::new(move |event| {
            if let drbook_runtime::JobEvent::Started { .. } = event {
                seen.lock().unwrap().get_or_insert_with(Instant::now);
            }
        }),
        ..bench.execution()
    };
    let new_job = || {
        let id = format!("start-{}", bench.next_id.fetch_add(1, Ordering::Relaxed));
        let mut spec = bench.spec(&id, 0);
        spec.admission = Some(admission.clone());
        bench
            .tokio
            .block_on(bench.store.create(
                NewJob {
                    digest: &runbook.digest,
                    runbook: "probe.wasm",
                    spec: &spec,
                },
                &signed,
            ))
            .expect("creating a job");
        assert!(bench
            .tokio
            .block_on(bench.store.claim(&id, &bench.lease))
            .unwrap());
        id
    };
    // `execute` to the first host call of a new job, `iters` times; each job
    // runs to its end, untimed after that call.
    let time = |exec: &Execution, forget: bool, iters: u64| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let id = new_job();
            let exec = if forget {
                Execution {
                    checked: Default::default(),
                    ..exec.clone()
                }
            } else {
                exec.clone()
            };
            *first.lock().unwrap() = None;
            let start = Instant::now();
            let outcome = bench
                .tokio
                .block_on(execute(&exec, &id, &bench.lease, StopSignal::default()))
                .expect("starting the job");
            check(&outcome, 0);
            let at = first
                .lock()
                .unwrap()
                .expect("the probe made its first host call");
            total += at - start;
        }
        total
    };
    let mut group = c.benchmark_group("start");
    group.bench_function("checked-once", |b| {
        b.iter_custom(|iters| time(&exec, false, iters))
    });
    group.bench_function("verify-each", |b| {
        b.iter_custom(|iters| time(&exec, true, iters))
    });
    let unchecked = Execution {
        trust: Trust::none(),
        ..exec.clone()
    };
    group.bench_function("no-policy", |b| {
        b.iter_custom(|iters| time(&unchecked, false, iters))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = journal, resume, start
}
criterion_main!(benches);
