//! `drbook jobs retry` and `drbook jobs rerun`: a failed job run again from
//! its journal as a new attempt (every call that succeeded replayed, its
//! first failed step made live again: see `drbook_core::retry`), or any
//! job run again from the top as a new job with its module, plan and inputs.

use drbook_core::job::{new_id, JobRecord, JobSpec, JobStatus, NewJob, Trigger};
use drbook_core::retry;
use drbook_core::store::{JobStore, OnBusy, StoreError};

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

/// Starts job `job` again from the top as a new job (see the module docs):
/// the module it is pinned to (checked against the trust policy as it is
/// now), its plan, inputs and grant, its trigger `rerun:<job>` by whoever
/// runs this. The plan's busy rule holds as for `drbook run`.
pub async fn rerun(
    global: &Global,
    store: &dyn JobStore,
    job: JobRecord,
    wait: bool,
    options: RunOptions,
) -> anyhow::Result<Outcome> {
    let module = still_admitted(global, store, &job).await?;
    let spec = JobSpec {
        job_id: new_id(),
        trigger: Trigger::Rerun {
            job: job.id.clone(),
            user: super::super::who(),
            of: Box::new(job.spec.trigger.clone()),
        },
        ..job.spec.clone()
    };
    let new = NewJob {
        digest: &job.digest,
        runbook: &job.runbook,
        spec: &spec,
    };
    if let Some(busy) = store.admit(new, &module, OnBusy::Refuse).await? {
        return Err(InputError::new(format!(
            "job {} is not rerun: {busy}; one job at a time changes a plan: rerun it once that job has ended",
            job.id
        ))
        .into());
    }
    eprintln!(
        "job {} reruns job {} from the top (module {}, the same plan and inputs)",
        spec.job_id, job.id, job.digest
    );
    let rerun = store.get(&spec.job_id).await?;
    if !wait {
        println!("{}", rerun.id);
        return Ok(Outcome::Success);
    }
    super::run_here(global, store, &rerun, &options).await
}

/// The module job `job` is pinned to, if the job store still holds it and
/// the trust policy as it is now still admits it for the job (a module whose
/// signers the policy no longer trusts is not run again).
async fn still_admitted(
    global: &Global,
    store: &dyn JobStore,
    job: &JobRecord,
) -> anyhow::Result<Vec<u8>> {
    let module = store.module(job).await.map_err(|e| match e {
        StoreError::MissingModule { .. } => InputError::new(format!(
            "{e}: it was pruned with the jobs that used it; start the runbook anew with `drbook run`"
        ))
        .into(),
        other => anyhow::Error::from(other),
    })?;
    super::super::execute::trust(global)?
        .recheck(&job.runbook, &module, job.spec.admission.as_ref())
        .map_err(|e| {
            InputError::new(format!(
                "job {} is not run again: the trust policy no longer admits its module {}: {e}",
                job.id, job.digest
            ))
        })?;
    Ok(module)
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
