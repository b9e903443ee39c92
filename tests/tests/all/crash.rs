//! Crash tests with real processes: a worker running a 3-group plan failover
//! is killed with SIGKILL at many different moments (before, during and after
//! the operations of each group) and restarted. The job must complete, every
//! VM must have failed over exactly once, and the job's streams must be whole,
//! with no line missing and none repeated.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use drbook_tests::guests;
use serde_json::Value;

use crate::cli::drbook_bin;

/// Simulated time runs 1,200× faster: a 4-minute failover takes 200 ms.
const SPEED: &str = "1200";

fn drbook(dir: &Path) -> Command {
    let mut cmd = Command::new(drbook_bin());
    cmd.arg("--data-dir").arg(dir).args(["--speed", SPEED]);
    cmd
}

fn output(dir: &Path, args: &[&str]) -> Output {
    let out = drbook(dir).args(args).output().expect("running drbook");
    assert!(
        out.status.success(),
        "drbook {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_slice(&output(dir, args).stdout).expect("JSON output")
}

/// A worker that takes over a dead worker's job within 200 ms.
fn worker(dir: &Path, extra: &[&str]) -> Child {
    drbook(dir)
        .args(["worker", "--lease", "200ms", "--poll", "10ms"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting a worker")
}

/// Runs the demo plan's failover as a job, killing a worker after each of
/// `kills` (milliseconds after its start), then lets one worker finish it.
/// Returns the data dir and the job id.
fn failover_with_kills(kills: &[u64]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    output(dir.path(), &["fabric", "init", "--demo"]);
    let plan = dir.path().join("plans").join("contoso-3tier.toml");
    let out = output(
        dir.path(),
        &[
            "run",
            guests::FAILOVER_PLAN,
            "--plan",
            plan.to_str().unwrap(),
            "--detach",
        ],
    );
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();

    for &after in kills {
        let mut child = worker(dir.path(), &[]);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().expect("SIGKILL the worker");
        child.wait().unwrap();
    }

    let mut last = worker(dir.path(), &["--exit-when-idle"]);
    let start = Instant::now();
    loop {
        if let Some(status) = last.try_wait().unwrap() {
            assert!(status.success(), "the last worker failed");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job did not finish within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (dir, job)
}

/// The job completed, each VM failed over once, the streams are whole.
fn assert_exactly_once(dir: &Path, job: &str, kills: &[u64]) {
    let record = json(dir, &["jobs", "show", job]);
    assert_eq!(
        record["status"], "Completed",
        "after kills at {kills:?} ms: {record:#}"
    );

    let history = json(dir, &["fabric", "history", "--json"]);
    let items = json(dir, &["fabric", "show", "--json"]);
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 12);
    for item in items {
        let vm = item["name"].as_str().unwrap();
        let failovers = history
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["vm"] == vm && h["operation"] == "PlannedFailover")
            .count();
        assert_eq!(
            failovers, 1,
            "{vm} failed over {failovers} times after kills at {kills:?} ms"
        );
        assert_eq!(item["protectionState"], "FailedOverCommitPending", "{vm}");
        assert_eq!(item["activeLocation"], "Recovery", "{vm}");
    }

    let logs = output(dir, &["jobs", "logs", job]);
    let logs = String::from_utf8(logs.stdout).unwrap();
    let count = |needle: &str| logs.lines().filter(|l| l.contains(needle)).count();
    for item in items {
        let vm = item["name"].as_str().unwrap();
        let line = format!("planned failover of {vm}: succeeded");
        assert_eq!(
            count(&line),
            1,
            "`{line}` after kills at {kills:?} ms:\n{logs}"
        );
    }
    for check in ["check-databases", "check-app", "check-web"] {
        assert_eq!(
            count(&format!("post step `{check}`")),
            1,
            "{check}:\n{logs}"
        );
    }
    assert_eq!(count("all 3 groups done"), 1, "{logs}");
    assert_eq!(
        count("failover of plan `contoso-3tier`"),
        1,
        "the first line once:\n{logs}"
    );
}

#[test]
fn kills_spread_over_the_whole_run() {
    let kills = [40, 90, 140, 190, 240, 290, 340, 390, 440, 490];
    let (dir, job) = failover_with_kills(&kills);
    assert_exactly_once(dir.path(), &job, &kills);
}

#[test]
fn kills_at_irregular_moments() {
    let kills = [333, 17, 251, 129, 407, 88, 199, 61, 300];
    let (dir, job) = failover_with_kills(&kills);
    assert_exactly_once(dir.path(), &job, &kills);
}

#[test]
fn kills_in_quick_succession_during_one_group() {
    let kills = [260, 25, 25, 25, 25, 25, 25, 25];
    let (dir, job) = failover_with_kills(&kills);
    assert_exactly_once(dir.path(), &job, &kills);
}
