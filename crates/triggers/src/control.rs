//! What a person asks of a job: decide its manual step, stop it. One
//! implementation for `drbook jobs approve|reject|stop` on a local store and
//! for the API (`drbook --server ... jobs approve`), so both decide alike.

use serde::{Deserialize, Serialize};

use drbook_core::job::{Approval, JobRecord, JobStatus, Wake};
use drbook_core::journal::Call;
use drbook_core::store::{JobStore, StoreError};

/// Why a decision or a stop was not made.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Someone decided first: the first decision stands.
    #[error(transparent)]
    AlreadyDecided(StoreError),
    #[error(
        "job {id} is not waiting for an approval (it is {state:?}); `drbook jobs list --status Suspended` lists \
         the jobs that are"
    )]
    NotWaiting { id: String, state: JobStatus },
    #[error(
        "the four-eyes rule of this server: {by} started job {id}, so another approver must decide its manual step"
    )]
    FourEyes { id: String, by: String },
    #[error("job {id} has already ended ({state:?})")]
    Ended { id: String, state: JobStatus },
    #[error(transparent)]
    Store(StoreError),
}

impl ControlError {
    /// Whether the asker is at fault (exit 2, HTTP 4xx), not the store.
    pub fn is_input(&self) -> bool {
        !matches!(self, ControlError::Store(e) if !matches!(e, StoreError::NoSuchJob { .. }))
    }
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyDecided { .. } => ControlError::AlreadyDecided(e),
            other => ControlError::Store(other),
        }
    }
}

/// A decision recorded.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decided {
    pub job: String,
    pub prompt: String,
    pub approved: bool,
    pub by: String,
}

impl std::fmt::Display for Decided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.approved {
            "approved"
        } else {
            "rejected"
        };
        write!(
            f,
            "{verb} \"{}\" for job {} as {}; a worker (or `drbook jobs resume`) continues it",
            self.prompt, self.job, self.by
        )
    }
}

/// Who may decide a manual step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Deciders {
    /// Anyone allowed to approve.
    #[default]
    Any,
    /// Four eyes: anyone allowed to approve but the person who started the
    /// job ([`Trigger::started_by`](drbook_core::job::Trigger::started_by)).
    NotTheStarter,
}

/// Decides the manual step job `id` waits at, as `by`, if `deciders`
/// allows `by`.
pub async fn decide(
    store: &dyn JobStore,
    id: &str,
    approved: bool,
    comment: &str,
    by: &str,
    deciders: Deciders,
) -> Result<Decided, ControlError> {
    let job = store.get(id).await?;
    if deciders == Deciders::NotTheStarter && job.spec.trigger.started_by() == Some(by) {
        return Err(ControlError::FourEyes {
            id: job.id,
            by: by.to_string(),
        });
    }
    let Some(Wake::Decision {
        journal_seq,
        prompt,
    }) = &job.wake
    else {
        // Decided a moment ago by someone else, most likely: say who.
        if let Some(earlier) = last_decision(store, &job).await? {
            return Err(ControlError::AlreadyDecided(StoreError::AlreadyDecided {
                job: job.id.clone(),
                approved: earlier.approved,
                by: earlier.by,
                at: earlier.at,
            }));
        }
        return Err(ControlError::NotWaiting {
            id: job.id,
            state: job.state,
        });
    };
    let decision = Approval {
        approved,
        by: by.to_string(),
        comment: comment.to_string(),
        at: chrono::Utc::now(),
    };
    store.decide(&job.id, *journal_seq, &decision).await?;
    Ok(Decided {
        job: job.id.clone(),
        prompt: prompt.clone(),
        approved,
        by: decision.by,
    })
}

/// The latest decision on a manual step of `job`: at the step it was
/// suspended at (the journal's next position, until the job runs again) or at
/// an approval its journal holds.
async fn last_decision(
    store: &dyn JobStore,
    job: &JobRecord,
) -> Result<Option<Approval>, StoreError> {
    let journal = store.journal(&job.id).await?;
    let approvals = journal
        .iter()
        .enumerate()
        .filter(|(_, entry)| matches!(entry.call, Call::Approval { .. }))
        .map(|(seq, _)| seq);
    let mut steps: Vec<usize> = approvals.chain([journal.len()]).collect();
    steps.sort_unstable_by(|a, b| b.cmp(a));
    for seq in steps {
        if let Some(decision) = store.decision(&job.id, seq).await? {
            return Ok(Some(decision));
        }
    }
    Ok(None)
}

/// A stop made: at once (nothing ran the job) or asked of its worker.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    pub job: String,
    /// The job was stopped here; false: its worker stops it at its next
    /// host call.
    pub at_once: bool,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.at_once {
            write!(f, "job {} stopped", self.job)
        } else {
            write!(
                f,
                "stop requested: job {} stops at its next host call",
                self.job
            )
        }
    }
}

/// Stops job `id`, as `by`.
pub async fn stop(store: &dyn JobStore, id: &str, by: &str) -> Result<Stopped, ControlError> {
    let job = store.get(id).await?;
    if job.is_terminal() {
        return Err(ControlError::Ended {
            id: job.id,
            state: job.state,
        });
    }
    let leased = job
        .lease_until
        .is_some_and(|until| until > chrono::Utc::now());
    store.request_stop(&job.id, by).await?;
    let at_once = !(leased && job.wake.is_none());
    if at_once {
        // Nothing runs it now: stop it here.
        store
            .finish(
                &job.id,
                JobStatus::Stopped,
                Some(&format!("stopped by {by}")),
                &serde_json::Value::Null,
            )
            .await?;
    }
    Ok(Stopped {
        job: job.id,
        at_once,
    })
}
