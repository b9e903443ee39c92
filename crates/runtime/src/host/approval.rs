//! `approval`: manual steps. The job is suspended (and unloaded) until a
//! person decides in the job store; the decision is journaled like any reply.

use crate::bindings::approval::{self, Decision};
use crate::job::Unload;
use crate::limits::{caps, cut};
use crate::state::InstanceState;
use drbook_core::job::{JobStatus, Wake};
use drbook_core::journal::Call;

/// A manual step in a run without a job store (nobody could answer it).
#[derive(Debug, thiserror::Error)]
#[error("the runbook asked for a manual approval (\"{prompt}\"), but this run has no job store to wait in; run it with `drbook run` or a worker")]
pub struct NoJobStore {
    pub prompt: String,
}

impl approval::Host for InstanceState {
    async fn request(&mut self, prompt: String) -> wasmtime::Result<Decision> {
        // Shown by `jobs list` and stored with the job's wake-up.
        let prompt = cut(prompt, caps::TEXT);
        let journal_seq = self.journal.position();
        let spool = self.journal.sink().cloned();
        let call = Call::Approval {
            prompt: prompt.clone(),
        };
        let decision: drbook_core::job::Approval = self
            .journaled(call, |_| async move {
                let Some(spool) = spool else {
                    return Err(NoJobStore { prompt }.into());
                };
                match spool.decision(journal_seq).await? {
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
