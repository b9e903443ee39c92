//! Webhook benchmark (issue 5), loopback only, bounded in count and time.
//!
//! 1. Latency: sequential deliveries to a webhook running the `probe`
//!    runbook; from the moment the client starts writing the request to the
//!    runbook's first instruction (its first host call, `plan.context`).
//!    Each is sent once the job before it has ended (a delivery to a busy
//!    plan would queue behind its job).
//! 2. Throughput: distinct alerts, each delivered twice, from concurrent
//!    keep-alive clients; deliveries per second, then a check that every
//!    distinct alert created exactly one job (a rule queues each behind the
//!    plan's busy job: they run one after another), duplicates got the
//!    first delivery's job ids, and every job completed.
//!
//! `cargo bench -p drbook-tests --bench webhooks` (`-- --quick` for fewer).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drbook_core::fabric::Direction;
use drbook_core::job::JobStatus;
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::store::JobStore;
use drbook_core::store::OnBusy;
use drbook_core::TimeScale;
use drbook_fabric_sim::{demo_estate, demo_plan_toml, Simulator};
use drbook_jobs::{Execution, WorkerOptions};
use drbook_runtime::{JobEvent, Limits, Observer, Runtime};
use drbook_store_sqlite::SqliteStore;
use drbook_tests::guests;
use drbook_triggers::{
    serve, NewWebhook, RateLimit, Rule, RuleAction, RuleMatch, RunTarget, ServeOptions, Webhooks,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIME_BOUND: Duration = Duration::from_secs(120);

/// A keep-alive HTTP/1.1 connection.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn post(&mut self, path: &str, body: &[u8]) -> (u16, String) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.stream.write_all(&request).await.unwrap();
        self.buf.clear();
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + length {
                    self.read().await;
                }
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                let body =
                    String::from_utf8_lossy(&self.buf[end + 4..end + 4 + length]).to_string();
                return (status, body);
            }
            self.read().await;
        }
    }

    async fn read(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn job_ids(body: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["JobIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn alert(n: usize) -> Vec<u8> {
    serde_json::json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": { "essentials": {
            "alertId": format!("/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/bench-{n}"),
            "alertRule": "bench", "severity": "Sev1", "signalType": "Metric",
            "monitorCondition": "Fired", "monitoringService": "Platform",
            "alertTargetIDs": ["/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/web-01"],
            "firedDateTime": "2026-03-01T10:00:00Z", "description": "bench"
        }, "alertContext": {} }
    })
    .to_string()
    .into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (latency_n, distinct, clients) = if quick {
        (200, 500, 8)
    } else {
        (1000, 2000, 8)
    };
    let started_at = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::init(dir.path(), &demo_estate(), false, TimeScale::Instant).unwrap();
    let plan = RecoveryPlan::parse(&demo_plan_toml().unwrap(), "demo").unwrap();
    let store: Arc<dyn JobStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let runtime = Runtime::new(None).unwrap();
    let probe = runtime.load(Path::new(guests::PROBE)).unwrap();

    let starts: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // The client sleeps until a job starts: a client polling in a loop
    // would take one of the machine's two cores from the server, whose
    // threads then preempt each other for milliseconds (that was the p99).
    let started = Arc::new(tokio::sync::Notify::new());
    let (seen, wake) = (starts.clone(), started.clone());
    let observer = Observer::new(move |event| {
        if let JobEvent::Started { job_id } = event {
            seen.lock()
                .unwrap()
                .entry(job_id.clone())
                .or_insert_with(Instant::now);
            wake.notify_one();
        }
    });
    let exec = Execution {
        store: store.clone(),
        runtime,
        fabric: Arc::new(sim),
        limits: Limits::default(),
        time_scale: TimeScale::Instant,
        observer,
        unload_after: Duration::from_secs(600),
        trust: Default::default(),
        checked: Default::default(),
    };
    let webhooks = Webhooks::new(store.clone());
    let target = RunTarget {
        runbook: "probe.wasm".into(),
        digest: probe.digest.clone(),
        plan,
        failover_type: FailoverType::Test,
        direction: Direction::PrimaryToRecovery,
        parameters: Default::default(),
        grant: Default::default(),
        admission: None,
    };

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Deliveries of the latency part carry no alert; the alerts of the
    // throughput part go to a webhook whose rule queues each alert's job
    // behind the plan's busy one (the default would attach it).
    let create = |name: &str, rules: Option<Vec<Rule>>| {
        tokio
            .block_on(webhooks.create(
                NewWebhook {
                    name: name.into(),
                    run: target.clone(),
                    rules,
                    expires: chrono::Utc::now() + chrono::Duration::days(1),
                    signed: false,
                    modules: vec![(probe.digest.clone(), std::fs::read(guests::PROBE).unwrap())],
                },
                "bench",
            ))
            .unwrap()
            .path()
    };
    let path = create("bench", None);
    let queue = Rule {
        name: "every alert".into(),
        when: RuleMatch {
            severity: vec![],
            signal: vec![],
            alert_rule: None,
            event_status: vec![],
            target_in_plan: false,
        },
        action: RuleAction::Run(Box::new(target.clone())),
        on_busy: OnBusy::Queue,
    };
    let alerts_path = create("bench-alerts", Some(vec![queue]));
    tokio.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = ServeOptions {
            rate_limit: RateLimit::per_second(1e6),
            log: Arc::new(|_| {}),
            ..ServeOptions::default()
        };
        let mut worker = WorkerOptions::new("bench".into());
        worker.poll = Duration::from_secs(1);
        let server = tokio::spawn(serve(listener, exec, worker, options, async {
            let _ = stopped.await;
        }));

        // 1. Latency, one delivery at a time, each once the job before it
        // has ended: a plan has one job at a time, and a delivery while it
        // is busy queues behind it (measured is the start, not the wait).
        let mut client = Client::connect(addr).await;
        let mut latencies = Vec::with_capacity(latency_n);
        let mut responses = Vec::with_capacity(latency_n);
        let mut previous: Option<String> = None;
        for _ in 0..latency_n {
            if let Some(id) = previous.take() {
                while !store.get(&id).await.unwrap().is_terminal() {
                    assert!(started_at.elapsed() < TIME_BOUND, "out of time");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            let sent = Instant::now();
            let (status, body) = client.post(&path, b"{}").await;
            let answered = sent.elapsed();
            assert_eq!(status, 202, "{body}");
            let id = job_ids(&body).remove(0);
            previous = Some(id.clone());
            let start = loop {
                if let Some(at) = starts.lock().unwrap().get(&id) {
                    break *at;
                }
                let left = TIME_BOUND.saturating_sub(started_at.elapsed());
                assert!(
                    tokio::time::timeout(left, started.notified()).await.is_ok(),
                    "out of time"
                );
            };
            latencies.push(start.duration_since(sent));
            responses.push(answered);
        }
        latencies.sort();
        responses.sort();
        println!(
            "latency, POST to the runbook's first instruction, {latency_n} sequential deliveries: p50 {:?} p90 {:?} p99 {:?} max {:?}",
            percentile(&latencies, 0.5), percentile(&latencies, 0.9), percentile(&latencies, 0.99), latencies[latencies.len() - 1]
        );
        println!(
            "  (202 response: p50 {:?} p99 {:?})",
            percentile(&responses, 0.5), percentile(&responses, 0.99)
        );

        // 2. Throughput: each distinct alert twice, `clients` connections.
        let total = distinct * 2;
        let bodies: Arc<Vec<Vec<u8>>> = Arc::new((0..distinct).map(alert).collect());
        let path = Arc::new(alerts_path);
        let began = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (bodies, path) = (bodies.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                let mut client = Client::connect(addr).await;
                let mut got = Vec::new();
                // Deliveries `c, c + clients, ...` of the sequence in which
                // alert `i` is sent at positions `2i` and `2i + 1`.
                let mut k = c;
                while k < bodies.len() * 2 {
                    let n = k / 2;
                    let (status, body) = client.post(&path, &bodies[n]).await;
                    assert_eq!(status, 202, "{body}");
                    got.push((n, job_ids(&body)));
                    k += clients;
                }
                got
            }));
        }
        let mut by_alert: HashMap<usize, Vec<Vec<String>>> = HashMap::new();
        for task in tasks {
            for (n, ids) in task.await.unwrap() {
                by_alert.entry(n).or_default().push(ids);
            }
        }
        let took = began.elapsed();
        println!(
            "throughput: {total} deliveries ({distinct} distinct alerts, each twice) from {clients} connections in {took:?}: {:.0} deliveries/s",
            total as f64 / took.as_secs_f64()
        );
        let mut all_ids = Vec::new();
        for (n, deliveries) in &by_alert {
            assert_eq!(deliveries.len(), 2, "alert {n}");
            assert_eq!(deliveries[0].len(), 1, "alert {n}");
            assert_eq!(deliveries[0], deliveries[1], "alert {n}: a duplicate started another job");
            all_ids.push(deliveries[0][0].clone());
        }
        assert_eq!(all_ids.len(), distinct);
        // Every job completes: none lost.
        loop {
            let mut done = 0;
            for id in &all_ids {
                if store.get(id).await.unwrap().is_terminal() {
                    done += 1;
                }
            }
            if done == all_ids.len() {
                break;
            }
            assert!(started_at.elapsed() < TIME_BOUND, "out of time: {done} of {} jobs ended", all_ids.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut completed = 0;
        for id in &all_ids {
            if store.get(id).await.unwrap().state == JobStatus::Completed {
                completed += 1;
            }
        }
        println!(
            "  all {distinct} jobs ended {:?} after the first delivery; {completed} completed; jobs in the store: {}",
            began.elapsed(),
            store.list(None, usize::MAX >> 1).await.unwrap().len() - latency_n
        );
        assert_eq!(completed, distinct);
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
}
