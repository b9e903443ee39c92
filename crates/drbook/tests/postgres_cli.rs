//! The CLI on a PostgreSQL job store, on the throwaway cluster of
//! `drbook_store_postgres::testing` (feature `postgres-tests`; scripts/test.sh
//! turns it on where PostgreSQL's server binaries are): `drbook store
//! migrate`, a run of a plan on the simulator, `jobs list` and `show`, a
//! worker that resumes a job after the first was killed with SIGKILL mid-plan
//! (every VM failed over once, every stream line once), a worker that rides
//! out a restart of PostgreSQL mid-plan, a server that rides one out and
//! takes the alert sent again, and each bad store refused with its
//! fix, never printing a password.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()`
mod common;
#[path = "common/demo.rs"]
mod demo;
#[path = "common/postgres.rs"]
mod postgres;
mod runbooks;

use demo::{assert_each_vm_failed_over_once, detached_failover, history, wait_for_a_start};
use drbook_store_postgres::testing;
use postgres::{drbook, exits, finishes, json, signal, text, PATIENCE};

/// Simulated time runs 1,200× faster: a 4-minute failover takes 200 ms.
const SPEED: u32 = 1200;

/// `drbook` on `dir`'s simulator (at the speed its `drbook.toml` says, see
/// [`demo::demo`]) with its job store at `url`, for `demo`'s helpers.
fn on<'a>(dir: &'a Path, url: &'a str) -> impl Fn() -> Command + 'a {
    move || drbook(dir, url)
}

/// A store is migrated by `drbook store migrate` (refused before, with the
/// command to run), then a plan's failover runs on it: the job is listed and
/// shown from it, and no SQLite store is made in the data dir.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_store_migrate_then_run_list_and_show() {
    let url = testing::empty_database().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let refused = exits(drbook(dir, &url).args(["jobs", "list"]), 2);
    let refused = text(&refused);
    assert!(
        refused.contains("has schema 0") && refused.contains("drbook store migrate"),
        "{refused}"
    );
    let migrated = text(&exits(drbook(dir, &url).args(["store", "migrate"]), 0));
    let schema = drbook_store_postgres::SCHEMA_VERSION;
    let from_zero = format!("from schema 0 to {schema}");
    assert!(migrated.contains(&from_zero), "{migrated}");
    assert!(
        migrated.contains("postgres://postgres@127.0.0.1:") && !migrated.contains(":drbook-test"),
        "the location, without the password: {migrated}"
    );
    let again = text(&exits(drbook(dir, &url).args(["store", "migrate"]), 0));
    let at = format!("is at schema {schema}");
    assert!(again.contains(&at), "{again}");

    let plan = demo::demo(dir, &on(dir, &url), SPEED);
    let run = exits(
        drbook(dir, &url)
            .arg("run")
            .arg(runbooks::failover_plan())
            .arg("--plan")
            .arg(&plan)
            .args(["--type", "planned", "--json"]),
        0,
    );
    let run: Value = serde_json::from_slice(&run.stdout).expect("the run's JSON");
    let job = run["jobId"]
        .as_str()
        .unwrap_or_else(|| panic!("the run names its job: {run:#}"))
        .to_string();

    let listed = json(drbook(dir, &url).args(["--json", "jobs", "list"]));
    let listed = listed.as_array().expect("a list of jobs");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], job.as_str());
    assert_eq!(listed[0]["status"], "Completed");
    let shown = json(drbook(dir, &url).args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Completed", "{shown:#}");
    assert_each_vm_failed_over_once(&on(dir, &url), &job);
    assert!(
        !dir.join("jobs.db").exists(),
        "the job store is PostgreSQL, not a file in the data dir"
    );
}

/// A worker that takes over a dead worker's job within 200 ms.
fn worker(dir: &Path, url: &str, extra: &[&str]) -> Child {
    postgres::worker(drbook(dir, url), "200ms", extra, Stdio::null())
}

/// A worker killed with SIGKILL mid-plan, again and again, and then one
/// that finishes: the job completes, every VM failed over once (the
/// simulator's audit trail counts the starts), every stream line once.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_worker_killed_mid_plan_is_resumed_with_one_operation_per_vm() {
    let url = testing::database().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let job = detached_failover(dir, &on(dir, &url), SPEED);
    for after in [150, 250, 350, 450, 550] {
        let mut child = worker(dir, &url, &[]);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().expect("SIGKILL the worker");
        child.wait().unwrap();
    }
    finishes(worker(dir, &url, &["--exit-when-idle"]));
    let shown = json(drbook(dir, &url).args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Completed", "{shown:#}");
    assert_each_vm_failed_over_once(&on(dir, &url), &job);
}

/// A worker that stalls (SIGSTOP) past its lease mid-plan: a second worker
/// takes the job over and completes it; when the first wakes up (SIGCONT)
/// it writes nothing for the job and starts nothing (its runs are fenced by
/// their attempt): every VM failed over once, every line once.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_worker_stalled_past_its_lease_writes_nothing_after_the_takeover() {
    let url = testing::database().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Slow enough that the plan is under way when the worker stalls.
    let job = detached_failover(dir, &on(dir, &url), 200);
    let stalled = worker(dir, &url, &[]);
    let start = Instant::now();
    let holds = || {
        let held = json(drbook(dir, &url).args(["jobs", "show", &job]));
        let owner = held["leaseOwner"].as_str();
        owner.is_some_and(|o| o.starts_with("worker-"))
    };
    while !holds() {
        assert!(
            start.elapsed() < PATIENCE,
            "the worker never claimed the job"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&stalled, "-STOP");
    let shown = json(drbook(dir, &url).args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Running", "stalled mid-plan: {shown:#}");
    finishes(worker(dir, &url, &["--exit-when-idle"]));
    signal(&stalled, "-CONT");
    // Time to do harm, if it could: a poll, a renewal, a host call.
    std::thread::sleep(Duration::from_millis(500));
    let mut stalled = stalled;
    assert!(
        stalled.try_wait().unwrap().is_none(),
        "the stalled worker goes on (under a new lease) rather than exiting"
    );
    stalled.kill().unwrap();
    stalled.wait().unwrap();
    let shown = json(drbook(dir, &url).args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Completed", "{shown:#}");
    assert_each_vm_failed_over_once(&on(dir, &url), &job);
}

/// A worker stopped with SIGTERM mid-plan exits at once and releases its
/// job (its lease would have held it for ten minutes), so the next worker
/// resumes it at once: every VM failed over once, every line once.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_worker_stopped_with_sigterm_releases_its_job_for_the_next() {
    let url = testing::database().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Slower than the other tests: the plan is still under way when its
    // first failover has started.
    let job = detached_failover(dir, &on(dir, &url), 200);
    let mut first = postgres::worker(drbook(dir, &url), "600s", &[], Stdio::null());
    wait_for_a_start(&on(dir, &url));
    signal(&first, "-TERM");
    let stopped = first.wait().expect("the first worker's exit");
    assert!(
        stopped.success(),
        "the first worker exits cleanly: {stopped}"
    );
    let shown = json(drbook(dir, &url).args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Running", "left resumable: {shown:#}");
    let owner = shown
        .get("leaseOwner")
        .expect("jobs show names the lease's owner");
    assert_eq!(*owner, Value::Null, "released: {shown:#}");

    finishes(postgres::worker(
        drbook(dir, &url),
        "600s",
        &["--exit-when-idle"],
        Stdio::null(),
    ));
    let shown = json(drbook(dir, &url).args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Completed", "{shown:#}");
    assert_each_vm_failed_over_once(&on(dir, &url), &job);
}

/// Longer than two calls wait for a connection one after the other (the
/// store's pool keeps connecting for 10 s): a run's intent waits for the
/// background commit under way to fail first, then fails itself, while the
/// store is still down.
const PAST_TWO_ACQUIRES: Duration = Duration::from_secs(24);

/// A cluster of the test's own, to stop and start, and a database on it.
async fn private_cluster() -> (testing::Cluster, String) {
    let cluster = tokio::task::spawn_blocking(testing::Cluster::private)
        .await
        .expect("a cluster of its own");
    let url = cluster.database().await;
    (cluster, url)
}

/// PostgreSQL stopped (`pg_ctl stop -m fast`) mid-plan and started again
/// on its data. While it is down, the first group's operations end and the
/// run goes on to its next start, whose intent cannot be committed: nothing
/// starts, and the run stops there (the worker says `Released`, not
/// `Failed`). The worker does not exit, warns of the outage once and of its
/// end, and resumes the job by replay when the store is back: it completes
/// with every VM failed over once, every line once.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_restart_mid_plan_is_ridden_out_with_one_operation_per_vm() {
    let (cluster, url) = private_cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Slow enough that the plan is under way through the outage.
    let job = detached_failover(dir, &on(dir, &url), 200);
    let log = dir.join("worker.log");
    // Its leases outlast the outage: it keeps its jobs through it.
    let log_file = std::fs::File::create(&log).unwrap();
    let mut worker = postgres::worker(drbook(dir, &url), "120s", &[], log_file.into());
    wait_for_a_start(&on(dir, &url));
    cluster.stop_server();
    // What the first group started ends (the store stopped between its two
    // starts, or after them)...
    let start = Instant::now();
    let started = loop {
        let started = history(&on(dir, &url));
        if started.iter().all(|op| op["outcome"] == "Succeeded") {
            break started.len();
        }
        assert!(start.elapsed() < PATIENCE, "the first group never ended");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(started <= 2, "started with the store down: {started}");
    // ... and the run's next start waits for a connection, fails, and
    // starts nothing.
    std::thread::sleep(PAST_TWO_ACQUIRES);
    assert_eq!(
        history(&on(dir, &url)).len(),
        started,
        "started with the store down"
    );
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker waits for the store rather than exiting"
    );
    cluster.start_server();
    let start = Instant::now();
    loop {
        let shown = json(drbook(dir, &url).args(["jobs", "show", &job]));
        if shown["status"] == "Completed" {
            break;
        }
        assert_eq!(shown["status"], "Running", "{shown:#}");
        assert!(start.elapsed() < PATIENCE, "the job did not finish in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker goes on after the outage"
    );
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_each_vm_failed_over_once(&on(dir, &url), &job);
    let log = std::fs::read_to_string(&log).unwrap();
    let count = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        count("this worker keeps its jobs"),
        1,
        "one warning for the outage:\n{log}"
    );
    assert!(count("is back after") >= 1, "its end:\n{log}");
    let released = "Released the run of job";
    assert_eq!(count(released), 1, "one run interrupted:\n{log}");
    assert!(
        log.contains("could not be reached to record an operation's intent"),
        "{log}"
    );
    assert_eq!(count("Failed"), 0, "{log}");
}

/// PostgreSQL stopped and started again under a `drbook serve`: while it
/// is down, an alert is answered 503 with `Retry-After` (the sender sends
/// it again; nothing of it is stored) and the server does not exit; once
/// the store is back, the same alert sent again makes its one job, which
/// the server's own workers run to its end.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_server_rides_out_a_restart_and_takes_the_alert_sent_again() {
    let (cluster, url) = private_cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let plan = demo::demo(dir, &on(dir, &url), SPEED);
    let runbook = runbooks::dr_drill();
    let created = json(drbook(dir, &url).args([
        "--json",
        "webhook",
        "create",
        "--name",
        "alerts",
        "--runbook",
        runbook.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--type",
        "test",
        "--param",
        "test-network=vnet-drill",
        "--url-base",
        "http://placeholder",
    ]));
    let path = created["url"]
        .as_str()
        .unwrap()
        .replace("http://placeholder", "");
    let (mut server, addr) =
        common::serve(drbook(dir, &url).args(["serve", "--listen", "127.0.0.1:0"]));
    let body = postgres::alert("outage");
    let send = || async {
        reqwest::Client::new()
            .post(format!("{addr}{path}"))
            .timeout(PATIENCE)
            .body(body.clone())
            .send()
            .await
            .expect("an answer")
    };

    cluster.stop_server();
    let refused = send().await;
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.headers().contains_key("retry-after"), "{refused:?}");
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the server waits for the store rather than exiting"
    );

    cluster.start_server();
    let start = Instant::now();
    let answer: Value = loop {
        let answer = send().await;
        match answer.status().as_u16() {
            202 => break answer.json().await.unwrap(),
            503 => assert!(start.elapsed() < PATIENCE, "the store never came back"),
            other => panic!("{other}: {}", answer.text().await.unwrap()),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_ne!(answer["Duplicate"], true, "its first delivery: {answer}");
    let job = answer["JobIds"][0].as_str().unwrap().to_string();
    let start = Instant::now();
    while json(drbook(dir, &url).args(["jobs", "show", &job]))["status"] != "Completed" {
        assert!(start.elapsed() < PATIENCE, "the alert's job did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let jobs = json(drbook(dir, &url).args(["--json", "jobs", "list"]));
    assert_eq!(jobs.as_array().unwrap().len(), 1, "one job: {jobs:#}");
    drop(server);
}

/// Each bad store is refused (exit 2) with what is wrong and how to fix
/// it, and no message shows a password.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_bad_stores_are_refused_with_their_fix() {
    let url = testing::database().await;
    let cluster = testing::cluster();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let secret = "s3cret-not-shown";
    let newer = testing::database().await;
    testing::execute(&newer, "INSERT INTO schema_version (version) VALUES (99)").await;
    let newer_refused = format!(
        "written by a newer drbook (schema 99, this build reads {}); upgrade drbook",
        drbook_store_postgres::SCHEMA_VERSION
    );
    let database = url.rsplit('/').next().unwrap();
    let cases = [
        (
            format!("mysql://root:{secret}@127.0.0.1/db"),
            "is not a PostgreSQL URL",
        ),
        (
            format!("postgres://postgres:{secret}@127.0.0.1:1/db"),
            "cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/db",
        ),
        (
            cluster.url_with(secret, database),
            "refused user `postgres`",
        ),
        (
            cluster.url("no_such_database"),
            "database `no_such_database` does not exist",
        ),
        (newer.clone(), newer_refused.as_str()),
    ];
    for (url, expected) in cases {
        let out = text(&exits(drbook(dir, &url).args(["jobs", "list"]), 2));
        assert!(out.contains(expected), "{url}: {out}");
        assert!(!out.contains(secret), "a password shown: {out}");
        assert!(
            !out.contains("drbook-test-password"),
            "a password shown: {out}"
        );
    }
    let config = dir.join("drbook.toml");
    std::fs::write(&config, "[store]\nkind = \"postgres\"\n").unwrap();
    let mut command = common::drbook(dir);
    command
        .env_remove("DRBOOK_STORE_URL")
        .args(["jobs", "list"]);
    let out = text(&exits(&mut command, 2));
    assert!(out.contains("needs the database's URL"), "{out}");
}
