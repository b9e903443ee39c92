//! `drbook jobs retry` and `drbook jobs rerun` on the demo estate: a plan
//! whose second group is refused (an injected fault) is retried once the
//! fault is cleared and completes, each VM failed over once (the
//! simulator's audit trail counts the starts), the first group's not again;
//! a worker killed again and again during a retried attempt starts nothing
//! twice; a retry of a completed or a running job is refused, naming why;
//! a rerun is a new job with the same module, plan and inputs, run from the
//! top.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()` and `exits()`
mod common;
mod runbooks;

use common::{drbook, exits};

const VMS: [&str; 12] = [
    "sql-01", "sql-02", "app-01", "app-02", "app-03", "app-04", "web-01", "web-02", "web-03",
    "web-04", "web-05", "web-06",
];

/// `drbook` on `dir` at `speed`.
fn at(dir: &Path, speed: &str) -> Command {
    let mut command = drbook(dir);
    command.args(["--speed", speed]);
    command
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The demo estate in `dir`; its plan file.
fn demo(dir: &Path) -> String {
    exits(at(dir, "instant"), &["fabric", "init", "--demo"], 0);
    dir.join("plans/contoso-3tier.toml")
        .to_str()
        .unwrap()
        .to_string()
}

/// The newest job's id.
fn newest(dir: &Path) -> String {
    let jobs = json(&exits(drbook(dir), &["--json", "jobs", "list"], 0));
    jobs[0]["id"].as_str().expect("a job").to_string()
}

/// The simulator's audit trail: every operation started.
fn history(dir: &Path) -> Vec<Value> {
    let history = json(&exits(drbook(dir), &["--json", "fabric", "history"], 0));
    history.as_array().expect("the operations").clone()
}

/// The operations of `kind` the audit trail holds for `vm`.
fn of(history: &[Value], vm: &str, kind: &str) -> Vec<Value> {
    history
        .iter()
        .filter(|h| h["vm"] == vm && h["operation"] == kind)
        .cloned()
        .collect()
}

/// The demo plan's planned failover at `speed`, whose `app` group fails:
/// the planned failover of `app-02` (degraded replication) is refused, the
/// group's other VMs fail over. Returns the failed job's id, the fault
/// cleared (what the operator fixes before a retry).
fn failed_at_app_02(dir: &Path, speed: &str) -> String {
    let plan = demo(dir);
    let runbook = runbooks::failover_plan();
    exits(
        drbook(dir),
        &[
            "fabric", "fault", "degrade", "app-02", "--health", "warning",
        ],
        0,
    );
    let run = exits(
        at(dir, speed),
        &["run", runbook.to_str().unwrap(), "--plan", &plan],
        1,
    );
    assert!(text(&run).contains("app-02"), "{}", text(&run));
    let id = newest(dir);
    let job = json(&exits(drbook(dir), &["--json", "jobs", "show", &id], 0));
    assert_eq!(job["status"], "Failed", "{job:#}");
    let before = history(dir);
    for vm in ["sql-01", "sql-02", "app-01", "app-03", "app-04"] {
        assert_eq!(of(&before, vm, "PlannedFailover").len(), 1, "{vm}");
    }
    for vm in ["app-02", "web-01"] {
        assert!(of(&before, vm, "PlannedFailover").is_empty(), "{vm}");
    }
    exits(drbook(dir), &["fabric", "fault", "clear"], 0);
    id
}

/// Job `id` completed, after its retry, with every VM of the plan failed
/// over exactly once, up on the recovery side.
fn assert_completed_once_each(dir: &Path, id: &str) -> Vec<Value> {
    let job = json(&exits(drbook(dir), &["--json", "jobs", "show", id], 0));
    assert_eq!(job["status"], "Completed", "{job:#}");
    let history = history(dir);
    let items = json(&exits(drbook(dir), &["--json", "fabric", "show"], 0));
    for vm in VMS {
        let failovers = of(&history, vm, "PlannedFailover");
        assert_eq!(failovers.len(), 1, "{vm} failed over: {failovers:#?}");
        assert_eq!(failovers[0]["outcome"], "Succeeded", "{vm}");
        let item = items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == vm)
            .unwrap();
        assert_eq!(item["activeLocation"], "Recovery", "{vm}");
    }
    history
}

#[test]
fn a_plan_whose_second_group_was_refused_completes_on_retry_failing_each_vm_over_once() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let id = failed_at_app_02(dir, "instant");

    let retried = exits(at(dir, "instant"), &["jobs", "retry", &id, "--wait"], 0);
    let said = text(&retried);
    assert!(
        said.contains("retried as attempt 2") && said.contains("`app-02`"),
        "the retry names its attempt and the step it runs again: {said}"
    );
    let history = assert_completed_once_each(dir, &id);
    // The databases and the app servers that had failed over were not
    // started again: their operations are attempt 1's (taken back by the
    // retry); app-02 and the web servers were started by attempt 2.
    for vm in ["sql-01", "app-01", "app-04"] {
        let initiator = of(&history, vm, "PlannedFailover")[0]["initiator"].clone();
        let initiator = initiator.as_str().unwrap();
        assert!(
            initiator.starts_with(&format!("job {id} call ")) && !initiator.contains("attempt"),
            "{vm}: {initiator}"
        );
    }
    for vm in ["app-02", "web-06"] {
        let initiator = of(&history, vm, "PlannedFailover")[0]["initiator"].clone();
        assert!(
            initiator.as_str().unwrap().ends_with(" attempt 2"),
            "{vm}: {initiator}"
        );
    }

    let job = json(&exits(drbook(dir), &["--json", "jobs", "show", &id], 0));
    let attempts = job["attempts"].as_array().expect("its attempts");
    assert_eq!(attempts.len(), 1, "{job:#}");
    assert_eq!(attempts[0]["attempt"], 2);
    assert!(!attempts[0]["by"].as_str().unwrap().is_empty());
    let why = attempts[0]["previousReason"].as_str().unwrap();
    assert!(why.contains("app"), "why attempt 1 failed: {why}");

    let logs = text(&exits(drbook(dir), &["jobs", "logs", &id], 0));
    let count = |needle: &str| logs.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("--- attempt 2: retried by"), 1, "{logs}");
    assert_eq!(count("planned failover of sql-01: succeeded"), 1, "{logs}");
    assert_eq!(count("planned failover of app-02: succeeded"), 1, "{logs}");
    assert_eq!(count("all 3 groups done"), 1, "{logs}");
    let lines = exits(drbook(dir), &["--json", "jobs", "logs", &id], 0);
    let attempts: Vec<u64> = String::from_utf8_lossy(&lines.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["attempt"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        attempts.starts_with(&[1]) && attempts.ends_with(&[2]),
        "{attempts:?}"
    );

    // The evidence reads the retried journal right: exactly once, as the
    // fabric saw it, and the retry shown.
    let out = dir.join("report.json");
    exits(
        drbook(dir),
        &[
            "report",
            &id,
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ],
        0,
    );
    let signed: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let report = &signed["report"];
    let checks = report["checks"].as_array().unwrap();
    let audit = checks
        .iter()
        .find(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .starts_with("the fabric's audit trail")
        })
        .expect("the audit check");
    assert_eq!(audit["passed"], true, "{audit:#}");
    assert_eq!(
        report["summary"]["succeeded"], 12,
        "{:#}",
        report["summary"]
    );
    assert_eq!(
        report["attempts"][0]["attempt"], 2,
        "{:#}",
        report["attempts"]
    );
    // The HTML and Markdown show the retry too: its attempt, who and when,
    // and why the attempt before failed.
    let attempt = &report["attempts"][0];
    let (by, at) = (
        attempt["by"].as_str().unwrap(),
        attempt["at"].as_str().unwrap(),
    );
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S%.3f UTC")
        .to_string();
    let why = attempt["previousFailed"]
        .as_str()
        .expect("why attempt 1 failed");
    for (format, row) in [
        (
            "html",
            format!("<tr><td>2</td><td>{by}</td><td>{at}</td><td>"),
        ),
        ("md", format!("| 2 | {by} | {at} | ")),
    ] {
        let out = dir.join(format!("report.{format}"));
        let out = out.to_str().unwrap();
        exits(
            drbook(dir),
            &["report", &id, "--format", format, "--out", out],
            0,
        );
        let page = std::fs::read_to_string(out).unwrap();
        assert!(page.contains("Attempts"), "{format}: {page}");
        let line = page
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("{format}: the retry's row {row}: {page}"));
        assert!(line.contains("app-02"), "{format}: {line} for {why}");
    }
}

/// A worker that takes over a dead worker's job within 200 ms.
fn worker(dir: &Path, speed: &str, extra: &[&str]) -> Child {
    at(dir, speed)
        .args(["worker", "--lease", "200ms", "--poll", "10ms"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting a worker")
}

#[test]
fn a_worker_killed_during_a_retried_attempt_resumes_it_without_starting_anything_twice() {
    // Simulated time 1,200 times faster: a failover takes about 200 ms.
    const SPEED: &str = "1200";
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let id = failed_at_app_02(dir, SPEED);
    let queued = exits(drbook(dir), &["jobs", "retry", &id], 0);
    assert_eq!(String::from_utf8_lossy(&queued.stdout).trim(), id);
    for after in [150, 60, 250, 120, 300] {
        let mut child = worker(dir, SPEED, &[]);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().expect("SIGKILL the worker");
        child.wait().unwrap();
    }
    let mut last = worker(dir, SPEED, &["--exit-when-idle"]);
    let start = Instant::now();
    while last.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the worker never finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_completed_once_each(dir, &id);
}

#[test]
fn a_retry_is_refused_for_a_completed_or_running_job_and_a_rerun_runs_from_the_top() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let plan = demo(dir);
    let drill = runbooks::dr_drill();
    let drill = drill.to_str().unwrap();
    let drill_args = [
        "run",
        drill,
        "--plan",
        &plan,
        "--type",
        "test",
        "--param",
        "test-network=vnet-drill",
    ];
    exits(at(dir, "instant"), &drill_args, 0);
    let id = newest(dir);

    let refused = exits(drbook(dir), &["jobs", "retry", &id], 2);
    let said = text(&refused);
    assert!(
        said.contains("is Completed, not Failed") && said.contains("drbook jobs rerun"),
        "{said}"
    );

    let rerun = exits(at(dir, "instant"), &["jobs", "rerun", &id, "--wait"], 0);
    let again = newest(dir);
    assert_ne!(again, id, "{}", text(&rerun));
    let show = |id: &str| json(&exits(drbook(dir), &["--json", "jobs", "show", id], 0));
    let (first, second) = (show(&id), show(&again));
    assert_eq!(second["status"], "Completed", "{second:#}");
    assert_eq!(second["trigger"], format!("rerun:{id}"));
    assert_eq!(second["digest"], first["digest"]);
    for part in ["plan", "parameters", "failoverType", "direction"] {
        assert_eq!(second["spec"][part], first["spec"][part], "{part}");
    }
    // From the top: every VM's test failover again, under the new job.
    let history = history(dir);
    for vm in VMS {
        let drills = of(&history, vm, "TestFailover");
        assert_eq!(drills.len(), 2, "{vm}: {drills:#?}");
        assert!(drills[1]["initiator"]
            .as_str()
            .unwrap()
            .starts_with(&format!("job {again} call ")));
    }

    // A job a worker is running (in real time, its drill takes minutes).
    let detached = exits(drbook(dir), &[&drill_args[..], &["--detach"]].concat(), 0);
    let running = String::from_utf8_lossy(&detached.stdout).trim().to_string();
    let mut child = at(dir, "1")
        .args(["worker", "--poll", "10ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while show(&running)["status"] != "Running" {
        assert!(start.elapsed() < Duration::from_secs(60), "never claimed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = exits(drbook(dir), &["jobs", "retry", &running], 2);
    child.kill().unwrap();
    child.wait().unwrap();
    let said = text(&refused);
    assert!(
        said.contains(&format!("job `{running}` is Running")) && said.contains("has not ended"),
        "{said}"
    );
}
