//! The runbook's tests: each runs one job of it on drbook's simulator, at
//! instant speed, on the estate the test writes (drbook-test): the VMs and
//! groups of a plan, the faults to inject, the answers to its approvals.
//! Run them with `cargo test`; they build the runbook first (`drbook
//! runbook build`).

use drbook_test::Scenario;

/// A three-tier app of 12 VMs: databases, then app servers, then web
/// servers, as the plan fails them over.
fn three_tiers() -> Scenario {
    Scenario::new()
        .group("databases", ["sql-01", "sql-02"])
        .group("app", ["app-01", "app-02", "app-03", "app-04"])
        .group(
            "web",
            ["web-01", "web-02", "web-03", "web-04", "web-05", "web-06"],
        )
}

#[test]
fn every_vm_fails_over_once() {
    let outcome = three_tiers().run();
    outcome.assert_completed();
    assert_eq!(outcome.vms().len(), 12);
    for vm in outcome.vms() {
        assert_eq!(vm.active_location(), "Recovery", "{}", vm.name());
        assert_eq!(outcome.operations_on(vm.name()), ["PlannedFailover"]);
    }
    eprintln!(
        "the 12-VM failover ran in {} ms",
        outcome.elapsed().as_millis()
    );
}

#[test]
fn a_failed_vm_stops_the_plan_before_the_next_group() {
    let outcome = three_tiers().fail_next("app-02").run();
    assert_eq!(outcome.status(), "Failed");
    let reason = outcome.result().unwrap_err();
    assert!(reason.contains("app-02"), "{reason}");
    assert_eq!(outcome.vm("sql-01").active_location(), "Recovery");
    assert_eq!(outcome.vm("app-01").active_location(), "Recovery");
    assert_eq!(outcome.vm("app-02").active_location(), "Primary");
    assert!(outcome.operations_on("web-01").is_empty());
}

#[test]
fn the_web_tier_waits_for_its_manual_step() {
    let approved = three_tiers()
        .manual_step("web", "Point DNS at westus, then approve")
        .approve("Point DNS", "DNS switched")
        .run();
    approved.assert_completed();
    assert_eq!(approved.manual_steps(), ["Point DNS at westus, then approve"]);
    assert_eq!(approved.vm("web-06").active_location(), "Recovery");

    let rejected = three_tiers()
        .manual_step("web", "Point DNS at westus, then approve")
        .reject("Point DNS", "DNS is not ready")
        .run();
    assert_eq!(rejected.status(), "Failed");
    assert!(rejected.result().unwrap_err().contains("DNS is not ready"));
    assert_eq!(rejected.vm("sql-01").active_location(), "Recovery");
    assert_eq!(rejected.vm("web-01").active_location(), "Primary");
}

#[test]
fn with_the_primary_region_down_an_unplanned_failover_still_recovers() {
    let outcome = three_tiers()
        .region_down("eastus")
        .failover_type("unplanned")
        .run();
    outcome.assert_completed();
    assert_eq!(outcome.vm("web-06").active_location(), "Recovery");
}
