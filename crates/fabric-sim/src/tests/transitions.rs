//! The table-driven test over every (state × operation) pair. Each state is
//! reached through real operations on a fresh fabric; each operation is then
//! either allowed (listed in `allowedOperations`, and it has the expected
//! effect) or refused with the expected error and no change to the store.

use super::{cleanup, direction_of, planned, test_failover, unplanned, Fixture};
use crate::Fault;
use drbook_core::fabric::{
    Fabric, FabricError, Location, OperationKind, OperationRequest, OperationState, ProtectedItem,
    ProtectionState, TestFailoverState,
};

const VM: &str = "app-01";

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Protected,
    FailoverInProgress,
    FailedOverCommitPending,
    CommitInProgress,
    FailoverCommitted,
    ReprotectInProgress,
    ProtectedReversed,
    FailoverFailed,
    CommitFailed,
    ReprotectFailed,
    TestInProgress,
    TestWaiting,
    TestCleaning,
    TestFailed,
}

const STATES: [State; 14] = [
    State::Protected,
    State::FailoverInProgress,
    State::FailedOverCommitPending,
    State::CommitInProgress,
    State::FailoverCommitted,
    State::ReprotectInProgress,
    State::ProtectedReversed,
    State::FailoverFailed,
    State::CommitFailed,
    State::ReprotectFailed,
    State::TestInProgress,
    State::TestWaiting,
    State::TestCleaning,
    State::TestFailed,
];

/// One step towards a state: run an operation to its end, only start it, or
/// make the next operation fail.
#[derive(Clone, Copy)]
enum Step {
    Run(OperationKind),
    Begin(OperationKind),
    FailNext,
}

fn steps(state: State) -> Vec<Step> {
    use OperationKind::*;
    use Step::*;
    let committed = || vec![Run(PlannedFailover), Run(Commit)];
    match state {
        State::Protected => vec![],
        State::FailoverInProgress => vec![Begin(PlannedFailover)],
        State::FailedOverCommitPending => vec![Run(PlannedFailover)],
        State::CommitInProgress => vec![Run(PlannedFailover), Begin(Commit)],
        State::FailoverCommitted => committed(),
        State::ReprotectInProgress => [committed(), vec![Begin(Reprotect)]].concat(),
        State::ProtectedReversed => [committed(), vec![Run(Reprotect)]].concat(),
        State::FailoverFailed => vec![FailNext, Run(PlannedFailover)],
        State::CommitFailed => vec![Run(PlannedFailover), FailNext, Run(Commit)],
        State::ReprotectFailed => [committed(), vec![FailNext, Run(Reprotect)]].concat(),
        State::TestInProgress => vec![Begin(TestFailover)],
        State::TestWaiting => vec![Run(TestFailover)],
        State::TestCleaning => vec![Run(TestFailover), Begin(TestFailoverCleanup)],
        State::TestFailed => vec![FailNext, Run(TestFailover)],
    }
}

/// A valid request of `kind` for the item as it is now.
fn request(kind: OperationKind, item: &ProtectedItem) -> OperationRequest {
    let direction = direction_of(item);
    match kind {
        OperationKind::PlannedFailover => planned(direction),
        OperationKind::UnplannedFailover => unplanned(direction),
        OperationKind::TestFailover => test_failover(direction),
        OperationKind::TestFailoverCleanup => cleanup(),
        OperationKind::Commit => OperationRequest::Commit,
        OperationKind::CancelFailover => OperationRequest::CancelFailover,
        OperationKind::ChangeRecoveryPoint => OperationRequest::ChangeRecoveryPoint {
            recovery_point_id: item
                .recovery_points
                .first()
                .map_or("rp-none".to_string(), |p| p.id.clone()),
        },
        OperationKind::Reprotect => OperationRequest::Reprotect,
    }
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// Allowed; afterwards the item is in this state, test state and location.
    Ok(ProtectionState, TestFailoverState, Location),
    Busy,
    NotAllowed,
}

fn expected(state: State, kind: OperationKind) -> Expect {
    use Expect::*;
    use Location::{Primary, Recovery};
    use OperationKind as K;
    use ProtectionState as P;
    use TestFailoverState as T;
    match (state, kind) {
        (
            State::FailoverInProgress
            | State::CommitInProgress
            | State::ReprotectInProgress
            | State::TestInProgress
            | State::TestCleaning,
            _,
        ) => Busy,
        (State::Protected | State::FailoverFailed, K::PlannedFailover | K::UnplannedFailover) => {
            Ok(P::FailedOverCommitPending, T::None, Recovery)
        }
        (State::Protected, K::TestFailover) => Ok(P::Protected, T::WaitingForCompletion, Primary),
        (State::FailoverFailed, K::TestFailover) => {
            Ok(P::FailoverFailed, T::WaitingForCompletion, Primary)
        }
        (State::ProtectedReversed, K::PlannedFailover | K::UnplannedFailover) => {
            Ok(P::FailedOverCommitPending, T::None, Primary)
        }
        (State::ProtectedReversed, K::TestFailover) => {
            Ok(P::Protected, T::WaitingForCompletion, Recovery)
        }
        (State::FailedOverCommitPending | State::CommitFailed, K::Commit) => {
            Ok(P::FailoverCommitted, T::None, Recovery)
        }
        (State::FailedOverCommitPending | State::CommitFailed, K::ChangeRecoveryPoint) => {
            Ok(P::FailedOverCommitPending, T::None, Recovery)
        }
        (State::FailedOverCommitPending | State::CommitFailed, K::CancelFailover) => {
            Ok(P::Protected, T::None, Primary)
        }
        (State::FailoverCommitted | State::ReprotectFailed, K::Reprotect) => {
            Ok(P::Protected, T::None, Recovery)
        }
        (State::TestWaiting | State::TestFailed, K::TestFailoverCleanup) => {
            Ok(P::Protected, T::None, Primary)
        }
        (State::TestFailed, K::TestFailover) => Ok(P::Protected, T::WaitingForCompletion, Primary),
        _ => NotAllowed,
    }
}

async fn reach(state: State) -> Fixture {
    let fx = Fixture::timed();
    for step in steps(state) {
        let item = fx.item(VM).await;
        match step {
            Step::Run(kind) => {
                fx.run(VM, &request(kind, &item)).await;
            }
            Step::Begin(kind) => {
                fx.start(VM, &request(kind, &item))
                    .await
                    .expect("the step starts");
            }
            Step::FailNext => fx
                .sim
                .set_fault(Fault::FailNext { vm: VM.to_string() })
                .expect("a fault"),
        }
    }
    fx
}

#[tokio::test]
async fn every_state_and_operation() {
    for state in STATES {
        for kind in OperationKind::ALL {
            let fx = reach(state).await;
            let before = fx.item(VM).await;
            let listed = before.allows(kind.gate());
            let dump = fx.dump();
            let result = fx.start(VM, &request(kind, &before)).await;
            let case = format!("{state:?} × {kind:?}");
            match (expected(state, kind), result) {
                (Expect::Ok(protection, test, location), Ok(id)) => {
                    assert!(
                        listed,
                        "{case}: allowed but not in allowedOperations {:?}",
                        before.allowed_operations
                    );
                    let busy = fx.item(VM).await;
                    assert_eq!(
                        busy.current_scenario.as_ref().map(|s| s.job_id.as_str()),
                        Some(id.as_str()),
                        "{case}"
                    );
                    assert!(
                        busy.allowed_operations.is_empty(),
                        "{case}: a busy item allows nothing"
                    );
                    fx.clock.advance(chrono::Duration::hours(3));
                    let status = fx.sim.operation(&id).await.expect("the operation");
                    assert_eq!(status.state, OperationState::Succeeded, "{case}");
                    let after = fx.item(VM).await;
                    assert_eq!(
                        (
                            after.protection_state,
                            after.test_failover_state,
                            after.active_location
                        ),
                        (protection, test, location),
                        "{case}"
                    );
                    assert_eq!(after.current_scenario, None, "{case}");
                }
                (
                    Expect::Busy,
                    Err(FabricError::Busy {
                        vm, operation_id, ..
                    }),
                ) => {
                    assert!(!listed, "{case}");
                    assert_eq!(vm, VM);
                    assert_eq!(
                        Some(operation_id),
                        before.current_scenario.map(|s| s.job_id),
                        "{case}"
                    );
                    assert_eq!(fx.dump(), dump, "{case}: a refusal changed the store");
                }
                (
                    Expect::NotAllowed,
                    Err(FabricError::NotAllowed {
                        state: s, allowed, ..
                    }),
                ) => {
                    assert!(!listed, "{case}");
                    assert_eq!(s, before.protection_state, "{case}");
                    assert_eq!(allowed, before.allowed_operations, "{case}");
                    assert_eq!(fx.dump(), dump, "{case}: a refusal changed the store");
                }
                (expect, result) => panic!("{case}: expected {expect:?}, got {result:?}"),
            }
        }
    }
}
