//! The runbook's tests: each runs one job of it on drbook's simulator, at
//! instant speed, on the estate the test writes (drbook-test). Run them
//! with `cargo test`; they build the runbook first (`drbook runbook build`).

use drbook_test::Scenario;

#[test]
fn it_reports_the_plan_and_starts_nothing() {
    let outcome = Scenario::new()
        .group("databases", ["sql-01"])
        .group("web", ["web-01", "web-02"])
        .run();
    outcome.assert_completed();
    assert_eq!(outcome.result(), Ok("plan `test-plan` has 3 VMs"));
    assert_eq!(
        outcome.stream("Output"),
        ["group `databases`: 1 VMs", "group `web`: 2 VMs"]
    );
    assert!(outcome.history().is_empty(), "{:?}", outcome.history());
    assert_eq!(outcome.vm("web-01").active_location(), "Primary");
}
