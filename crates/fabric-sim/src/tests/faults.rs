//! Each injected fault, and a region outage in which only an unplanned
//! failover away from the lost region works.

use super::{planned, test_failover, unplanned, Fixture};
use crate::{Fault, Outcome};
use chrono::Duration;
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

#[tokio::test]
async fn refuse_next_refuses_starts_as_transient_in_the_audit_trail_then_lets_one_start() {
    let fx = Fixture::instant();
    fx.sim
        .set_fault(Fault::RefuseNext {
            vm: "WEB-01".to_string(),
            times: 2,
            permanent: false,
        })
        .expect("fault");
    let request = planned(Direction::PrimaryToRecovery);
    for attempt in 1..=2 {
        let refused = fx
            .sim
            .start("web-01", &request, &format!("job j call {attempt}"))
            .await;
        assert!(
            matches!(&refused, Err(FabricError::Transient { message }) if message.contains("refuse-next")),
            "attempt {attempt}: {refused:?}"
        );
        assert_eq!(
            fx.item("web-01").await.protection_state,
            ProtectionState::Protected,
            "a refused start starts nothing"
        );
        // The audit trail orders by time: a retry comes after a backoff.
        fx.clock.advance(Duration::seconds(30));
    }
    assert!(fx.sim.faults().expect("faults").refuse_next.is_empty());
    let id = fx
        .sim
        .start("web-01", &request, "job j call 3")
        .await
        .expect("the third start runs");
    // For good: Site Recovery's own refusal, the runbook sees `not-allowed`.
    fx.sim
        .set_fault(Fault::RefuseNext {
            vm: "web-02".to_string(),
            times: 1,
            permanent: true,
        })
        .expect("fault");
    fx.clock.advance(Duration::seconds(30));
    let refused = fx.sim.start("web-02", &request, "job j call 4").await;
    assert!(
        matches!(&refused, Err(FabricError::Refused { code, .. }) if code == "InjectedFault"),
        "{refused:?}"
    );
    fx.clock.advance(Duration::seconds(30));
    fx.sim
        .start("web-02", &request, "job j call 5")
        .await
        .expect("one refusal only");
    let history = fx.sim.history().expect("history");
    let trail: Vec<_> = history
        .iter()
        .map(|h| (h.initiator.as_str(), h.outcome, h.rule))
        .collect();
    assert_eq!(
        trail,
        [
            ("job j call 1", Outcome::Refused, None),
            ("job j call 2", Outcome::Refused, None),
            ("job j call 3", Outcome::Succeeded, None),
            ("job j call 4", Outcome::Refused, None),
            ("job j call 5", Outcome::Succeeded, None),
        ]
    );
    assert_eq!(history[2].id, id);
    let none = fx.sim.set_fault(Fault::RefuseNext {
        vm: "web-01".to_string(),
        times: 0,
        permanent: false,
    });
    assert!(
        matches!(&none, Err(FabricError::InvalidRequest { message }) if message.contains("--times")),
        "{none:?}"
    );
}

#[tokio::test]
async fn a_stalled_operation_stays_in_progress_at_instant_speed_until_the_faults_are_cleared() {
    let fx = Fixture::instant();
    fx.sim
        .set_fault(Fault::Stall {
            vm: "web-02".to_string(),
        })
        .expect("fault");
    let request = planned(Direction::PrimaryToRecovery);
    let stalled = fx.start("web-02", &request).await.expect("starts");
    let other = fx.start("web-03", &request).await.expect("starts");
    fx.clock.advance(Duration::days(30));
    let status = fx.sim.operation(&stalled).await.expect("status");
    assert_eq!(status.state, OperationState::InProgress, "{status:?}");
    assert!(fx.sim.faults().expect("faults").stall_next.is_empty());
    assert_eq!(
        fx.sim.operation(&other).await.expect("status").state,
        OperationState::Succeeded,
        "only the VM's next operation stalls"
    );
    fx.sim.set_fault(Fault::Clear).expect("cleared");
    let status = fx.sim.operation(&stalled).await.expect("status");
    assert_eq!(status.state, OperationState::Succeeded, "{status:?}");
    assert_eq!(
        fx.item("web-02").await.protection_state,
        ProtectionState::FailedOverCommitPending
    );
}
