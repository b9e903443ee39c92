//! A demo fabric in a temporary directory, the plan that goes with it, one
//! runtime shared by every test (compiling a runbook once per binary), and
//! the job store for synchronous test code.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use drbook_core::fabric::{Direction, Fabric, OperationKind, ProtectedItem};
use drbook_core::job::{JobRecord, JobSpec, JobStatus, Trigger};
use drbook_core::journal::{Entry, Stream};
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::store::{JobStore, StoreError};
use drbook_core::TimeScale;
use drbook_fabric_sim::{demo_estate, demo_plan_toml, Fault, Simulator};
use drbook_runtime::{JobOptions, JobOutcome, Journal, Limits, Runtime};
use drbook_store_sqlite::SqliteStore;

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(None).expect("a runtime"))
}

/// The demo estate on an instant simulator, with its plan.
pub struct Demo {
    _dir: tempfile::TempDir,
    pub sim: Simulator,
    pub plan: RecoveryPlan,
    pub tokio: tokio::runtime::Runtime,
}

/// One job to run.
pub struct Job<'a> {
    pub wasm: &'a str,
    pub failover_type: FailoverType,
    pub direction: Direction,
    pub params: &'a [(&'a str, &'a str)],
    pub limits: Limits,
}

impl<'a> Job<'a> {
    pub fn new(wasm: &'a str) -> Self {
        Job {
            wasm,
            failover_type: FailoverType::Planned,
            direction: Direction::PrimaryToRecovery,
            params: &[],
            limits: Limits::default(),
        }
    }

    pub fn kind(mut self, failover_type: FailoverType) -> Self {
        self.failover_type = failover_type;
        self
    }

    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    pub fn params(mut self, params: &'a [(&'a str, &'a str)]) -> Self {
        self.params = params;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

impl Demo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sim = Simulator::init(dir.path(), &demo_estate(), false, TimeScale::Instant)
            .expect("the demo fabric");
        let plan = RecoveryPlan::parse(&demo_plan_toml().expect("the demo plan"), "demo")
            .expect("a valid demo plan");
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        Demo {
            _dir: dir,
            sim,
            plan,
            tokio,
        }
    }

    /// Runs `job` to its end, its module admitted as `drbook run` admits
    /// one with no trust policy: a runbook's capability manifest holds.
    pub fn run(&self, job: Job<'_>) -> JobOutcome {
        let runbook = runtime()
            .load(Path::new(job.wasm))
            .expect("the runbook loads");
        let bytes = std::fs::read(job.wasm).expect("the runbook's bytes");
        let admission = drbook_signing::Trust::none()
            .admit(job.wasm, job.wasm, &bytes, false)
            .expect("admitted with no trust policy");
        let spec = JobSpec {
            job_id: "test-job".to_string(),
            plan: self.plan.clone(),
            failover_type: job.failover_type,
            direction: job.direction,
            parameters: job
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            trigger: Trigger::CommandLine {
                user: "test".into(),
            },
            grant: Default::default(),
            admission: Some(admission),
        };
        let fabric: Arc<dyn Fabric> = Arc::new(self.sim.clone());
        let options = JobOptions {
            limits: job.limits,
            time_scale: TimeScale::Instant,
            ..JobOptions::default()
        };
        self.tokio.block_on(runtime().run_job(
            &runbook,
            spec,
            fabric,
            options,
            Journal::new(Vec::new(), None),
        ))
    }

    pub fn items(&self) -> Vec<ProtectedItem> {
        self.tokio
            .block_on(self.sim.list_items())
            .expect("the items")
    }

    pub fn item(&self, vm: &str) -> ProtectedItem {
        self.tokio
            .block_on(self.sim.get_item(vm))
            .expect("the item")
    }

    pub fn count(&self, vm: &str, kind: OperationKind) -> u32 {
        self.sim
            .operation_count(vm, kind)
            .expect("an operation count")
    }

    pub fn fault(&self, fault: Fault) {
        self.sim.set_fault(fault).expect("the fault is set");
    }

    /// The VMs of one group of the demo plan.
    pub fn group(&self, name: &str) -> Vec<String> {
        self.plan
            .groups
            .iter()
            .find(|g| g.name == name)
            .expect("a demo group")
            .vms
            .clone()
    }
}

/// The text of every record of `stream`.
pub fn lines(outcome: &JobOutcome, stream: Stream) -> Vec<&str> {
    outcome
        .streams
        .iter()
        .filter(|r| r.stream == stream)
        .map(|r| r.text.as_str())
        .collect()
}

/// Fails with the job's failure and streams if it did not complete.
pub fn assert_completed(outcome: &JobOutcome) {
    assert_eq!(
        outcome.status,
        JobStatus::Completed,
        "job failed: {:?}\nstreams: {:#?}",
        outcome.failure,
        outcome.streams
    );
}

/// The job store (async) called from synchronous test code: each call is
/// run to its end on a runtime of this wrapper's own (never from inside a
/// runtime).
pub struct BlockingStore {
    store: Arc<dyn JobStore>,
    tokio: tokio::runtime::Runtime,
}

impl BlockingStore {
    /// The SQLite job store of data directory `dir`.
    pub fn open(dir: &Path) -> Self {
        Self::new(Arc::new(SqliteStore::open(dir).expect("the job store")))
    }

    pub fn new(store: Arc<dyn JobStore>) -> Self {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        BlockingStore { store, tokio }
    }

    /// The store itself, for what takes one (an `Execution`, `Webhooks`).
    pub fn shared(&self) -> Arc<dyn JobStore> {
        self.store.clone()
    }

    pub fn get(&self, id: &str) -> Result<JobRecord, StoreError> {
        self.tokio.block_on(self.store.get(id))
    }

    /// Job `id` once it has ended (a minute at most, else the test fails
    /// with the job as last seen).
    pub fn finished(&self, id: &str) -> JobRecord {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let job = self.get(id).unwrap();
            if job.is_terminal() {
                return job;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job {id} did not end: {job:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub fn list(
        &self,
        state: Option<JobStatus>,
        limit: usize,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.tokio.block_on(self.store.list(state, limit))
    }

    pub fn journal(&self, id: &str) -> Result<Vec<Entry>, StoreError> {
        self.tokio.block_on(self.store.journal(id))
    }

    pub fn runnable(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<String>, StoreError> {
        self.tokio.block_on(self.store.runnable(now, limit))
    }

    pub fn prune(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.tokio.block_on(self.store.prune(before))
    }
}
