//! A test failover (a drill) brings up an isolated copy and nothing else:
//! production keeps running and replicating, and cleanup removes the copy.

use super::{cleanup, test_failover, Fixture};
use drbook_core::fabric::{
    AllowedOperation, Direction, Fabric, Location, OperationKind, ProtectionState,
    TestFailoverState,
};

#[tokio::test]
async fn test_failover_and_cleanup_leave_production_untouched() {
    let fx = Fixture::timed();
    let vm = "sql-01";
    let before = fx.item(vm).await;

    let id = fx
        .start(vm, &test_failover(Direction::PrimaryToRecovery))
        .await
        .expect("a drill starts");
    let running = fx.item(vm).await;
    assert_eq!(running.test_failover_state, TestFailoverState::InProgress);
    assert_eq!(
        running.current_scenario.as_ref().map(|s| s.scenario_name),
        Some(OperationKind::TestFailover)
    );
    assert_eq!(
        running.current_scenario.as_ref().map(|s| s.job_id.clone()),
        Some(id)
    );

    fx.clock.advance(chrono::Duration::hours(1));
    let drilled = fx.item(vm).await;
    assert_eq!(
        drilled.test_failover_state,
        TestFailoverState::WaitingForCompletion
    );
    assert_eq!(
        drilled.allowed_operations,
        vec![AllowedOperation::TestFailoverCleanup]
    );
    let test_vm = drilled.test_vm.clone().expect("a test VM");
    assert_eq!(
        (test_vm.name.as_str(), test_vm.network.as_str()),
        ("sql-01-test", "test-vnet")
    );
    assert_eq!(test_vm.region, "westus");
    assert!(drilled.last_successful_test_failover_time.is_some());
    // Production is untouched and keeps replicating: new points keep coming.
    assert_eq!(drilled.active_location, Location::Primary);
    assert_eq!(drilled.protection_state, ProtectionState::Protected);
    assert_eq!(drilled.replication_health, before.replication_health);
    assert_eq!(drilled.failover_recovery_point_id, None);
    assert!(
        drilled
            .recovery_points
            .last()
            .map(|p| p.recovery_point_time)
            > before.recovery_points.last().map(|p| p.recovery_point_time)
    );

    let id = fx.start(vm, &cleanup()).await.expect("cleanup starts");
    assert_eq!(
        fx.item(vm).await.test_failover_state,
        TestFailoverState::MarkedForDeletion
    );
    fx.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        fx.sim
            .operation(&id)
            .await
            .expect("cleanup")
            .percent_complete,
        100
    );
    let after = fx.item(vm).await;
    assert_eq!(after.test_failover_state, TestFailoverState::None);
    assert_eq!(after.test_vm, None);
    assert_eq!(after.allowed_operations, before.allowed_operations);
    assert_eq!(
        (after.active_location, after.protection_state),
        (before.active_location, before.protection_state)
    );
    assert!(after.rpo_seconds.is_some(), "replication went on");
}
