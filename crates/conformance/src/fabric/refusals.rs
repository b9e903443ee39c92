//! Requests the port refuses whatever the item's state, each with its own
//! error and without any change: unknown VMs, operations and recovery points,
//! failovers against the replication, and anything asked of a busy item.

use super::{
    away_from, kinds, request, settled, Harness, Outcome, Setup, HOME_KINDS, TEST_NETWORK,
};
use drbook_core::fabric::{
    FabricError, OperationKind, OperationRequest, OperationState, RecoveryPointChoice,
    SourceSiteOperations,
};

const UNKNOWN_VM: &str = "drbook-conformance-no-such-vm";
const UNKNOWN_OPERATION: &str = "drbook-conformance-no-such-operation";
const UNKNOWN_POINT: &str = "drbook-conformance-no-such-point";

/// Unknown names, wrong directions and unknown recovery points are refused;
/// the items they were tried on still work afterwards.
pub async fn refusals(setup: &dyn Setup) {
    let h = Harness::fresh(setup, "refusals").await;
    unknown_names(&h).await;
    h.assert_one_way(&h.vms[0]).await;
    unknown_recovery_points(&h).await;
    let vm = &h.vms[0];
    h.run(
        vm,
        &request(OperationKind::PlannedFailover, &h.item(vm).await),
    )
    .await;
}

/// `ItemNotFound` for a VM the fabric does not hold, `OperationNotFound` for
/// an id it never gave out, and nothing changes.
async fn unknown_names(h: &Harness) {
    assert!(
        !h.vms.iter().any(|vm| vm.eq_ignore_ascii_case(UNKNOWN_VM)),
        "setup: refusals: the estate holds a VM named {UNKNOWN_VM}"
    );
    let estate = || async {
        let items = h.fabric.list_items().await.expect("refusals: list_items");
        items.iter().map(settled).collect::<Vec<_>>()
    };
    let before = estate().await;
    let reads = [
        h.fabric.get_item(UNKNOWN_VM).await.map(|_| ()),
        h.start(UNKNOWN_VM, &OperationRequest::Commit)
            .await
            .map(|_| ()),
    ];
    for result in reads {
        match result {
            Err(FabricError::ItemNotFound { vm }) if vm == UNKNOWN_VM => {}
            other => panic!("refusals: {UNKNOWN_VM}: expected ItemNotFound, got {other:?}"),
        }
    }
    for result in [
        h.fabric.operation(UNKNOWN_OPERATION).await,
        h.wait(UNKNOWN_OPERATION).await,
    ] {
        match result {
            Err(FabricError::OperationNotFound { id }) if id == UNKNOWN_OPERATION => {}
            other => {
                panic!("refusals: {UNKNOWN_OPERATION}: expected OperationNotFound, got {other:?}")
            }
        }
    }
    assert_eq!(
        estate().await,
        before,
        "refusals: unknown names changed the estate"
    );
}

/// A failover or drill from a point the item does not have, and a change to
/// such a point after a failover, are refused as `RecoveryPointNotFound`.
async fn unknown_recovery_points(h: &Harness) {
    let (home, failed_over) = (&h.vms[0], &h.vms[1]);
    let direction = away_from(h.item(home).await.active_location);
    let recovery_point = RecoveryPointChoice::Id(UNKNOWN_POINT.to_string());
    let from_home = [
        OperationRequest::UnplannedFailover {
            direction,
            recovery_point: recovery_point.clone(),
            source_site_operations: SourceSiteOperations::NotRequired,
        },
        OperationRequest::TestFailover {
            direction,
            network: TEST_NETWORK.to_string(),
            recovery_point,
        },
    ];
    for request in &from_home {
        assert_no_point(h, home, request).await;
    }
    h.run(
        failed_over,
        &request(OperationKind::PlannedFailover, &h.item(failed_over).await),
    )
    .await;
    let change = OperationRequest::ChangeRecoveryPoint {
        recovery_point_id: UNKNOWN_POINT.to_string(),
    };
    assert_no_point(h, failed_over, &change).await;
}

async fn assert_no_point(h: &Harness, vm: &str, request: &OperationRequest) {
    match h.refused(vm, request).await {
        FabricError::RecoveryPointNotFound { vm: named, id }
            if named.eq_ignore_ascii_case(vm) && id == UNKNOWN_POINT => {}
        other => {
            panic!("refusals: {request:?} on {vm}: expected RecoveryPointNotFound, got {other:?}")
        }
    }
}

/// While an operation runs on an item, the item shows it as its scenario,
/// allows nothing, and refuses every operation as `Busy` with the running
/// operation's id, so that a caller can re-attach to it. Tried with each
/// operation a VM at home allows, each on a VM of its own, and left running.
///
/// Needs [`Setup::holds_operations`]: skipped (and says so) on a backend
/// whose operations end as they start.
pub async fn busy_items(setup: &dyn Setup) -> Outcome {
    if !setup.holds_operations() {
        eprintln!(
            "busy_items skipped: the backend's operations end as they start (Setup::holds_operations)"
        );
        return Outcome::Skipped;
    }
    let h = Harness::fresh(setup, "busy_items").await;
    for (vm, kind) in h.vms.iter().zip(HOME_KINDS) {
        let started = request(kind, &h.item(vm).await);
        let id = h
            .start(vm, &started)
            .await
            .unwrap_or_else(|err| panic!("busy_items: {started:?} on {vm}: {err}"));
        let case = format!("busy_items: {vm} running {kind:?} ({id})");
        let status = h
            .fabric
            .operation(&id)
            .await
            .unwrap_or_else(|err| panic!("{case}: {err}"));
        assert_eq!(
            (status.state, &status.request),
            (OperationState::InProgress, &started),
            "{case}"
        );
        let busy = h.item(vm).await;
        let scenario = busy
            .current_scenario
            .as_ref()
            .unwrap_or_else(|| panic!("{case}: the item shows no scenario"));
        assert_eq!(
            (scenario.scenario_name, scenario.job_id.as_str()),
            (kind, id.as_str()),
            "{case}"
        );
        assert_eq!(kinds(&busy), [], "{case}: a busy item allows nothing");
        for other in OperationKind::ALL {
            match h.refused(vm, &request(other, &busy)).await {
                FabricError::Busy {
                    vm: named,
                    scenario,
                    operation_id,
                } => {
                    assert!(named.eq_ignore_ascii_case(vm), "{case}: names {named}");
                    assert_eq!(
                        (scenario, operation_id.as_str()),
                        (kind, id.as_str()),
                        "{case}: {other:?} refused naming another operation"
                    );
                }
                refusal => panic!("{case}: {other:?}: expected Busy, got {refusal:?}"),
            }
        }
    }
    Outcome::Ran
}
