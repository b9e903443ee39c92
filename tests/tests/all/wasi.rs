//! What WASI gives a runbook (std's clocks, randomness and sleeps, and
//! `wasi:io/poll` by hand), probed by the `wasi-probe` runbook: a replay is
//! handed every value the live run was, the randomness is the operating
//! system's, and every WASI wait ends at the job's deadline or at a stop.
//! After each probe that misbehaves, the same host runs a normal runbook.

use std::process::Stdio;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drbook_core::job::JobStatus;
use drbook_core::journal::{Call, Stream};
use drbook_runtime::{JobOutcome, Limits};
use drbook_tests::guests;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cli::{stderr, Cli, USER};
use crate::support::{assert_completed, BlockingStore, Demo, Job};

/// How long a probe's job may take before the test fails: far past the
/// deadlines of these tests (1 s), short of the waits they make (20 s,
/// forever).
const PATIENCE: Duration = Duration::from_secs(10);

/// The probe with `params` under `limits`, in-process; fails if its job has
/// not ended within [`PATIENCE`]. Then the same host runs a normal runbook.
fn probe(demo: &Arc<Demo>, params: &[(&str, &str)], limits: Limits) -> JobOutcome {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (done, outcome) = mpsc::channel();
    let host = demo.clone();
    // On a thread of its own, so that a wait the host does not end fails
    // the test instead of hanging it.
    std::thread::spawn(move || {
        let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (&**k, &**v)).collect();
        let job = Job::new(guests::WASI_PROBE).params(&params).limits(limits);
        let _ = done.send(host.run(job));
    });
    let outcome = outcome
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("the job of {params:?} had not ended after {PATIENCE:?}"));
    let normal = demo.run(Job::new(guests::PROBE).params(&[("echo", "still alive")]));
    assert_completed(&normal);
    assert_eq!(normal.output.as_deref(), Some("still alive"));
    outcome
}

fn failure_reason(outcome: &JobOutcome) -> &str {
    assert_eq!(
        outcome.status,
        JobStatus::Failed,
        "the probe should fail its job: {:?}",
        outcome.output
    );
    &outcome.failure.as_ref().unwrap().reason
}

#[test]
pub(crate) fn every_wasi_wait_ends_at_the_deadline() {
    let demo = Arc::new(Demo::new());
    let limits = Limits {
        deadline: Duration::from_secs(1),
        ..Limits::default()
    };
    // A wait shorter than the deadline is a wait.
    let nap = probe(&demo, &[("mode", "sleep"), ("ms", "50")], limits);
    assert_completed(&nap);
    assert_eq!(nap.output.as_deref(), Some("slept 50 ms"));
    // The longest WASI offers, polled or blocked on, and std's sleep past
    // the deadline: each ends the job at the deadline, as `clock.sleep`
    // would.
    let waits: [&[(&str, &str)]; 3] = [
        &[("mode", "poll-forever")],
        &[("mode", "block-forever")],
        &[("mode", "sleep"), ("ms", "20000")],
    ];
    for params in waits {
        let outcome = probe(&demo, params, limits);
        assert_eq!(
            failure_reason(&outcome),
            "runbook ran past its 1.0 s deadline",
            "{params:?}"
        );
    }
}

#[test]
fn reading_the_clock_or_randomness_in_bulk_fails_at_the_journal_limits() {
    let demo = Arc::new(Demo::new());
    let entries = Limits {
        journal_entries: 1000,
        ..Limits::default()
    };
    let loop_of_reads = probe(&demo, &[("mode", "clock-loop"), ("reads", "5000")], entries);
    let reason = failure_reason(&loop_of_reads);
    assert!(
        reason.starts_with("runbook made more than its limit of 1000 journal entries"),
        "{reason}"
    );
    // A gigabyte of random bytes is refused before it is made.
    let bytes = Limits {
        journal_bytes: 1 << 20,
        ..Limits::default()
    };
    let hoard = probe(&demo, &[("mode", "random"), ("bytes", "1000000000")], bytes);
    let reason = failure_reason(&hoard);
    assert!(
        reason.starts_with("runbook's journal would pass its limit of 1 MiB"),
        "{reason}"
    );
}

/// The `probe`'s `stamp=wall` (what `crates/drbook/benches/postgres.rs`
/// times a job's first instruction by, from another process) is the host's
/// wall clock, read while the job ran: between the moments before and after
/// the job, in nanoseconds.
#[test]
fn the_probe_stamps_its_first_instruction_with_the_wall_clock() {
    let demo = Demo::new();
    let since_epoch = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let before = since_epoch().as_nanos();
    let stamped = demo.run(Job::new(guests::PROBE).params(&[("stamp", "wall")]));
    let after = since_epoch().as_nanos();
    assert_completed(&stamped);
    let output = stamped.output.as_deref().unwrap_or_default();
    let wall: u128 = output
        .strip_prefix("wall ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a stamp: {output:?}"));
    assert!(
        before <= wall && wall <= after,
        "{before} <= {wall} <= {after}"
    );
}

/// `drbook run --detach` of the probe with `params` on `cli`'s data
/// directory: the job's id.
fn detach(cli: &Cli, params: &[&str]) -> String {
    let plan = cli.plan();
    // Behind the plan's running job, if any: one job at a time changes a plan.
    let mut args = vec![
        "run",
        guests::WASI_PROBE,
        "--plan",
        &plan,
        "--detach",
        "--queue",
    ];
    for param in params {
        args.extend(["--param", param]);
    }
    let out = cli.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs every job of `cli` to its end in one worker at real speed that
/// unloads each wait past 50 ms; returns the runs it reports, by job.
fn unloading_worker(cli: &Cli) -> Vec<Value> {
    let start = Instant::now();
    let mut worker = cli
        .command()
        .args(["--speed", "1", "--json", "worker", "--poll", "10ms"])
        .args(["--unload-after", "50ms", "--exit-when-idle"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while worker.try_wait().unwrap().is_none() {
        if start.elapsed() > PATIENCE {
            worker.kill().unwrap();
            let out = worker.wait_with_output().unwrap();
            panic!(
                "the jobs had not ended after {PATIENCE:?}; their runs:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = worker.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line per run"))
        .collect()
}

/// Job `id` completed after being unloaded and replayed at least once;
/// returns its output and the first line it wrote (in its first run).
fn replayed_output(cli: &Cli, runs: &[Value], id: &str) -> (String, String) {
    let runs: Vec<&Value> = runs.iter().filter(|r| r["job"] == id).collect();
    let last = runs.last().expect("the job ran");
    assert_eq!(last["status"], "Completed", "{runs:#?}");
    assert!(
        runs.iter().any(|r| r["status"] == "Running"
            && r["reason"].as_str().unwrap().starts_with("sleeping until")),
        "the job should have been unloaded while it slept: {runs:#?}"
    );
    assert!(last["replayed"].as_u64().unwrap() > 0, "{last}");
    let store = BlockingStore::open(cli.dir.path());
    let output = store.get(id).unwrap().result.unwrap()["output"]
        .as_str()
        .unwrap()
        .to_string();
    let first = store
        .journal(id)
        .unwrap()
        .into_iter()
        .find_map(|entry| match entry.call {
            Call::Log {
                stream: Stream::Output,
                text,
            } => Some(text),
            _ => None,
        })
        .expect("the line the probe wrote");
    (output, first)
}

#[test]
fn clocks_read_before_the_first_host_call_read_the_same_in_a_replay() {
    let cli = Cli::demo();
    // The wait that unloads the job: `clock.sleep`, or std's sleep.
    let ids: Vec<(String, &str)> = ["wit", "wasi"]
        .into_iter()
        .map(|wait| {
            let mode = format!("wait={wait}");
            (
                detach(&cli, &["mode=clock-first", &mode, "wait-ms=300"]),
                wait,
            )
        })
        .collect();
    let runs = unloading_worker(&cli);
    for (id, wait) in &ids {
        let (output, first) = replayed_output(&cli, &runs, id);
        // What the replay read before its first host call is what the live
        // run wrote; the monotonic clock went on through the unloaded wait.
        let (read, later) = output
            .split_once("; ")
            .unwrap_or_else(|| panic!("{wait}: {output}"));
        assert_eq!(read, first, "{wait}");
        let waited: u64 = later.trim_end_matches(" ms later").parse().unwrap();
        assert!(
            waited >= 300,
            "{wait}: the clock shows {waited} ms of a 300 ms wait"
        );
    }
    cli.assert_still_alive();
}

#[test]
fn randomness_is_the_systems_and_a_replay_is_handed_the_same() {
    let cli = Cli::demo();
    let ids = [
        detach(&cli, &["mode=random", "bytes=32"]),
        detach(&cli, &["mode=random", "bytes=32"]),
    ];
    let runs = unloading_worker(&cli);
    let mut shown = Vec::new();
    for id in &ids {
        let (output, first) = replayed_output(&cli, &runs, id);
        assert_eq!(output, first, "the replay was handed other bytes");
        // Before, the bytes were the SHA-256 of the job id, which every
        // command shows, and the insecure seed was 0.
        let secure = output.split(' ').nth(1).unwrap().to_string();
        let derived: String = Sha256::digest(id.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(secure.len(), 64, "{output}");
        assert_ne!(secure, derived, "the bytes are the job id's hash");
        assert!(!output.ends_with(&"0".repeat(32)), "{output}");
        shown.push(output);
    }
    assert_ne!(shown[0], shown[1], "two jobs were handed the same bytes");
    cli.assert_still_alive();
}

#[test]
fn a_stop_ends_a_wasi_wait() {
    let cli = Cli::demo();
    // Loaded for the whole wait: its deadline (5 min) comes before it
    // would unload (10 min).
    let mut worker = cli
        .command()
        .args(["--speed", "1", "worker", "--poll", "20ms"])
        .args(["--deadline", "5m", "--unload-after", "10m"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let store = BlockingStore::open(cli.dir.path());
    for (mode, line) in [
        (&["mode=poll-forever"][..], "polling forever"),
        (&["mode=sleep", "ms=3600000"][..], "sleeping 3600000 ms"),
    ] {
        let id = detach(&cli, mode);
        let waiting = |job: &drbook_core::job::JobRecord| {
            job.state == JobStatus::Running && job.lease_owner.is_some() && job.wake.is_none()
        };
        wait_until(&format!("{id} waits"), || {
            let wrote = store
                .journal(&id)
                .unwrap()
                .iter()
                .any(|e| matches!(&e.call, Call::Log { text, .. } if text == line));
            wrote && waiting(&store.get(&id).unwrap())
        });
        let out = cli.run(&["jobs", "stop", &id]);
        assert!(out.status.success(), "{}", stderr(&out));
        wait_until(&format!("{id} stopped"), || {
            store.get(&id).unwrap().state == JobStatus::Stopped
        });
        let job = store.get(&id).unwrap();
        assert_eq!(job.reason, Some(format!("stopped by {USER}")), "{mode:?}");
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    cli.assert_still_alive();
}

/// Polls `done` until it holds; fails after [`PATIENCE`].
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "not {what} after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
