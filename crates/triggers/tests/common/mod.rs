//! A real `serve` on port 0 for the tests: a SQLite store and the
//! simulator's demo estate in a temporary directory, its log kept.

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drbook_core::job::{JobSpec, NewJob};
use drbook_core::lease::Lease;
use drbook_core::module::digest;
use drbook_core::plan::RecoveryPlan;
use drbook_core::store::{JobStore, RunLog};
use drbook_core::TimeScale;
use drbook_fabric_sim::{demo_estate, Simulator};
use drbook_jobs::{Execution, WorkerOptions};
use drbook_runtime::{Limits, Observer, Runtime};
use drbook_store_sqlite::SqliteStore;
use drbook_triggers::{serve, RateLimit, ServeError, ServeOptions};

/// The store of `dir`, with the demo estate beside it.
pub fn store(dir: &Path) -> (Arc<dyn JobStore>, Simulator) {
    let sim = Simulator::init(dir, &demo_estate(), false, TimeScale::Instant).unwrap();
    (Arc::new(SqliteStore::open(dir).unwrap()), sim)
}

/// A server running until it is stopped.
pub struct Served {
    pub base: String,
    pub log: Arc<Mutex<Vec<String>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Served {
    /// Serves `store` and `sim` with `options` (its log replaced by one the
    /// test reads; refusals never throttled: every request comes from one
    /// address).
    pub async fn start(store: Arc<dyn JobStore>, sim: Simulator, options: ServeOptions) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Served::start_on(listener, store, sim, options).await
    }

    /// [`Served::start`] on `listener`, bound by the test beforehand (to
    /// know its address in the options).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        store: Arc<dyn JobStore>,
        sim: Simulator,
        options: ServeOptions,
    ) -> Served {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = log.clone();
        let exec = Execution {
            store,
            runtime: Runtime::new(None).unwrap(),
            fabric: Arc::new(sim),
            limits: Limits::default(),
            time_scale: TimeScale::Instant,
            observer: Observer::none(),
            unload_after: Duration::from_secs(600),
            trust: Default::default(),
            checked: Default::default(),
        };
        let options = ServeOptions {
            refusals_per_source: RateLimit::per_second(1e9),
            refusal_log_per_second: 100_000,
            log: Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_string())),
            ..options
        };
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(serve(
            listener,
            exec,
            WorkerOptions::new("worker-test".to_string()),
            options,
            async {
                let _ = stopped.await;
            },
        ));
        Served {
            base,
            log,
            stop,
            served,
        }
    }

    /// Shuts it down; it must stop cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap().unwrap();
    }
}

/// A job `job-test` of `store` running `runbook` on `plan` (TOML), started
/// by `trigger` (JSON), held by a lease of the test (the server's worker
/// leaves it alone), and its run's log: what the test writes there, the job
/// wrote.
pub async fn running_job(
    store: &dyn JobStore,
    runbook: &str,
    plan: &str,
    trigger: serde_json::Value,
) -> (String, Arc<dyn RunLog>) {
    let plan = RecoveryPlan::parse(plan, "test").unwrap();
    let spec: JobSpec = serde_json::from_value(serde_json::json!({
        "jobId": "job-test", "plan": plan, "failoverType": "Planned",
        "direction": "PrimaryToRecovery", "parameters": {}, "trigger": trigger
    }))
    .unwrap();
    let module = b"module";
    let digest = digest(module);
    let job = NewJob {
        digest: &digest,
        runbook,
        spec: &spec,
    };
    store.create(job, module).await.unwrap();
    let lease = Lease::new("the-test", Duration::from_secs(300));
    assert!(store.renew(&lease).await.unwrap());
    assert!(store.claim(&spec.job_id, &lease).await.unwrap());
    let (run, _) = store.open_run(&spec.job_id, &lease).await.unwrap();
    (spec.job_id, run)
}
