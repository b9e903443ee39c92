//! `drbook schedule` on a SQLite job store: a bad pattern or time zone is
//! refused (exit 2) with nothing stored; a schedule is created with its
//! module pinned, listed with its next runs, and its due tick, fired by two
//! `drbook worker` processes at once, makes exactly one job, whose trigger
//! is the schedule; `drbook serve` fires due ticks too.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;
#[allow(dead_code)] // failover_plan() and the probes are for the other tests
mod runbooks;

use common::{run_in, Server};
use drbook_core::store::JobStore;

/// How long the workers have to fire the due tick before the test calls
/// them wrong.
const PATIENCE: Duration = Duration::from_secs(60);

fn json(dir: &Path, args: &[&str]) -> Value {
    let out = run_in(dir, &[&["--json"][..], args].concat(), 0);
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// The jobs of schedule `name`'s tick `tick`.
fn jobs_of_tick(dir: &Path, name: &str, tick: DateTime<Utc>) -> Vec<Value> {
    let jobs = json(dir, &["jobs", "list", "--limit", "1000"]);
    jobs.as_array()
        .expect("a list of jobs")
        .iter()
        .filter(|j| {
            j["trigger"] == format!("schedule:{name}").as_str()
                && j["spec"]["trigger"]["tick"]
                    .as_str()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    == Some(tick)
        })
        .cloned()
        .collect()
}

/// A `drbook worker` on `dir`, once it has started (its first line).
fn worker(dir: &Path) -> Server {
    let mut child = common::drbook(dir)
        .current_dir(dir)
        .args(["--speed", "instant", "worker", "--poll", "20ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting drbook worker");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // Its first line of its own says it started (warnings may come first).
    let mut line = String::new();
    while !line.starts_with("worker ") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the worker ended");
    }
    // Read on to its end, so that the worker's later lines have somewhere to go.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Server(child)
}

/// `drbook schedule create` of a test drill of the demo plan by `dr_drill`.
fn create(dir: &Path, name: &str, cron: &str, zone: &str, code: i32) -> std::process::Output {
    let plan = dir.join("plans").join("contoso-3tier.toml");
    let runbook = runbooks::dr_drill();
    run_in(
        dir,
        &[
            "schedule",
            "create",
            "--name",
            name,
            "--cron",
            cron,
            "--timezone",
            zone,
            "--runbook",
            runbook.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
            "--type",
            "test",
            "--param",
            "test-network=vnet-drill",
        ],
        code,
    )
}

/// Schedule `name`'s tick made due now: paused, then resumed with its next
/// tick the minute just begun (as a scheduler that was down for a moment
/// would find it). That tick.
fn make_due(dir: &Path, name: &str) -> DateTime<Utc> {
    run_in(dir, &["schedule", "pause", name], 0);
    let tick = Utc::now().duration_trunc(TimeDelta::minutes(1)).unwrap();
    let store = drbook_store_sqlite::SqliteStore::open(dir).unwrap();
    let resumed = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(store.resume_schedule(name, Some(tick)))
        .unwrap();
    assert!(resumed);
    tick
}

#[test]
fn a_due_tick_fired_by_two_workers_makes_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    run_in(dir, &["--speed", "instant", "fabric", "init", "--demo"], 0);
    let create =
        |name: &str, cron: &str, zone: &str, code: i32| create(dir, name, cron, zone, code);

    // Refused with what to write, and nothing stored.
    let bad = create("bad", "0 3 1 *", "Europe/Berlin", 2);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("`0 3 1 *`") && said.contains("five fields"),
        "{said}"
    );
    let bad = create("bad", "0 3 1 * *", "Europe/Berlim", 2);
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("Europe/Berlim") && said.contains("IANA"),
        "{said}"
    );
    assert_eq!(json(dir, &["schedule", "list"]), serde_json::json!([]));

    create("monthly-drill", "0 3 1 * *", "Europe/Berlin", 0);
    create("drill", "* * * * *", "Europe/Berlin", 0);
    create("drill", "* * * * *", "Europe/Berlin", 2);
    let listed = json(dir, &["schedule", "list"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["drill", "monthly-drill"], "by name");
    let monthly = &listed[1];
    let next: Vec<DateTime<Utc>> = serde_json::from_value(monthly["nextRuns"].clone()).unwrap();
    assert_eq!(next.len(), 3, "{listed:#}");
    // 03:00 in Berlin: 02:00 UTC in winter, 01:00 in summer.
    assert!(
        next.iter().all(|t| t.format("%d %M").to_string() == "01 00"
            && matches!(t.format("%H").to_string().as_str(), "01" | "02")),
        "the 1st at 03:00 in Berlin: {next:?}"
    );
    assert_eq!(monthly["run"]["failoverType"], "Test");
    assert!(
        monthly["run"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{monthly:#}"
    );

    let tick = make_due(dir, "drill");
    let workers = [worker(dir), worker(dir)];
    let start = Instant::now();
    while jobs_of_tick(dir, "drill", tick).is_empty() {
        assert!(start.elapsed() < PATIENCE, "no job for the due tick {tick}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Both workers have made passes since (each at least once a second).
    std::thread::sleep(Duration::from_millis(2500));
    let jobs = jobs_of_tick(dir, "drill", tick);
    assert_eq!(jobs.len(), 1, "one job for the tick: {jobs:#?}");
    let ticks = json(dir, &["schedule", "ticks", "drill"]);
    let handled: Vec<&Value> = ticks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            t["tick"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                == Some(tick)
        })
        .collect();
    assert_eq!(handled.len(), 1, "{ticks:#}");
    assert_eq!(handled[0]["outcome"]["job"], jobs[0]["id"], "{ticks:#}");
    drop(workers);

    run_in(dir, &["schedule", "delete", "drill"], 0);
    run_in(dir, &["schedule", "delete", "drill"], 2);
    assert_eq!(jobs_of_tick(dir, "drill", tick).len(), 1, "its jobs stay");
}

/// `drbook serve` runs the scheduler too: with no worker, its due tick
/// becomes a job that the server's own workers run.
#[test]
fn a_due_tick_is_fired_by_drbook_serve() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    run_in(dir, &["--speed", "instant", "fabric", "init", "--demo"], 0);
    create(dir, "drill", "* * * * *", "UTC", 0);
    let tick = make_due(dir, "drill");
    let (_server, _) = common::serve(common::drbook(dir).current_dir(dir).args([
        "--speed",
        "instant",
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]));
    let start = Instant::now();
    loop {
        let jobs = jobs_of_tick(dir, "drill", tick);
        if jobs.first().is_some_and(|j| j["status"] == "Completed") {
            assert_eq!(jobs.len(), 1, "{jobs:#?}");
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the tick {tick}'s job: {jobs:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
