//! The runbook's tests: each runs one job of it on drbook's simulator, at
//! instant speed, on the estate the test writes (drbook-test): the VMs and
//! groups of a plan, the faults to inject, the answers to its approvals.
//! Run them with `cargo test`; they build the runbook first (`drbook
//! runbook build`).

use drbook_test::Scenario;

fn two_tiers() -> Scenario {
    Scenario::new()
        .group("databases", ["sql-01", "sql-02"])
        .group("web", ["web-01", "web-02", "web-03"])
        .failover_type("test")
}

#[test]
fn the_drill_tests_every_vm_and_cleans_up() {
    let outcome = two_tiers().run();
    outcome.assert_completed();
    for vm in outcome.vms() {
        assert_eq!(vm.active_location(), "Primary", "{}", vm.name());
        assert_eq!(vm.test_failover_state(), "None", "{}", vm.name());
        assert_eq!(
            outcome.operations_on(vm.name()),
            ["TestFailover", "TestFailoverCleanup"]
        );
    }
}

#[test]
fn a_failed_test_failover_is_cleaned_up_too() {
    let outcome = two_tiers().fail_next("sql-02").run();
    assert_eq!(outcome.status(), "Failed");
    assert!(outcome.result().unwrap_err().contains("sql-02"));
    assert_eq!(
        outcome.operations_on("sql-01"),
        ["TestFailover", "TestFailoverCleanup"]
    );
    assert!(outcome.operations_on("web-01").is_empty());
}

#[test]
fn the_drill_waits_for_its_manual_step() {
    let outcome = two_tiers()
        .manual_step("web", "Tell the app team the drill starts")
        .approve("drill starts", "told them")
        .run();
    outcome.assert_completed();
    assert_eq!(outcome.manual_steps(), ["Tell the app team the drill starts"]);
}

#[test]
fn a_real_failover_is_refused() {
    let outcome = two_tiers().failover_type("planned").run();
    assert_eq!(outcome.status(), "Failed");
    assert!(outcome.result().unwrap_err().contains("only runs test failovers"));
    assert!(outcome.history().is_empty());
}
