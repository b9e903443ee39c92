//! `drbook jobs retry` and `drbook jobs rerun`: a failed job run again from
//! its journal as a new attempt (every call that succeeded replayed, its
//! first failed step made live again: see `drbook_core::retry`), or any
//! job run again from the top as a new job with its module, plan and inputs.

use drbook_core::job::{JobRecord, JobStatus};
use drbook_core::retry;
use drbook_core::store::{JobStore, StoreError};
use drbook_jobs::RerunError;

use super::super::{Global, InputError, Outcome, RunOptions};

/// Retries failed job `job` (see the module docs); with `wait`, runs it
/// here until it ends and prints its summary, else leaves it to a worker.
pub async fn retry(
    global: &Global,
    store: &dyn JobStore,
    job: JobRecord,
    wait: bool,
    options: RunOptions,
) -> anyhow::Result<Outcome> {
    if job.state != JobStatus::Failed {
        let held_by = job
            .lease_owner
            .clone()
            .filter(|_| job.lease_until.is_some_and(|u| u > chrono::Utc::now()));
        return Err(refused(StoreError::NotFailed {
            job: job.id.clone(),
            status: job.state,
            held_by,
        }));
    }
    still_admitted(global, store, &job).await?;
    let journal = store.journal(&job.id).await?;
    let cut = retry::cut(&journal)
        .map_err(|e| InputError::new(format!("job {} is not retried: {e}", job.id)))?;
    let attempt = store
        .retry(&job.id, &super::super::who(), cut.keep)
        .await
        .map_err(refused)?;
    eprintln!(
        "job {} retried as attempt {} by {}: its first {} journal entries are replayed, and from {} on it runs live",
        job.id, attempt.attempt, attempt.by, cut.keep, cut.step
    );
    if !wait {
        println!("{}", job.id);
        eprintln!(
            "a worker (`drbook worker`, `drbook serve`) runs it; `drbook jobs logs {} --follow` follows it",
            job.id
        );
        return Ok(Outcome::Success);
    }
    super::run_here(global, store, &job, &options).await
}

/// Starts job `job` again from the top as a new job (`drbook_jobs::rerun`),
/// its trigger `rerun:<job>` by whoever runs this.
pub async fn rerun(
    global: &Global,
    store: &dyn JobStore,
    job: JobRecord,
    wait: bool,
    options: RunOptions,
) -> anyhow::Result<Outcome> {
    let trust = super::super::execute::trust(global)?;
    let rerun = drbook_jobs::rerun(store, &trust, &job, &super::super::who())
        .await
        .map_err(rerun_refused)?;
    eprintln!(
        "job {} reruns job {} from the top (module {}, the same plan and inputs)",
        rerun.id, job.id, job.digest
    );
    if !wait {
        println!("{}", rerun.id);
        return Ok(Outcome::Success);
    }
    super::run_here(global, store, &rerun, &options).await
}

/// The module job `job` is pinned to, still admitted (`drbook_jobs::still_admitted`).
async fn still_admitted(
    global: &Global,
    store: &dyn JobStore,
    job: &JobRecord,
) -> anyhow::Result<Vec<u8>> {
    let trust = super::super::execute::trust(global)?;
    drbook_jobs::still_admitted(store, &trust, job)
        .await
        .map_err(rerun_refused)
}

/// A refusal to run a job again: the operator's input (exit 2) unless the
/// store failed.
fn rerun_refused(e: RerunError) -> anyhow::Error {
    match e {
        RerunError::Store(e) => refused(e),
        other => InputError::new(other.to_string()).into(),
    }
}

/// A refusal of the store's that names what to do (not failed, plan busy):
/// the operator's input, exit code 2.
fn refused(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::NotFailed { .. }
        | StoreError::PlanBusy { .. }
        | StoreError::NoSuchJob { .. } => InputError::new(e.to_string()).into(),
        other => other.into(),
    }
}
