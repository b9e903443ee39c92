//! Issue 13's latency and throughput figures on PostgreSQL, measured on
//! real `drbook` processes (this build's release binary) sharing one store
//! on the throwaway cluster of `drbook_store_postgres::testing`:
//!
//! - `claim`: one `drbook worker`, idle, and jobs of the `probe` runbook
//!   created one at a time (each once the one before it ended): claim →
//!   the runbook's first instruction, and creation → first instruction.
//! - `workers`: 10,000 probe jobs created as fast as this process can,
//!   run by three `drbook worker` processes: throughput, and the queue wait
//!   (created → claimed) and end to end (created → ended). `backlog`: the
//!   same jobs all created first, then the three workers started: how fast
//!   they drain a queue.
//! - `webhooks`: two `drbook serve` processes, POSTs alternating between
//!   them, each once the job before it ended: POST → first instruction. The
//!   jobs run in the servers' own workers (whichever claims first).
//!
//! How a time is taken: the probe (`stamp=wall`) reads the wall clock as
//! its first action and returns it; claims, creations and ends are the
//! store's (`started_ms`, `created_ms`, `ended_ms`, on the database's clock,
//! which is this machine's, floored to the millisecond); a POST's is this
//! process's clock just before the request is sent. Every job is checked
//! to have completed with a stamp between its creation and its end.
//! Figures are kept in `docs/benchmarks.md`.
//!
//! `cargo bench --locked -p drbook --features postgres-tests --bench postgres [-- claim|workers|backlog|webhooks]`;
//! `DRBOOK_BENCH_SAMPLES` (default 300) and `DRBOOK_BENCH_JOBS` (default
//! 10,000) size the parts.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use drbook_core::fabric::Direction;
use drbook_core::job::{new_id, JobRecord, JobSpec, JobStatus, NewJob, Trigger};
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::store::{JobStore, OnBusy};
use drbook_store_postgres::{testing, PostgresStore};

// The CLI tests' builds of the guests: the bench needs only the probe.
#[allow(dead_code)]
#[path = "../tests/runbooks/mod.rs"]
mod runbooks;

/// Jobs run before the samples of a latency part are taken.
const WARM_UP: usize = 20;

/// How long any part may take before the bench gives up.
const TIME_BOUND: Duration = Duration::from_secs(900);

/// Jobs being created at once in the `workers` part.
const CREATORS: usize = 8;

fn main() {
    // `cargo bench` passes `--bench`; other arguments name the parts to run.
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let samples = number("DRBOOK_BENCH_SAMPLES", 300);
    let jobs = number("DRBOOK_BENCH_JOBS", 10_000);
    let probe = runbooks::probe();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    tokio.block_on(async {
        if wanted("claim") {
            claim(&Bench::new(&probe).await, samples).await;
        }
        if wanted("workers") {
            workers(&Bench::new(&probe).await, jobs, false).await;
        }
        if wanted("backlog") {
            workers(&Bench::new(&probe).await, jobs, true).await;
        }
        if wanted("webhooks") {
            webhooks(&Bench::new(&probe).await, samples).await;
        }
    });
}

fn number(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be a number, not `{text}`")),
        Err(_) => default,
    }
}

/// A part's setup: a new database, a data dir with the demo fabric, the
/// probe's bytes, and the store as this process sees it.
struct Bench {
    url: String,
    dir: tempfile::TempDir,
    probe: PathBuf,
    module: Vec<u8>,
    digest: String,
    store: PostgresStore,
}

impl Bench {
    async fn new(probe: &Path) -> Bench {
        let url = testing::database().await;
        let dir = tempfile::tempdir().expect("a data dir");
        // drbook keeps secrets in its data dir, and wants it private.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod 700 the data dir");
        let bench = Bench {
            store: PostgresStore::open(&url).await.expect("open the store"),
            url,
            dir,
            probe: probe.to_path_buf(),
            module: std::fs::read(probe).expect("the probe's bytes"),
            digest: String::new(),
        };
        let status = bench
            .drbook()
            .args(["fabric", "init", "--demo"])
            .stdout(Stdio::null())
            .status()
            .expect("drbook fabric init");
        assert!(status.success(), "drbook fabric init --demo failed");
        Bench {
            digest: drbook_core::module::digest(&bench.module),
            ..bench
        }
    }

    /// `drbook` (this build's) on the data dir and the store, with none of
    /// drbook's settings of the shell that runs the bench.
    fn drbook(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_drbook"));
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("DRBOOK_") {
                command.env_remove(var);
            }
        }
        command
            .env("DRBOOK_STORE_URL", &self.url)
            .arg("--data-dir")
            .arg(self.dir.path());
        command
    }

    /// `drbook worker --json` (one line a job it ran), started: it has
    /// renewed its lease once it prints its first line on stderr.
    fn worker(&self) -> Running {
        let mut child = self
            .drbook()
            .args(["--json", "worker"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting drbook worker");
        let first = first_line(child.stderr.take().expect("its stderr"));
        assert!(first.starts_with("worker "), "drbook worker: {first}");
        Running(child)
    }

    /// `drbook serve` on a free port of 127.0.0.1, started; its address.
    fn serve(&self) -> (Running, String) {
        let mut child = self
            .drbook()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting drbook serve");
        let line = first_line(child.stdout.take().expect("its stdout"));
        let address = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("drbook serve: {line}"))
            .to_string();
        (Running(child), address)
    }

    /// A job of the probe with `stamp=wall` on a plan of its own (`n`th),
    /// admitted as `drbook run --detach` admits one; its id.
    async fn create(&self, n: usize) -> String {
        let plan = RecoveryPlan::parse(
            &format!(
                "name = \"probe-{n}\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                 [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n"
            ),
            "probe.toml",
        )
        .expect("the probe's plan");
        let spec = JobSpec {
            job_id: new_id(),
            plan,
            failover_type: FailoverType::Test,
            direction: Direction::PrimaryToRecovery,
            parameters: BTreeMap::from([("stamp".to_string(), "wall".to_string())]),
            trigger: Trigger::CommandLine {
                user: "bench".to_string(),
            },
            grant: Default::default(),
            admission: None,
        };
        let job = NewJob {
            digest: &self.digest,
            runbook: "probe.wasm",
            spec: &spec,
        };
        let busy = self
            .store
            .admit(job, &self.module, OnBusy::Refuse)
            .await
            .expect("admit a probe job");
        assert!(busy.is_none(), "plan probe-{n} is busy: {busy:?}");
        spec.job_id
    }

    /// Job `id` once it has ended.
    async fn ended(&self, id: &str, since: Instant) -> JobRecord {
        loop {
            let changed = self.store.changed();
            let job = self.store.get(id).await.expect("read the job");
            if job.is_terminal() {
                return job;
            }
            assert!(since.elapsed() < TIME_BOUND, "job {id} did not end in time");
            let _ = tokio::time::timeout(Duration::from_millis(20), changed).await;
        }
    }
}

/// The first line of a child's output; the rest is read and dropped on a
/// thread of its own (a child whose pipe is closed fails as it prints).
fn first_line(out: impl Read + Send + 'static) -> String {
    let mut out = BufReader::new(out);
    let mut line = String::new();
    out.read_line(&mut line).expect("a child's first line");
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    line
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a completed probe job's record says, checked.
struct Times {
    created: DateTime<Utc>,
    claimed: DateTime<Utc>,
    ended: DateTime<Utc>,
    /// The probe's first instruction, by its own reading of the clock.
    first: DateTime<Utc>,
}

/// The times of `job`, which must have completed with the probe's stamp
/// between its claim and its end.
fn times(job: &JobRecord) -> Times {
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    let output = job.result.as_ref().and_then(|r| r["output"].as_str());
    let nanos: i64 = output
        .and_then(|o| o.strip_prefix("wall "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("job {} has no stamp: {:?}", job.id, job.result));
    let times = Times {
        created: job.created,
        claimed: job.started.expect("a claimed job's start"),
        ended: job.ended.expect("an ended job's end"),
        first: DateTime::from_timestamp_nanos(nanos),
    };
    // The stamps floored to their millisecond are at most 1 ms early.
    let ms = chrono::Duration::milliseconds(1);
    assert!(
        times.created <= times.claimed
            && times.claimed <= times.first
            && times.first < times.ended + ms,
        "job {}: created {}, claimed {}, first instruction {}, ended {}",
        job.id,
        times.created,
        times.claimed,
        times.first,
        times.ended
    );
    times
}

fn millis(d: chrono::Duration) -> f64 {
    d.num_microseconds().expect("a duration in range") as f64 / 1000.0
}

/// `what`'s p50, p90, p99 and largest, in milliseconds.
fn report(what: &str, mut values: Vec<f64>) {
    values.sort_by(f64::total_cmp);
    let at =
        |p: f64| values[((values.len() as f64 * p).ceil() as usize).clamp(1, values.len()) - 1];
    println!(
        "{what} ({} samples): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        values.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        values[values.len() - 1]
    );
}

/// Claim → first instruction, one job at a time on an idle worker.
async fn claim(bench: &Bench, samples: usize) {
    let _worker = bench.worker();
    let since = Instant::now();
    let (mut from_claim, mut waits, mut from_admit) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..WARM_UP + samples {
        let asked = DateTime::<Utc>::from(SystemTime::now());
        let id = bench.create(n).await;
        let t = times(&bench.ended(&id, since).await);
        if n >= WARM_UP {
            from_claim.push(millis(t.first - t.claimed));
            waits.push(millis(t.claimed - t.created));
            from_admit.push(millis(t.first - asked));
        }
    }
    report(
        "claim (started_ms, floored to its ms) → first instruction",
        from_claim,
    );
    report("created → claimed (the database's ms)", waits);
    report(
        "admit called (this process) → first instruction",
        from_admit,
    );
}

/// `jobs` jobs through three worker processes: created while the workers
/// run, or all created first (`backlog`: how fast the workers drain a
/// queue, without this process's creations in their way).
async fn workers(bench: &Bench, jobs: usize, backlog: bool) {
    let start = |running: &mut Vec<Running>| {
        running.extend((0..3).map(|_| bench.worker()));
        // Each worker's lines, one per job it ran.
        running
            .iter_mut()
            .map(|w| count_lines(w.0.stdout.take().expect("its stdout")))
            .collect::<Vec<_>>()
    };
    let mut running = Vec::new();
    let mut counts = if backlog { vec![] } else { start(&mut running) };
    let since = Instant::now();
    let next = AtomicUsize::new(0);
    let creators = (0..CREATORS).map(|_| async {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= jobs {
                return;
            }
            bench.create(n).await;
        }
    });
    futures::future::join_all(creators).await;
    let created = since.elapsed();
    let started = DateTime::<Utc>::from(SystemTime::now());
    if backlog {
        counts = start(&mut running);
    }
    loop {
        let counted = bench.store.count_by_status().await.expect("count jobs");
        let ended: u64 = counted
            .iter()
            .filter(|(s, _)| s.is_terminal())
            .map(|(_, n)| n)
            .sum();
        if ended as usize == jobs {
            break;
        }
        assert!(
            since.elapsed() < TIME_BOUND,
            "{counted:?} after {TIME_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let records = bench.store.list(None, jobs + 1).await.expect("list jobs");
    assert_eq!(records.len(), jobs);
    let all: Vec<Times> = records.iter().map(times).collect();
    let first = all.iter().map(|t| t.created).min().expect("jobs");
    let last = all.iter().map(|t| t.ended).max().expect("jobs");
    let (from, what) = if backlog {
        (started, "workers started")
    } else {
        (first, "first created")
    };
    let span = millis(last - from) / 1000.0;
    println!(
        "{jobs} jobs created in {:.2} s ({:.0}/s, {CREATORS} at once){}; {what} → last ended {span:.2} s: \
         {:.0} jobs/s; jobs each worker ran: {:?}",
        created.as_secs_f64(),
        jobs as f64 / created.as_secs_f64(),
        if backlog { ", then three workers started" } else { "" },
        jobs as f64 / span,
        counts.iter().map(|c| c.load(Ordering::Relaxed)).collect::<Vec<_>>()
    );
    report(
        "queue wait, created → claimed",
        all.iter().map(|t| millis(t.claimed - t.created)).collect(),
    );
    report(
        "claimed → first instruction",
        all.iter().map(|t| millis(t.first - t.claimed)).collect(),
    );
    report(
        "end to end, created → ended",
        all.iter().map(|t| millis(t.ended - t.created)).collect(),
    );
}

/// Counts the lines of `out` as they come, on a thread of its own.
fn count_lines(out: ChildStdout) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let counting = count.clone();
    std::thread::spawn(move || {
        for _ in BufReader::new(out).lines() {
            counting.fetch_add(1, Ordering::Relaxed);
        }
    });
    count
}

/// POST → first instruction, alternating between two `drbook serve`.
async fn webhooks(bench: &Bench, samples: usize) {
    let plan = bench.dir.path().join("plans").join("contoso-3tier.toml");
    let created = bench
        .drbook()
        .args([
            "--json",
            "webhook",
            "create",
            "--name",
            "bench",
            "--runbook",
        ])
        .arg(&bench.probe)
        .arg("--plan")
        .arg(&plan)
        .args(["--type", "test", "--param", "stamp=wall"])
        .output()
        .expect("drbook webhook create");
    assert!(
        created.status.success(),
        "drbook webhook create: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let created: serde_json::Value =
        serde_json::from_slice(&created.stdout).expect("the webhook's JSON");
    let url = created["url"].as_str().expect("the webhook's URL");
    let path = url
        .strip_prefix("http://127.0.0.1:8080")
        .expect("the URL on the default base");
    let servers: Vec<(Running, String)> = (0..2).map(|_| bench.serve()).collect();
    let client = reqwest::Client::new();
    let since = Instant::now();
    let mut latencies = Vec::new();
    for n in 0..WARM_UP + samples {
        let (_, address) = &servers[n % 2];
        let sent = DateTime::<Utc>::from(SystemTime::now());
        let response = client
            .post(format!("http://{address}{path}"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 202, "delivery {n}");
        let body: serde_json::Value = response.json().await.expect("the 202's body");
        let id = body["JobIds"][0].as_str().expect("a job id").to_string();
        let t = times(&bench.ended(&id, since).await);
        if n >= WARM_UP {
            latencies.push(millis(t.first - sent));
        }
    }
    report(
        "webhook POST (this process) → first instruction, two servers alternately",
        latencies,
    );
}
