//! Eviction: a job waiting on long operations holds no instance. The worker
//! unloads it when a wait is longer than `--unload-after`, and loads it again
//! (replaying its journal) when the wait is over.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use drbook_tests::guests;
use serde_json::Value;

use crate::cli::drbook_bin;

fn drbook(dir: &std::path::Path, speed: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(drbook_bin())
        .arg("--data-dir")
        .arg(dir)
        .args(["--speed", speed])
        .args(args)
        .output()
        .expect("running drbook");
    assert!(
        out.status.success(),
        "drbook {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_job_waiting_on_reprotects_is_unloaded_and_woken_until_it_completes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    drbook(data, "instant", &["fabric", "init", "--demo"]);
    let plan = data.join("plans").join("contoso-3tier.toml");
    let plan = plan.to_str().unwrap();
    drbook(
        data,
        "instant",
        &["run", guests::FAILOVER_PLAN, "--plan", plan],
    );
    drbook(
        data,
        "instant",
        &["run", guests::COMMIT_PLAN, "--plan", plan],
    );
    let out = drbook(
        data,
        "instant",
        &[
            "run",
            guests::REPROTECT_PLAN,
            "--plan",
            plan,
            "--param",
            "poll-seconds=600",
            "--detach",
        ],
    );
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();

    // Reprotects take 45 min to 2 h: 1.4 s to 3.6 s at 2,000×. The runbook
    // polls every 10 simulated minutes (300 ms): each sleep unloads it.
    let mut worker = Command::new(drbook_bin())
        .arg("--data-dir")
        .arg(data)
        .args([
            "--speed",
            "2000",
            "--json",
            "worker",
            "--poll",
            "10ms",
            "--unload-after",
            "50ms",
            "--exit-when-idle",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while worker.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the reprotect job did not finish within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = worker.wait_with_output().unwrap();
    let runs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line per run"))
        .filter(|r: &Value| r["job"] == job.as_str())
        .collect();

    let unloaded = runs.iter().filter(|r| r["status"] == "Running").count();
    assert!(
        unloaded >= 3,
        "the job should have been unloaded while it waited: {runs:#?}"
    );
    assert!(
        runs.iter()
            .filter(|r| r["status"] == "Running")
            .all(|r| r["reason"].as_str().unwrap().starts_with("sleeping until")),
        "{runs:#?}"
    );
    let last = runs.last().unwrap();
    assert_eq!(last["status"], "Completed", "{runs:#?}");
    assert!(
        last["replayed"].as_u64().unwrap() > 12,
        "the last run replayed the reprotect starts: {last}"
    );

    let items: Value =
        serde_json::from_slice(&drbook(data, "instant", &["fabric", "show", "--json"]).stdout)
            .unwrap();
    for item in items.as_array().unwrap() {
        assert_eq!(item["protectionState"], "Protected", "{}", item["name"]);
        assert_eq!(item["activeLocation"], "Recovery", "{}", item["name"]);
    }
    let history: Value =
        serde_json::from_slice(&drbook(data, "instant", &["fabric", "history", "--json"]).stdout)
            .unwrap();
    let reprotects = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["operation"] == "Reprotect")
        .count();
    assert_eq!(
        reprotects, 12,
        "each VM reprotected once across all the reloads"
    );

    let logs = String::from_utf8(drbook(data, "instant", &["jobs", "logs", &job]).stdout).unwrap();
    let protected = logs
        .lines()
        .filter(|l| l.contains(": 100 %, protected"))
        .count();
    assert_eq!(protected, 12, "{logs}");
    assert_eq!(
        logs.lines()
            .filter(|l| l.contains("12 of 12 VMs reprotected"))
            .count(),
        1,
        "{logs}"
    );
}

/// Runs the hostile runbook's `attack` (with `params`) in a worker that
/// unloads every wait past 50 ms, at real speed, under `deadline`. Returns
/// the job's runs as the worker reports them, and how long the job took;
/// fails if it has not ended within `patience`.
fn unloading_attack(
    attack: &str,
    params: &[&str],
    deadline: &str,
    patience: Duration,
) -> (Vec<Value>, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    drbook(data, "instant", &["fabric", "init", "--demo"]);
    let plan = data.join("plans").join("contoso-3tier.toml");
    let attack = format!("attack={attack}");
    let mut args = vec![
        "run",
        guests::HOSTILE,
        "--plan",
        plan.to_str().unwrap(),
        "--param",
        &attack,
        "--detach",
    ];
    for param in params {
        args.extend(["--param", param]);
    }
    let out = drbook(data, "1", &args);
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let start = Instant::now();
    let mut worker = Command::new(drbook_bin())
        .arg("--data-dir")
        .arg(data)
        .args(["--speed", "1", "--json", "worker", "--poll", "10ms"])
        .args(["--unload-after", "50ms", "--deadline", deadline])
        .arg("--exit-when-idle")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while worker.try_wait().unwrap().is_none() {
        if start.elapsed() > patience {
            worker.kill().unwrap();
            let out = worker.wait_with_output().unwrap();
            panic!(
                "the job had not ended after {patience:?}; its runs:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let out = worker.wait_with_output().unwrap();
    let runs = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line per run"))
        .filter(|r: &Value| r["job"] == job.as_str())
        .collect();
    (runs, took)
}

#[test]
fn the_deadline_holds_across_unloads() {
    // Ten naps of 300 ms, each unloading the job: 3 s in all, past 1 s.
    let (runs, _) = unloading_attack(
        "naps",
        &["naps=10", "nap-ms=300"],
        "1s",
        Duration::from_secs(20),
    );
    let last = runs.last().unwrap();
    assert_eq!(last["status"], "Failed", "{runs:#?}");
    assert_eq!(last["reason"], "runbook ran past its 1.0 s deadline");
    assert!(
        runs.iter().filter(|r| r["status"] == "Running").count() >= 2,
        "the job was unloaded on the way: {runs:#?}"
    );
}

#[test]
fn an_endless_sleep_ends_the_job_at_its_deadline() {
    let (runs, took) = unloading_attack("sleep-forever", &[], "2s", Duration::from_secs(20));
    let last = runs.last().unwrap();
    assert_eq!(last["status"], "Failed", "{runs:#?}");
    assert_eq!(last["reason"], "runbook ran past its 2.0 s deadline");
    assert!(
        runs.len() <= 3,
        "unloaded until the deadline, then failed: {runs:#?}"
    );
    assert!(
        took >= Duration::from_secs(2),
        "not before its deadline: {took:?}"
    );
}
