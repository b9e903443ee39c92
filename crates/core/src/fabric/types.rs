//! The read model and the operation requests of a Site Recovery fabric, in
//! drbook's own types (the reference's §2 and §3). Field names serialise to the
//! names Azure uses (`activeLocation`, `protectionState`, ...) so that the JSON
//! an operator sees from `drbook fabric show --json` reads like the portal's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which side of its replication pair a VM runs on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Location {
    Primary,
    Recovery,
}

impl Location {
    pub fn other(self) -> Self {
        match self {
            Location::Primary => Location::Recovery,
            Location::Recovery => Location::Primary,
        }
    }
}

/// The direction of a failover. A failback is a failover `RecoveryToPrimary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    PrimaryToRecovery,
    RecoveryToPrimary,
}

impl Direction {
    /// The side a VM must be running on for a failover in this direction.
    pub fn from(self) -> Location {
        match self {
            Direction::PrimaryToRecovery => Location::Primary,
            Direction::RecoveryToPrimary => Location::Recovery,
        }
    }

    /// The side a VM runs on after a failover in this direction.
    pub fn to(self) -> Location {
        self.from().other()
    }

    pub fn reversed(self) -> Self {
        match self {
            Direction::PrimaryToRecovery => Direction::RecoveryToPrimary,
            Direction::RecoveryToPrimary => Direction::PrimaryToRecovery,
        }
    }
}

/// drbook's closed set of protection states (the reference leaves Azure's a
/// free string; §2 "decision"). The `*Failed` states carry a health error and
/// allow the failed operation to be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProtectionState {
    Protected,
    FailoverInProgress,
    FailedOverCommitPending,
    CommitInProgress,
    FailoverCommitted,
    ReprotectInProgress,
    FailoverFailed,
    CommitFailed,
    ReprotectFailed,
}

/// The state of an item's test failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TestFailoverState {
    None,
    InProgress,
    WaitingForCompletion,
    MarkedForDeletion,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Health {
    Normal,
    Warning,
    Critical,
    None,
}

/// Azure's names for the operations an item allows now. Clients gate an action
/// on this list, never on the state string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum AllowedOperation {
    PlannedFailover,
    UnplannedFailover,
    TestFailover,
    TestFailoverCleanup,
    Commit,
    ChangePit,
    CancelFailover,
    ReverseReplicate,
    DisableProtection,
    RepairReplication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecoveryPointType {
    CrashConsistent,
    ApplicationConsistent,
}

/// A restorable snapshot of the replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPoint {
    pub id: String,
    pub recovery_point_time: DateTime<Utc>,
    pub recovery_point_type: RecoveryPointType,
}

/// Which recovery point a failover restores from (§3, "Recovery point types").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecoveryPointChoice {
    /// Processes all pending data first: lowest RPO, longest RTO.
    Latest,
    /// The newest point already processed: fastest.
    LatestProcessed,
    LatestApplicationConsistent,
    LatestCrashConsistent,
    /// A specific point by id.
    Id(String),
}

/// Whether an unplanned failover tries to shut the source down first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceSiteOperations {
    Required,
    NotRequired,
}

/// A health problem reported on an item, with Azure's error shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthError {
    pub error_code: String,
    pub message: String,
    pub recommended_action: String,
    pub creation_time: DateTime<Utc>,
}

/// The operation an item is busy with. Azure shows an idle item with a
/// sentinel scenario; drbook uses `None` instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    pub scenario_name: OperationKind,
    /// The id of the operation (Azure's `jobId`): re-attach to it with `Fabric::operation`.
    pub job_id: String,
    pub start_time: DateTime<Utc>,
    pub percent_complete: u8,
}

/// The isolated copy a test failover brings up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestVm {
    pub name: String,
    pub network: String,
    pub region: String,
    pub created_time: DateTime<Utc>,
}

/// One protected VM as a client reads it (§2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtectedItem {
    pub name: String,
    /// ARM-style id; compare case-insensitively.
    pub id: String,
    pub primary_region: String,
    pub recovery_region: String,
    pub active_location: Location,
    pub protection_state: ProtectionState,
    pub test_failover_state: TestFailoverState,
    pub replication_health: Health,
    pub failover_health: Health,
    pub health_errors: Vec<HealthError>,
    pub allowed_operations: Vec<AllowedOperation>,
    pub current_scenario: Option<Scenario>,
    pub last_successful_failover_time: Option<DateTime<Utc>>,
    pub last_successful_test_failover_time: Option<DateTime<Utc>>,
    /// The point the current (uncommitted or committed) failover restored from.
    pub failover_recovery_point_id: Option<String>,
    /// Newest last.
    pub recovery_points: Vec<RecoveryPoint>,
    /// Seconds from now back to the newest recovery point; `None` when the
    /// item does not replicate (e.g. after commit, before reprotect).
    pub rpo_seconds: Option<u64>,
    /// Progress of the initial sync while reprotecting, else `None`.
    pub reprotect_percent: Option<u8>,
    pub test_vm: Option<TestVm>,
    pub disk_size_gb: u32,
    /// Free-form role of the VM (e.g. `database`), from the estate.
    pub role: String,
}

impl ProtectedItem {
    pub fn allows(&self, op: AllowedOperation) -> bool {
        self.allowed_operations.contains(&op)
    }

    /// The region the VM runs in now.
    pub fn active_region(&self) -> &str {
        match self.active_location {
            Location::Primary => &self.primary_region,
            Location::Recovery => &self.recovery_region,
        }
    }
}

/// An operation of §3 with its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "camelCase")]
pub enum OperationRequest {
    PlannedFailover {
        direction: Direction,
    },
    UnplannedFailover {
        direction: Direction,
        recovery_point: RecoveryPointChoice,
        source_site_operations: SourceSiteOperations,
    },
    TestFailover {
        direction: Direction,
        network: String,
        recovery_point: RecoveryPointChoice,
    },
    TestFailoverCleanup {
        comments: String,
    },
    Commit,
    CancelFailover,
    ChangeRecoveryPoint {
        recovery_point_id: String,
    },
    Reprotect,
}

impl OperationRequest {
    pub fn kind(&self) -> OperationKind {
        match self {
            OperationRequest::PlannedFailover { .. } => OperationKind::PlannedFailover,
            OperationRequest::UnplannedFailover { .. } => OperationKind::UnplannedFailover,
            OperationRequest::TestFailover { .. } => OperationKind::TestFailover,
            OperationRequest::TestFailoverCleanup { .. } => OperationKind::TestFailoverCleanup,
            OperationRequest::Commit => OperationKind::Commit,
            OperationRequest::CancelFailover => OperationKind::CancelFailover,
            OperationRequest::ChangeRecoveryPoint { .. } => OperationKind::ChangeRecoveryPoint,
            OperationRequest::Reprotect => OperationKind::Reprotect,
        }
    }
}

/// A start refused before it reached the fabric, for the fabric's audit
/// trail ([`Fabric::record_refusal`](super::Fabric::record_refusal)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedStart {
    pub vm: String,
    pub request: OperationRequest,
    /// Who asked, as [`Fabric::start`](super::Fabric::start) would have
    /// been told.
    pub initiator: String,
    pub rule: crate::scope::Rule,
    /// The refusal as the job saw it: the rule and the fix.
    pub reason: String,
}

/// The kind of an operation, without its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationKind {
    PlannedFailover,
    UnplannedFailover,
    TestFailover,
    TestFailoverCleanup,
    Commit,
    CancelFailover,
    ChangeRecoveryPoint,
    Reprotect,
}

impl OperationKind {
    pub const ALL: [OperationKind; 8] = [
        OperationKind::PlannedFailover,
        OperationKind::UnplannedFailover,
        OperationKind::TestFailover,
        OperationKind::TestFailoverCleanup,
        OperationKind::Commit,
        OperationKind::CancelFailover,
        OperationKind::ChangeRecoveryPoint,
        OperationKind::Reprotect,
    ];

    /// The entry of `allowedOperations` that gates this operation.
    pub fn gate(self) -> AllowedOperation {
        match self {
            OperationKind::PlannedFailover => AllowedOperation::PlannedFailover,
            OperationKind::UnplannedFailover => AllowedOperation::UnplannedFailover,
            OperationKind::TestFailover => AllowedOperation::TestFailover,
            OperationKind::TestFailoverCleanup => AllowedOperation::TestFailoverCleanup,
            OperationKind::Commit => AllowedOperation::Commit,
            OperationKind::CancelFailover => AllowedOperation::CancelFailover,
            OperationKind::ChangeRecoveryPoint => AllowedOperation::ChangePit,
            OperationKind::Reprotect => AllowedOperation::ReverseReplicate,
        }
    }

    /// The operator's kebab-case name, as in `drbook fabric op <operation>`.
    pub fn cli_name(self) -> &'static str {
        match self {
            OperationKind::PlannedFailover => "planned-failover",
            OperationKind::UnplannedFailover => "unplanned-failover",
            OperationKind::TestFailover => "test-failover",
            OperationKind::TestFailoverCleanup => "test-failover-cleanup",
            OperationKind::Commit => "commit",
            OperationKind::CancelFailover => "cancel-failover",
            OperationKind::ChangeRecoveryPoint => "change-recovery-point",
            OperationKind::Reprotect => "reprotect",
        }
    }
}

/// The lifecycle of a long-running operation (ARM's async-operation status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationState {
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl OperationState {
    pub fn is_terminal(self) -> bool {
        !matches!(self, OperationState::InProgress)
    }
}

/// What a client sees of an operation it started (or re-attaches to by id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    pub id: String,
    pub vm: String,
    pub request: OperationRequest,
    pub state: OperationState,
    pub percent_complete: u8,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    /// Why it failed, when `state` is `Failed`.
    pub error: Option<String>,
    /// The recovery point a failover restored from, once known.
    pub recovery_point_id: Option<String>,
}
