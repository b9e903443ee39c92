//! Exactly-once re-attach: a caller that died between asking for an
//! operation and hearing its id finds it by its initiator instead of starting
//! it twice. `find_operation` gives the latest operation an initiator started
//! on a VM, and nothing for an initiator that started none there.

use super::{request, Harness, Setup};
use drbook_core::fabric::{OperationKind, OperationRequest, OperationStatus};

const SCENARIO: &str = "find_operation_reattaches";

pub async fn find_operation_reattaches(setup: &dyn Setup) {
    let h = Harness::fresh(setup, SCENARIO).await;
    let (vm, other_vm) = (&h.vms[0], &h.vms[1]);
    let initiator = h.initiator();
    assert_eq!(
        find(&h, vm, &initiator).await,
        None,
        "{SCENARIO}: an initiator that started nothing"
    );

    let failover = request(OperationKind::PlannedFailover, &h.item(vm).await);
    let id = start_as(&h, vm, &failover, &initiator).await;
    let found = find(&h, vm, &initiator).await;
    assert_eq!(
        found.as_ref().map(|s| (s.id.as_str(), &s.request)),
        Some((id.as_str(), &failover)),
        "{SCENARIO}: the operation {initiator} started on {vm}"
    );
    assert_eq!(
        find(&h, other_vm, &initiator).await,
        None,
        "{SCENARIO}: {initiator} started nothing on {other_vm}"
    );
    let ended = h.finish(vm, &failover, &id).await;
    assert_eq!(
        find(&h, vm, &initiator).await,
        Some(ended),
        "{SCENARIO}: re-attaching to a finished operation gives its outcome"
    );

    let commit = OperationRequest::Commit;
    let latest = start_as(&h, vm, &commit, &initiator).await;
    assert_eq!(
        find(&h, vm, &initiator).await.map(|s| s.id),
        Some(latest.clone()),
        "{SCENARIO}: the latest operation of {initiator} on {vm}"
    );
    h.finish(vm, &commit, &latest).await;
    assert_eq!(
        find(&h, vm, &h.initiator()).await,
        None,
        "{SCENARIO}: another initiator started nothing"
    );
}

async fn find(h: &Harness, vm: &str, initiator: &str) -> Option<OperationStatus> {
    h.fabric
        .find_operation(vm, initiator)
        .await
        .unwrap_or_else(|err| panic!("{SCENARIO}: find_operation({vm}, {initiator}): {err}"))
}

async fn start_as(h: &Harness, vm: &str, request: &OperationRequest, initiator: &str) -> String {
    h.fabric
        .start(vm, request, initiator)
        .await
        .unwrap_or_else(|err| panic!("{SCENARIO}: {request:?} on {vm}: {err}"))
}
