//! `drbook workers` on a SQLite job store: a worker running a long job is
//! listed live, holding it, with a heartbeat since it started; once it is
//! killed with SIGKILL, it is listed lapsed with the job, which waits for a
//! takeover, once its lease has ended.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;
mod runbooks;

use common::{run_in, Server};

/// How long the listing has to show what is due (a worker's claim, a lease's
/// end) before the test calls it wrong.
const PATIENCE: Duration = Duration::from_secs(120);

/// `drbook --json workers`: its entries.
fn workers(dir: &Path) -> Vec<Value> {
    let listed = run_in(dir, &["--json", "workers"], 0);
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("JSON output");
    listed.as_array().expect("a list of workers").clone()
}

/// Polls `drbook workers` until an entry passes `wanted`; that entry.
fn listed_soon(dir: &Path, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let listed = workers(dir);
        if let Some(found) = listed.iter().find(|w| wanted(w)) {
            return found.clone();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{what}, never listed: {listed:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a time: {value}"))
}

#[test]
fn a_worker_is_listed_live_with_its_job_then_lapsed_once_killed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // At real speed a failover takes minutes: the job runs, loaded, for all
    // of the test.
    run_in(dir, &["--speed", "1", "fabric", "init", "--demo"], 0);
    let plan = dir.join("plans").join("contoso-3tier.toml");
    let runbook = runbooks::failover_plan();
    let (runbook, plan) = (runbook.to_str().unwrap(), plan.to_str().unwrap());
    let detached = run_in(dir, &["run", runbook, "--plan", plan, "--detach"], 0);
    let job = String::from_utf8(detached.stdout)
        .unwrap()
        .trim()
        .to_string();

    let started = Utc::now() - chrono::TimeDelta::milliseconds(1);
    let mut worker = Server(
        common::drbook(dir)
            .current_dir(dir)
            .args(["--speed", "1", "worker", "--lease", "2s", "--poll", "20ms"])
            .args(["--unload-after", "10m"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting drbook worker"),
    );
    let pid = worker.0.id();
    let holds_job = |w: &Value| {
        w["jobs"]
            .as_array()
            .is_some_and(|j| j.iter().any(|j| j["id"] == job))
    };
    let live = listed_soon(dir, "the worker holding the job", |w| {
        holds_job(w) && w["lapsed"] == false
    });
    let owner = live["owner"].as_str().expect("an owner").to_string();
    assert!(
        owner.starts_with("worker-") && owner.ends_with(&format!("#{pid}")),
        "the owner names the worker's process {pid}: {live:#}"
    );
    assert_eq!(live["jobs"][0]["plan"], "contoso-3tier", "{live:#}");
    let heartbeat = time(&live["lastHeartbeat"]);
    assert!(
        heartbeat >= started,
        "a heartbeat since it started: {live:#}"
    );
    assert!(time(&live["leaseUntil"]) > heartbeat, "{live:#}");

    worker.0.kill().expect("SIGKILL the worker");
    worker.0.wait().unwrap();
    let lapsed = listed_soon(dir, "the killed worker, lapsed", |w| {
        w["owner"] == owner.as_str() && w["lapsed"] == true
    });
    assert!(
        holds_job(&lapsed),
        "its job waits for a takeover: {lapsed:#}"
    );

    let table = run_in(dir, &["workers"], 0);
    let table = String::from_utf8(table.stdout).unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with(&owner))
        .unwrap_or_else(|| panic!("a row of {owner}:\n{table}"));
    assert!(row.contains(" lapsed ") && row.contains(&job), "{table}");
}
