//! A job run again from the top as a new job (`drbook jobs rerun`, and
//! `POST /api/v1/jobs/{id}/rerun`): the module it is pinned to, checked
//! against the trust policy as it is now, its plan, inputs and grant, its
//! trigger `rerun:<job>` by whoever asked. The plan's busy rule holds as
//! for any start.

use drbook_core::job::{new_id, JobRecord, JobSpec, NewJob, Trigger};
use drbook_core::store::{Busy, JobStore, OnBusy, StoreError};
use drbook_signing::{Trust, TrustError};

/// Why a job is not run again.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error(
        "{0}: it was pruned with the jobs that used it; start the runbook anew with `drbook run`"
    )]
    MissingModule(StoreError),
    #[error("job {job} is not run again: the trust policy no longer admits its module {digest}: {source}")]
    Untrusted {
        job: String,
        digest: String,
        source: TrustError,
    },
    #[error(
        "job {job} is not rerun: {busy}; one job at a time changes a plan: rerun it once that job has ended"
    )]
    Busy { job: String, busy: Busy },
    #[error(transparent)]
    Store(StoreError),
}

impl RerunError {
    /// Whether the asker can act on it (exit 2, HTTP 4xx), not the store.
    pub fn is_input(&self) -> bool {
        !matches!(self, RerunError::Store(e) if !matches!(e, StoreError::NoSuchJob { .. }))
    }
}

/// The module job `job` is pinned to, if the job store still holds it and
/// the trust policy as it is now still admits it for the job (a module whose
/// signers the policy no longer trusts is not run again).
pub async fn still_admitted(
    store: &dyn JobStore,
    trust: &Trust,
    job: &JobRecord,
) -> Result<Vec<u8>, RerunError> {
    let module = store.module(job).await.map_err(|e| match e {
        StoreError::MissingModule { .. } => RerunError::MissingModule(e),
        other => RerunError::Store(other),
    })?;
    trust
        .recheck(&job.runbook, &module, job.spec.admission.as_ref())
        .map_err(|source| RerunError::Untrusted {
            job: job.id.clone(),
            digest: job.digest.clone(),
            source,
        })?;
    Ok(module)
}

/// Starts job `job` again from the top as a new job that `user` asked for
/// (see the module docs); returns the new job.
pub async fn rerun(
    store: &dyn JobStore,
    trust: &Trust,
    job: &JobRecord,
    user: &str,
) -> Result<JobRecord, RerunError> {
    let module = still_admitted(store, trust, job).await?;
    let spec = JobSpec {
        job_id: new_id(),
        trigger: Trigger::Rerun {
            job: job.id.clone(),
            user: user.to_string(),
            of: Box::new(job.spec.trigger.clone()),
        },
        ..job.spec.clone()
    };
    let new = NewJob {
        digest: &job.digest,
        runbook: &job.runbook,
        spec: &spec,
    };
    if let Some(busy) = store
        .admit(new, &module, OnBusy::Refuse)
        .await
        .map_err(RerunError::Store)?
    {
        return Err(RerunError::Busy {
            job: job.id.clone(),
            busy,
        });
    }
    store.get(&spec.job_id).await.map_err(RerunError::Store)
}
