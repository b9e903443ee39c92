//! Running a failed job again from its journal (`drbook jobs retry`): where
//! its journal is cut, what each attempt records, and which operations a
//! retried attempt takes back instead of starting them again.
//!
//! **The cut.** A retry keeps every entry before the job's *first failed
//! step* and drops that step and everything after it; the next run replays
//! what was kept (every call that succeeded is answered from the journal, so
//! the groups that completed are not failed over again) and makes the failed
//! step live. The first failed step is the first entry, in journal order,
//! that is either
//! - an operation start the fabric (or the job's scope) refused: its reply
//!   is an error, or
//! - the start of an operation the fabric accepted and that ended `Failed`
//!   or `Canceled` as the journal saw it (a wait or a status): the start is
//!   cut, not the wait, since a wait made again would read the same failed
//!   operation.
//!
//! Nothing the fabric accepted is started twice:
//! - Every start before the cut is kept, with its operation.
//! - A start after the cut whose operation did not fail (it succeeded, or
//!   the job never saw it end) is *carried* ([`carried`]): the retried run
//!   answers a live start of the same VM and request with that operation
//!   instead of starting one, once. That is what happens to the VMs a group
//!   started after its refused one: they are taken back, not failed over
//!   again.
//! - A start after the cut whose operation ended `Failed` or `Canceled` is
//!   dropped: that operation is over, and the retry starts a new one.
//! - A start after the cut without its reply (an intent whose outcome is not
//!   known) cannot be judged: the retry is refused ([`NotRetryable`]).
//!
//! **Attempts.** The first run of a job is attempt 1; each retry adds an
//! [`Attempt`], with the entries its cut dropped (for the audit, and for
//! [`carried`]), and the journal position it starts writing at. An entry's
//! operation is started under an initiator that names the attempt that
//! wrote the entry ([`initiator`]), so that a retried start is a new request
//! to the fabric (Azure's client request id is derived from the initiator),
//! and a resumed attempt that finds its intent without a reply finds its own
//! operation, never the failed one of an earlier attempt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

use crate::fabric::{FabricError, OperationRequest, OperationState, OperationStatus};
use crate::journal::{Call, Entry};

/// One retry of a failed job: attempt 2 is its first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// Its number: 2 for the first retry.
    pub attempt: u32,
    /// Who retried the job.
    pub by: String,
    pub at: DateTime<Utc>,
    /// Why the attempt before it failed (that job's reason).
    pub previous_reason: Option<String>,
    /// The first journal position this attempt wrote: the cut.
    pub journal_from: usize,
    /// The last stream line of the attempts before it: lines after it are
    /// this attempt's (or a later one's).
    pub streams_after: i64,
    /// The entries the cut dropped, in order, from `journal_from` on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<Entry>,
}

/// Where a failed job's journal is cut, and the step that runs live again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// How many entries are kept (the position of the failed step).
    pub keep: usize,
    /// The failed step, in words.
    pub step: String,
}

/// Why a failed job's journal cannot be cut for a retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotRetryable {
    #[error(
        "its journal holds no failed step (no refused start, no operation that failed): it failed for \
         another reason, which running it again from its journal would meet again; `drbook jobs rerun` \
         runs it from the top as a new job"
    )]
    NoFailedStep,
    #[error(
        "journal entry {position} after its failed step starts an operation on `{vm}` whose outcome was \
         never recorded; `drbook jobs rerun` runs it from the top as a new job once `drbook fabric history` \
         shows what that start did"
    )]
    UnknownOutcome { position: usize, vm: String },
}

/// Where `journal` (a failed job's) is cut for a retry: see the module docs.
pub fn cut(journal: &[Entry]) -> Result<Cut, NotRetryable> {
    let ended = ended(journal);
    let failed = journal.iter().enumerate().find_map(|(position, entry)| {
        let Call::Start { vm, request } = &entry.call else {
            return None;
        };
        let operation = request.kind().cli_name();
        match start_reply(entry)? {
            Err(e) => Some(format!(
                "the start of {operation} of `{vm}` (journal entry {}), refused: {e}",
                position + 1
            )),
            Ok(id) => match ended.get(&id) {
                Some((state, error)) if failed(*state) => Some(format!(
                    "{operation} of `{vm}` (journal entry {}, operation {id}), which ended {state:?}: {}",
                    position + 1,
                    error.as_deref().unwrap_or("no reason given")
                )),
                _ => None,
            },
        }
        .map(|step| Cut {
            keep: position,
            step,
        })
    });
    let cut = failed.ok_or(NotRetryable::NoFailedStep)?;
    let unknown = journal
        .iter()
        .enumerate()
        .skip(cut.keep)
        .find_map(|(position, entry)| match &entry.call {
            Call::Start { vm, .. } if entry.reply.is_none() => Some((position, vm.clone())),
            _ => None,
        });
    match unknown {
        Some((position, vm)) => Err(NotRetryable::UnknownOutcome {
            position: position + 1,
            vm,
        }),
        None => Ok(cut),
    }
}

/// An operation an earlier attempt started, whose start a cut dropped, and
/// which did not fail: a retried run answers a start of the same VM and
/// request with it (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub vm: String,
    pub request: OperationRequest,
    /// The operation's id, the start's reply.
    pub id: String,
}

/// The operations a run of a job retried as `attempts` takes back, given
/// its `journal` as it is now: every start a cut dropped whose operation was
/// accepted and was not seen to fail, except those the journal holds again
/// (taken back already). For one VM and request the latest is taken.
pub fn carried(attempts: &[Attempt], journal: &[Entry]) -> Vec<Carried> {
    let seen: Vec<&Entry> = attempts
        .iter()
        .flat_map(|a| &a.dropped)
        .chain(journal)
        .collect();
    let ended = ended(seen.iter().copied());
    let held: HashSet<String> = journal
        .iter()
        .filter_map(|entry| start_reply(entry)?.ok())
        .collect();
    let mut carried: Vec<Carried> = Vec::new();
    for entry in attempts.iter().flat_map(|a| &a.dropped) {
        let Call::Start { vm, request } = &entry.call else {
            continue;
        };
        let Some(Ok(id)) = start_reply(entry) else {
            continue;
        };
        if held.contains(&id) || ended.get(&id).is_some_and(|(state, _)| failed(*state)) {
            continue;
        }
        carried.retain(|c| !(c.vm == *vm && c.request == *request));
        carried.push(Carried {
            vm: vm.clone(),
            request: request.clone(),
            id,
        });
    }
    carried
}

/// The attempt that wrote journal position `seq` of a job retried as
/// `attempts`: the latest whose cut is at or before it (1 if none is).
pub fn attempt_at(attempts: &[Attempt], seq: usize) -> u32 {
    attempts
        .iter()
        .filter(|a| a.journal_from <= seq)
        .map(|a| a.attempt)
        .max()
        .unwrap_or(1)
}

/// The attempt that wrote stream line `seq` (from 1) of a job retried as
/// `attempts`: the latest that began before it (1 if none did). Stream lines
/// are never cut: each attempt's follow the earlier ones'.
pub fn attempt_of_line(attempts: &[Attempt], seq: i64) -> u32 {
    attempts
        .iter()
        .filter(|a| a.streams_after < seq)
        .map(|a| a.attempt)
        .max()
        .unwrap_or(1)
}

/// Who starts the operation of journal position `seq` (from 0), as the
/// fabric records it: `job <id> call <n>` in attempt 1, as before retries
/// existed, and `job <id> call <n> attempt <k>` in a later one.
pub fn initiator(job: &str, seq: usize, attempt: u32) -> String {
    match attempt {
        0 | 1 => format!("job {job} call {}", seq + 1),
        k => format!("job {job} call {} attempt {k}", seq + 1),
    }
}

/// The reply of a start entry: the operation's id, or the refusal; `None`
/// for an intent without reply or a reply this build cannot read.
fn start_reply(entry: &Entry) -> Option<Result<String, FabricError>> {
    if !matches!(entry.call, Call::Start { .. }) {
        return None;
    }
    serde_json::from_value(entry.reply.clone()?).ok()
}

/// Whether an operation that ended so failed (its VM is to be started again).
fn failed(state: OperationState) -> bool {
    matches!(state, OperationState::Failed | OperationState::Canceled)
}

/// How each operation ended, with its error, as the statuses in `entries`
/// (waits, statuses, attaches) say; the last word wins.
fn ended<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
) -> HashMap<String, (OperationState, Option<String>)> {
    let mut ended = HashMap::new();
    let mut note = |status: OperationStatus| {
        if status.state.is_terminal() {
            ended.insert(status.id, (status.state, status.error));
        }
    };
    for entry in entries {
        let Some(reply) = &entry.reply else { continue };
        match &entry.call {
            Call::Wait { .. } => {
                let statuses: Vec<Result<OperationStatus, FabricError>> =
                    serde_json::from_value(reply.clone()).unwrap_or_default();
                statuses.into_iter().flatten().for_each(&mut note);
            }
            Call::Status { .. } | Call::Attach { .. } => {
                if let Ok(Ok(status)) =
                    serde_json::from_value::<Result<OperationStatus, FabricError>>(reply.clone())
                {
                    note(status);
                }
            }
            _ => {}
        }
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::Direction;

    fn request() -> OperationRequest {
        OperationRequest::PlannedFailover {
            direction: Direction::PrimaryToRecovery,
        }
    }

    fn start(vm: &str, reply: Option<Result<&str, FabricError>>) -> Entry {
        Entry {
            call: Call::Start {
                vm: vm.to_string(),
                request: request(),
            },
            reply: reply.map(|r| serde_json::to_value(r.map(str::to_string)).unwrap()),
            at: 0,
        }
    }

    fn wait(ended: &[(&str, OperationState)]) -> Entry {
        let statuses: Vec<Result<OperationStatus, FabricError>> = ended
            .iter()
            .map(|(id, state)| {
                Ok(OperationStatus {
                    id: id.to_string(),
                    vm: String::new(),
                    request: request(),
                    state: *state,
                    percent_complete: 100,
                    start_time: Utc::now(),
                    end_time: Some(Utc::now()),
                    error: (*state == OperationState::Failed).then(|| "boom".to_string()),
                    recovery_point_id: None,
                })
            })
            .collect();
        Entry {
            call: Call::Wait {
                ids: ended.iter().map(|(id, _)| id.to_string()).collect(),
            },
            reply: Some(serde_json::to_value(statuses).unwrap()),
            at: 0,
        }
    }

    fn busy(vm: &str) -> FabricError {
        FabricError::Busy {
            vm: vm.to_string(),
            scenario: crate::fabric::OperationKind::PlannedFailover,
            operation_id: "other".to_string(),
        }
    }

    fn retried(journal: &[Entry], keep: usize) -> Attempt {
        Attempt {
            attempt: 2,
            by: "ops".to_string(),
            at: Utc::now(),
            previous_reason: None,
            journal_from: keep,
            streams_after: 0,
            dropped: journal[keep..].to_vec(),
        }
    }

    #[test]
    fn a_refused_start_is_cut_and_the_group_s_other_starts_are_carried() {
        use OperationState::Succeeded;
        let journal = vec![
            start("web-01", Some(Ok("op-1"))),
            wait(&[("op-1", Succeeded)]),
            start("app-01", Some(Ok("op-2"))),
            start("app-02", Some(Err(busy("app-02")))),
            start("app-03", Some(Ok("op-3"))),
            wait(&[("op-2", Succeeded), ("op-3", Succeeded)]),
        ];
        let cut = cut(&journal).unwrap();
        assert_eq!(cut.keep, 3, "{}", cut.step);
        assert!(cut.step.contains("`app-02`"), "{}", cut.step);
        let attempts = [retried(&journal, cut.keep)];
        let carried = carried(&attempts, &journal[..cut.keep]);
        assert_eq!(
            carried.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["op-3"]
        );
        // Taken back once: a journal that holds it again carries it no more.
        let mut again = journal[..cut.keep].to_vec();
        again.push(start("app-02", Some(Ok("op-4"))));
        again.push(start("app-03", Some(Ok("op-3"))));
        assert!(super::carried(&attempts, &again).is_empty());
    }

    #[test]
    fn an_operation_that_failed_is_cut_at_its_start_and_not_carried() {
        use OperationState::{Failed, Succeeded};
        let journal = vec![
            start("web-01", Some(Ok("op-1"))),
            start("web-02", Some(Ok("op-2"))),
            wait(&[("op-1", Succeeded), ("op-2", Failed)]),
        ];
        let cut = cut(&journal).unwrap();
        assert_eq!(cut.keep, 1, "{}", cut.step);
        assert!(cut.step.contains("ended Failed: boom"), "{}", cut.step);
        let attempts = [retried(&journal, cut.keep)];
        assert!(carried(&attempts, &journal[..1]).is_empty());
    }

    #[test]
    fn a_journal_without_a_failed_step_or_with_an_unknown_start_after_it_is_not_cut() {
        let done = vec![
            start("web-01", Some(Ok("op-1"))),
            wait(&[("op-1", OperationState::Succeeded)]),
        ];
        assert_eq!(cut(&done), Err(NotRetryable::NoFailedStep));
        let unknown = vec![
            start("web-01", Some(Err(busy("web-01")))),
            start("web-02", None),
        ];
        assert_eq!(
            cut(&unknown),
            Err(NotRetryable::UnknownOutcome {
                position: 2,
                vm: "web-02".to_string()
            })
        );
    }

    #[test]
    fn each_position_is_the_attempt_s_that_wrote_it_last() {
        let at = |attempt, journal_from| Attempt {
            attempt,
            journal_from,
            ..retried(&[], 0)
        };
        let attempts = [at(2, 10), at(3, 5)];
        assert_eq!(attempt_at(&attempts, 3), 1);
        assert_eq!(attempt_at(&attempts, 7), 3);
        assert_eq!(attempt_at(&attempts, 12), 3);
        assert_eq!(attempt_at(&[at(2, 10)], 12), 2);
        assert_eq!(
            attempt_of_line(
                &[Attempt {
                    streams_after: 4,
                    ..at(2, 1)
                }],
                4
            ),
            1
        );
        assert_eq!(
            attempt_of_line(
                &[Attempt {
                    streams_after: 4,
                    ..at(2, 1)
                }],
                5
            ),
            2
        );
        assert_eq!(initiator("j", 3, 1), "job j call 4");
        assert_eq!(initiator("j", 3, 2), "job j call 4 attempt 2");
    }
}
