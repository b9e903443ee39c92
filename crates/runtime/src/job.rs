//! Running one job: a fresh, sandboxed instance of a loaded runbook with its
//! limits, its plan and its fabric; `run` called once; the outcome, with a
//! readable reason if the runbook failed or trapped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use drbook_core::job::{JobSpec, JobStatus, Wake};
use drbook_core::journal::{Record, Stream};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::WasiCtxBuilder;

use super::component::Runbook;
use super::engine::Runtime;
use super::events::Observer;
use super::host::{JobClock, NoJobStore};
use super::journal::{CorruptEntry, Divergence, Journal};
use super::limits::{
    caps, cut, cut_list, Deadline, DeadlineExceeded, JournalLimitExceeded, Limits,
    MemoryLimitExceeded, MemoryLimiter, TooManyOperations,
};
use super::state::{InstanceState, Live, StopRequested, StopSignal};
use super::streams::{Pipe, Streams};
use drbook_core::fabric::Fabric;
use drbook_core::TimeScale;

/// How to run a job, beyond what it runs.
#[derive(Clone)]
pub struct JobOptions {
    pub limits: Limits,
    /// How fast the fabric's time runs, which also scales the runbook's
    /// `clock.sleep`.
    pub time_scale: TimeScale,
    pub observer: Observer,
    /// Waits (operations, sleeps) longer than this unload the instance and
    /// end this run with a [`Wake`]; approvals always do. `None`: wait in
    /// memory, and refuse approvals (a run without a job store).
    pub unload_after: Option<Duration>,
    pub stop: StopSignal,
    /// When the job first started (for its RTO and its deadline): now,
    /// unless it resumes.
    pub started: Option<DateTime<Utc>>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            limits: Limits::default(),
            time_scale: TimeScale::default(),
            observer: Observer::none(),
            unload_after: None,
            stop: StopSignal::default(),
            started: None,
        }
    }
}

/// A wait too long to keep the instance for (the trap's cause): the run
/// ends, and the job is loaded again when `wake` is met.
#[derive(Debug, thiserror::Error)]
#[error("unloaded: {reason}")]
pub struct Unload {
    pub wake: Wake,
    /// `Running` (an operation, a timer) or `Suspended` (a person).
    pub status: JobStatus,
    pub reason: String,
}

impl Unload {
    pub fn waiting(wake: Wake, reason: String) -> Self {
        Unload {
            wake,
            status: JobStatus::Running,
            reason,
        }
    }
}

/// Why a job failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub reason: String,
    /// What the runbook said it completed before it stopped.
    pub completed: Vec<String>,
    /// The guest's backtrace when it trapped.
    pub backtrace: Option<String>,
}

/// Everything a run of a job leaves behind. A run ends the job (`Completed`,
/// `Failed`, `Stopped`), or unloads it to wait (`Running`, `Suspended` with
/// `wake`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOutcome {
    pub job_id: String,
    pub runbook_digest: String,
    pub status: JobStatus,
    pub output: Option<String>,
    pub failure: Option<Failure>,
    pub wake: Option<Wake>,
    /// Why it stopped or what it waits for.
    pub reason: Option<String>,
    /// The job's first start: what its RTO counts from.
    pub started: DateTime<Utc>,
    pub duration_seconds: f64,
    pub streams: Vec<Record>,
    /// Journal entries replayed before the run went live.
    pub replayed: usize,
}

impl Runtime {
    /// Runs `runbook` for `spec` against `fabric`: replays `journal`, then
    /// goes on live, journaling every host call.
    pub async fn run_job(
        &self,
        runbook: &Runbook,
        spec: JobSpec,
        fabric: Arc<dyn Fabric>,
        options: JobOptions,
        mut journal: Journal,
    ) -> JobOutcome {
        journal.limit(&options.limits);
        let started = options.started.unwrap_or_else(Utc::now);
        let clock = Instant::now();
        let replayed = journal.entries();
        let streams = Streams::new(
            options.limits.output_bytes,
            options.observer.clone(),
            journal.sink().cloned(),
        );
        streams.set_replaying(journal.replaying());
        let (stdout, stderr) = (streams.pipe(Stream::Output), streams.pipe(Stream::Error));
        let job_id = spec.job_id.clone();
        // The job's deadline, not this run's: it counts from the first start.
        let deadline = Deadline::new(started, options.limits.deadline);
        let live = Live {
            fabric,
            observer: options.observer.clone(),
            deadline,
            unload_after: options.unload_after,
            stop: options.stop.clone(),
            clock: JobClock::new(started),
            outside: self.outside.clone(),
        };
        let mut store = self.new_store(spec, live, &options, &streams, (&stdout, &stderr), journal);

        // A job woken past its deadline (it waited, unloaded, beyond it)
        // ends before its runbook runs again.
        let result = if deadline.passed() {
            Err(deadline.exceeded().into())
        } else {
            match runbook.pre.instantiate_async(&mut store).await {
                Ok(instance) => instance.call_run(&mut store).await,
                Err(e) => Err(e),
            }
        };
        stdout.flush_partial();
        stderr.flush_partial();

        let mut outcome = JobOutcome {
            job_id,
            runbook_digest: runbook.digest.clone(),
            status: JobStatus::Completed,
            output: None,
            failure: None,
            wake: None,
            reason: None,
            duration_seconds: clock.elapsed().as_secs_f64(),
            started,
            streams: Vec::new(),
            replayed,
        };
        match result {
            Ok(Ok(output)) => outcome.output = Some(cut(output, caps::SUMMARY)),
            Ok(Err(error)) => {
                let message = cut(error.message, caps::TEXT);
                outcome.status = JobStatus::Failed;
                outcome.reason = Some(message.clone());
                outcome.failure = Some(Failure {
                    reason: message,
                    completed: cut_list(error.completed),
                    backtrace: None,
                });
            }
            Err(trap) => {
                if let Some(unload) = trap.downcast_ref::<Unload>() {
                    outcome.status = unload.status;
                    outcome.wake = Some(unload.wake.clone());
                    outcome.reason = Some(unload.reason.clone());
                } else if let Some(stop) = trap.downcast_ref::<StopRequested>() {
                    outcome.status = JobStatus::Stopped;
                    outcome.reason = Some(stop.to_string());
                } else {
                    let failure = explain_trap(&trap, &streams);
                    outcome.status = JobStatus::Failed;
                    outcome.reason = Some(failure.reason.clone());
                    outcome.failure = Some(failure);
                }
            }
        }
        outcome.streams = streams.records();
        outcome
    }

    /// A store granting nothing but drbook's interfaces: no preopened
    /// directories, no sockets, no environment, no arguments; stdout and
    /// stderr go to the job's streams; WASI's clocks, randomness and waits
    /// are drbook's (`host::wasi`): journaled, so that a replay is exact, and
    /// bounded by the deadline.
    fn new_store(
        &self,
        spec: JobSpec,
        live: Live,
        options: &JobOptions,
        streams: &Streams,
        stdio: (&Pipe, &Pipe),
        journal: Journal,
    ) -> Store<InstanceState> {
        let wasi = WasiCtxBuilder::new()
            .stdout(stdio.0.clone())
            .stderr(stdio.1.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let (deadline, stop) = (live.deadline, live.stop.clone());
        let state = InstanceState {
            spec: Arc::new(spec),
            live,
            time_scale: options.time_scale,
            journal,
            streams: streams.clone(),
            limiter: MemoryLimiter::new(options.limits.memory_bytes),
            table: ResourceTable::new(),
            wasi,
            timers: HashMap::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Every epoch tick the guest yields to tokio (so one runbook cannot
        // starve the others), and its deadline and stop requests are checked.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if deadline.passed() {
                Err(deadline.exceeded().into())
            } else if let Some(by) = stop.requested() {
                Err(StopRequested { by }.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }
}

/// Turns a trap into a reason an operator can act on. What the reason does
/// not say (a backtrace, wasmtime's own words) is kept in the job's verbose
/// stream.
fn explain_trap(trap: &wasmtime::Error, streams: &Streams) -> Failure {
    let backtrace = trap
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| cut(bt.to_string(), caps::SUMMARY));
    let reason = drbook_error(trap)
        .or_else(|| {
            let trap = trap.downcast_ref::<Trap>()?;
            Some(explain_wasm_trap(trap, streams))
        })
        .unwrap_or_else(|| {
            // The failure is over: this line is new, even in a replay.
            streams.set_replaying(false);
            streams.push(Stream::Verbose, cut(format!("{trap:?}"), caps::TEXT));
            explain_host_error(trap, backtrace.is_some())
        });
    Failure {
        reason,
        completed: Vec::new(),
        backtrace,
    }
}

/// The reason of a failure drbook's host raised itself (a limit, the
/// journal, the job store), if it is one.
fn drbook_error(trap: &wasmtime::Error) -> Option<String> {
    macro_rules! message_of {
        ($($error:ty),*) => {
            $(if let Some(e) = trap.downcast_ref::<$error>() {
                return Some(e.to_string());
            })*
        };
    }
    message_of!(
        MemoryLimitExceeded,
        DeadlineExceeded,
        JournalLimitExceeded,
        TooManyOperations,
        Divergence,
        CorruptEntry,
        NoJobStore
    );
    let e = trap.downcast_ref::<drbook_core::store::StoreError>()?;
    Some(format!(
        "the job store failed, so the job cannot go on safely: {e}"
    ))
}

fn explain_wasm_trap(trap: &Trap, streams: &Streams) -> String {
    match trap {
        Trap::StackOverflow => {
            "runbook exhausted its call stack (1 MiB of wasm stack): unbounded recursion?"
                .to_string()
        }
        // A Rust runbook keeps part of its stack in linear memory; when
        // that overflows, the first write below it is out of bounds.
        Trap::MemoryOutOfBounds => {
            format!("runbook accessed memory out of bounds: {STACK_OVERFLOW}")
        }
        Trap::UnreachableCodeReached => match panic_message(streams) {
            Some(message) => format!("runbook panicked: {}", cut(message, caps::TEXT)),
            None => "runbook aborted (wasm `unreachable`); see its error stream".to_string(),
        },
        other => format!("runbook trapped: {other}"),
    }
}

/// What memory errors of a Rust runbook most often are.
const STACK_OVERFLOW: &str =
    "most often its own stack overflowed (unbounded recursion), else a memory bug";

/// An error neither drbook's nor a trap: wasmtime refused what the runbook
/// passed a host call (`during_call`: the runbook was running), or could
/// not run the runbook at all.
fn explain_host_error(error: &wasmtime::Error, during_call: bool) -> String {
    let cause = cut(error.root_cause().to_string(), caps::TEXT);
    if !during_call {
        format!("the host could not run the runbook: {cause}; its verbose stream has the details")
    } else if cause.contains("out of bounds") {
        format!(
            "runbook passed the host a pointer outside its memory in a host call ({cause}): {STACK_OVERFLOW}"
        )
    } else {
        format!("runbook passed the host a value it cannot read in a host call ({cause})")
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
