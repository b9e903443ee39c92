//! A test failover (a drill) brings up an isolated copy in the network it
//! names and nothing else: production keeps running and replicating, other
//! VMs are untouched, and the cleanup removes the copy.

use super::{kinds, request, settled, Harness, Setup, TEST_NETWORK};
use drbook_core::fabric::{OperationKind, ProtectedItem, TestFailoverState};

pub async fn test_failover(setup: &dyn Setup) {
    let h = Harness::fresh(setup, "test_failover").await;
    let (vm, bystander) = (&h.vms[0], &h.vms[1]);
    let before = h.item(vm).await;
    let bystander_before = h.item(bystander).await;

    h.run(vm, &request(OperationKind::TestFailover, &before))
        .await;
    let drilled = h.item(vm).await;
    assert_eq!(
        drilled.test_failover_state,
        TestFailoverState::WaitingForCompletion,
        "test_failover: {vm}"
    );
    assert_eq!(
        kinds(&drilled),
        [OperationKind::TestFailoverCleanup],
        "test_failover: {vm}: only the cleanup may follow a drill"
    );
    let test_vm = drilled
        .test_vm
        .as_ref()
        .unwrap_or_else(|| panic!("test_failover: {vm}: no test VM"));
    assert_eq!(
        (test_vm.network.as_str(), test_vm.region.as_str()),
        (TEST_NETWORK, before.recovery_region.as_str()),
        "test_failover: {vm}: the test VM is in the named network, on the recovery side"
    );
    assert!(
        !test_vm.name.is_empty() && !test_vm.name.eq_ignore_ascii_case(vm),
        "test_failover: {vm}: the test VM is a copy with a name of its own: {test_vm:?}"
    );
    assert!(
        drilled.last_successful_test_failover_time.is_some(),
        "test_failover: {vm}"
    );
    assert_untouched(&drilled, &before, "during the drill");

    h.run(vm, &request(OperationKind::TestFailoverCleanup, &drilled))
        .await;
    let after = h.item(vm).await;
    assert_eq!(
        (after.test_failover_state, &after.test_vm),
        (TestFailoverState::None, &None),
        "test_failover: {vm}: the cleanup removes the test VM"
    );
    assert_eq!(kinds(&after), kinds(&before), "test_failover: {vm}");
    assert_untouched(&after, &before, "after the cleanup");

    assert_eq!(
        settled(&h.item(bystander).await),
        settled(&bystander_before),
        "test_failover: a drill of {vm} changed {bystander}"
    );
}

/// Production of `item` as it was `before`, and still replicating.
fn assert_untouched(item: &ProtectedItem, before: &ProtectedItem, when: &str) {
    assert_eq!(
        production(item),
        production(before),
        "test_failover: {} {when}: production changed",
        item.name
    );
    assert!(
        !item.recovery_points.is_empty() && item.rpo_seconds.is_some(),
        "test_failover: {} {when}: replication stopped",
        item.name
    );
}

/// `item` without what a drill is allowed to change: its own state, its test
/// VM and the operations it allows meanwhile. Everything else is production.
fn production(item: &ProtectedItem) -> ProtectedItem {
    ProtectedItem {
        test_failover_state: TestFailoverState::None,
        test_vm: None,
        last_successful_test_failover_time: None,
        allowed_operations: Vec::new(),
        ..settled(item)
    }
}
