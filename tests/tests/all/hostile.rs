//! Hostile runbooks: each attack is contained (stopped, trapped with a clear
//! reason, or finds nothing there), and the same host then runs a normal
//! runbook fine.

use std::time::Duration;

use drbook_core::fabric::ProtectionState;
use drbook_core::job::JobStatus;
use drbook_core::journal::Stream;
use drbook_runtime::{JobOutcome, Limits};
use drbook_tests::guests;

use crate::support::{assert_completed, Demo, Job};

fn attack(demo: &Demo, attack: &str, limits: Limits) -> JobOutcome {
    let params = [("attack", attack)];
    let outcome = demo.run(Job::new(guests::HOSTILE).params(&params).limits(limits));
    // Whatever the attack did, the host still runs a normal runbook fine.
    let probe = demo.run(Job::new(guests::PROBE).params(&[("echo", "still alive")]));
    assert_completed(&probe);
    assert_eq!(probe.output.as_deref(), Some("still alive"));
    outcome
}

fn failure_reason(outcome: &JobOutcome) -> &str {
    assert_eq!(
        outcome.status,
        JobStatus::Failed,
        "the attack should fail its job: {:?}",
        outcome.output
    );
    &outcome.failure.as_ref().unwrap().reason
}

#[test]
pub(crate) fn an_infinite_loop_is_stopped_at_its_deadline() {
    let demo = Demo::new();
    let limits = Limits {
        deadline: Duration::from_millis(300),
        ..Limits::default()
    };
    let outcome = attack(&demo, "loop", limits);
    assert_eq!(
        failure_reason(&outcome),
        "runbook ran past its 300 ms deadline"
    );
    assert!(
        outcome.failure.as_ref().unwrap().backtrace.is_some(),
        "a trap carries the guest backtrace"
    );
    assert!(
        demo.items()
            .iter()
            .all(|i| i.protection_state == ProtectionState::Protected),
        "fabric untouched"
    );
}

#[test]
fn allocating_past_the_memory_limit_traps_with_a_clear_message() {
    let demo = Demo::new();
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let reason = failure_reason(&attack(&demo, "alloc", limits)).to_string();
    assert!(
        reason.starts_with("runbook exceeded its 16 MiB memory limit"),
        "{reason}"
    );
}

#[test]
fn the_filesystem_is_not_there() {
    let demo = Demo::new();
    let outcome = attack(&demo, "fs", Limits::default());
    assert_completed(&outcome);
    let report = outcome.output.unwrap();
    assert_eq!(report.lines().count(), 4, "{report}");
    for line in report.lines() {
        assert!(
            line.contains(": denied"),
            "a file probe got through: {line}"
        );
    }
}

#[test]
fn the_network_is_not_there() {
    let demo = Demo::new();
    let outcome = attack(&demo, "net", Limits::default());
    assert_completed(&outcome);
    let report = outcome.output.unwrap();
    assert_eq!(report.lines().count(), 3, "{report}");
    for line in report.lines() {
        assert!(
            line.contains(": denied"),
            "a socket probe got through: {line}"
        );
    }
}

#[test]
fn the_environment_and_arguments_are_empty() {
    let demo = Demo::new();
    let outcome = attack(&demo, "env", Limits::default());
    assert_completed(&outcome);
    assert_eq!(outcome.output.as_deref(), Some("env vars: 0; args: 0"));
}

#[test]
fn flooding_output_is_capped() {
    let demo = Demo::new();
    let limits = Limits {
        output_bytes: 64 << 10,
        ..Limits::default()
    };
    let outcome = attack(&demo, "flood", limits);
    assert_completed(&outcome);
    let kept: usize = outcome.streams.iter().map(|r| r.text.len()).sum();
    assert!(
        kept < (64 << 10) + 1024,
        "kept {kept} bytes of a 20 MB flood"
    );
    let last = outcome.streams.last().unwrap();
    assert_eq!(last.stream, Stream::Warning);
    assert!(last.text.starts_with("output truncated"), "{}", last.text);
}

#[test]
fn a_panic_fails_the_job_with_the_panic_message() {
    let demo = Demo::new();
    let reason = failure_reason(&attack(&demo, "panic", Limits::default())).to_string();
    assert_eq!(
        reason,
        "runbook panicked: the hostile runbook gave up on purpose"
    );
}

#[test]
fn deep_recursion_on_the_runbooks_own_stack_traps_with_a_clear_message() {
    let demo = Demo::new();
    let reason = failure_reason(&attack(&demo, "recurse", Limits::default())).to_string();
    assert!(
        reason.contains("its own stack overflowed (unbounded recursion)"),
        "{reason}"
    );
}

#[test]
fn deep_recursion_on_the_wasm_stack_traps_on_the_stack_limit() {
    let demo = Demo::new();
    let reason = failure_reason(&attack(&demo, "recurse-wasm", Limits::default())).to_string();
    assert!(reason.contains("exhausted its call stack"), "{reason}");
}

#[test]
fn a_last_line_without_a_newline_is_kept() {
    let demo = Demo::new();
    let outcome = attack(&demo, "tail", Limits::default());
    assert_completed(&outcome);
    let last = outcome.streams.last().unwrap();
    assert_eq!(
        (last.stream, last.text.as_str()),
        (Stream::Output, "a last line without a newline")
    );
}
