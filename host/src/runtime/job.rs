//! Running one job: a fresh, sandboxed instance of a loaded runbook with its
//! limits, its plan and its fabric; `run` called once; the outcome, with a
//! readable reason if the runbook failed or trapped.

use serde::Serialize;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::WasiCtxBuilder;

use super::component::Runbook;
use super::engine::Runtime;
use super::events::Observer;
use super::limits::{Deadline, DeadlineExceeded, Limits, MemoryLimitExceeded, MemoryLimiter};
use super::report::{rto_seconds, OperationRecord, Tracker};
use super::state::{JobSpec, JobState};
use super::streams::{Record, Stream, Streams};
use crate::fabric::simulator::Speed;
use crate::fabric::Fabric;

/// How to run a job, beyond what it runs.
#[derive(Clone)]
pub struct JobOptions {
    pub limits: Limits,
    /// The simulator's speed, which also scales the runbook's `clock.sleep`.
    pub speed: Speed,
    pub observer: Observer,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            limits: Limits::default(),
            speed: Speed::default(),
            observer: Observer::none(),
        }
    }
}

/// Azure Automation's terminal job statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum JobStatus {
    Completed,
    Failed,
}

/// Why a job failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub reason: String,
    /// What the runbook said it completed before it stopped.
    pub completed: Vec<String>,
    /// The guest's backtrace when it trapped.
    pub backtrace: Option<String>,
}

/// Everything a finished job leaves behind.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOutcome {
    pub job_id: String,
    pub runbook_digest: String,
    pub status: JobStatus,
    pub output: Option<String>,
    pub failure: Option<Failure>,
    pub duration_seconds: f64,
    pub rto_seconds: Option<f64>,
    pub operations: Vec<OperationRecord>,
    pub streams: Vec<Record>,
}

impl Runtime {
    /// Runs `runbook` once for `spec` against `fabric`.
    pub async fn run_job(
        &self,
        runbook: &Runbook,
        spec: JobSpec,
        fabric: Arc<dyn Fabric>,
        options: JobOptions,
    ) -> JobOutcome {
        let started = SystemTime::now();
        let clock = Instant::now();
        let streams = Streams::new(options.limits.output_bytes, options.observer.clone());
        let (stdout, stderr) = (streams.pipe(Stream::Output), streams.pipe(Stream::Error));
        let job_id = spec.job_id.clone();
        let mut store = self.new_store(spec, fabric, &options, &streams);

        let result = match runbook.pre.instantiate_async(&mut store).await {
            Ok(instance) => instance.call_run(&mut store).await,
            Err(e) => Err(e),
        };
        stdout.flush_partial();
        stderr.flush_partial();

        let (status, output, failure) = match result {
            Ok(Ok(output)) => (JobStatus::Completed, Some(output), None),
            Ok(Err(error)) => (
                JobStatus::Failed,
                None,
                Some(Failure {
                    reason: error.message,
                    completed: error.completed,
                    backtrace: None,
                }),
            ),
            Err(trap) => (JobStatus::Failed, None, Some(explain_trap(&trap, &streams))),
        };
        let operations = store.into_data().tracker.operations().to_vec();
        JobOutcome {
            job_id,
            runbook_digest: runbook.digest.clone(),
            status,
            output,
            failure,
            duration_seconds: clock.elapsed().as_secs_f64(),
            rto_seconds: rto_seconds(started, &operations),
            operations,
            streams: streams.records(),
        }
    }

    /// A store granting nothing but drbook's interfaces: no preopened
    /// directories, no sockets, no environment, no arguments; stdout and
    /// stderr go to the job's streams.
    fn new_store(
        &self,
        spec: JobSpec,
        fabric: Arc<dyn Fabric>,
        options: &JobOptions,
        streams: &Streams,
    ) -> Store<JobState> {
        let wasi = WasiCtxBuilder::new()
            .stdout(streams.pipe(Stream::Output))
            .stderr(streams.pipe(Stream::Error))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let deadline = Deadline::new(options.limits.deadline);
        let state = JobState {
            spec: Arc::new(spec),
            fabric,
            speed: options.speed,
            deadline,
            streams: streams.clone(),
            observer: options.observer.clone(),
            tracker: Tracker::default(),
            limiter: MemoryLimiter {
                limit: options.limits.memory_bytes,
            },
            table: ResourceTable::new(),
            wasi,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Every epoch tick the guest yields to tokio (so one runbook cannot
        // starve the others) and its deadline is checked.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if deadline.passed() {
                Err(deadline.exceeded().into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }
}

/// Turns a trap into a reason an operator can act on.
fn explain_trap(trap: &wasmtime::Error, streams: &Streams) -> Failure {
    let backtrace = trap
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| bt.to_string());
    let reason = if let Some(e) = trap.downcast_ref::<MemoryLimitExceeded>() {
        e.to_string()
    } else if let Some(e) = trap.downcast_ref::<DeadlineExceeded>() {
        e.to_string()
    } else {
        match trap.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => {
                "runbook exhausted its call stack (1 MiB of wasm stack): unbounded recursion?"
                    .to_string()
            }
            // A Rust runbook keeps part of its stack in linear memory; when
            // that overflows, the first write below it is out of bounds.
            Some(Trap::MemoryOutOfBounds) => "runbook accessed memory out of bounds: most often its own \
                                              stack overflowed (unbounded recursion), else a memory bug"
                .to_string(),
            Some(Trap::UnreachableCodeReached) => match panic_message(streams) {
                Some(message) => format!("runbook panicked: {message}"),
                None => "runbook aborted (wasm `unreachable`); see its error stream".to_string(),
            },
            Some(other) => format!("runbook trapped: {other}"),
            None => format!("runbook failed in the host: {trap:?}"),
        }
    };
    Failure {
        reason,
        completed: Vec::new(),
        backtrace,
    }
}

/// The panic message a Rust runbook wrote to stderr before aborting.
fn panic_message(streams: &Streams) -> Option<String> {
    let tail = streams.tail(Stream::Error, 20);
    let start = tail.iter().rposition(|line| line.contains("panicked at"))?;
    let message: Vec<&str> = tail[start + 1..]
        .iter()
        .map(String::as_str)
        .take_while(|line| !line.starts_with("note:"))
        .collect();
    Some(if message.is_empty() {
        tail[start].clone()
    } else {
        message.join("\n")
    })
}
