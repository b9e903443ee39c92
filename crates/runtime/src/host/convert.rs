//! Conversions between the fabric's domain types and the WIT types a runbook
//! sees. Kept in one place so that each WIT type has exactly one mapping.

use chrono::{DateTime, Utc};

use crate::bindings::{site_recovery as sr, types as t};
use drbook_core::fabric::{self as f, FabricError};
use drbook_core::plan::FailoverType;

pub fn millis(time: DateTime<Utc>) -> u64 {
    time.timestamp_millis().max(0) as u64
}

impl From<f::Location> for t::Location {
    fn from(l: f::Location) -> Self {
        match l {
            f::Location::Primary => t::Location::Primary,
            f::Location::Recovery => t::Location::Recovery,
        }
    }
}

impl From<f::Direction> for t::Direction {
    fn from(d: f::Direction) -> Self {
        match d {
            f::Direction::PrimaryToRecovery => t::Direction::PrimaryToRecovery,
            f::Direction::RecoveryToPrimary => t::Direction::RecoveryToPrimary,
        }
    }
}

impl From<t::Direction> for f::Direction {
    fn from(d: t::Direction) -> Self {
        match d {
            t::Direction::PrimaryToRecovery => f::Direction::PrimaryToRecovery,
            t::Direction::RecoveryToPrimary => f::Direction::RecoveryToPrimary,
        }
    }
}

impl From<FailoverType> for t::FailoverType {
    fn from(ty: FailoverType) -> Self {
        match ty {
            FailoverType::Test => t::FailoverType::Test,
            FailoverType::Planned => t::FailoverType::Planned,
            FailoverType::Unplanned => t::FailoverType::Unplanned,
        }
    }
}

impl From<f::ProtectionState> for t::ProtectionState {
    fn from(s: f::ProtectionState) -> Self {
        use f::ProtectionState as P;
        match s {
            P::Protected => t::ProtectionState::Protected,
            P::FailoverInProgress => t::ProtectionState::FailoverInProgress,
            P::FailedOverCommitPending => t::ProtectionState::FailedOverCommitPending,
            P::CommitInProgress => t::ProtectionState::CommitInProgress,
            P::FailoverCommitted => t::ProtectionState::FailoverCommitted,
            P::ReprotectInProgress => t::ProtectionState::ReprotectInProgress,
            P::FailoverFailed => t::ProtectionState::FailoverFailed,
            P::CommitFailed => t::ProtectionState::CommitFailed,
            P::ReprotectFailed => t::ProtectionState::ReprotectFailed,
        }
    }
}

impl From<f::TestFailoverState> for t::TestFailoverState {
    fn from(s: f::TestFailoverState) -> Self {
        use f::TestFailoverState as T;
        match s {
            T::None => t::TestFailoverState::None,
            T::InProgress => t::TestFailoverState::InProgress,
            T::WaitingForCompletion => t::TestFailoverState::WaitingForCompletion,
            T::MarkedForDeletion => t::TestFailoverState::MarkedForDeletion,
            T::Failed => t::TestFailoverState::Failed,
        }
    }
}

impl From<f::Health> for t::Health {
    fn from(h: f::Health) -> Self {
        match h {
            f::Health::Normal => t::Health::Normal,
            f::Health::Warning => t::Health::Warning,
            f::Health::Critical => t::Health::Critical,
            f::Health::None => t::Health::None,
        }
    }
}

impl From<f::AllowedOperation> for t::AllowedOperation {
    fn from(a: f::AllowedOperation) -> Self {
        use f::AllowedOperation as A;
        match a {
            A::PlannedFailover => t::AllowedOperation::PlannedFailover,
            A::UnplannedFailover => t::AllowedOperation::UnplannedFailover,
            A::TestFailover => t::AllowedOperation::TestFailover,
            A::TestFailoverCleanup => t::AllowedOperation::TestFailoverCleanup,
            A::Commit => t::AllowedOperation::Commit,
            A::ChangePit => t::AllowedOperation::ChangePit,
            A::CancelFailover => t::AllowedOperation::CancelFailover,
            A::ReverseReplicate => t::AllowedOperation::ReverseReplicate,
            A::DisableProtection => t::AllowedOperation::DisableProtection,
            A::RepairReplication => t::AllowedOperation::RepairReplication,
        }
    }
}

impl From<f::OperationKind> for t::OperationKind {
    fn from(k: f::OperationKind) -> Self {
        use f::OperationKind as K;
        match k {
            K::PlannedFailover => t::OperationKind::PlannedFailover,
            K::UnplannedFailover => t::OperationKind::UnplannedFailover,
            K::TestFailover => t::OperationKind::TestFailover,
            K::TestFailoverCleanup => t::OperationKind::TestFailoverCleanup,
            K::Commit => t::OperationKind::Commit,
            K::CancelFailover => t::OperationKind::CancelFailover,
            K::ChangeRecoveryPoint => t::OperationKind::ChangeRecoveryPoint,
            K::Reprotect => t::OperationKind::Reprotect,
        }
    }
}

impl From<sr::RecoveryPointChoice> for f::RecoveryPointChoice {
    fn from(c: sr::RecoveryPointChoice) -> Self {
        use sr::RecoveryPointChoice as C;
        match c {
            C::Latest => f::RecoveryPointChoice::Latest,
            C::LatestProcessed => f::RecoveryPointChoice::LatestProcessed,
            C::LatestAppConsistent => f::RecoveryPointChoice::LatestApplicationConsistent,
            C::LatestCrashConsistent => f::RecoveryPointChoice::LatestCrashConsistent,
            C::Id(id) => f::RecoveryPointChoice::Id(id),
        }
    }
}

impl From<FabricError> for sr::FabricError {
    fn from(e: FabricError) -> Self {
        let message = e.to_string();
        match e {
            FabricError::NotAllowed { .. }
            | FabricError::Refused { .. }
            | FabricError::OutOfScope(_) => sr::FabricError::NotAllowed(message),
            FabricError::Busy { .. } => sr::FabricError::Busy(message),
            FabricError::ItemNotFound { .. }
            | FabricError::OperationNotFound { .. }
            | FabricError::RecoveryPointNotFound { .. } => sr::FabricError::NotFound(message),
            FabricError::RegionUnavailable { .. } => sr::FabricError::RegionUnavailable(message),
            FabricError::InvalidRequest { .. } => sr::FabricError::Invalid(message),
            FabricError::Transient { .. } => sr::FabricError::Transient(message),
        }
    }
}

impl From<f::OperationState> for sr::OperationState {
    fn from(s: f::OperationState) -> Self {
        match s {
            f::OperationState::InProgress => sr::OperationState::InProgress,
            f::OperationState::Succeeded => sr::OperationState::Succeeded,
            f::OperationState::Failed => sr::OperationState::Failed,
            f::OperationState::Canceled => sr::OperationState::Canceled,
        }
    }
}

impl From<f::OperationStatus> for sr::OperationStatus {
    fn from(s: f::OperationStatus) -> Self {
        sr::OperationStatus {
            kind: s.request.kind().into(),
            id: s.id,
            vm: s.vm,
            state: s.state.into(),
            percent_complete: s.percent_complete,
            start_time: millis(s.start_time),
            end_time: s.end_time.map(millis),
            error: s.error,
            recovery_point_id: s.recovery_point_id,
        }
    }
}

impl From<f::ProtectedItem> for sr::ProtectedItem {
    fn from(i: f::ProtectedItem) -> Self {
        sr::ProtectedItem {
            name: i.name,
            primary_region: i.primary_region,
            recovery_region: i.recovery_region,
            active_location: i.active_location.into(),
            protection_state: i.protection_state.into(),
            test_failover_state: i.test_failover_state.into(),
            replication_health: i.replication_health.into(),
            health_errors: i
                .health_errors
                .into_iter()
                .map(|e| format!("{}: {}", e.error_code, e.message))
                .collect(),
            allowed_operations: i.allowed_operations.into_iter().map(Into::into).collect(),
            current_scenario: i.current_scenario.map(|s| sr::Scenario {
                kind: s.scenario_name.into(),
                operation_id: s.job_id,
                start_time: millis(s.start_time),
                percent_complete: s.percent_complete,
            }),
            recovery_points: i
                .recovery_points
                .into_iter()
                .map(|p| sr::RecoveryPoint {
                    id: p.id,
                    time: millis(p.recovery_point_time),
                    app_consistent: p.recovery_point_type
                        == f::RecoveryPointType::ApplicationConsistent,
                })
                .collect(),
            rpo_seconds: i.rpo_seconds,
            reprotect_percent: i.reprotect_percent,
            failover_recovery_point_id: i.failover_recovery_point_id,
            role: i.role,
        }
    }
}
