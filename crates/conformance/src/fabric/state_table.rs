//! The state table of §3: each idle state an item can reach through the port,
//! crossed with every operation. An operation is either allowed (listed in
//! `allowedOperations`, accepted by `start`, and it has its effect) or refused
//! as `NotAllowed`, naming the item's state and allowed operations, with the
//! item unchanged. Busy states are [`busy_items`](super::busy_items)'s.

use super::{kinds, request, Harness, Setup};
use drbook_core::fabric::{
    FabricError, Location, OperationKind, OperationRequest, ProtectionState, TestFailoverState,
};

#[derive(Debug, Clone, Copy)]
enum State {
    Protected,
    FailedOverCommitPending,
    FailoverCommitted,
    /// Protected again after a reprotect, on the recovery side.
    ProtectedReversed,
    /// A test failover done, waiting for its cleanup.
    TestWaiting,
}

const STATES: [State; 5] = [
    State::Protected,
    State::FailedOverCommitPending,
    State::FailoverCommitted,
    State::ProtectedReversed,
    State::TestWaiting,
];

/// Where an item ends: its protection state, test failover state and side.
type Effect = (ProtectionState, TestFailoverState, Location);

impl State {
    /// The operations that bring an item from home to this state.
    fn path(self) -> &'static [OperationKind] {
        use OperationKind::*;
        match self {
            State::Protected => &[],
            State::FailedOverCommitPending => &[PlannedFailover],
            State::FailoverCommitted => &[PlannedFailover, Commit],
            State::ProtectedReversed => &[PlannedFailover, Commit, Reprotect],
            State::TestWaiting => &[TestFailover],
        }
    }

    /// What `kind` does from this state, or `None` where ASR refuses it.
    fn effect(self, kind: OperationKind) -> Option<Effect> {
        use Location::{Primary, Recovery};
        use OperationKind as K;
        use ProtectionState as P;
        use TestFailoverState as T;
        match (self, kind) {
            (State::Protected, K::PlannedFailover | K::UnplannedFailover) => {
                Some((P::FailedOverCommitPending, T::None, Recovery))
            }
            (State::Protected, K::TestFailover) => {
                Some((P::Protected, T::WaitingForCompletion, Primary))
            }
            (State::FailedOverCommitPending, K::Commit) => {
                Some((P::FailoverCommitted, T::None, Recovery))
            }
            (State::FailedOverCommitPending, K::ChangeRecoveryPoint) => {
                Some((P::FailedOverCommitPending, T::None, Recovery))
            }
            (State::FailedOverCommitPending, K::CancelFailover) => {
                Some((P::Protected, T::None, Primary))
            }
            (State::FailoverCommitted, K::Reprotect) => Some((P::Protected, T::None, Recovery)),
            (State::ProtectedReversed, K::PlannedFailover | K::UnplannedFailover) => {
                Some((P::FailedOverCommitPending, T::None, Primary))
            }
            (State::ProtectedReversed, K::TestFailover) => {
                Some((P::Protected, T::WaitingForCompletion, Recovery))
            }
            (State::TestWaiting, K::TestFailoverCleanup) => Some((P::Protected, T::None, Primary)),
            _ => None,
        }
    }

    fn allowed(self) -> Vec<OperationKind> {
        OperationKind::ALL
            .into_iter()
            .filter(|kind| self.effect(*kind).is_some())
            .collect()
    }
}

/// Every idle state × every operation. Each state gets a fresh fabric with
/// one VM in that state per allowed operation: the refusals are tried on the
/// first, and each allowed operation then runs on a VM of its own.
pub async fn state_table(setup: &dyn Setup) {
    for state in STATES {
        let h = Harness::fresh(setup, "state_table").await;
        let allowed = state.allowed();
        let vms = &h.vms[..allowed.len()];
        for kind in state.path() {
            h.run_on(vms, *kind).await;
        }
        for vm in vms {
            assert_eq!(
                kinds(&h.item(vm).await),
                allowed,
                "state_table: {state:?}: allowedOperations of {vm}"
            );
        }
        refuse_the_rest(&h, state, &vms[0]).await;
        for (vm, kind) in vms.iter().zip(allowed) {
            take(&h, state, vm, kind).await;
        }
    }
}

/// Every operation `state` does not allow is refused on `vm`.
async fn refuse_the_rest(h: &Harness, state: State, vm: &str) {
    for kind in OperationKind::ALL {
        if state.effect(kind).is_some() {
            continue;
        }
        let case = format!("state_table: {state:?} × {kind:?} on {vm}");
        let item = h.item(vm).await;
        match h.refused(vm, &request(kind, &item)).await {
            FabricError::NotAllowed {
                vm: named,
                operation,
                state: protection_state,
                test_failover_state,
                allowed,
            } => {
                assert!(named.eq_ignore_ascii_case(vm), "{case}: names {named}");
                assert_eq!(operation, kind, "{case}");
                assert_eq!(
                    (protection_state, test_failover_state),
                    (item.protection_state, item.test_failover_state),
                    "{case}: the refusal names the item's state"
                );
                assert_eq!(
                    allowed, item.allowed_operations,
                    "{case}: the refusal names the allowed operations"
                );
            }
            other => panic!("{case}: expected NotAllowed, got {other:?}"),
        }
    }
}

/// `kind`, allowed in `state`, runs on `vm` and has its effect.
async fn take(h: &Harness, state: State, vm: &str, kind: OperationKind) {
    let case = format!("state_table: {state:?} × {kind:?} on {vm}");
    let request = request(kind, &h.item(vm).await);
    h.run(vm, &request).await;
    let after = h.item(vm).await;
    assert_eq!(
        Some((
            after.protection_state,
            after.test_failover_state,
            after.active_location
        )),
        state.effect(kind),
        "{case}"
    );
    assert_eq!(after.current_scenario, None, "{case}: still busy");
    if let OperationRequest::ChangeRecoveryPoint { recovery_point_id } = &request {
        assert_eq!(
            after.failover_recovery_point_id.as_ref(),
            Some(recovery_point_id),
            "{case}: the failover restores from the new point"
        );
    }
}
