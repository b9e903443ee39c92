//! `drbook store export` and `drbook store import`, SQLite to PostgreSQL
//! and back (feature `postgres-tests`: the throwaway cluster of
//! `drbook_store_postgres::testing`): a store that ran the demo plan reads
//! the same on each side and exports the same records; a job whose worker
//! was killed with SIGKILL mid-plan on SQLite is refused while its lease
//! lives, then moved to PostgreSQL and finished there by a worker with each
//! VM failed over once; and each bad import (a store not empty, a file
//! corrupted, truncated, of another format version or of a newer schema)
//! is refused with its fix, nothing written.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()`
mod common;
#[path = "common/demo.rs"]
mod demo;
#[allow(dead_code)] // shared with postgres_cli.rs and scale_out_cli.rs
#[path = "common/postgres.rs"]
mod postgres;
mod runbooks;

use demo::{assert_each_vm_failed_over_once, detached_failover, history, wait_for_a_start};
use drbook_store_postgres::testing;
use postgres::{exits, finishes, json, text};

/// Simulated time runs 1,200× faster: a 4-minute failover takes 200 ms.
const SPEED: u32 = 1200;

/// `drbook` on `dir` and its SQLite store.
fn sqlite(dir: &Path) -> impl Fn() -> Command + '_ {
    move || common::drbook(dir)
}

/// `drbook` on `dir`'s fabric with its job store at `url`.
fn pg<'a>(dir: &'a Path, url: &'a str) -> impl Fn() -> Command + 'a {
    move || postgres::drbook(dir, url)
}

/// `drbook store export --out FILE` with `drbook`; what it printed.
fn export(drbook: &dyn Fn() -> Command, file: &Path) -> String {
    text(&exits(
        drbook().args(["store", "export", "--out"]).arg(file),
        0,
    ))
}

/// `drbook store import FILE` with `drbook`, expecting `code`; what it
/// printed.
fn import(drbook: &dyn Fn() -> Command, file: &Path, code: i32) -> String {
    text(&exits(drbook().args(["store", "import"]).arg(file), code))
}

/// An export's records: its lines after the header (which names the store
/// and the time it was taken).
fn records(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().skip(1).map(str::to_string).collect()
}

/// What an operator reads of job `job`: `jobs list`, `jobs show`, `jobs
/// logs` (its stdout: stderr may hold a warning about the directory).
fn reads(
    drbook: &dyn Fn() -> Command,
    job: &str,
) -> (serde_json::Value, serde_json::Value, String) {
    let listed = json(drbook().args(["--json", "jobs", "list"]));
    let shown = json(drbook().args(["jobs", "show", job]));
    let logs = exits(drbook().args(["jobs", "logs", job]), 0).stdout;
    let logs = String::from_utf8(logs).expect("the log is text");
    (listed, shown, logs)
}

/// A SQLite store that ran the demo plan's failover, exported, imported
/// into PostgreSQL, exported from there and imported into a new SQLite
/// store: `jobs list`, `show` and `logs` read the same on all three, and
/// the three exports hold the same records.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_ran_the_demo_moves_to_postgres_and_back() {
    let url = testing::database().await;
    let root = tempfile::tempdir().unwrap();
    let (first, last) = (root.path().join("first"), root.path().join("last"));
    std::fs::create_dir_all(&last).unwrap();
    let on_sqlite = sqlite(&first);
    std::fs::create_dir_all(&first).unwrap();
    let plan = demo::demo(&first, &on_sqlite, SPEED);
    let run = exits(
        on_sqlite()
            .arg("run")
            .arg(runbooks::failover_plan())
            .arg("--plan")
            .arg(&plan)
            .arg("--json"),
        0,
    );
    let run: serde_json::Value = serde_json::from_slice(&run.stdout).expect("the run's JSON");
    let job = run["jobId"]
        .as_str()
        .expect("the run names its job")
        .to_string();
    let before = reads(&on_sqlite, &job);
    assert_eq!(before.1["status"], "Completed", "{:#}", before.1);

    let (from_sqlite, from_pg, from_last) = (
        root.path().join("sqlite.jsonl"),
        root.path().join("postgres.jsonl"),
        root.path().join("last.jsonl"),
    );
    let exported = export(&on_sqlite, &from_sqlite);
    assert!(
        exported.contains("exported 1 jobs, 1 modules"),
        "{exported}"
    );
    let on_pg = pg(&first, &url);
    let imported = import(&on_pg, &from_sqlite, 0);
    assert!(
        imported.contains("imported 1 jobs, 1 modules") && imported.contains("from sqlite store"),
        "{imported}"
    );
    assert_eq!(
        reads(&on_pg, &job),
        before,
        "PostgreSQL reads what SQLite read"
    );
    export(&on_pg, &from_pg);

    let on_last = sqlite(&last);
    let imported = import(&on_last, &from_pg, 0);
    assert!(imported.contains("from postgres store"), "{imported}");
    assert_eq!(reads(&on_last, &job), before, "SQLite again reads the same");
    export(&on_last, &from_last);

    let records = [
        records(&from_sqlite),
        records(&from_pg),
        records(&from_last),
    ];
    assert!(
        records[0].len() > 12,
        "every line of the run: {}",
        records[0].len()
    );
    assert_eq!(
        records[1], records[0],
        "exported from PostgreSQL as from SQLite"
    );
    assert_eq!(records[2], records[0], "and from SQLite again");
}

/// A worker killed with SIGKILL mid-plan on SQLite: while its lease lives
/// the export is refused, naming the job and `drbook workers`; once it has
/// lapsed the job is exported (its journal's intents included, from its
/// spool), imported into PostgreSQL and finished there by a worker: every
/// VM failed over once, every line of the log once.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_killed_mid_plan_on_sqlite_is_finished_on_postgres_once() {
    let url = testing::database().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let on_sqlite = sqlite(dir);
    // Slow enough that the plan is under way when the worker dies.
    let job = detached_failover(dir, &on_sqlite, 200);
    let mut worker = postgres::worker(on_sqlite(), "3s", &[], Stdio::null());
    wait_for_a_start(&on_sqlite);
    worker.kill().expect("SIGKILL the worker");
    worker.wait().unwrap();
    let killed_at = Instant::now();
    let started = history(&on_sqlite).len();
    assert!((1..12).contains(&started), "mid-plan: {started} started");

    let file = dir.join("moved.jsonl");
    let refused = text(&exits(
        on_sqlite().args(["store", "export", "--out"]).arg(&file),
        1,
    ));
    assert!(
        refused.contains(&job)
            && refused.contains("drbook workers")
            && refused.contains("live lease"),
        "{refused}"
    );
    assert!(!file.exists(), "nothing written: {refused}");
    // The lease's three seconds, and a margin.
    std::thread::sleep(
        Duration::from_secs(3).saturating_sub(killed_at.elapsed()) + Duration::from_millis(500),
    );
    let shown = json(on_sqlite().args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Running", "interrupted: {shown:#}");
    export(&on_sqlite, &file);

    let on_pg = pg(dir, &url);
    import(&on_pg, &file, 0);
    let shown = json(on_pg().args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Running", "{shown:#}");
    assert_eq!(shown["leaseOwner"], serde_json::Value::Null, "{shown:#}");
    finishes(postgres::worker(
        on_pg(),
        "200ms",
        &["--exit-when-idle"],
        Stdio::null(),
    ));
    let shown = json(on_pg().args(["jobs", "show", &job]));
    assert_eq!(shown["status"], "Completed", "{shown:#}");
    assert_each_vm_failed_over_once(&on_pg, &job);
}

/// Each import that cannot be made is refused (exit 2) with what is wrong
/// and what to do, and writes nothing: into a store that is not empty
/// (PostgreSQL, SQLite), of a corrupted file, a truncated one, one of
/// another format version, one of a newer schema.
#[tokio::test(flavor = "multi_thread")]
async fn bad_imports_are_refused_with_their_fix_and_write_nothing() {
    let url = testing::database().await;
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    let on_source = sqlite(&source);
    detached_failover(&source, &on_source, SPEED);
    let file = root.path().join("store.jsonl");
    export(&on_source, &file);
    let good = std::fs::read_to_string(&file).unwrap();

    let on_pg = pg(&source, &url);
    import(&on_pg, &file, 0);
    let again = import(&on_pg, &file, 2);
    assert!(
        again.contains("is not empty")
            && again.contains("rows of jobs")
            && again.contains("nothing was written"),
        "{again}"
    );
    let listed = json(on_pg().args(["--json", "jobs", "list"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let into_itself = import(&on_source, &file, 2);
    assert!(into_itself.contains("is not empty"), "{into_itself}");

    let header_end = good.find('\n').unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let bad = [
        (
            // A byte of the module changed: the line still reads.
            "corrupted",
            good.replacen("\"bytes\":\"0061736d", "\"bytes\":\"0061736e", 1),
            "the file was altered or is corrupted",
        ),
        (
            "torn",
            String::from_utf8_lossy(&good.as_bytes()[..good.len() / 2]).into_owned(),
            "the file is corrupted; export the store again",
        ),
        (
            "truncated",
            lines[..lines.len() - 1].join("\n") + "\n",
            "the file is truncated",
        ),
        (
            "another version",
            good.replacen("\"version\":1", "\"version\":99", 1),
            "format version 99 and this build reads version 1",
        ),
        (
            "a newer schema",
            good[..header_end].replacen("\"schema\":", "\"schema\":99", 1) + &good[header_end..],
            "newer than this build's",
        ),
    ];
    assert!(bad[0].1 != good, "the module's bytes are in the file");
    for (what, contents, expected) in bad {
        let target = root.path().join(what);
        std::fs::create_dir_all(&target).unwrap();
        let file = target.join("bad.jsonl");
        std::fs::write(&file, contents).unwrap();
        let on_target = sqlite(&target);
        let refused = import(&on_target, &file, 2);
        assert!(refused.contains(expected), "{what}: {refused}");
        let listed = json(on_target().args(["--json", "jobs", "list"]));
        assert_eq!(listed, serde_json::json!([]), "{what}: nothing written");
    }
}
