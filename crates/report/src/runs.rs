//! What a job did to each VM, read back from its journal alone: every
//! operation it started (the start's reply is the operation's id), how each
//! ended (the statuses its waits and polls were answered), the recovery
//! point it restored from and the data that cost (the item as read right
//! after the start), and every start refused. The end-of-run summary
//! (`drbook run`) and the evidence report both show this; the journal is
//! what the job store keeps, so a report made days later says what the
//! summary said.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use drbook_core::fabric::{
    FabricError, OperationKind, OperationState, OperationStatus, ProtectedItem, RecoveryPoint,
};
use drbook_core::journal::{Call, Entry};
use drbook_core::plan::RecoveryPlan;

/// One operation a job started, as its journal tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub id: String,
    pub vm: String,
    pub kind: OperationKind,
    /// The fabric's start time once a status said it; before that, when the
    /// start was journaled.
    pub started: DateTime<Utc>,
    /// `None` while the job never saw it end.
    pub state: Option<OperationState>,
    pub ended: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub recovery_point_id: Option<String>,
    /// The point it restored from (time and consistency), when the item
    /// read after the start listed it.
    pub recovery_point: Option<RecoveryPoint>,
    /// The data a failover lost: none for a planned one (the source is shut
    /// down and drained first); for an unplanned or test failover, from the
    /// point it restored from to its start (or, when the point is not
    /// listed, the item's RPO when it started).
    pub rpo_seconds: Option<u64>,
}

impl Operation {
    pub fn duration_seconds(&self) -> Option<f64> {
        self.ended.map(|end| seconds(end - self.started))
    }

    /// Whether this brings a VM up on the other side (what RTOs measure).
    pub fn is_failover(&self) -> bool {
        matches!(
            self.kind,
            OperationKind::PlannedFailover
                | OperationKind::UnplannedFailover
                | OperationKind::TestFailover
        )
    }
}

/// A start that did not start anything, with the error the runbook saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub vm: String,
    pub operation: OperationKind,
    pub error: String,
}

/// The last thing the job did to one VM of its plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmRow {
    pub vm: String,
    pub group: String,
    pub operation: Option<String>,
    /// `Succeeded`, `Failed`, `Canceled`, `InProgress`, `Refused` or `NotStarted`.
    pub result: String,
    pub recovery_point_id: Option<String>,
    pub rpo_seconds: Option<u64>,
    pub duration_seconds: Option<f64>,
    pub error: Option<String>,
}

/// A job's journal, read: its operations and refusals in the order it
/// made them.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub operations: Vec<Operation>,
    pub refusals: Vec<Refusal>,
    /// For each VM (lower case), its last start: an index into
    /// `operations` or into `refusals`.
    last: Vec<(String, Last)>,
}

#[derive(Debug, Clone, Copy)]
enum Last {
    Operation(usize),
    Refusal(usize),
}

impl Run {
    /// Reads `journal`. Intents without a reply (a run cut short) started
    /// nothing the job knows of, and are left out.
    pub fn read(journal: &[Entry]) -> Run {
        let mut run = Run::default();
        let mut items: Vec<Option<ProtectedItem>> = Vec::new();
        for (index, entry) in journal.iter().enumerate() {
            let Some(reply) = &entry.reply else { continue };
            match &entry.call {
                Call::Start { vm, request } => {
                    let last = match serde_json::from_value::<Result<String, FabricError>>(
                        reply.clone(),
                    ) {
                        Ok(Ok(id)) => {
                            run.operations.push(Operation {
                                id,
                                vm: vm.clone(),
                                kind: request.kind(),
                                started: at(entry.at),
                                state: None,
                                ended: None,
                                error: None,
                                recovery_point_id: None,
                                recovery_point: None,
                                rpo_seconds: None,
                            });
                            items.push(item_after(journal, index, vm));
                            Last::Operation(run.operations.len() - 1)
                        }
                        Ok(Err(error)) => {
                            run.refusals.push(Refusal {
                                vm: vm.clone(),
                                operation: request.kind(),
                                error: error.to_string(),
                            });
                            Last::Refusal(run.refusals.len() - 1)
                        }
                        Err(_) => continue,
                    };
                    let key = vm.to_ascii_lowercase();
                    run.last.retain(|(name, _)| *name != key);
                    run.last.push((key, last));
                }
                Call::Wait { .. } => {
                    let statuses: Vec<Result<OperationStatus, FabricError>> =
                        serde_json::from_value(reply.clone()).unwrap_or_default();
                    for status in statuses.iter().flatten() {
                        run.ended(status);
                    }
                }
                Call::Status { .. } | Call::Attach { .. } => {
                    if let Ok(Ok(status)) = serde_json::from_value::<
                        Result<OperationStatus, FabricError>,
                    >(reply.clone())
                    {
                        run.ended(&status);
                    }
                }
                _ => {}
            }
        }
        for (op, item) in run.operations.iter_mut().zip(items) {
            op.settle(item.as_ref());
        }
        run
    }

    /// Records a terminal status seen for one of the job's operations.
    fn ended(&mut self, status: &OperationStatus) {
        if !status.state.is_terminal() {
            return;
        }
        if let Some(op) = self.operations.iter_mut().find(|op| op.id == status.id) {
            op.started = status.start_time;
            op.state = Some(status.state);
            op.ended = status.end_time;
            op.error = status.error.clone();
            op.recovery_point_id = status.recovery_point_id.clone();
        }
    }

    /// The operation that last started on `vm`, unless a refusal came after.
    pub fn last_operation(&self, vm: &str) -> Option<&Operation> {
        match self.last_of(vm)? {
            Last::Operation(i) => self.operations.get(i),
            Last::Refusal(_) => None,
        }
    }

    fn last_of(&self, vm: &str) -> Option<Last> {
        let key = vm.to_ascii_lowercase();
        self.last
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, last)| *last)
    }

    /// One row per VM of `plan`, in boot order: its last start.
    /// How long `vm` took to come up: from `start` (the job's first start)
    /// until its last operation, a failover that succeeded, ended.
    pub fn rto_of(&self, vm: &str, start: DateTime<Utc>) -> Option<f64> {
        self.last_operation(vm)
            .filter(|op| op.is_failover() && op.state == Some(OperationState::Succeeded))
            .and_then(|op| op.ended)
            .map(|end| seconds(end - start))
    }

    /// The run's RTO: from `start` until the last of `plan`'s VMs that
    /// failed over was up, if any did.
    pub fn rto_seconds(&self, plan: &RecoveryPlan, start: DateTime<Utc>) -> Option<f64> {
        plan.groups
            .iter()
            .flat_map(|g| &g.vms)
            .filter_map(|vm| self.rto_of(vm, start))
            .reduce(f64::max)
    }

    pub fn rows(&self, plan: &RecoveryPlan) -> Vec<VmRow> {
        plan.groups
            .iter()
            .flat_map(|g| g.vms.iter().map(move |vm| (g, vm)))
            .map(|(group, vm)| {
                let mut row = VmRow {
                    vm: vm.clone(),
                    group: group.name.clone(),
                    operation: None,
                    result: "NotStarted".to_string(),
                    recovery_point_id: None,
                    rpo_seconds: None,
                    duration_seconds: None,
                    error: None,
                };
                match self.last_of(vm) {
                    Some(Last::Refusal(i)) => {
                        let refusal = &self.refusals[i];
                        row.operation = Some(refusal.operation.cli_name().to_string());
                        row.result = "Refused".to_string();
                        row.error = Some(refusal.error.clone());
                    }
                    Some(Last::Operation(i)) => {
                        let op = &self.operations[i];
                        row.operation = Some(op.kind.cli_name().to_string());
                        row.result = op
                            .state
                            .map(|s| format!("{s:?}"))
                            .unwrap_or_else(|| "InProgress".to_string());
                        row.recovery_point_id = op.recovery_point_id.clone();
                        row.rpo_seconds = op.rpo_seconds;
                        row.duration_seconds = op.duration_seconds();
                        row.error = op.error.clone();
                    }
                    None => {}
                }
                row
            })
            .collect()
    }
}

impl Operation {
    /// Fills in the recovery point and the RPO, once the operation's end
    /// (and so the point it restored from) is known.
    fn settle(&mut self, item: Option<&ProtectedItem>) {
        self.recovery_point = match (&self.recovery_point_id, item) {
            (Some(id), Some(item)) => item.recovery_points.iter().find(|p| p.id == *id).cloned(),
            _ => None,
        };
        self.rpo_seconds = match self.kind {
            OperationKind::PlannedFailover => Some(0),
            OperationKind::UnplannedFailover | OperationKind::TestFailover => {
                match &self.recovery_point {
                    Some(point) => Some(
                        (self.started - point.recovery_point_time)
                            .num_seconds()
                            .max(0) as u64,
                    ),
                    None => item.and_then(|item| item.rpo_seconds),
                }
            }
            _ => None,
        };
    }
}

/// The item the host read right after the start at `index` (what an
/// unplanned or test failover may lose is its RPO then), if it did.
fn item_after(journal: &[Entry], index: usize, vm: &str) -> Option<ProtectedItem> {
    let next = journal.get(index + 1)?;
    match (&next.call, &next.reply) {
        (Call::GetItem { vm: read }, Some(reply)) if read.eq_ignore_ascii_case(vm) => {
            serde_json::from_value::<Result<ProtectedItem, FabricError>>(reply.clone())
                .ok()?
                .ok()
        }
        _ => None,
    }
}

fn at(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}

/// A span in seconds, to the millisecond.
pub fn seconds(span: chrono::Duration) -> f64 {
    span.num_milliseconds() as f64 / 1000.0
}
