//! The full cycle on every demo VM: failover → commit → reprotect → failback
//! (a failover RecoveryToPrimary) → commit → reprotect.

use super::{planned, unplanned, Fixture};
use drbook_core::fabric::{
    Direction, Fabric, Health, Location, OperationKind, OperationRequest, ProtectionState,
};

#[tokio::test]
async fn failover_and_failback_on_every_demo_vm() {
    let fx = Fixture::instant();
    let items = fx.sim.list_items().await.expect("items");
    assert_eq!(items.len(), 12);
    for item in items {
        let vm = item.name.as_str();
        fx.succeed(vm, &planned(Direction::PrimaryToRecovery)).await;
        let failed_over = fx.item(vm).await;
        assert_eq!(failed_over.active_location, Location::Recovery);
        assert_eq!(
            failed_over.protection_state,
            ProtectionState::FailedOverCommitPending
        );
        assert!(failed_over.last_successful_failover_time.is_some());
        let point = failed_over
            .failover_recovery_point_id
            .clone()
            .expect("the point it restored from");
        assert!(failed_over.recovery_points.iter().any(|p| p.id == point));

        fx.succeed(vm, &OperationRequest::Commit).await;
        let committed = fx.item(vm).await;
        assert_eq!(
            committed.protection_state,
            ProtectionState::FailoverCommitted
        );
        assert!(
            committed.recovery_points.is_empty(),
            "commit deletes the recovery points"
        );
        assert_eq!(
            (committed.rpo_seconds, committed.replication_health),
            (None, Health::None)
        );

        fx.succeed(vm, &OperationRequest::Reprotect).await;
        let reprotected = fx.item(vm).await;
        assert_eq!(reprotected.protection_state, ProtectionState::Protected);
        assert_eq!(reprotected.active_location, Location::Recovery);
        assert!(
            !reprotected.recovery_points.is_empty(),
            "replication runs again, the other way"
        );
        let refused = fx.start(vm, &planned(Direction::PrimaryToRecovery)).await;
        assert!(
            refused.is_err(),
            "after reprotect only a failback is possible: {refused:?}"
        );

        fx.succeed(vm, &unplanned(Direction::RecoveryToPrimary))
            .await;
        fx.succeed(vm, &OperationRequest::Commit).await;
        fx.succeed(vm, &OperationRequest::Reprotect).await;

        let home = fx.item(vm).await;
        assert_eq!(home.active_location, Location::Primary, "{vm}");
        assert_eq!(home.protection_state, ProtectionState::Protected, "{vm}");
        assert_eq!(home.replication_health, Health::Normal, "{vm}");
        assert!(home.health_errors.is_empty(), "{vm}");
        assert_eq!(home.rpo_seconds, Some(0), "{vm}");
        for kind in [
            OperationKind::PlannedFailover,
            OperationKind::UnplannedFailover,
            OperationKind::Reprotect,
        ] {
            let expected = if kind == OperationKind::Reprotect {
                2
            } else {
                1
            };
            assert_eq!(
                fx.sim.operation_count(vm, kind).expect("a count"),
                expected,
                "{vm} {kind:?}"
            );
        }
    }
}
