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

use crate::cli::{drbook_bin, signal};

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

/// The demo plan's failover as a detached job in a new data dir.
fn detached_failover() -> (tempfile::TempDir, String) {
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
    (dir, job)
}

/// How long a worker has to finish a job in these tests.
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until `child` exits, successfully, within `patience`.
pub(crate) fn exits(child: &mut Child, patience: Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the worker failed");
            return;
        }
        assert!(
            start.elapsed() < patience,
            "the job did not finish within {patience:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the demo plan's failover as a job, killing a worker after each of
/// `kills` (milliseconds after its start), then lets one worker finish it.
/// Returns the data dir and the job id.
fn failover_with_kills(kills: &[u64]) -> (tempfile::TempDir, String) {
    let (dir, job) = detached_failover();
    for &after in kills {
        let mut child = worker(dir.path(), &[]);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().expect("SIGKILL the worker");
        child.wait().unwrap();
    }

    exits(&mut worker(dir.path(), &["--exit-when-idle"]), PATIENCE);
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

    // What each killed run spooled was folded into the store by the run
    // after it, and the last run folded its own (a worker killed between a
    // fold's commit and the file's removal leaves one, which the next
    // worker's start tidies).
    let spools: Vec<_> = std::fs::read_dir(dir.join("spool"))
        .expect("the spool directory")
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        spools.is_empty(),
        "spools left after the job ended: {spools:?}"
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

/// A worker that stalls (SIGSTOP) past its lease while it runs the job: a
/// second worker takes the job over and completes it. When the first one
/// wakes up, it must not write a line or start an operation for the job: its
/// lease lapsed, so its run ends and leaves the job to the new holder.
#[test]
fn a_worker_stalled_past_its_lease_leaves_the_job_to_the_one_that_took_over() {
    let (dir, job) = detached_failover();
    let mut stalled = worker(dir.path(), &[]);
    std::thread::sleep(Duration::from_millis(150));
    signal(&stalled, "-STOP");
    let held = json(dir.path(), &["jobs", "show", &job]);
    assert!(
        held["leaseOwner"]
            .as_str()
            .is_some_and(|o| o.starts_with("worker-")),
        "the stalled worker holds the job: {held:#}"
    );

    exits(&mut worker(dir.path(), &["--exit-when-idle"]), PATIENCE);
    signal(&stalled, "-CONT");
    // Time to do harm, if it could: a poll, a renewal, a host call.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        stalled.try_wait().unwrap().is_none(),
        "the stalled worker goes on (under a new lease) rather than exiting"
    );
    stalled.kill().unwrap();
    stalled.wait().unwrap();

    assert_exactly_once(dir.path(), &job, &[]);
}

/// `drbook run` killed with `-9` mid-plan leaves its job leased for the
/// lease's 30 s; `jobs resume` on the same host sees that the holder is dead
/// and takes the job over at once, and the job completes exactly once.
/// While the holder lives, `jobs resume` refuses, naming it and `--wait`.
#[test]
fn a_killed_run_is_resumed_at_once_and_a_live_one_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    output(dir.path(), &["fabric", "init", "--demo"]);
    let plan = dir.path().join("plans").join("contoso-3tier.toml");
    // At 60x, a group's failover takes 4 s: the run is caught mid-plan.
    let mut run = Command::new(drbook_bin())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--speed", "60", "run", guests::FAILOVER_PLAN, "--plan"])
        .arg(&plan)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting drbook run");
    // Until the job is running under the run's lease, mid-plan.
    let start = Instant::now();
    let job = loop {
        let jobs = json(dir.path(), &["jobs", "list", "--json"]);
        if let Some(job) = jobs.as_array().and_then(|jobs| jobs.first()) {
            if job["status"] == "Running" && job["leaseOwner"].is_string() {
                break job["id"].as_str().unwrap().to_string();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no running job");
        std::thread::sleep(Duration::from_millis(10));
    };

    let refused = drbook(dir.path())
        .args(["jobs", "resume", &job])
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{message}");
    assert!(
        message.contains("is being run by run-") && message.contains("--wait"),
        "{message}"
    );

    run.kill().expect("SIGKILL drbook run");
    run.wait().unwrap();
    let resumed = Instant::now();
    output(dir.path(), &["jobs", "resume", &job]);
    assert!(
        resumed.elapsed() < Duration::from_secs(20),
        "taken over at once, not after the 30 s lease"
    );
    assert_exactly_once(dir.path(), &job, &[]);
}
