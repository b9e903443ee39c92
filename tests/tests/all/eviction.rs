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
