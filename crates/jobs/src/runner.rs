//! Running one job once: load the module it is pinned to (checked against
//! the trust policy first), replay its journal, go on live, and record how
//! this run ended: finished for good, or unloaded to wait for its wake-up.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drbook_core::fabric::{Fabric, FabricError};
use drbook_core::job::{Admission, AdmittedBy, JobRecord, JobStatus, Wake};
use drbook_core::lease::Lease;
use drbook_core::store::{JobStore, RunEnd, StoreError};
use drbook_core::TimeScale;
use drbook_runtime::{
    JobOptions, JobOutcome, Journal, Limits, LoadError, Observer, Runbook, Runtime, StopSignal,
};
use drbook_signing::{Trust, TrustError};

/// Everything needed to run jobs; cheap to clone.
#[derive(Clone)]
pub struct Execution {
    pub store: Arc<dyn JobStore>,
    pub runtime: Runtime,
    pub fabric: Arc<dyn Fabric>,
    pub limits: Limits,
    /// How fast the fabric's time runs (its sleeps are scaled alike).
    pub time_scale: TimeScale,
    pub observer: Observer,
    /// Waits longer than this unload the job's instance.
    pub unload_after: Duration,
    /// The trust policy a job's module is checked against again when it is
    /// loaded (none: every module runs, as before policies existed).
    pub trust: Trust,
    /// What passed that check in this process (see [`Checked`]).
    pub checked: Checked,
}

/// The modules this process found trusted for a job, by what the check's
/// answer depends on: the module's digest, the runbook's name (which picks
/// the rule) and whether the job may run it unsigned (`--allow-unsigned` on
/// its record). The policy is read once per process, so a job like one
/// checked before needs no second verification of the signatures, and its
/// start stays in microseconds; a job that differs in any of the three is
/// checked itself, even when its module is compiled already (a job allowed
/// to run it unsigned does not let through another, admitted by a rule the
/// policy no longer holds).
#[derive(Clone, Debug, Default)]
pub struct Checked(Arc<Mutex<HashSet<(String, String, bool)>>>);

impl Checked {
    fn key(digest: &str, runbook: &str, admission: Option<&Admission>) -> (String, String, bool) {
        let unsigned =
            admission.is_some_and(|a| matches!(a.admitted_by, AdmittedBy::AllowUnsigned { .. }));
        (digest.to_string(), runbook.to_string(), unsigned)
    }

    /// Records that module `digest` of `runbook`, as `admission` let it
    /// in, passed the trust check here (`drbook run` admits a module and
    /// runs its job in one process).
    pub fn note(&self, digest: &str, runbook: &str, admission: Option<&Admission>) {
        let key = Checked::key(digest, runbook, admission);
        self.0.lock().expect("the checked set").insert(key);
    }

    fn has(&self, job: &JobRecord) -> bool {
        let key = Checked::key(&job.digest, &job.runbook, job.spec.admission.as_ref());
        self.0.lock().expect("the checked set").contains(&key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("job `{id}` has already ended ({status:?}); nothing to run")]
    Ended { id: String, status: JobStatus },
    #[error("the module job `{id}` is pinned to cannot be loaded: {source}")]
    Module { id: String, source: LoadError },
    /// The job fails with this as its reason; nothing of it ran. Boxed:
    /// the refusal's texts would make every run's result large.
    #[error("job `{id}` is not run: {source}")]
    Untrusted { id: String, source: Box<TrustError> },
    #[error(
        "the job store's module for job `{id}` has digest {found}, but the job is pinned to {pinned}: the store \
         was tampered with; the job will not run with another module"
    )]
    Tampered {
        id: String,
        pinned: String,
        found: String,
    },
    /// See [`RunLog::interrupted`](drbook_core::store::RunLog::interrupted).
    #[error(
        "the run of job `{id}` stopped where it was: the job store could not be reached to record an operation's \
         intent, so the operation was not started; the job is resumed from its journal once the store is back"
    )]
    Interrupted { id: String },
}

impl ExecuteError {
    /// Whether the run left its job as it was, for whoever runs it next
    /// (this worker or another), rather than failing it: the job had ended,
    /// another worker took it over, or the store could not be reached (the
    /// job resumes by replay once it is back).
    pub fn leaves_job(&self) -> bool {
        match self {
            ExecuteError::Ended { .. } | ExecuteError::Interrupted { .. } => true,
            ExecuteError::Store(e) => {
                matches!(e, StoreError::LeaseLost { .. }) || e.is_unavailable()
            }
            _ => false,
        }
    }
}

/// Runs job `id` once (see the module docs), held by `lease`. `stop` stops
/// it at its next host call.
pub async fn execute(
    exec: &Execution,
    id: &str,
    lease: &Lease,
    stop: StopSignal,
) -> Result<JobOutcome, ExecuteError> {
    let job = exec.store.get(id).await?;
    if job.is_terminal() {
        return Err(ExecuteError::Ended {
            id: id.to_string(),
            status: job.state,
        });
    }
    // A stop asked for before the job was loaded holds at once.
    if let Some(by) = &job.stop_requested {
        stop.stop(by);
    }
    let runbook = match exec.runtime.loaded(&job.digest) {
        Some(runbook) if exec.checked.has(&job) => runbook,
        _ => load_pinned(exec, &job).await?,
    };
    let spec = held_to(exec, &job);
    // What an earlier run left in its spool (its host died) is folded into
    // the store first, so the journal is whole.
    let (run, entries) = exec.store.open_run(id, lease).await?;
    tracing::debug!(replaying = entries.len(), "run started");
    // A retried job's attempts name its starts and carry what its cuts
    // dropped (see `drbook_core::retry`).
    let journal = Journal::retried(entries, Some(run.clone()), &job.attempts);
    let options = JobOptions {
        limits: exec.limits,
        time_scale: exec.time_scale,
        observer: exec.observer.clone(),
        unload_after: Some(exec.unload_after),
        stop,
        started: job.started,
    };
    let mut outcome = exec
        .runtime
        .run_job(&runbook, spec, exec.fabric.clone(), options, journal)
        .await;
    // A run whose intent could not be made durable (the store was
    // unreachable) stops as if its host had died: the runbook trapped at the
    // intent, before the operation started, and its outcome (a failure that
    // is the store's, not the job's) is not recorded. Exactly once holds
    // whether the intent's commit landed or not: the operation starts only
    // after `append_intent` returned Ok, which it did not, so nothing was
    // started; the replay that resumes the job finds the intent (and asks
    // the fabric for the operation by its initiator, which names the job and
    // the intent's position: none, so it starts it, once) or does not (and
    // makes the call live, a first time).
    if run.interrupted() {
        return Err(ExecuteError::Interrupted { id: id.to_string() });
    }
    // A run whose lease lapsed under it (its worker stalled) records
    // nothing: the job goes to whoever holds it next, resumed from what was
    // spooled while the lease held.
    if run.lease_lost() {
        return Err(StoreError::LeaseLost {
            job: id.to_string(),
            owner: lease.owner().to_string(),
        }
        .into());
    }
    // The duration of the whole job, not only of this run.
    if let Some(started) = job.started {
        outcome.duration_seconds =
            (chrono::Utc::now() - started).num_milliseconds() as f64 / 1000.0;
    }
    // The spool and how the run ended, in one transaction; `LeaseLost` if
    // another worker took the job over: its state is that one's.
    let summary;
    let end = match (&outcome.wake, outcome.status.is_terminal()) {
        (Some(wake), false) => RunEnd::Waiting {
            status: outcome.status,
            reason: outcome.reason.as_deref().unwrap_or(""),
            wake,
        },
        _ => {
            let mut value = serde_json::to_value(&outcome).unwrap_or_default();
            if let Some(map) = value.as_object_mut() {
                map.remove("streams");
            }
            summary = value;
            RunEnd::Finished {
                status: outcome.status,
                reason: outcome.reason.as_deref(),
                result: &summary,
            }
        }
    };
    run.end(end).await?;
    tracing::debug!(status = ?outcome.status, reason = ?outcome.reason, "run ended");
    // The streams of the whole job, all in the store now.
    outcome.streams = exec
        .store
        .streams(id, 0)
        .await?
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    Ok(outcome)
}

/// Loads the module a job is pinned to from the store, checking it against
/// the trust policy as it is now before compiling it, and its digest.
///
/// What passes is noted in [`Execution::checked`], so that the check runs
/// once per digest (and rule and allowance), not at every start; compiling
/// is once per digest too, in the runtime's cache.
async fn load_pinned(exec: &Execution, job: &JobRecord) -> Result<Arc<Runbook>, ExecuteError> {
    let module = exec.store.module(job).await?;
    exec.trust
        .recheck(&job.runbook, &module, job.spec.admission.as_ref())
        .map_err(|source| ExecuteError::Untrusted {
            id: job.id.clone(),
            source: Box::new(source),
        })?;
    let runbook = exec
        .runtime
        .load_bytes(&module, &job.runbook)
        .map_err(|source| ExecuteError::Module {
            id: job.id.clone(),
            source,
        })?;
    if runbook.digest != job.digest {
        return Err(ExecuteError::Tampered {
            id: job.id.clone(),
            pinned: job.digest.clone(),
            found: runbook.digest.clone(),
        });
    }
    exec.checked
        .note(&job.digest, &job.runbook, job.spec.admission.as_ref());
    Ok(runbook)
}

/// The job's spec with what its module may do as it holds for this run: its
/// pinned capabilities, narrowed by the trust policy's cap as it is now (a
/// policy that changed never widens a job, see `Trust::narrow`). A job
/// re-pinned to another module (`jobs resume --module`) carries that
/// module's admission (`JobStore::repin`), so it is held to its manifest.
fn held_to(exec: &Execution, job: &JobRecord) -> drbook_core::job::JobSpec {
    let mut spec = job.spec.clone();
    if let Some(admission) = spec.admission.as_mut() {
        exec.trust.narrow(&job.runbook, &mut admission.capabilities);
    }
    spec
}

/// Whether what an unloaded job waits for has come.
pub async fn wake_ready(
    store: &dyn JobStore,
    fabric: &dyn Fabric,
    job_id: &str,
    wake: &Wake,
) -> Result<bool, StoreError> {
    Ok(match wake {
        Wake::Time { at } => chrono::Utc::now() >= *at,
        Wake::Decision { journal_seq, .. } => store.decision(job_id, *journal_seq).await?.is_some(),
        Wake::Operations { ids } => {
            for id in ids {
                match fabric.operation(id).await {
                    Ok(status) if !status.state.is_terminal() => return Ok(false),
                    // Terminal, or gone: the replay will see it either way.
                    Ok(_) | Err(FabricError::OperationNotFound { .. }) => {}
                    // A passing fault: ask again later.
                    Err(_) => return Ok(false),
                }
            }
            true
        }
    })
}
