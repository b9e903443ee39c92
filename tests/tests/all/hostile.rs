//! Hostile runbooks: each attack is contained (stopped, trapped with a clear
//! reason, or finds nothing there), and the same host then runs a normal
//! runbook fine.

use std::time::Duration;

use drbook_core::fabric::{OperationKind, ProtectionState};
use drbook_core::job::JobStatus;
use drbook_core::journal::{Entry, Stream};
use drbook_runtime::{JobOutcome, Limits};
use drbook_tests::guests;
use serde_json::Value;

use crate::cli::{stderr, Cli};
use crate::support::{assert_completed, lines, BlockingStore, Demo, Job};

fn attack(demo: &Demo, attack: &str, limits: Limits) -> JobOutcome {
    attack_with(demo, &[("attack", attack)], limits)
}

/// The hostile runbook with `params` (its `attack` and the attack's inputs).
fn attack_with(demo: &Demo, params: &[(&str, &str)], limits: Limits) -> JobOutcome {
    let outcome = demo.run(Job::new(guests::HOSTILE).params(params).limits(limits));
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

#[test]
fn loops_of_host_calls_fail_at_the_journal_limits() {
    let demo = Demo::new();
    let entries = Limits {
        journal_entries: 1000,
        ..Limits::default()
    };
    let bytes = Limits {
        journal_bytes: 1 << 20,
        ..Limits::default()
    };
    let cases = [
        (
            "attach",
            entries,
            "runbook made more than its limit of 1000 journal entries",
            "--journal-entries",
        ),
        (
            "list-items",
            bytes,
            "runbook's journal would pass its limit of 1 MiB",
            "--journal-bytes",
        ),
    ];
    for (attack, limits, start, flag) in cases {
        let params = [("attack", attack), ("calls", "5000")];
        let outcome = attack_with(&demo, &params, limits);
        let reason = failure_reason(&outcome);
        assert!(
            reason.starts_with(start) && reason.contains(flag),
            "{attack}: {reason}"
        );
    }
}

/// `drbook run` of the hostile runbook's `attack` with `extra` arguments on
/// `cli`'s data directory, then of a normal runbook there: its JSON report.
fn run_attack(cli: &Cli, attack: &str, extra: &[&str]) -> Value {
    let plan = cli.plan();
    let attack = format!("attack={attack}");
    let mut args = vec![
        "--json",
        "run",
        guests::HOSTILE,
        "--plan",
        &plan,
        "--param",
        &attack,
    ];
    args.extend_from_slice(extra);
    let out = cli.run(&args);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout_of(&out), stderr(&out)));
    cli.assert_still_alive();
    report
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What job `id`'s journal takes in the job store: its entries, and their
/// bytes as JSON.
fn stored_journal(cli: &Cli, id: &str) -> (usize, usize) {
    let journal: Vec<Entry> = BlockingStore::open(cli.dir.path())
        .journal(id)
        .expect("the job's journal");
    let bytes = journal
        .iter()
        .map(|e| serde_json::to_string(e).unwrap().len())
        .sum();
    (journal.len(), bytes)
}

#[test]
fn the_journal_limits_hold_in_the_job_store_and_are_flags() {
    let cli = Cli::demo();
    let report = run_attack(
        &cli,
        "attach",
        &["--param", "calls=5000", "--journal-entries", "500"],
    );
    assert_eq!(report["status"], "Failed", "{report:#}");
    let reason = report["failure"]["reason"].as_str().unwrap();
    assert!(reason.contains("limit of 500 journal entries"), "{reason}");
    let id = report["jobId"].as_str().unwrap();
    assert_eq!(stored_journal(&cli, id).0, 500);

    let report = run_attack(
        &cli,
        "list-items",
        &["--param", "calls=5000", "--journal-bytes", "512KiB"],
    );
    assert_eq!(report["status"], "Failed", "{report:#}");
    let reason = report["failure"]["reason"].as_str().unwrap();
    assert!(reason.contains("limit of 512 KiB"), "{reason}");
    let id = report["jobId"].as_str().unwrap();
    let (_, stored) = stored_journal(&cli, id);
    assert!(stored <= 512 << 10, "{stored} bytes stored");
}

/// The inputs of an attack with 8 MiB strings, and the memory they need.
const LONG: [&str; 4] = ["--param", "bytes=8388608", "--memory", "256MiB"];

#[test]
fn long_names_are_refused_and_long_text_is_cut() {
    let demo = Demo::new();
    let limits = Limits {
        memory_bytes: 256 << 20,
        ..Limits::default()
    };
    let params = [("attack", "long-args"), ("bytes", "8388608")];
    let outcome = attack_with(&demo, &params, limits);
    assert_completed(&outcome);
    let report = outcome.output.clone().unwrap();
    let refused = "passed is 8388608 bytes long; names and ids are at most 1 KiB";
    let expected = [
        format!("get-item: the VM name {refused}"),
        format!("test-failover: the network {refused}"),
        format!("attach: the operation id {refused}"),
    ];
    assert_eq!(report.lines().collect::<Vec<_>>(), expected);
    let vm = &demo.plan.groups[0].vms[0];
    assert_eq!(demo.count(vm, OperationKind::TestFailover), 0);
    for stream in [Stream::Output, Stream::Progress] {
        let line = lines(&outcome, stream)[0];
        // A progress line starts with its percentage (`50% `).
        assert!(
            line.len() <= (16 << 10) + 4,
            "{stream:?}: {} bytes",
            line.len()
        );
        assert!(
            line.ends_with("… [cut: 8388608 bytes, past the host's 16 KiB]"),
            "{stream:?}: …{}",
            &line[line.len() - 60..]
        );
    }
}

#[test]
fn what_a_runbook_passes_is_never_stored_whole() {
    let cli = Cli::demo();
    let size = |value: &Value| serde_json::to_string(value).unwrap().len();

    let report = run_attack(&cli, "long-args", &LONG);
    assert_eq!(
        report["status"], "Completed",
        "{}",
        report["failure"]["reason"]
    );
    let (_, stored) = stored_journal(&cli, report["jobId"].as_str().unwrap());
    assert!(stored < 64 << 10, "{stored} bytes of journal stored");

    let report = run_attack(&cli, "long-output", &LONG);
    assert_eq!(
        report["status"], "Completed",
        "{}",
        report["failure"]["reason"]
    );
    assert!(size(&report["output"]) <= (64 << 10) + 2);
    assert!(size(&job(&cli, &report)) < 128 << 10);

    let mut long_error = LONG.to_vec();
    long_error.extend(["--param", "completed=1000000"]);
    let report = run_attack(&cli, "long-error", &long_error);
    assert_eq!(report["status"], "Failed");
    assert!(size(&report["failure"]["reason"]) <= (16 << 10) + 2);
    let completed = report["failure"]["completed"].as_array().unwrap();
    assert_eq!(
        completed.last().unwrap(),
        &format!("… and {} more", 1_000_000 - (completed.len() - 1))
    );
    assert!(size(&job(&cli, &report)) < 256 << 10);
}

/// Job `report["jobId"]` as the job store has it.
fn job(cli: &Cli, report: &Value) -> Value {
    let id = report["jobId"].as_str().unwrap();
    serde_json::to_value(BlockingStore::open(cli.dir.path()).get(id).unwrap()).unwrap()
}

#[test]
fn a_long_approval_prompt_does_not_make_jobs_list_long() {
    let cli = Cli::demo();
    let plan = cli.plan();
    let mut args = vec![
        "run",
        guests::HOSTILE,
        "--plan",
        &plan,
        "--param",
        "attack=long-prompt",
    ];
    args.extend(LONG);
    let mut run = cli
        .command()
        .args(["--speed", "instant"])
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = BlockingStore::open(cli.dir.path());
    let start = std::time::Instant::now();
    let id = loop {
        assert!(start.elapsed() < Duration::from_secs(30), "never suspended");
        let suspended = store.list(Some(JobStatus::Suspended), 1).unwrap();
        if let Some(job) = suspended.first() {
            break job.id.clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let list = cli.run(&["--json", "jobs", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(
        list.stdout.len() < 128 << 10,
        "jobs list --json printed {} bytes",
        list.stdout.len()
    );
    let reject = cli.run(&["jobs", "reject", &id]);
    assert!(reject.status.success(), "{}", stderr(&reject));
    assert!(run.wait().unwrap().success());
    cli.assert_still_alive();
}

#[test]
fn a_stack_overflow_in_a_host_call_says_what_the_runbook_did() {
    let demo = Demo::new();
    let outcome = attack(&demo, "recurse-call", Limits::default());
    let reason = failure_reason(&outcome).to_string();
    assert!(
        reason.starts_with("runbook passed the host a pointer outside its memory in a host call")
            && reason.ends_with(
                "most often its own stack overflowed (unbounded recursion), else a memory bug"
            ),
        "{reason}"
    );
    assert!(!reason.contains("backtrace"), "{reason}");
    let verbose = lines(&outcome, Stream::Verbose);
    let details = verbose.last().expect("the details in the verbose stream");
    assert!(details.contains("wasm backtrace"), "{details}");
}

#[test]
fn waiting_on_too_many_operations_at_once_fails_the_job() {
    let demo = Demo::new();
    let reason = failure_reason(&attack(&demo, "wait-all", Limits::default())).to_string();
    assert_eq!(
        reason,
        "runbook waited on 5000 operations in one `wait-all`, past the 4096 allowed; wait for them in batches"
    );
}
