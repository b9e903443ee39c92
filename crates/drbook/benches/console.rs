//! Issue 14's figures of the console and the API, on a real `drbook serve`
//! (this build's release binary, or the one `DRBOOK_BENCH_BIN` names: how
//! the figures before a change are taken, with the old build's binary):
//!
//! - `pages`: 100,000 jobs in a SQLite store (imported with `drbook store
//!   import` from a file this bench writes, so that the binary measured
//!   makes its own schema), then `GET` of the console's job list and of the
//!   API's page, filtered, one request at a time: each request's time, from
//!   sending it to having read its whole body.
//! - `latency`: a job held by this process (its lease, its run's log, as a
//!   worker's), writing stream lines stamped with this process's clock into
//!   the store the server serves, and one SSE client of the server reading
//!   them (`/api/v1/jobs/{id}/events`): line written → line read.
//! - `memory`: 50 such jobs writing 10 lines a second each, and 200 SSE
//!   clients (4 a job) reading them: the server's resident memory
//!   (`VmRSS`) before the clients connect and at its highest while they
//!   read, sampled every 100 ms.
//!
//! `cargo bench --locked -p drbook --bench console [-- pages|latency|memory]`;
//! `DRBOOK_BENCH_JOBS` (default 100,000) and `DRBOOK_BENCH_SAMPLES`
//! (default 200) size the parts. Figures are kept in `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drbook_core::fabric::Direction;
use drbook_core::job::{new_id, JobSpec, JobStatus, NewJob, Trigger};
use drbook_core::journal::{Record, Stream};
use drbook_core::lease::Lease;
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::store::export::{self, Export, ExportedJob, Item, Source};
use drbook_core::store::{JobStore, RunLog};
use drbook_store_sqlite::SqliteStore;

/// The module the bench's jobs are pinned to: the store keeps it, no job
/// of the bench runs it.
const MODULE: &[u8] = b"\0asm console bench";

/// Runbooks, plans and triggers the `pages` jobs are spread over.
const RUNBOOKS: usize = 5;
const PLANS: usize = 20;
const USERS: usize = 10;

fn main() {
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let jobs = number("DRBOOK_BENCH_JOBS", 100_000);
    let samples = number("DRBOOK_BENCH_SAMPLES", 200);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    tokio.block_on(async {
        if wanted("pages") {
            pages(jobs, samples).await;
        }
        if wanted("latency") {
            latency(samples).await;
        }
        if wanted("memory") {
            memory().await;
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

/// A data dir with the demo fabric, a viewer token, and its server.
struct Bench {
    dir: tempfile::TempDir,
    bin: PathBuf,
    token: String,
}

impl Bench {
    /// A data dir; `import`, if given, is imported into its store first.
    fn new(import: Option<&Path>) -> Bench {
        let bin = std::env::var_os("DRBOOK_BENCH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_drbook")));
        let dir = tempfile::tempdir().expect("a data dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod 700 the data dir");
        let mut bench = Bench {
            dir,
            bin,
            token: String::new(),
        };
        bench.check(&["fabric", "init", "--demo"]);
        if let Some(file) = import {
            bench.check(&["store", "import", file.to_str().expect("a UTF-8 path")]);
        }
        let made = bench.check(&["token", "create", "--name", "bench", "--scope", "viewer"]);
        bench.token = made.trim().to_string();
        bench
    }

    /// `drbook` on the data dir, none of the shell's drbook settings.
    fn drbook(&self) -> Command {
        let mut command = Command::new(&self.bin);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("DRBOOK_") {
                command.env_remove(var);
            }
        }
        command.arg("--data-dir").arg(self.dir.path());
        command
    }

    /// Runs `drbook args`, which must succeed; its stdout.
    fn check(&self, args: &[&str]) -> String {
        let output = self.drbook().args(args).output().expect("running drbook");
        assert!(
            output.status.success(),
            "drbook {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `drbook serve` on a free port of 127.0.0.1, started; its base URL.
    fn serve(&self) -> (Served, String) {
        let mut child = self
            .drbook()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting drbook serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("its first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("drbook serve: {line}"))
            .to_string();
        (Served(child), url)
    }

    fn store(&self) -> Arc<dyn JobStore> {
        Arc::new(SqliteStore::open(self.dir.path()).expect("open the store"))
    }
}

/// A server, killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Served {
    /// Its resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }
}

fn plan(name: &str) -> RecoveryPlan {
    RecoveryPlan::parse(
        &format!(
            "name = \"{name}\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
             [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n"
        ),
        "bench.toml",
    )
    .expect("the bench's plan")
}

fn spec(plan: RecoveryPlan, user: String) -> JobSpec {
    JobSpec {
        job_id: new_id(),
        plan,
        failover_type: FailoverType::Test,
        direction: Direction::PrimaryToRecovery,
        parameters: BTreeMap::new(),
        trigger: Trigger::CommandLine { user },
        grant: Default::default(),
        admission: None,
    }
}

/// An export file of `jobs` ended jobs, one a minute back from now, spread
/// over runbooks, plans and users; one in 100 failed.
fn export_file(path: &Path, jobs: usize) {
    let digest = drbook_core::module::digest(MODULE);
    let plans: Vec<RecoveryPlan> = (0..PLANS).map(|p| plan(&format!("plan-{p:02}"))).collect();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut items = vec![Item::Module {
        digest: digest.clone(),
        bytes: MODULE.to_vec(),
    }];
    for n in 0..jobs {
        let spec = spec(plans[n % PLANS].clone(), format!("user-{}", n % USERS));
        let created_ms = now_ms - (jobs - n) as i64 * 60_000;
        let failed = n % 100 == 7;
        items.push(Item::Job(Box::new(ExportedJob {
            id: spec.job_id.clone(),
            digest: digest.clone(),
            runbook: format!("runbook-{}.wasm", n % RUNBOOKS),
            trigger: spec.trigger.label(),
            spec,
            status: if failed {
                JobStatus::Failed
            } else {
                JobStatus::Completed
            },
            reason: failed.then(|| "the bench's failure".to_string()),
            wake: None,
            stop_requested: None,
            result: Some(serde_json::json!({})),
            created_ms,
            started_ms: Some(created_ms + 10),
            ended_ms: Some(created_ms + 1_000),
            queued: false,
            attempts: Vec::new(),
        })));
    }
    let export = Export {
        source: Source {
            kind: "sqlite".to_string(),
            // The oldest schema that holds all of it: older builds read it.
            schema: 8,
            location: "console bench".to_string(),
        },
        items,
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("the export file"));
    export::write(&mut file, &export).expect("write the export");
}

/// p50, p99 and the highest of `times`, as text in milliseconds.
fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
        ms(at(0.5)),
        ms(at(0.99)),
        ms(at(1.0)),
        times.len()
    )
}

async fn pages(jobs: usize, samples: usize) {
    let setup = Instant::now();
    let file = tempfile::NamedTempFile::new().expect("a file for the export");
    export_file(file.path(), jobs);
    let bench = Bench::new(Some(file.path()));
    let (_served, url) = bench.serve();
    println!(
        "pages: {jobs} jobs imported in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::new();
    let get = async |path: &str| -> (Duration, String) {
        let start = Instant::now();
        let response = http
            .get(format!("{url}{path}"))
            .bearer_auth(&bench.token)
            .send()
            .await
            .expect("the request");
        let status = response.status();
        let body = response.text().await.expect("the body");
        let took = start.elapsed();
        assert!(status.is_success(), "GET {path}: {status}: {body}");
        (took, body)
    };
    // The second page of the API's filtered query: by its first's cursor.
    let (_, first) = get("/api/v1/jobs?status=Failed").await;
    let first: serde_json::Value = serde_json::from_str(&first).expect("a page");
    let next = first["next"].as_str().expect("a next page").to_string();
    assert_eq!(first["jobs"].as_array().map(Vec::len), Some(50));
    let second = format!("/api/v1/jobs?status=Failed&cursor={next}");
    let paths = [
        "/ui/jobs".to_string(),
        "/ui/jobs?status=Failed".to_string(),
        "/ui/jobs?plan=plan-07&runbook=runbook-2.wasm".to_string(),
        "/api/v1/jobs".to_string(),
        "/api/v1/jobs?status=Failed".to_string(),
        second,
        "/api/v1/jobs?trigger=cli:user-3&limit=500".to_string(),
        "/api/v1/jobs?q=plan-07".to_string(),
    ];
    for path in &paths {
        // Warm up: the first requests fill the server's caches.
        for _ in 0..5 {
            let (_, body) = get(path).await;
            assert!(body.contains("job-"), "GET {path} shows no job: {body}");
        }
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            times.push(get(path).await.0);
        }
        println!("pages: GET {path}: {}", summary(&mut times));
    }
}

/// A job of this process, running: created, claimed under a lease of an
/// hour, its run's log open, as a worker holds one (before the server
/// starts: its worker would claim a new job first).
async fn running_job(store: &dyn JobStore, n: usize) -> (String, Arc<dyn RunLog>) {
    let spec = spec(plan(&format!("live-{n}")), "bench".to_string());
    let digest = drbook_core::module::digest(MODULE);
    let job = NewJob {
        digest: &digest,
        runbook: "live.wasm",
        spec: &spec,
    };
    store.create(job, MODULE).await.expect("create a job");
    let lease = Lease::new(format!("bench-{n}"), Duration::from_secs(3600));
    assert!(store.renew(&lease).await.expect("renew"));
    assert!(store.claim(&spec.job_id, &lease).await.expect("claim"));
    let (log, _) = store
        .open_run(&spec.job_id, &lease)
        .await
        .expect("open its run");
    (spec.job_id, log)
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
}

fn stamped() -> Record {
    Record {
        stream: Stream::Output,
        time: SystemTime::now(),
        text: now_ns().to_string(),
    }
}

/// Opens job `id`'s live stream and reads it until it closes, calling
/// `line` with each line's number and text as it arrives.
async fn follow(url: &str, token: &str, id: &str, mut line: impl FnMut(i64, &str)) {
    let http = reqwest::Client::new();
    let mut response = http
        .get(format!("{url}/api/v1/jobs/{id}/events"))
        .bearer_auth(token)
        .send()
        .await
        .expect("open the stream");
    assert!(response.status().is_success(), "{}", response.status());
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            if !block.contains("event: line") {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(data).expect("a line");
            let text = value["record"]["text"].as_str().expect("its text");
            line(value["seq"].as_i64().expect("its number"), text);
        }
    }
}

async fn latency(samples: usize) {
    let bench = Bench::new(None);
    let store = bench.store();
    let (id, log) = running_job(store.as_ref(), 0).await;
    let (_served, url) = bench.serve();
    let (send, mut received) = tokio::sync::mpsc::unbounded_channel();
    let reader = {
        let (url, token, id) = (url.clone(), bench.token.clone(), id.clone());
        tokio::spawn(async move {
            follow(&url, &token, &id, |_, text| {
                let written: u128 = text.parse().expect("a stamp");
                let _ = send.send(Duration::from_nanos((now_ns() - written) as u64));
            })
            .await
        })
    };
    // The stream is open once its first line has come.
    log.append_stream(&stamped()).expect("write a line");
    received.recv().await.expect("the first line");
    let mut times = Vec::with_capacity(samples);
    for n in 0..samples {
        log.append_stream(&stamped()).expect("write a line");
        times.push(received.recv().await.expect("the line"));
        // Lines at times that fall anywhere between the server's polls.
        tokio::time::sleep(Duration::from_millis(13 + (n % 7) as u64 * 11)).await;
    }
    reader.abort();
    println!(
        "latency: line written → SSE client: {}",
        summary(&mut times)
    );
}

async fn memory() {
    const JOBS: usize = 50;
    const CLIENTS_PER_JOB: usize = 4;
    let bench = Bench::new(None);
    let store = bench.store();
    let mut logs = Vec::new();
    for n in 0..JOBS {
        logs.push(running_job(store.as_ref(), n).await);
    }
    let (served, url) = bench.serve();
    let writing = {
        let logs: Vec<Arc<dyn RunLog>> = logs.iter().map(|(_, log)| log.clone()).collect();
        tokio::spawn(async move {
            loop {
                for log in &logs {
                    log.append_stream(&stamped()).expect("write a line");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = served.rss_kib();
    let counts: Arc<Vec<std::sync::atomic::AtomicU64>> = Arc::new(
        (0..JOBS * CLIENTS_PER_JOB)
            .map(|_| Default::default())
            .collect(),
    );
    let mut readers = Vec::new();
    for (n, (id, _)) in logs.iter().enumerate() {
        for c in 0..CLIENTS_PER_JOB {
            let (url, token, id) = (url.clone(), bench.token.clone(), id.clone());
            let counts = counts.clone();
            let slot = n * CLIENTS_PER_JOB + c;
            readers.push(tokio::spawn(async move {
                let mut last = 0;
                follow(&url, &token, &id, |seq, _| {
                    assert!(seq > last, "line {seq} after {last}");
                    last = seq;
                    counts[slot].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                })
                .await
            }));
        }
    }
    let mut highest = before;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        highest = highest.max(served.rss_kib());
    }
    let watchers = {
        let metrics = reqwest::Client::new()
            .get(format!("{url}/metrics"))
            .bearer_auth(&bench.token)
            .send()
            .await
            .expect("/metrics")
            .text()
            .await
            .expect("its text");
        let gauge = |name: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or("?")
                .to_string()
        };
        (
            gauge("drbook_event_streams"),
            gauge("drbook_event_watchers"),
        )
    };
    let quiet = counts
        .iter()
        .filter(|c| c.load(std::sync::atomic::Ordering::Relaxed) == 0)
        .count();
    writing.abort();
    for reader in readers {
        reader.abort();
    }
    assert_eq!(quiet, 0, "every client read lines");
    println!(
        "memory: {} SSE clients on {JOBS} running jobs (10 lines/s each): VmRSS {:.1} MiB before, \
         {:.1} MiB at most while they read, +{:.1} MiB; /metrics: {} streams, {} watchers",
        JOBS * CLIENTS_PER_JOB,
        before as f64 / 1024.0,
        highest as f64 / 1024.0,
        (highest - before) as f64 / 1024.0,
        watchers.0,
        watchers.1,
    );
}
