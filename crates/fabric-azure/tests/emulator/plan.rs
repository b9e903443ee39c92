//! A recovery plan as the example runbooks drive one, through one backend:
//! groups in order; in a group, every VM's operation started at once, then
//! every one waited on at once (the SDK's `run_group`: its starts, then
//! `wait_all`), then every VM read back (the runbooks' check after a group;
//! a runbook reads them one by one, which only a throttled test would
//! feel).
//! Shared with the backend's benchmark (`benches/azure.rs`), so that the
//! figures there are of the plan the tests run.

use drbook_core::fabric::{Fabric, OperationRequest, OperationState, ProtectedItem};

/// `vms` in `groups` groups of consecutive VMs (the last one smaller if
/// they do not divide evenly).
pub fn groups(vms: &[String], groups: usize) -> Vec<Vec<String>> {
    let per_group = vms.len().div_ceil(groups.max(1)).max(1);
    vms.chunks(per_group).map(<[String]>::to_vec).collect()
}

/// Runs `request` on every VM of `groups`, group after group; panics at the
/// first VM whose operation is refused or does not succeed. Returns every
/// VM's item as read after its group, in plan order.
pub async fn run(
    fabric: &dyn Fabric,
    groups: &[Vec<String>],
    request: &OperationRequest,
) -> Vec<ProtectedItem> {
    let mut items = Vec::new();
    for group in groups {
        let starts = group.iter().map(|vm| async move {
            let initiator = format!("plan {vm} {:?}", request.kind());
            fabric
                .start(vm, request, &initiator)
                .await
                .unwrap_or_else(|e| panic!("{vm}: {e}"))
        });
        let ids = futures::future::join_all(starts).await;
        let waits = group.iter().zip(&ids).map(|(vm, id)| async move {
            let status = fabric
                .wait(id, &mut |_| {})
                .await
                .unwrap_or_else(|e| panic!("{vm}: {e}"));
            assert_eq!(status.state, OperationState::Succeeded, "{vm}: {status:?}");
        });
        futures::future::join_all(waits).await;
        let reads = group.iter().map(|vm| async move {
            fabric
                .get_item(vm)
                .await
                .unwrap_or_else(|e| panic!("{vm} after its group: {e}"))
        });
        items.extend(futures::future::join_all(reads).await);
    }
    items
}
