//! Each example runbook end to end on the simulator, asserting every VM's
//! final state, and the full DR cycle driven by runbooks only.

use drbook_core::fabric::{
    Direction, Health, Location, OperationKind, ProtectionState, TestFailoverState,
};
use drbook_core::job::JobStatus;
use drbook_core::journal::Stream;
use drbook_core::plan::FailoverType;
use drbook_fabric_sim::Fault;
use drbook_tests::guests;

use crate::support::{assert_completed, lines, Demo, Job};

#[test]
pub(crate) fn failover_plan_fails_every_vm_over_once_group_by_group() {
    let demo = Demo::new();
    let outcome = demo.run(Job::new(guests::FAILOVER_PLAN));
    assert_completed(&outcome);
    for item in demo.items() {
        assert_eq!(item.active_location, Location::Recovery, "{}", item.name);
        assert_eq!(
            item.protection_state,
            ProtectionState::FailedOverCommitPending,
            "{}",
            item.name
        );
        assert_eq!(
            demo.count(&item.name, OperationKind::PlannedFailover),
            1,
            "{}",
            item.name
        );
    }
    // Groups in order: every database failed over before any app server started.
    let history = demo.sim.history().expect("the audit trail");
    let order: Vec<&str> = history.iter().map(|op| op.vm.as_str()).collect();
    let last_db = order.iter().rposition(|vm| vm.starts_with("sql")).unwrap();
    let first_app = order.iter().position(|vm| vm.starts_with("app")).unwrap();
    assert!(
        last_db < first_app,
        "operations out of group order: {order:?}"
    );
    assert!(
        outcome
            .output
            .as_deref()
            .unwrap()
            .contains("3 of 3 groups completed"),
        "{:?}",
        outcome.output
    );
    assert!(lines(&outcome, Stream::Output)
        .iter()
        .any(|l| l.contains("post step `check-databases`")));
}

#[test]
fn failover_plan_unplanned_uses_the_recovery_point_asked_for() {
    let demo = Demo::new();
    let outcome = demo.run(
        Job::new(guests::FAILOVER_PLAN)
            .kind(FailoverType::Unplanned)
            .params(&[
                ("recovery-point", "latest-processed"),
                ("shutdown-source", "false"),
            ]),
    );
    assert_completed(&outcome);
    for item in demo.items() {
        assert_eq!(
            item.protection_state,
            ProtectionState::FailedOverCommitPending,
            "{}",
            item.name
        );
        assert_eq!(demo.count(&item.name, OperationKind::UnplannedFailover), 1);
        assert!(
            item.failover_recovery_point_id.is_some(),
            "{} restored from no point",
            item.name
        );
    }
}

#[test]
fn failover_plan_stops_at_a_failed_group_and_reports_what_completed() {
    let demo = Demo::new();
    let app = demo.group("app");
    demo.fault(Fault::FailNext { vm: app[1].clone() });
    let outcome = demo.run(Job::new(guests::FAILOVER_PLAN));
    assert_eq!(outcome.status, JobStatus::Failed);
    let failure = outcome.failure.as_ref().unwrap();
    assert_eq!(failure.completed, vec!["databases".to_string()]);
    assert!(failure.reason.contains("group `app`"), "{}", failure.reason);
    assert!(
        failure.reason.contains(&app[1]),
        "the failed VM is named: {}",
        failure.reason
    );
    // The group's other VMs ran in parallel and succeeded; the next group never started.
    assert_eq!(
        demo.item(&app[0]).protection_state,
        ProtectionState::FailedOverCommitPending
    );
    assert_eq!(
        demo.item(&app[1]).protection_state,
        ProtectionState::FailoverFailed
    );
    for vm in demo.group("web") {
        assert_eq!(
            demo.item(&vm).protection_state,
            ProtectionState::Protected,
            "{vm}"
        );
        assert_eq!(demo.count(&vm, OperationKind::PlannedFailover), 0, "{vm}");
    }
}

#[test]
pub(crate) fn the_full_cycle_runs_through_runbooks_only() {
    let demo = Demo::new();
    assert_completed(&demo.run(Job::new(guests::FAILOVER_PLAN)));
    assert_completed(&demo.run(Job::new(guests::COMMIT_PLAN)));
    for item in demo.items() {
        assert_eq!(
            item.protection_state,
            ProtectionState::FailoverCommitted,
            "{}",
            item.name
        );
        assert!(
            item.recovery_points.is_empty(),
            "commit deletes the recovery points of {}",
            item.name
        );
    }

    let reprotect = demo.run(Job::new(guests::REPROTECT_PLAN));
    assert_completed(&reprotect);
    let progress = lines(&reprotect, Stream::Progress);
    assert!(
        progress.last().unwrap().starts_with("100%"),
        "progress ends at 100 %: {progress:?}"
    );
    for item in demo.items() {
        assert_eq!(
            item.protection_state,
            ProtectionState::Protected,
            "{}",
            item.name
        );
        assert_eq!(item.active_location, Location::Recovery, "{}", item.name);
    }

    let failback =
        demo.run(Job::new(guests::FAILBACK_PLAN).direction(Direction::RecoveryToPrimary));
    assert_completed(&failback);
    for item in demo.items() {
        assert_eq!(
            item.active_location,
            Location::Primary,
            "{} failed back",
            item.name
        );
        assert_eq!(
            item.protection_state,
            ProtectionState::FailedOverCommitPending,
            "{}",
            item.name
        );
    }
    assert_completed(&demo.run(Job::new(guests::COMMIT_PLAN)));
    assert_completed(&demo.run(Job::new(guests::REPROTECT_PLAN)));
    for item in demo.items() {
        assert_eq!(item.active_location, Location::Primary, "{}", item.name);
        assert_eq!(
            item.protection_state,
            ProtectionState::Protected,
            "{}",
            item.name
        );
        assert_eq!(item.replication_health, Health::Normal, "{}", item.name);
        assert_eq!(
            demo.count(&item.name, OperationKind::PlannedFailover),
            2,
            "{}",
            item.name
        );
        assert_eq!(
            demo.count(&item.name, OperationKind::Reprotect),
            2,
            "{}",
            item.name
        );
    }
}

#[test]
pub(crate) fn commit_plan_refuses_vms_that_were_not_failed_over() {
    let demo = Demo::new();
    let outcome = demo.run(Job::new(guests::COMMIT_PLAN));
    assert_eq!(outcome.status, JobStatus::Failed);
    assert!(outcome
        .failure
        .unwrap()
        .reason
        .contains("fail it over first"));
    assert!(demo
        .items()
        .iter()
        .all(|i| i.protection_state == ProtectionState::Protected));
}

#[test]
pub(crate) fn dr_drill_tests_and_always_cleans_up_leaving_production_untouched() {
    let demo = Demo::new();
    let before = demo.items();
    let outcome = demo.run(
        Job::new(guests::DR_DRILL)
            .kind(FailoverType::Test)
            .params(&[("test-network", "vnet-drill")]),
    );
    assert_completed(&outcome);
    assert!(
        outcome
            .output
            .as_deref()
            .unwrap()
            .contains("cleaned up 12 test VMs"),
        "{:?}",
        outcome.output
    );
    let after = demo.items();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.active_location, b.active_location, "{}", a.name);
        assert_eq!(a.protection_state, ProtectionState::Protected, "{}", a.name);
        assert_eq!(a.test_failover_state, TestFailoverState::None, "{}", a.name);
        assert_eq!(a.replication_health, b.replication_health, "{}", a.name);
        assert!(a.test_vm.is_none(), "{}", a.name);
        assert_eq!(demo.count(&a.name, OperationKind::TestFailover), 1);
        assert_eq!(demo.count(&a.name, OperationKind::TestFailoverCleanup), 1);
    }
}

#[test]
fn dr_drill_cleans_up_when_validation_fails() {
    let demo = Demo::new();
    let outcome = demo.run(
        Job::new(guests::DR_DRILL)
            .kind(FailoverType::Test)
            .params(&[("validation", "fail")]),
    );
    assert_eq!(outcome.status, JobStatus::Failed);
    let reason = &outcome.failure.as_ref().unwrap().reason;
    assert!(
        reason.contains("validation failed") && reason.contains("cleaned up 12 test VMs"),
        "{reason}"
    );
    assert!(demo
        .items()
        .iter()
        .all(|i| i.test_failover_state == TestFailoverState::None));
}

#[test]
fn dr_drill_cleans_up_when_a_test_failover_fails() {
    let demo = Demo::new();
    let web = demo.group("web");
    demo.fault(Fault::FailNext { vm: web[2].clone() });
    let outcome = demo.run(Job::new(guests::DR_DRILL).kind(FailoverType::Test));
    assert_eq!(outcome.status, JobStatus::Failed);
    assert!(outcome.failure.as_ref().unwrap().reason.contains(&web[2]));
    for item in demo.items() {
        assert_ne!(
            item.test_failover_state,
            TestFailoverState::WaitingForCompletion,
            "{} left running",
            item.name
        );
        assert!(item.test_vm.is_none(), "{} keeps a test VM", item.name);
        assert_eq!(item.active_location, Location::Primary, "{}", item.name);
    }
}
