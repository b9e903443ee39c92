//! What a runbook reads to recover and to aim (its plan's objectives), and
//! drbook-sdk's recovery helpers against the simulator's faults: a start
//! retried past transient refusals, a permanent refusal tried once while
//! the other VMs go on, and a wait that times out on a stalled operation.
//! The fabric's audit trail says what was attempted.

use drbook_core::fabric::{Location, OperationKind, ProtectionState};
use drbook_core::job::JobStatus;
use drbook_core::journal::Stream;
use drbook_core::plan::Objective;
use drbook_fabric_sim::{Fault, HistoryEntry, Outcome};
use drbook_tests::guests;

use crate::support::{assert_completed, lines, Demo, Job};

#[test]
pub(crate) fn the_runbook_reads_its_plans_objectives_per_plan_and_per_group() {
    let mut demo = Demo::new();
    demo.plan.rto = Some(Objective::from_secs(3600));
    demo.plan.rpo = Some(Objective::from_secs(900));
    let web = demo.plan.groups.len() - 1;
    demo.plan.groups[web].rto = Some(Objective::from_secs(1800));
    let web_name = demo.plan.groups[web].name.clone();
    let outcome = demo.run(Job::new(guests::PROBE).params(&[("show", "objectives")]));
    assert_completed(&outcome);
    let output = outcome.output.as_deref().unwrap();
    let mut expected = vec!["plan rto=3600 rpo=900".to_string()];
    for (index, group) in demo.plan.groups.iter().enumerate() {
        let rto = if index == web { 1800 } else { 3600 };
        expected.push(format!("{} rto={rto} rpo=900", group.name));
    }
    assert_eq!(output, expected.join("; "), "web group `{web_name}`");

    // A plan without objectives: none, for the plan and every group.
    let plain = Demo::new();
    let outcome = plain.run(Job::new(guests::PROBE).params(&[("show", "objectives")]));
    assert_completed(&outcome);
    let output = outcome.output.as_deref().unwrap();
    assert!(output.starts_with("plan rto=- rpo=-; "), "{output}");
    assert!(!output.contains(char::is_numeric), "{output}");
}

/// The audit trail of `vm`, in order.
fn trail(demo: &Demo, vm: &str) -> Vec<HistoryEntry> {
    demo.sim
        .history()
        .expect("the history")
        .into_iter()
        .filter(|h| h.vm.eq_ignore_ascii_case(vm))
        .collect()
}

/// The journal position in an initiator (`job <id> call <n>`).
fn call(entry: &HistoryEntry) -> u64 {
    entry
        .initiator
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an initiator of a job's call: {}", entry.initiator))
}

#[test]
pub(crate) fn sdk_retry_a_transient_fault_on_the_first_two_attempts_then_the_third_succeeds() {
    let demo = Demo::new();
    let web = demo.group("web");
    demo.fault(Fault::RefuseNext {
        vm: web[0].clone(),
        times: 2,
        permanent: false,
    });
    let outcome =
        demo.run(Job::new(guests::RESILIENT).params(&[("attempts", "3"), ("backoff", "30")]));
    assert_completed(&outcome);

    // Two refused attempts, then one operation, in the runbook's order.
    let trail = trail(&demo, &web[0]);
    let outcomes: Vec<_> = trail.iter().map(|h| (h.operation, h.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (OperationKind::PlannedFailover, Outcome::Refused),
            (OperationKind::PlannedFailover, Outcome::Refused),
            (OperationKind::PlannedFailover, Outcome::Succeeded),
        ]
    );
    assert!(
        trail.windows(2).all(|w| call(&w[0]) < call(&w[1])),
        "attempts in journal order: {trail:?}"
    );
    assert!(
        trail[0].rule.is_none(),
        "the fabric's refusal, not the scope's"
    );
    assert_eq!(
        demo.item(&web[0]).protection_state,
        ProtectionState::FailedOverCommitPending
    );
    let retries: Vec<&str> = lines(&outcome, Stream::Warning)
        .into_iter()
        .filter(|l| l.contains("of 3 refused"))
        .collect();
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(retries[0].starts_with("attempt 1 of 3") && retries[0].contains("in 30s"));
    assert!(retries[1].starts_with("attempt 2 of 3") && retries[1].contains("in 60s"));
    for item in demo.items() {
        assert_eq!(demo.count(&item.name, OperationKind::PlannedFailover), 1);
    }
}

#[test]
pub(crate) fn sdk_retry_a_permanent_refusal_is_tried_once_and_the_others_go_on() {
    let demo = Demo::new();
    let web = demo.group("web");
    demo.fault(Fault::RefuseNext {
        vm: web[1].clone(),
        times: 1,
        permanent: true,
    });
    let outcome = demo
        .run(Job::new(guests::RESILIENT).params(&[("attempts", "3"), ("on-error", "continue")]));
    assert_eq!(outcome.status, JobStatus::Failed, "{:?}", outcome.reason);

    let trail = trail(&demo, &web[1]);
    let outcomes: Vec<_> = trail.iter().map(|h| h.outcome).collect();
    assert_eq!(outcomes, [Outcome::Refused], "tried once: {trail:?}");
    assert_eq!(demo.count(&web[1], OperationKind::PlannedFailover), 0);
    assert_eq!(demo.item(&web[1]).active_location, Location::Primary);

    // Every other VM, in its group and in the groups after it, failed over.
    for item in demo.items().iter().filter(|i| i.name != web[1]) {
        assert_eq!(
            item.protection_state,
            ProtectionState::FailedOverCommitPending,
            "{}",
            item.name
        );
    }
    // The job says which VM failed and why, and what completed.
    let failure = outcome.failure.as_ref().unwrap();
    assert!(
        failure
            .reason
            .contains(&format!("{}: cannot start planned failover", web[1]))
            && failure.reason.contains("InjectedFault")
            && failure.reason.contains("1 VM(s) failed"),
        "{}",
        failure.reason
    );
    let groups: Vec<String> = demo.plan.groups.iter().map(|g| g.name.clone()).collect();
    let clean: Vec<String> = groups.into_iter().filter(|g| g != "web").collect();
    assert_eq!(failure.completed, clean);
    assert!(
        !lines(&outcome, Stream::Warning)
            .iter()
            .any(|l| l.contains("trying again")),
        "a permanent refusal is not retried"
    );
}

#[test]
pub(crate) fn sdk_wait_timeout_reports_a_stalled_vm_and_the_plan_goes_on() {
    let demo = Demo::new();
    let databases = demo.group("databases");
    demo.fault(Fault::Stall {
        vm: databases[0].clone(),
    });
    let outcome = demo
        .run(Job::new(guests::RESILIENT).params(&[("timeout", "600"), ("on-error", "continue")]));
    assert_eq!(outcome.status, JobStatus::Failed, "{:?}", outcome.reason);
    let failure = outcome.failure.as_ref().unwrap();
    assert!(
        failure
            .reason
            .contains(&format!("{}: timed out after 600s", databases[0])),
        "{}",
        failure.reason
    );
    // Still in progress in the fabric: a timeout gives up waiting, it
    // cancels nothing.
    let trail = trail(&demo, &databases[0]);
    let outcomes: Vec<_> = trail.iter().map(|h| h.outcome).collect();
    assert_eq!(outcomes, [Outcome::InProgress]);
    assert_eq!(
        demo.item(&databases[0]).protection_state,
        ProtectionState::FailoverInProgress
    );
    for item in demo.items().iter().filter(|i| i.name != databases[0]) {
        assert_eq!(
            item.protection_state,
            ProtectionState::FailedOverCommitPending,
            "{}",
            item.name
        );
    }
}
