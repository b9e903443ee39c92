//! What a job did to each VM, as the host saw it: every operation the runbook
//! started and how it ended. The host keeps this itself rather than trusting
//! the runbook to report it, and it is what the summary table and `--json`
//! show (VM, group, result, recovery point / RPO, duration) with the run's RTO.

use chrono::{DateTime, Utc};
use serde::Serialize;

use drbook_core::fabric::{OperationKind, OperationState, OperationStatus};

/// One operation the runbook started.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationRecord {
    pub id: String,
    pub vm: String,
    pub kind: OperationKind,
    pub started: DateTime<Utc>,
    /// `None` while the runbook never saw it end.
    pub state: Option<OperationState>,
    pub ended: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub recovery_point_id: Option<String>,
    /// The item's RPO when a failover started: the data an unplanned or test
    /// failover may lose. Planned failovers lose none.
    pub rpo_seconds: Option<u64>,
}

impl OperationRecord {
    pub fn duration_seconds(&self) -> Option<f64> {
        self.ended
            .map(|end| (end - self.started).num_milliseconds() as f64 / 1000.0)
    }
}

/// The operations of one job, in the order they started.
#[derive(Debug, Default, Clone)]
pub struct Tracker {
    operations: Vec<OperationRecord>,
}

impl Tracker {
    pub fn started(&mut self, id: &str, vm: &str, kind: OperationKind, rpo_seconds: Option<u64>) {
        self.operations.push(OperationRecord {
            id: id.to_string(),
            vm: vm.to_string(),
            kind,
            started: Utc::now(),
            state: None,
            ended: None,
            error: None,
            recovery_point_id: None,
            rpo_seconds,
        });
    }

    /// Records a terminal status seen for an operation.
    pub fn ended(&mut self, status: &OperationStatus) {
        if let Some(record) = self.operations.iter_mut().find(|r| r.id == status.id) {
            // The fabric's times: a replayed record was made after the fact.
            record.started = status.start_time;
            record.state = Some(status.state);
            record.ended = Some(status.end_time.unwrap_or_else(Utc::now));
            record.error = status.error.clone();
            record.recovery_point_id = status.recovery_point_id.clone();
        }
    }

    pub fn operations(&self) -> &[OperationRecord] {
        &self.operations
    }
}

/// The run's RTO: from the start of the job until the last failover ended
/// (the moment every VM of the plan was up), if the job failed anything over.
pub fn rto_seconds(start: DateTime<Utc>, operations: &[OperationRecord]) -> Option<f64> {
    operations
        .iter()
        .filter(|r| {
            matches!(
                r.kind,
                OperationKind::PlannedFailover
                    | OperationKind::UnplannedFailover
                    | OperationKind::TestFailover
            ) && r.state == Some(OperationState::Succeeded)
        })
        .filter_map(|r| r.ended)
        .max()
        .map(|end| (end - start).num_milliseconds() as f64 / 1000.0)
}
