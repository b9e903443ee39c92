//! The demo plan's failover as the CLI tests run it on either job store:
//! the estate made, the job started detached, and what proves it ran once
//! (each VM failed over once in the simulator's audit trail, each of its
//! log's lines once). Every function takes `drbook`, which makes the
//! `drbook` command on the test's data dir and store. Included with
//! `#[path]`, after `common` and `runbooks`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::exits;
use std::time::{Duration, Instant};

/// How long a test waits for what a worker is due to do.
const PATIENCE: Duration = Duration::from_secs(120);

fn json(drbook: &dyn Fn() -> Command, args: &[&str]) -> Value {
    serde_json::from_slice(&exits(drbook(), args, 0).stdout).expect("JSON output")
}

/// The demo estate in `dir`'s simulator, whose time runs `speed` times
/// faster for every command on `dir`; its plan file.
pub fn demo(dir: &Path, drbook: &dyn Fn() -> Command, speed: u32) -> PathBuf {
    let config = format!("[fabric]\nspeed = {speed}\n");
    std::fs::write(dir.join("drbook.toml"), config).unwrap();
    exits(drbook(), &["fabric", "init", "--demo"], 0);
    dir.join("plans").join("contoso-3tier.toml")
}

/// The demo plan's failover as a detached job on `dir`'s demo estate (at
/// `speed`); its id.
pub fn detached_failover(dir: &Path, drbook: &dyn Fn() -> Command, speed: u32) -> String {
    let plan = demo(dir, drbook, speed);
    let runbook = super::runbooks::failover_plan();
    let (runbook, plan) = (runbook.to_str().unwrap(), plan.to_str().unwrap());
    let detached = exits(drbook(), &["run", runbook, "--plan", plan, "--detach"], 0);
    String::from_utf8(detached.stdout)
        .unwrap()
        .trim()
        .to_string()
}

/// The simulator's audit trail: every operation started, with its outcome
/// once it ended (read without the job store).
pub fn history(drbook: &dyn Fn() -> Command) -> Vec<Value> {
    let history = json(drbook, &["fabric", "history", "--json"]);
    history.as_array().expect("the operations").clone()
}

/// Waits until a worker has started an operation on the simulator.
pub fn wait_for_a_start(drbook: &dyn Fn() -> Command) {
    let start = Instant::now();
    while history(drbook).is_empty() {
        assert!(start.elapsed() < PATIENCE, "the worker started nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that every VM of the demo estate failed over once, and that
/// job `job`'s log says so once per VM.
pub fn assert_each_vm_failed_over_once(drbook: &dyn Fn() -> Command, job: &str) {
    let history = history(drbook);
    let items = json(drbook, &["fabric", "show", "--json"]);
    let items = items.as_array().expect("the VMs");
    assert_eq!(items.len(), 12);
    let logs = exits(drbook(), &["jobs", "logs", job], 0);
    let logs = String::from_utf8(logs.stdout).unwrap();
    let count = |needle: &str| logs.lines().filter(|l| l.contains(needle)).count();
    for item in items {
        let vm = item["name"].as_str().unwrap();
        let failovers = history
            .iter()
            .filter(|h| h["vm"] == vm && h["operation"] == "PlannedFailover")
            .count();
        assert_eq!(failovers, 1, "{vm} failed over {failovers} times");
        assert_eq!(item["activeLocation"], "Recovery", "{vm}");
        let line = format!("planned failover of {vm}: succeeded");
        assert_eq!(count(&line), 1, "`{line}`:\n{logs}");
    }
    assert_eq!(count("all 3 groups done"), 1, "{logs}");
    assert_eq!(count("failover of plan `contoso-3tier`"), 1, "{logs}");
}
