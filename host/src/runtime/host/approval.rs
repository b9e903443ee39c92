//! `approval`: manual steps. The job is suspended (and unloaded) until a
//! person decides in the job store; the decision is journaled like any reply.

use crate::runtime::bindings::approval::{self, Decision};
use crate::runtime::job::{JobStatus, Unload, Wake};
use crate::runtime::journal::Call;
use crate::runtime::state::InstanceState;

/// A manual step in a run without a job store (nobody could answer it).
#[derive(Debug, thiserror::Error)]
#[error("the runbook asked for a manual approval (\"{prompt}\"), but this run has no job store to wait in; run it with `drbook run` or a worker")]
pub struct NoJobStore {
    pub prompt: String,
}

impl approval::Host for InstanceState {
    async fn request(&mut self, prompt: String) -> wasmtime::Result<Decision> {
        let journal_seq = self.journal.position();
        let spool = self.journal.sink().cloned();
        let call = Call::Approval {
            prompt: prompt.clone(),
        };
        let decision: crate::jobs::Decision = self
            .journaled(call, |_| async move {
                let Some(spool) = spool else {
                    return Err(NoJobStore { prompt }.into());
                };
                match spool.store().decision(spool.job_id(), journal_seq)? {
                    Some(decision) => Ok(decision),
                    None => Err(Unload {
                        reason: format!("waiting for approval: {prompt}"),
                        wake: Wake::Decision {
                            journal_seq,
                            prompt,
                        },
                        status: JobStatus::Suspended,
                    }
                    .into()),
                }
            })
            .await?;
        Ok(Decision {
            approved: decision.approved,
            by: decision.by,
            comment: decision.comment,
        })
    }
}
