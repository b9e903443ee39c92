//! Outside calls (issue 16), with their targets:
//! - `http/job-0-checks` and `http/job-1-check`: a job of the `http-probe`
//!   guest with no request and with one granted GET to a local server
//!   (keep-alive, answering at once); what one check adds to a job is their
//!   difference less the server's own time, which the server measures
//!   (≤ 1 ms). `http/job-100-checks` gives the steady cost per check.
//! - `http/replay-100-gets`, `http/replay-100-item-reads` and
//!   `http/replay-100-clock-reads`: a job whose journal holds 100 GETs,
//!   replayed (the server sees none), beside the `probe` replaying 100
//!   `fabric.get-item` reads (a host call whose answer is a record of the
//!   size of an HTTP exchange's) and 100 `clock.now` calls (the smallest
//!   answer there is): a replayed exchange costs what any replayed host call
//!   does.
//!
//! Jobs run with an in-memory journal, as in `runtime.rs`; the replays'
//! journals are collected from a live run of each. Every job's outcome is
//! checked. Results and method: `docs/benchmarks.md`, "Outside calls".

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use drbook_core::fabric::Fabric;
use drbook_core::job::{Admission, AdmittedBy, Approval, JobSpec, JobStatus};
use drbook_core::journal::{Entry, Record};
use drbook_core::scope::{Capabilities, Interface, Manifest};
use drbook_core::store::{RunEnd, RunLog, StoreError};
use drbook_core::TimeScale;
use drbook_fabric_sim::Simulator;
use drbook_runtime::{JobOptions, JobOutcome, Journal, Runbook, Runtime};
use drbook_tests::{fixtures, guests};

/// A keep-alive HTTP/1.1 server answering `200 ok` at once, and the time
/// it spent on requests (from a request's line read to its answer written).
fn server() -> (u16, Arc<AtomicU64>, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (busy, count) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (b, n) = (busy.clone(), count.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (busy, count) = (b.clone(), n.clone());
            std::thread::spawn(move || {
                stream.set_nodelay(true).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let start = Instant::now();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .is_err()
                    {
                        return;
                    }
                    busy.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    (port, busy, count)
}

/// A run log that keeps what it is given, in memory: the journal a replay
/// is given.
#[derive(Default)]
struct Kept(Mutex<Vec<Entry>>);

#[async_trait]
impl RunLog for Kept {
    fn job_id(&self) -> &str {
        "bench"
    }
    fn append(&self, seq: usize, entry: &Entry, _: Option<&Record>) -> Result<(), StoreError> {
        let mut entries = self.0.lock().unwrap();
        entries.truncate(seq);
        entries.push(entry.clone());
        Ok(())
    }
    async fn append_intent(&self, seq: usize, entry: &Entry) -> Result<(), StoreError> {
        self.append(seq, entry, None)
    }
    fn append_stream(&self, _: &Record) -> Result<(), StoreError> {
        Ok(())
    }
    async fn end(&self, _: RunEnd<'_>) -> Result<(), StoreError> {
        Ok(())
    }
    fn lease_lost(&self) -> bool {
        false
    }
    async fn decision(&self, _: usize) -> Result<Option<Approval>, StoreError> {
        Ok(None)
    }
}

struct Bench {
    tokio: tokio::runtime::Runtime,
    runtime: Runtime,
    fabric: Arc<dyn Fabric>,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let estate = fixtures::estate(["vm-1".to_string()]);
        let fabric: Arc<dyn Fabric> =
            Arc::new(Simulator::init(dir.path(), &estate, false, TimeScale::Instant).unwrap());
        Bench {
            tokio,
            runtime: Runtime::new(None).unwrap(),
            fabric,
            _dir: dir,
        }
    }

    fn load(&self, path: &str) -> Arc<Runbook> {
        self.runtime.load(Path::new(path)).unwrap()
    }

    /// A job of `runbook` with `parameters`, its module granted `http`.
    fn run(
        &self,
        runbook: &Runbook,
        parameters: &[(&str, String)],
        http: &[String],
        journal: Journal,
    ) -> JobOutcome {
        let plan = fixtures::one_group_plan("bench", vec!["vm-1".into()]);
        let mut spec: JobSpec = fixtures::job_spec("bench", &plan, parameters);
        spec.admission = Some(Admission {
            digest: runbook.digest.clone(),
            source: "bench".into(),
            signers: vec![],
            admitted_by: AdmittedBy::NoPolicy,
            capabilities: Capabilities {
                manifest: Some(Manifest {
                    interfaces: Interface::ALL.to_vec(),
                    operations: vec![],
                    http: http.to_vec(),
                    azure: vec![],
                }),
                signed: false,
                caps: vec![],
            },
            replaces: None,
        });
        let options = JobOptions {
            time_scale: TimeScale::Instant,
            ..JobOptions::default()
        };
        let outcome = self.tokio.block_on(self.runtime.run_job(
            runbook,
            spec,
            self.fabric.clone(),
            options,
            journal,
        ));
        assert_eq!(
            outcome.status,
            JobStatus::Completed,
            "{:?}",
            outcome.failure
        );
        outcome
    }
}

fn gets(url: &str, n: usize) -> String {
    vec![format!("GET {url}"); n].join(";")
}

fn outside_calls(c: &mut Criterion) {
    let bench = Bench::new();
    let probe = bench.load(guests::HTTP_PROBE);
    let clock_probe = bench.load(guests::PROBE);
    let (port, busy, count) = server();
    let url = format!("http://127.0.0.1:{port}/health");
    let grant = vec![format!("http://127.0.0.1:{port}/")];

    let mut group = c.benchmark_group("http");
    for n in [0usize, 1, 100] {
        let name = match n {
            0 => "job-0-checks".to_string(),
            1 => "job-1-check".to_string(),
            n => format!("job-{n}-checks"),
        };
        let params = [("requests", gets(&url, n))];
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome = bench.run(&probe, &params, &grant, Journal::new(Vec::new(), None));
                assert!(
                    n == 0
                        || outcome
                            .output
                            .as_deref()
                            .unwrap()
                            .contains("\"status\":200")
                );
                outcome
            })
        });
    }
    let served = count.load(Ordering::Relaxed).max(1);
    println!(
        "server's own time: {:.1} µs per request ({served} requests)",
        busy.load(Ordering::Relaxed) as f64 / served as f64 / 1e3
    );

    // The journals: one live run of each, kept.
    let journal_of = |runbook: &Runbook, params: &[(&str, String)]| {
        let kept = Arc::new(Kept::default());
        bench.run(
            runbook,
            params,
            &grant,
            Journal::new(Vec::new(), Some(kept.clone())),
        );
        let entries = kept.0.lock().unwrap().clone();
        entries
    };
    let http_params = [("requests", gets(&url, 100))];
    let clock_params = [("calls", "100".to_string())];
    let read_params = [("reads", "100".to_string())];
    let http_journal = journal_of(&probe, &http_params);
    let clock_journal = journal_of(&clock_probe, &clock_params);
    let read_journal = journal_of(&clock_probe, &read_params);
    let before = count.load(Ordering::Relaxed);
    group.bench_function("replay-100-gets", |b| {
        b.iter(|| {
            let journal = Journal::new(http_journal.clone(), None);
            let outcome = bench.run(&probe, &http_params, &grant, journal);
            assert_eq!(outcome.replayed, http_journal.len());
            outcome
        })
    });
    assert_eq!(
        count.load(Ordering::Relaxed),
        before,
        "a replay sent no request"
    );
    for (name, params, journal) in [
        ("replay-100-item-reads", &read_params, &read_journal),
        ("replay-100-clock-reads", &clock_params, &clock_journal),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let outcome = bench.run(
                    &clock_probe,
                    params,
                    &grant,
                    Journal::new(journal.clone(), None),
                );
                assert_eq!(outcome.replayed, journal.len());
                outcome
            })
        });
    }
    group.finish();
}

criterion_group!(benches, outside_calls);
criterion_main!(benches);
