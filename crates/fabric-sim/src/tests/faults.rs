//! Each injected fault, and a region outage in which only an unplanned
//! failover away from the lost region works.

use super::{planned, test_failover, unplanned, Fixture};
use crate::Fault;
use drbook_core::fabric::{
    AllowedOperation, Direction, Fabric, FabricError, Health, Location, OperationRequest,
    OperationState, ProtectionState,
};

#[tokio::test]
async fn fail_next_fails_one_operation_and_allows_a_retry() {
    let fx = Fixture::instant();
    fx.sim
        .set_fault(Fault::FailNext {
            vm: "SQL-01".to_string(),
        })
        .expect("fault");
    let failed = fx
        .run("sql-01", &planned(Direction::PrimaryToRecovery))
        .await;
    assert_eq!(failed.state, OperationState::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("fail-next")),
        "{failed:?}"
    );

    let item = fx.item("sql-01").await;
    assert_eq!(
        (item.protection_state, item.active_location),
        (ProtectionState::FailoverFailed, Location::Primary)
    );
    assert_eq!(item.failover_health, Health::Warning);
    assert_eq!(item.health_errors.len(), 1);
    assert!(
        item.allows(AllowedOperation::PlannedFailover),
        "a retry is allowed"
    );
    assert!(
        fx.sim.faults().expect("faults").fail_next.is_empty(),
        "the fault is used up"
    );

    fx.succeed("sql-01", &planned(Direction::PrimaryToRecovery))
        .await;
    let item = fx.item("sql-01").await;
    assert_eq!(
        item.protection_state,
        ProtectionState::FailedOverCommitPending
    );
    assert!(item.health_errors.is_empty());
    assert_eq!(
        fx.item("sql-02").await.protection_state,
        ProtectionState::Protected,
        "other VMs unaffected"
    );
}

#[tokio::test]
async fn fail_percent_is_deterministic_by_operation_id() {
    let outcomes = || async {
        let fx = Fixture::instant();
        fx.sim.set_fault(Fault::FailPercent(50)).expect("fault");
        let mut failed = Vec::new();
        for item in fx.sim.list_items().await.expect("items") {
            let status = fx
                .run(&item.name, &test_failover(Direction::PrimaryToRecovery))
                .await;
            failed.push(status.state == OperationState::Failed);
        }
        failed
    };
    let first = outcomes().await;
    assert!(
        first.contains(&true) && first.contains(&false),
        "some fail, some succeed: {first:?}"
    );
    assert_eq!(
        outcomes().await,
        first,
        "the same operations fail on every run"
    );
    let fx = Fixture::instant();
    fx.sim.set_fault(Fault::FailPercent(100)).expect("fault");
    assert_eq!(
        fx.run("web-01", &test_failover(Direction::PrimaryToRecovery))
            .await
            .state,
        OperationState::Failed
    );
    fx.sim.set_fault(Fault::Clear).expect("clear");
    assert_eq!(
        fx.run("web-02", &test_failover(Direction::PrimaryToRecovery))
            .await
            .state,
        OperationState::Succeeded
    );
}

#[tokio::test]
async fn degraded_replication_refuses_planned_failover_only() {
    let fx = Fixture::instant();
    fx.sim
        .set_fault(Fault::Degrade {
            vm: "app-01".to_string(),
            health: Health::Critical,
        })
        .expect("fault");
    let item = fx.item("app-01").await;
    assert_eq!(item.replication_health, Health::Critical);
    assert_eq!(
        item.allowed_operations,
        vec![
            AllowedOperation::UnplannedFailover,
            AllowedOperation::TestFailover
        ]
    );
    let refused = fx
        .start("app-01", &planned(Direction::PrimaryToRecovery))
        .await;
    assert!(
        matches!(refused, Err(FabricError::NotAllowed { .. })),
        "{refused:?}"
    );
    fx.succeed("app-01", &unplanned(Direction::PrimaryToRecovery))
        .await;
    assert_eq!(fx.item("app-02").await.replication_health, Health::Normal);
}

#[tokio::test]
async fn in_a_region_outage_only_unplanned_failover_works() {
    let fx = Fixture::instant();
    // One VM is failed over and committed before the outage, to try a reprotect.
    fx.succeed("web-06", &planned(Direction::PrimaryToRecovery))
        .await;
    fx.succeed("web-06", &OperationRequest::Commit).await;
    fx.sim
        .set_fault(Fault::RegionDown("EastUS".to_string()))
        .expect("fault");

    let item = fx.item("web-01").await;
    assert_eq!(item.replication_health, Health::Critical);
    assert!(!item.allows(AllowedOperation::PlannedFailover));
    let planned_refused = fx
        .start("web-01", &planned(Direction::PrimaryToRecovery))
        .await;
    assert!(
        matches!(&planned_refused, Err(FabricError::RegionUnavailable { region, .. }) if region == "eastus"),
        "{planned_refused:?}"
    );
    let reprotect_refused = fx.start("web-06", &OperationRequest::Reprotect).await;
    assert!(
        matches!(
            reprotect_refused,
            Err(FabricError::RegionUnavailable { .. })
        ),
        "{reprotect_refused:?}"
    );

    fx.succeed("web-01", &unplanned(Direction::PrimaryToRecovery))
        .await;
    fx.succeed("web-01", &OperationRequest::Commit).await;
    assert_eq!(fx.item("web-01").await.active_location, Location::Recovery);

    fx.sim
        .set_fault(Fault::RegionUp("eastus".to_string()))
        .expect("fault");
    fx.succeed("web-06", &OperationRequest::Reprotect).await;
    assert_eq!(fx.item("web-02").await.replication_health, Health::Normal);
}

#[tokio::test]
async fn faults_persist_and_name_known_vms_and_regions() {
    let fx = Fixture::instant();
    fx.sim
        .set_fault(Fault::RegionDown("westus".to_string()))
        .expect("fault");
    assert!(fx
        .reopen()
        .faults()
        .expect("faults")
        .is_region_down("westus"));
    let unknown_vm = fx.sim.set_fault(Fault::FailNext {
        vm: "nope".to_string(),
    });
    assert!(
        matches!(unknown_vm, Err(FabricError::ItemNotFound { .. })),
        "{unknown_vm:?}"
    );
    let unknown_region = fx.sim.set_fault(Fault::RegionDown("mars".to_string()));
    assert!(
        matches!(unknown_region, Err(FabricError::InvalidRequest { .. })),
        "{unknown_region:?}"
    );
}
