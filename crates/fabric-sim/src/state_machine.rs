//! The state machine of §3: which operations an item allows, why one is
//! refused, what starting it does at once and what it does when it ends.
//! `allowedOperations` is derived from the very check that gates `start`, so
//! the two can never disagree.

use super::faults::Faults;
use super::profile::Schedule;
use super::record::{ItemRecord, Running};
use super::recovery_points::Replication;
use chrono::{DateTime, Duration, Utc};
use drbook_core::fabric::{
    AllowedOperation, Direction, FabricError, Health, HealthError, OperationKind, OperationRequest,
    ProtectionState, RecoveryPointChoice, SourceSiteOperations, TestFailoverState, TestVm,
};

/// Why an operation may not start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    Busy,
    NotAllowed,
    WrongDirection,
    RegionDown(String),
    /// A planned failover needs healthy replication.
    Unhealthy,
}

/// The operations the protection and test-failover states admit, before
/// direction, regions and health are considered.
fn admitted(item: &ItemRecord) -> &'static [OperationKind] {
    use OperationKind::*;
    use ProtectionState as P;
    use TestFailoverState as T;
    match (item.state, item.test_state) {
        (P::Protected | P::FailoverFailed, T::None) => {
            &[PlannedFailover, UnplannedFailover, TestFailover]
        }
        (P::Protected | P::FailoverFailed, T::WaitingForCompletion) => &[TestFailoverCleanup],
        (P::Protected | P::FailoverFailed, T::Failed) => &[TestFailover, TestFailoverCleanup],
        (P::FailedOverCommitPending | P::CommitFailed, _) => {
            &[Commit, ChangeRecoveryPoint, CancelFailover]
        }
        (P::FailoverCommitted | P::ReprotectFailed, _) => &[Reprotect],
        _ => &[],
    }
}

/// The regions that must be up for `kind` to run on `item`. An unplanned
/// failover needs only its target: that is what it is for.
fn needed_regions(item: &ItemRecord, kind: OperationKind) -> Vec<&str> {
    let here = item.region(item.active);
    let there = item.region(item.active.other());
    match kind {
        OperationKind::PlannedFailover | OperationKind::Reprotect => vec![here, there],
        OperationKind::UnplannedFailover
        | OperationKind::TestFailover
        | OperationKind::TestFailoverCleanup
        | OperationKind::CancelFailover => vec![there],
        OperationKind::Commit | OperationKind::ChangeRecoveryPoint => vec![here],
    }
}

fn requested_direction(request: &OperationRequest) -> Option<Direction> {
    match request {
        OperationRequest::PlannedFailover { direction }
        | OperationRequest::UnplannedFailover { direction, .. }
        | OperationRequest::TestFailover { direction, .. } => Some(*direction),
        _ => None,
    }
}

/// Whether `request` may start on `item` now.
pub fn check(item: &ItemRecord, request: &OperationRequest, faults: &Faults) -> Result<(), Denial> {
    let kind = request.kind();
    if item.running.is_some() {
        return Err(Denial::Busy);
    }
    if !admitted(item).contains(&kind) {
        return Err(Denial::NotAllowed);
    }
    if requested_direction(request).is_some_and(|d| d != item.direction()) {
        return Err(Denial::WrongDirection);
    }
    if let Some(region) = needed_regions(item, kind)
        .into_iter()
        .find(|r| faults.is_region_down(r))
    {
        return Err(Denial::RegionDown(region.to_string()));
    }
    if kind == OperationKind::PlannedFailover && item.replication_health(faults) != Health::Normal {
        return Err(Denial::Unhealthy);
    }
    Ok(())
}

/// A request of each kind with neutral options, to ask `check` about the kind.
pub(super) fn probe(kind: OperationKind, direction: Direction) -> OperationRequest {
    match kind {
        OperationKind::PlannedFailover => OperationRequest::PlannedFailover { direction },
        OperationKind::UnplannedFailover => OperationRequest::UnplannedFailover {
            direction,
            recovery_point: RecoveryPointChoice::Latest,
            source_site_operations: SourceSiteOperations::NotRequired,
        },
        OperationKind::TestFailover => OperationRequest::TestFailover {
            direction,
            network: String::new(),
            recovery_point: RecoveryPointChoice::Latest,
        },
        OperationKind::TestFailoverCleanup => OperationRequest::TestFailoverCleanup {
            comments: String::new(),
        },
        OperationKind::Commit => OperationRequest::Commit,
        OperationKind::CancelFailover => OperationRequest::CancelFailover,
        OperationKind::ChangeRecoveryPoint => OperationRequest::ChangeRecoveryPoint {
            recovery_point_id: String::new(),
        },
        OperationKind::Reprotect => OperationRequest::Reprotect,
    }
}

/// `allowedOperations`: every kind `check` would let start now.
pub fn allowed(item: &ItemRecord, faults: &Faults) -> Vec<AllowedOperation> {
    let mut allowed: Vec<_> = OperationKind::ALL
        .into_iter()
        .filter(|kind| check(item, &probe(*kind, item.direction()), faults).is_ok())
        .map(OperationKind::gate)
        .collect();
    allowed.sort();
    allowed
}

/// The error a client sees for `refusal`.
pub fn refusal_error(
    item: &ItemRecord,
    request: &OperationRequest,
    refusal: Denial,
    faults: &Faults,
) -> FabricError {
    let kind = request.kind();
    match refusal {
        Denial::Busy => match &item.running {
            Some(running) => FabricError::Busy {
                vm: item.name.clone(),
                scenario: running.kind,
                operation_id: running.op_id.clone(),
            },
            None => not_allowed(item, kind, faults),
        },
        Denial::NotAllowed | Denial::Unhealthy => not_allowed(item, kind, faults),
        Denial::WrongDirection => FabricError::InvalidRequest {
            message: format!(
                "`{}` runs on its {:?} side and replicates {:?}, so a {kind} can only go {:?}; \
                 pass --direction {} or leave it out",
                item.name,
                item.active,
                item.direction(),
                item.direction(),
                direction_flag(item.direction()),
            ),
        },
        Denial::RegionDown(region) => FabricError::RegionUnavailable {
            reason: format!(
                "a {kind} of `{}` needs it and it is down; an unplanned failover away from it still works, \
                 and `drbook fabric fault region-up {region}` ends a simulated outage",
                item.name
            ),
            region,
        },
    }
}

fn not_allowed(item: &ItemRecord, kind: OperationKind, faults: &Faults) -> FabricError {
    FabricError::NotAllowed {
        vm: item.name.clone(),
        operation: kind,
        state: item.state,
        test_failover_state: item.test_state,
        allowed: allowed(item, faults),
    }
}

/// The operator's spelling of a direction (`--direction`).
pub fn direction_flag(direction: Direction) -> &'static str {
    match direction {
        Direction::PrimaryToRecovery => "primary-to-recovery",
        Direction::RecoveryToPrimary => "recovery-to-primary",
    }
}

/// What starting `running` does at once: the in-progress state, and for a
/// failover, no new recovery points from now on.
pub fn begin(item: &mut ItemRecord, running: Running) {
    match running.kind {
        OperationKind::PlannedFailover | OperationKind::UnplannedFailover => {
            item.state = ProtectionState::FailoverInProgress;
            if let Some(replication) = item.replication.as_mut() {
                replication.frozen_at = Some(running.start);
            }
        }
        OperationKind::CancelFailover | OperationKind::ChangeRecoveryPoint => {
            item.state = ProtectionState::FailoverInProgress;
        }
        OperationKind::TestFailover => item.test_state = TestFailoverState::InProgress,
        OperationKind::TestFailoverCleanup => {
            item.test_state = TestFailoverState::MarkedForDeletion
        }
        OperationKind::Commit => item.state = ProtectionState::CommitInProgress,
        OperationKind::Reprotect => item.state = ProtectionState::ReprotectInProgress,
    }
    item.running = Some(running);
}

/// How an operation ended, as `finish` needs it.
pub struct Completion<'a> {
    pub request: &'a OperationRequest,
    /// The point a failover restores from (chosen when it started).
    pub recovery_point: Option<&'a str>,
    pub end: DateTime<Utc>,
    /// `Some(message)` when the operation failed.
    pub failure: Option<&'a str>,
    /// How often a replication started now produces points (reprotect).
    pub interval: Duration,
    pub schedule: &'a Schedule,
}

/// What an operation does when it ends.
pub fn finish(item: &mut ItemRecord, done: &Completion) {
    item.running = None;
    match done.failure {
        None => succeed(item, done),
        Some(message) => fail(item, done, message),
    }
}

fn succeed(item: &mut ItemRecord, done: &Completion) {
    item.health_errors.clear();
    match done.request {
        OperationRequest::PlannedFailover { .. } | OperationRequest::UnplannedFailover { .. } => {
            item.state = ProtectionState::FailedOverCommitPending;
            item.active = item.active.other();
            item.failover_point = done.recovery_point.map(str::to_string);
            item.last_failover = Some(done.end);
        }
        OperationRequest::TestFailover { network, .. } => {
            item.test_state = TestFailoverState::WaitingForCompletion;
            item.test_vm = Some(TestVm {
                name: format!("{}-test", item.name),
                network: network.clone(),
                region: item.region(item.active.other()).to_string(),
                created_time: done.end,
            });
            item.last_test_failover = Some(done.end);
        }
        OperationRequest::TestFailoverCleanup { .. } => {
            item.test_state = TestFailoverState::None;
            item.test_vm = None;
        }
        OperationRequest::Commit => {
            item.state = ProtectionState::FailoverCommitted;
            item.replication = None;
        }
        OperationRequest::CancelFailover => {
            item.state = ProtectionState::Protected;
            item.active = item.active.other();
            item.failover_point = None;
            if let Some(replication) = item.replication.as_mut() {
                replication.frozen_at = None;
            }
        }
        OperationRequest::ChangeRecoveryPoint { recovery_point_id } => {
            item.state = ProtectionState::FailedOverCommitPending;
            item.failover_point = Some(recovery_point_id.clone());
        }
        OperationRequest::Reprotect => {
            item.state = ProtectionState::Protected;
            item.replication = Some(Replication::new(
                item.active,
                item.next_generation,
                done.end,
                done.interval,
                done.schedule,
            ));
            item.next_generation += 1;
        }
    }
}

fn fail(item: &mut ItemRecord, done: &Completion, message: &str) {
    let kind = done.request.kind();
    item.health_errors.push(HealthError {
        error_code: "SimulatedFault".to_string(),
        message: format!("{kind} failed: {message}"),
        recommended_action: format!("retry the {kind} (`drbook fabric op {kind} {}`)", item.name),
        creation_time: done.end,
    });
    match kind {
        OperationKind::PlannedFailover | OperationKind::UnplannedFailover => {
            item.state = ProtectionState::FailoverFailed;
            if let Some(replication) = item.replication.as_mut() {
                replication.frozen_at = None;
            }
        }
        OperationKind::CancelFailover | OperationKind::ChangeRecoveryPoint => {
            item.state = ProtectionState::FailedOverCommitPending;
        }
        OperationKind::TestFailover => item.test_state = TestFailoverState::Failed,
        OperationKind::TestFailoverCleanup => {
            item.test_state = TestFailoverState::WaitingForCompletion
        }
        OperationKind::Commit => item.state = ProtectionState::CommitFailed,
        OperationKind::Reprotect => item.state = ProtectionState::ReprotectFailed,
    }
}
