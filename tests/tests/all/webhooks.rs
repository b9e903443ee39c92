//! The webhook server over real HTTP on 127.0.0.1:0: every way a delivery is
//! accepted or refused, what the runbook sees, alerts and rules, the job
//! API and the operations endpoints. Jobs really run on the demo fabric at
//! instant speed, in the server's own worker.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drbook_core::fabric::{Direction, Fabric, Location};
use drbook_core::job::{JobRecord, JobStatus};
use drbook_core::plan::{FailoverType, RecoveryPlan};
use drbook_core::token::Scope;
use drbook_core::webhook::AlertRecord;
use drbook_core::TimeScale;
use drbook_fabric_sim::{demo_estate, demo_plan_toml, Simulator};
use drbook_jobs::{Execution, WorkerOptions};
use drbook_runtime::{Limits, Observer};
use drbook_tests::guests;
use drbook_triggers::{
    create_token, serve, Created, Metrics, NewWebhook, RateLimit, Rule, RuleAction, RulesFile,
    RunTarget, ServeOptions, Webhook, WebhookError, Webhooks,
};

use crate::support::{runtime, BlockingStore};

/// The webhooks of a server's job store (async) called from synchronous
/// test code, on the server's runtime.
pub(crate) struct BlockingWebhooks {
    webhooks: Webhooks,
    tokio: tokio::runtime::Handle,
}

impl BlockingWebhooks {
    pub(crate) fn create(&self, new: NewWebhook, by: &str) -> Result<Created, WebhookError> {
        self.tokio.block_on(self.webhooks.create(new, by))
    }

    pub(crate) fn set_enabled(&self, name: &str, enabled: bool) -> Result<Webhook, WebhookError> {
        self.tokio
            .block_on(self.webhooks.set_enabled(name, enabled))
    }

    pub(crate) fn alerts(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<AlertRecord>, WebhookError> {
        self.tokio.block_on(self.webhooks.alerts(name, limit))
    }
}

/// A server on a demo fabric, with its job store and log.
pub(crate) struct Server {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) addr: SocketAddr,
    pub(crate) webhooks: BlockingWebhooks,
    pub(crate) store: BlockingStore,
    pub(crate) sim: Simulator,
    pub(crate) plan: RecoveryPlan,
    pub(crate) log: Arc<Mutex<Vec<String>>>,
    pub(crate) metrics: Metrics,
    /// The secret of a `viewer` API token: what `/metrics` wants.
    pub(crate) viewer: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), drbook_triggers::ServeError>>>,
    pub(crate) tokio: tokio::runtime::Runtime,
}

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Response {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub(crate) fn job_ids(&self) -> Vec<String> {
        assert_eq!(self.status, 202, "{}", self.body);
        self.json()["JobIds"]
            .as_array()
            .expect("JobIds")
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
}

impl Server {
    pub(crate) fn start(options: ServeOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sim = Simulator::init(dir.path(), &demo_estate(), false, TimeScale::Instant).unwrap();
        let plan = RecoveryPlan::parse(&demo_plan_toml().unwrap(), "demo").unwrap();
        let store = BlockingStore::open(dir.path());
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let exec = Execution {
            store: store.shared(),
            runtime: runtime().clone(),
            fabric: Arc::new(sim.clone()),
            limits: Limits::default(),
            time_scale: TimeScale::Instant,
            observer: Observer::none(),
            unload_after: Duration::from_secs(600),
            trust: Default::default(),
            checked: Default::default(),
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let options = ServeOptions {
            log: Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_string())),
            ..options
        };
        let metrics = options.metrics.clone();
        let listener = tokio
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let viewer = tokio
            .block_on(create_token(
                store.shared().as_ref(),
                "scraper",
                &[Scope::Viewer],
                chrono::Utc::now() + chrono::TimeDelta::days(1),
                "test",
            ))
            .unwrap()
            .secret;
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let mut worker = WorkerOptions::new(format!("test-serve-{addr}"));
        worker.poll = Duration::from_secs(5); // deliveries must wake it
        let served = tokio.spawn(serve(listener, exec, worker, options, async {
            let _ = stop.await;
        }));
        Server {
            webhooks: BlockingWebhooks {
                webhooks: Webhooks::new(store.shared()),
                tokio: tokio.handle().clone(),
            },
            dir,
            addr,
            store,
            sim,
            plan,
            log,
            metrics,
            viewer,
            shutdown: Some(shutdown),
            served: Some(served),
            tokio,
        }
    }

    /// A run of `wasm` on the demo plan.
    pub(crate) fn target(
        &self,
        wasm: &str,
        failover_type: FailoverType,
        params: &[(&str, &str)],
    ) -> (RunTarget, (String, Vec<u8>)) {
        let runbook = runtime().load(Path::new(wasm)).unwrap();
        let target = RunTarget {
            runbook: Path::new(wasm)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            digest: runbook.digest.clone(),
            plan: self.plan.clone(),
            failover_type,
            direction: Direction::PrimaryToRecovery,
            parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            grant: Default::default(),
            admission: None,
        };
        (
            target,
            (runbook.digest.clone(), std::fs::read(wasm).unwrap()),
        )
    }

    /// Creates a webhook; returns the path of its URL and its signing secret.
    pub(crate) fn webhook(
        &self,
        name: &str,
        target: (RunTarget, (String, Vec<u8>)),
        signed: bool,
    ) -> (String, Option<String>) {
        let created = self.create_webhook(name, target, None, signed);
        (created.path(), created.signing_secret)
    }

    /// Creates a webhook whose rules file says `rules` (resolved against
    /// `target`, naming no runbook); returns the path of its URL and the
    /// rules.
    pub(crate) fn ruled_webhook(
        &self,
        name: &str,
        target: (RunTarget, (String, Vec<u8>)),
        rules: &str,
    ) -> (String, Vec<Rule>) {
        let rules_path = self.dir.path().join(format!("{name}.rules.toml"));
        std::fs::write(&rules_path, rules).unwrap();
        let (resolved, loaded) = RulesFile::load(&rules_path)
            .unwrap()
            .resolve(&target.0, |_| unreachable!())
            .unwrap();
        assert!(loaded.is_empty());
        let created = self.create_webhook(name, target, Some(resolved.clone()), false);
        (created.path(), resolved)
    }

    fn create_webhook(
        &self,
        name: &str,
        (run, module): (RunTarget, (String, Vec<u8>)),
        rules: Option<Vec<Rule>>,
        signed: bool,
    ) -> Created {
        self.webhooks
            .create(
                NewWebhook {
                    name: name.to_string(),
                    run,
                    rules,
                    expires: chrono::Utc::now() + chrono::Duration::days(1),
                    signed,
                    modules: vec![module],
                },
                "test",
            )
            .unwrap()
    }

    /// A webhook that runs the `probe` test guest as a test failover.
    pub(crate) fn probe_webhook(&self, name: &str, signed: bool) -> (String, Option<String>) {
        self.webhook(
            name,
            self.target(guests::PROBE, FailoverType::Test, &[]),
            signed,
        )
    }

    pub(crate) fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.addr, "POST", path, headers, body)
    }

    pub(crate) fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers, b"")
    }

    /// `/metrics`, scraped with the viewer token.
    pub(crate) fn scrape(&self) -> String {
        let auth = format!("Bearer {}", self.viewer);
        let metrics = self.get("/metrics", &[("authorization", &auth)]);
        assert_eq!(metrics.status, 200, "{}", metrics.body);
        metrics.body
    }

    /// Waits for job `id` to end.
    pub(crate) fn finished(&self, id: &str) -> JobRecord {
        self.store.finished(id)
    }

    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn stop(&mut self) -> Result<(), drbook_triggers::ServeError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.served.take() {
            Some(served) => self.tokio.block_on(served).unwrap(),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before the whole body is sent.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

pub(crate) fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Response {
        status,
        body: body.to_string(),
    }
}

/// An Azure Monitor common-alert-schema payload.
pub(crate) fn alert(id: &str, severity: &str, condition: &str, target_vm: &str) -> Vec<u8> {
    serde_json::json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": format!("/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{id}"),
                "alertRule": "primary-region-health",
                "severity": severity,
                "signalType": "Metric",
                "monitorCondition": condition,
                "monitoringService": "Platform",
                "alertTargetIDs": [format!("/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/{target_vm}")],
                "configurationItems": [target_vm],
                "originAlertId": id,
                "firedDateTime": "2026-03-01T10:00:00.000Z",
                "description": "heartbeat lost"
            },
            "alertContext": { "condition": { "windowSize": "PT5M" } },
            "customProperties": null
        }
    })
    .to_string()
    .into_bytes()
}

/// `alert(...)` with some essentials replaced, as other alert types send them.
fn alert_with(id: &str, severity: &str, condition: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut payload: serde_json::Value =
        serde_json::from_slice(&alert(id, severity, condition, "web-01")).unwrap();
    for (field, value) in fields {
        payload["data"]["essentials"][field] = serde_json::json!(value);
    }
    payload.to_string().into_bytes()
}

/// The head of a request to `path` that declares a body it never sends,
/// and the answer, read within `within`.
fn answer_without_body(addr: SocketAddr, path: &str, within: Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: drbook\r\nContent-Length: 262144\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    stream.set_read_timeout(Some(within)).unwrap();
    let mut raw = [0u8; 1024];
    let n = stream.read(&mut raw).unwrap_or(0);
    String::from_utf8_lossy(&raw[..n]).into_owned()
}

fn wrong_token(path: &str) -> String {
    let (base, _) = path.split_once("?token=").unwrap();
    format!("{base}?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
}

#[test]
fn a_good_token_starts_a_failover_that_runs_to_completion() {
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.webhook(
        "failover",
        server.target(guests::FAILOVER_PLAN, FailoverType::Unplanned, &[]),
        false,
    );
    let response = server.post(
        &path,
        &[("content-type", "application/json")],
        b"{\"reason\":\"drill\"}",
    );
    let ids = response.job_ids();
    assert_eq!(ids.len(), 1);
    let job = server.finished(&ids[0]);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    assert_eq!(job.trigger, "webhook:failover");
    let webhook = job
        .spec
        .trigger
        .webhook()
        .expect("the request is in the spec");
    assert_eq!(webhook.body, "{\"reason\":\"drill\"}");
    assert!(job.spec.trigger.alert().is_none());
    for vm in server.plan.groups.iter().flat_map(|g| &g.vms) {
        let item = server.tokio.block_on(server.sim.get_item(vm)).unwrap();
        assert_eq!(item.active_location, Location::Recovery, "{vm}");
    }
}

#[test]
fn bad_unknown_expired_and_disabled_tokens_are_refused() {
    let server = Server::start(ServeOptions::default());
    let target = || server.target(guests::PROBE, FailoverType::Test, &[]);
    let (path, _) = server.webhook("probe", target(), false);

    let bad = server.post(&wrong_token(&path), &[], b"");
    assert_eq!(bad.status, 400, "{}", bad.body);
    let none = server.post("/webhooks/probe", &[], b"");
    assert_eq!(none.status, 400, "{}", none.body);
    let unknown = server.post(
        &path.replace("/webhooks/probe", "/webhooks/nobody"),
        &[],
        b"",
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);

    server.webhooks.set_enabled("probe", false).unwrap();
    let disabled = server.post(&path, &[], b"");
    assert_eq!(disabled.status, 400);
    assert_eq!(
        disabled.json()["error"],
        bad.json()["error"],
        "the caller cannot tell why"
    );
    server.webhooks.set_enabled("probe", true).unwrap();
    let ids = server.post(&path, &[], b"").job_ids();
    assert_eq!(server.finished(&ids[0]).state, JobStatus::Completed);

    let (run, module) = target();
    let expired = server
        .webhooks
        .create(
            NewWebhook {
                name: "old".into(),
                run,
                rules: None,
                expires: chrono::Utc::now() - chrono::Duration::seconds(1),
                signed: false,
                modules: vec![module],
            },
            "test",
        )
        .unwrap();
    let response = server.post(&expired.path(), &[], b"");
    assert_eq!(response.status, 400);
    assert!(matches!(
        server.webhooks.set_enabled("old", true),
        Err(WebhookError::Expired { .. })
    ));

    let log = server.log().join("\n");
    for reason in ["bad_token", "unknown_webhook", "disabled", "expired"] {
        assert!(log.contains(reason), "no `{reason}` in the log:\n{log}");
    }
    for token in [path.split_once("token=").unwrap().1, &expired.token] {
        assert!(!log.contains(token), "a token is in the log:\n{log}");
    }
    let metrics = server.scrape();
    assert!(
        metrics.contains("drbook_webhook_rejections_total{reason=\"bad_token\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("drbook_webhook_rejections_total{reason=\"unknown_webhook\"} 1"),
        "{metrics}"
    );
}

#[test]
fn unknown_webhooks_and_bad_tokens_take_the_same_time() {
    let server = Server::start(ServeOptions {
        rate_limit: RateLimit::per_second(1e6),
        refusals_per_source: RateLimit::per_second(1e6),
        ..ServeOptions::default()
    });
    let (path, _) = server.probe_webhook("probe", false);
    let bad = wrong_token(&path);
    let unknown = bad.replace("/webhooks/probe", "/webhooks/unknown");
    let median = |path: &str, status: u16| {
        let mut times: Vec<Duration> = (0..60)
            .map(|_| {
                let start = Instant::now();
                assert_eq!(server.post(path, &[], b"").status, status);
                start.elapsed()
            })
            .collect();
        times.sort();
        times[times.len() / 2]
    };
    // Interleave to share the machine's noise; compare medians loosely.
    let (mut b, mut u) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        b.push(median(&bad, 400));
        u.push(median(&unknown, 400));
    }
    b.sort();
    u.sort();
    let (b, u) = (b[1].as_secs_f64(), u[1].as_secs_f64());
    assert!(
        (b - u).abs() < 0.0005 + 0.5 * b.max(u),
        "bad token {b:.6}s vs unknown webhook {u:.6}s"
    );
}

#[test]
fn unknown_webhooks_and_bad_tokens_get_the_same_answer() {
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.probe_webhook("probe", false);
    let bad = server.post(&wrong_token(&path), &[], b"");
    let unknown = server.post(
        &wrong_token(&path).replace("/webhooks/probe", "/webhooks/nobody"),
        &[],
        b"",
    );
    assert_eq!((bad.status, &bad.body), (unknown.status, &unknown.body));
    assert_eq!(bad.status, 400, "{}", bad.body);
    // The operator still knows which it was.
    let log = server.log().join("\n");
    assert!(
        log.contains("/webhooks/nobody") && log.contains("unknown_webhook"),
        "{log}"
    );
    let metrics = server.scrape();
    for reason in ["bad_token", "unknown_webhook"] {
        assert!(
            metrics.contains(&format!(
                "drbook_webhook_rejections_total{{reason=\"{reason}\"}} 1"
            )),
            "{metrics}"
        );
    }
}

#[test]
fn a_bad_token_is_refused_before_the_body_is_read() {
    // 256 KiB declared and never sent: the token decides at once, rather
    // than the body timeout (10 s) after the server buffered what came.
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.probe_webhook("probe", false);
    for path in [
        wrong_token(&path),
        wrong_token(&path).replace("/webhooks/probe", "/webhooks/nobody"),
    ] {
        let start = Instant::now();
        let answer = answer_without_body(server.addr, &path, Duration::from_secs(20));
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "answered after {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn connections_beyond_the_cap_get_503_and_are_closed() {
    let server = Server::start(ServeOptions {
        max_connections: 2,
        ..ServeOptions::default()
    });
    // Two connections that send nothing hold the two places.
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    let mut third = TcpStream::connect(server.addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = third.read_to_end(&mut raw);
    let answer = String::from_utf8_lossy(&raw);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("retry-after: 1"), "{answer}");

    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/healthz", &[]).status != 200 {
        assert!(Instant::now() < deadline, "the places were never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let metrics = server.scrape();
    assert!(
        metrics.contains("drbook_webhook_rejections_total{reason=\"too_many_connections\"}"),
        "{metrics}"
    );
}

#[test]
fn a_bad_token_storm_from_one_address_gets_429() {
    let server = Server::start(ServeOptions {
        refusals_per_source: RateLimit {
            per_second: 0.001,
            burst: 5.0,
        },
        ..ServeOptions::default()
    });
    let (path, _) = server.probe_webhook("probe", false);
    for _ in 0..5 {
        assert_eq!(server.post(&wrong_token(&path), &[], b"").status, 400);
    }
    let throttled = server.post(&wrong_token(&path), &[], b"");
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    // Until its rate drops, the address is not heard, good token or not.
    assert_eq!(server.post(&path, &[], b"").status, 429);
    assert!(server.store.list(None, 10).unwrap().is_empty());
    // Read here: `/metrics` from this address is throttled too.
    let metrics = server
        .tokio
        .block_on(server.metrics.render(server.store.shared().as_ref()))
        .unwrap();
    assert!(
        metrics.contains("drbook_webhook_rejections_total{reason=\"source_throttled\"} 2"),
        "{metrics}"
    );
}

#[test]
fn refusals_are_logged_at_a_bounded_rate() {
    let server = Server::start(ServeOptions {
        refusals_per_source: RateLimit::per_second(1e6),
        refusal_log_per_second: 5,
        ..ServeOptions::default()
    });
    let (path, _) = server.probe_webhook("probe", false);
    let start = Instant::now();
    for _ in 0..40 {
        assert_eq!(server.post(&wrong_token(&path), &[], b"").status, 400);
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(server.post(&wrong_token(&path), &[], b"").status, 400);
    let seconds = start.elapsed().as_secs() + 1;
    let log = server.log();
    let refused = log
        .iter()
        .filter(|l| l.starts_with("serve: refused"))
        .count();
    assert!(refused as u64 <= 5 * seconds, "{refused} lines:\n{log:#?}");
    assert!(
        log.iter().any(|l| l.contains("refusal line(s) left out")),
        "{log:#?}"
    );
    let metrics = server.scrape();
    assert!(
        metrics.contains("drbook_webhook_rejections_total{reason=\"bad_token\"} 41"),
        "every refusal is counted: {metrics}"
    );
}

#[test]
fn what_a_client_sends_cannot_forge_a_log_line() {
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.probe_webhook("probe", false);
    let forged = wrong_token(&path).replace(
        "/webhooks/probe",
        "/webhooks/x%0aserve:%20job%20X%20Completed%0d",
    );
    assert_eq!(server.post(&forged, &[], b"").status, 400);
    // A value of an alert reaches the log in the decision of an ignored one.
    let body = alert_with(
        "forged",
        "Sev1",
        "Fired",
        &[("monitorCondition", "Gone\r\nserve: job Y Completed")],
    );
    let ignored = server.post(&path, &[], &body);
    assert_eq!(ignored.job_ids(), Vec::<String>::new());
    let log = server.log();
    assert!(
        log.iter()
            .all(|l| !l.contains(['\n', '\r']) && !l.starts_with("serve: job")),
        "{log:#?}"
    );
    let log = log.join("\n");
    assert!(log.contains(r"x\nserve: job X Completed\r"), "{log}");
    assert!(log.contains(r"Gone\r\nserve: job Y Completed"), "{log}");
}

#[test]
fn every_alert_type_azure_sends_is_accepted_and_unknown_values_are_recorded() {
    let server = Server::start(ServeOptions::default());
    let (run, module) = server.target(guests::PROBE, FailoverType::Test, &[("show", "trigger")]);
    let (ruled, _) = server.ruled_webhook(
        "ruled",
        (run.clone(), module.clone()),
        r#"
[[rule]]
name = "service health"
signal = ["Activity Log"]

[[rule]]
name = "sev0"
severity = ["Sev0"]

[[rule]]
name = "everything else"
action = "ignore"
"#,
    );

    // Microsoft's samples: Service Health (the test action group's
    // `ActivityLog`, a time without a zone), Resource Health, activity log,
    // log search, smart detector and metric alerts.
    let samples: [(&str, &[(&str, &str)]); 6] = [
        (
            "service-health",
            &[
                ("signalType", "ActivityLog"),
                ("monitoringService", "ServiceHealth"),
                ("firedDateTime", "2021-11-17T05:34:48.0623172"),
            ],
        ),
        (
            "resource-health",
            &[
                ("signalType", "Activity Log"),
                ("monitoringService", "Resource Health"),
            ],
        ),
        (
            "activity-log",
            &[
                ("signalType", "Activity Log"),
                ("monitoringService", "Activity Log - Administrative"),
            ],
        ),
        (
            "log-search",
            &[
                ("signalType", "Log"),
                ("monitoringService", "Log Analytics"),
            ],
        ),
        (
            "smart",
            &[
                ("signalType", "Log"),
                ("monitoringService", "SmartDetector"),
            ],
        ),
        ("metric", &[("signalType", "Metric")]),
    ];
    for (id, fields) in samples {
        let response = server.post(&ruled, &[], &alert_with(id, "Sev4", "Fired", fields));
        assert_eq!(response.status, 202, "{id}: {}", response.body);
    }
    let alerts = server.webhooks.alerts("ruled", 50).unwrap();
    let started: Vec<&AlertRecord> = alerts
        .iter()
        .filter(|a| a.decision.contains("started by rule `service health`"))
        .collect();
    assert_eq!(started.len(), 1, "the activity log alert: {started:?}");
    assert!(started[0].alert_id.ends_with("/activity-log"));
    // The health events carry no event status: recorded as unknown, and a
    // rule that names no event status starts nothing for them.
    for health in ["service-health", "resource-health"] {
        let record = alerts
            .iter()
            .find(|a| a.alert_id.ends_with(health))
            .unwrap();
        assert!(
            record.decision.contains("event status Unknown")
                && record.decision.contains("alertContext.status"),
            "{record:?}"
        );
    }
    server.finished(&started[0].job_ids[0]);

    // Unknown values: accepted, recorded, and decided by the rules; an
    // unknown severity matches no rule that names severities.
    let unknown = server.post(
        &ruled,
        &[],
        &alert_with("new", "Sev9", "Fired", &[("signalType", "Prometheus")]),
    );
    assert_eq!(unknown.job_ids(), Vec::<String>::new());
    let decision = &server.webhooks.alerts("ruled", 1).unwrap()[0].decision;
    assert!(
        decision.contains("everything else")
            && decision.contains("severity `Sev9`")
            && decision.contains("signalType `Prometheus`"),
        "{decision}"
    );
    let condition = server.post(&ruled, &[], &alert_with("ack", "Sev0", "Acknowledged", &[]));
    assert_eq!(condition.job_ids(), Vec::<String>::new());
    assert!(
        condition.json()["Ignored"]
            .as_str()
            .unwrap()
            .contains("only a Fired alert"),
        "{}",
        condition.body
    );

    // The runbook sees `unknown`.
    let (plain, _) = server.webhook("plain", (run, module), false);
    let ids = server
        .post(
            &plain,
            &[],
            &alert_with("seen", "Sev9", "Fired", &[("signalType", "Prometheus")]),
        )
        .job_ids();
    let job = server.finished(&ids[0]);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    let output = job.result.as_ref().unwrap().to_string();
    assert!(
        output.contains("severity=Severity::Unknown signal=SignalType::Unknown"),
        "{output}"
    );
}

#[test]
fn signatures_good_bad_stale_and_retried() {
    let server = Server::start(ServeOptions::default());
    let (path, secret) = server.probe_webhook("signed", true);
    let secret = secret.expect("a signing secret");
    assert!(secret.starts_with("whsec_"));
    let body = b"{\"hello\":\"world\"}";
    let now = chrono::Utc::now().timestamp();
    let post = |id: &str, ts: i64, signature: &str, body: &[u8]| {
        let ts = ts.to_string();
        server.post(
            &path,
            &[
                ("webhook-id", id),
                ("webhook-timestamp", &ts),
                ("webhook-signature", signature),
            ],
            body,
        )
    };

    let good = drbook_triggers::sign(&secret, "msg-1", now, body);
    let ids = post("msg-1", now, &good, body).job_ids();
    let job = server.finished(&ids[0]);
    let headers = &job.spec.trigger.webhook().unwrap().headers;
    assert!(
        headers.iter().all(|(k, _)| !k.starts_with("webhook-")),
        "{headers:?}"
    );

    // A retry (the same message id and body, after a lost 202; re-signed at
    // a later time, or not) is answered as the first delivery was.
    let retried = post("msg-1", now, &good, body);
    assert_eq!(retried.job_ids(), ids, "{}", retried.body);
    let later = now + 5;
    let resigned = drbook_triggers::sign(&secret, "msg-1", later, body);
    assert_eq!(post("msg-1", later, &resigned, body).job_ids(), ids);
    // Another body under that id is not a retry: refused, starting nothing.
    let other = b"{\"hello\":\"again\"}";
    let reused = post(
        "msg-1",
        now,
        &drbook_triggers::sign(&secret, "msg-1", now, other),
        other,
    );
    assert_eq!(reused.status, 422, "{}", reused.body);
    assert!(reused.body.contains("msg-1"), "{}", reused.body);

    let bad = post(
        "msg-2",
        now,
        &drbook_triggers::sign(&secret, "msg-2", now, b"other"),
        body,
    );
    assert_eq!(bad.status, 400);

    let stale_ts = now - 301;
    let stale = post(
        "msg-3",
        stale_ts,
        &drbook_triggers::sign(&secret, "msg-3", stale_ts, body),
        body,
    );
    assert_eq!(stale.status, 400);

    let unsigned = server.post(&path, &[], body);
    assert_eq!(unsigned.status, 400);

    let wrong_secret =
        drbook_triggers::sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg-4", now, body);
    assert_eq!(post("msg-4", now, &wrong_secret, body).status, 400);

    let log = server.log().join("\n");
    for reason in [
        "reused_message_id",
        "bad_signature",
        "stale_timestamp",
        "missing_signature",
    ] {
        assert!(log.contains(reason), "no `{reason}` in the log:\n{log}");
    }
    assert!(!log.contains(&secret));
    assert_eq!(
        server.store.list(None, 100).unwrap().len(),
        1,
        "only the good delivery started a job"
    );
}

#[test]
fn oversized_and_malformed_bodies_are_refused() {
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.probe_webhook("probe", false);
    let big = vec![b'x'; 256 * 1024 + 1];
    assert_eq!(server.post(&path, &[], &big).status, 413);
    let just_right = vec![b'x'; 256 * 1024];
    let ids = server.post(&path, &[], &just_right).job_ids();
    assert_eq!(server.finished(&ids[0]).state, JobStatus::Completed);

    let broken =
        br#"{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertId":"x"}}}"#;
    let response = server.post(&path, &[("content-type", "application/json")], broken);
    assert_eq!(response.status, 400);
    assert!(response.json()["error"]
        .as_str()
        .unwrap()
        .contains("common-alert-schema"));
    let log = server.log().join("\n");
    assert!(
        log.contains("too_large") && log.contains("malformed"),
        "{log}"
    );
}

#[test]
fn a_slow_client_is_cut_off() {
    // Headers must arrive within the header timeout; here, none do. The
    // connection is closed by the server rather than held forever.
    let server = Server::start(ServeOptions::default());
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.write_all(b"POST /webhooks/x HTTP/1.1\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let start = Instant::now();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "held for {:?}",
        start.elapsed()
    );
}

#[test]
fn a_body_sent_too_slowly_gets_408_and_starts_nothing() {
    // Headers on time, then 1 byte of a 100-byte body and silence: the body
    // timeout answers 408 rather than holding the connection.
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.probe_webhook("probe", false);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(
            format!("POST {path} HTTP/1.1\r\nHost: drbook\r\nContent-Length: 100\r\n\r\n{{")
                .as_bytes(),
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let start = Instant::now();
    let mut raw = [0u8; 1024];
    let n = stream.read(&mut raw).unwrap_or(0);
    let response = String::from_utf8_lossy(&raw[..n]);
    assert!(
        response.starts_with("HTTP/1.1 408"),
        "after {:?}: {response}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "held for {:?}",
        start.elapsed()
    );
    assert!(server.store.list(None, 10).unwrap().is_empty(), "no job");
    let log = server.log().join("\n");
    let token = path.split("token=").nth(1).unwrap();
    assert!(log.contains("slow_client"), "{log}");
    assert!(!log.contains(token), "the token is never logged: {log}");
}

#[test]
fn a_duplicate_alert_gets_the_first_jobs_and_a_resolved_one_starts_nothing() {
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.webhook(
        "alerts",
        server.target(guests::FAILOVER_PLAN, FailoverType::Unplanned, &[]),
        false,
    );
    let first = server
        .post(&path, &[], &alert("a1", "Sev1", "Fired", "web-01"))
        .job_ids();
    let second = server.post(&path, &[], &alert("a1", "Sev1", "Fired", "web-01"));
    assert_eq!(second.job_ids(), first);
    assert_eq!(second.json()["Duplicate"], true);
    let job = server.finished(&first[0]);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    let a = job.spec.trigger.alert().expect("the alert is in the spec");
    assert!(a.alert_id.ends_with("/a1"));

    let resolved = server.post(&path, &[], &alert("a1", "Sev1", "Resolved", "web-01"));
    assert_eq!(resolved.job_ids(), Vec::<String>::new());
    assert!(resolved.json()["Ignored"]
        .as_str()
        .unwrap()
        .contains("resolved"));
    let again = server.post(&path, &[], &alert("a1", "Sev1", "Resolved", "web-01"));
    assert_eq!(again.job_ids(), Vec::<String>::new());
    assert_eq!(server.store.list(None, 100).unwrap().len(), 1);

    // What an operator sees afterwards: `drbook webhook alerts`, newest
    // first, each with its decision and jobs; an unknown webhook is named.
    let cli = |args: &[&str]| {
        std::process::Command::new(crate::cli::drbook_bin())
            .arg("--data-dir")
            .arg(server.dir.path())
            .args(args)
            .output()
            .expect("running drbook")
    };
    let out = cli(&["--json", "webhook", "alerts", "alerts"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["condition"], "Resolved");
    assert_eq!(alerts[0]["jobIds"], serde_json::json!([]));
    assert!(
        alerts[0]["decision"].as_str().unwrap().contains("resolved"),
        "{alerts:?}"
    );
    assert_eq!(alerts[1]["condition"], "Fired");
    assert_eq!(alerts[1]["jobIds"], serde_json::json!(first));
    assert!(alerts[1]["alertId"].as_str().unwrap().ends_with("/a1"));
    let table = cli(&["webhook", "alerts", "alerts", "--limit", "1"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert_eq!(
        table.lines().count(),
        2,
        "a header and the newest:\n{table}"
    );
    assert!(table.contains("Resolved"), "{table}");
    let unknown = cli(&["webhook", "alerts", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nope"));
}

#[test]
fn rules_map_alerts_to_runs_and_ignore_the_rest() {
    let server = Server::start(ServeOptions::default());
    let target = server.target(guests::FAILOVER_PLAN, FailoverType::Test, &[]);
    let (path, rules) = server.ruled_webhook(
        "ruled",
        target,
        r#"
[[rule]]
name = "primary down"
severity = ["Sev0", "Sev1"]
target-in-plan = true
type = "unplanned"

[[rule]]
name = "everything else"
action = "ignore"
"#,
    );
    assert!(
        matches!(&rules[0].action, RuleAction::Run(t) if t.failover_type == FailoverType::Unplanned)
    );

    let low = server.post(&path, &[], &alert("low", "Sev3", "Fired", "web-01"));
    assert_eq!(low.job_ids(), Vec::<String>::new());
    assert!(low.json()["Ignored"]
        .as_str()
        .unwrap()
        .contains("everything else"));
    let elsewhere = server.post(
        &path,
        &[],
        &alert("elsewhere", "Sev0", "Fired", "build-agent-7"),
    );
    assert_eq!(elsewhere.job_ids(), Vec::<String>::new());
    let not_an_alert = server.post(&path, &[], b"{\"hello\":1}");
    assert_eq!(not_an_alert.status, 400);

    let ids = server
        .post(&path, &[], &alert("down", "Sev0", "Fired", "WEB-01"))
        .job_ids();
    assert_eq!(ids.len(), 1);
    let job = server.finished(&ids[0]);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    assert_eq!(job.spec.failover_type, FailoverType::Unplanned);
    let decisions: Vec<String> = server
        .webhooks
        .alerts("ruled", 50)
        .unwrap()
        .into_iter()
        .map(|a| a.decision)
        .collect();
    assert!(
        decisions
            .iter()
            .any(|d| d.contains("started by rule `primary down`")),
        "{decisions:?}"
    );
    assert!(
        decisions.iter().any(|d| d.contains("ignored")),
        "{decisions:?}"
    );
}

#[test]
pub(crate) fn the_runbook_sees_the_request_and_the_typed_alert_and_fixed_parameters_hold() {
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.webhook(
        "probe",
        server.target(
            guests::PROBE,
            FailoverType::Test,
            &[("show", "trigger"), ("region", "westeurope")],
        ),
        false,
    );
    let overriding = server.post(&format!("{path}&region=eastus"), &[], b"");
    assert_eq!(overriding.status, 400);
    assert!(overriding.body.contains("region"), "{}", overriding.body);
    let also = server.post(&format!("{path}&show=nothing"), &[], b"");
    assert_eq!(also.status, 400);

    let body = alert("seen", "Sev2", "Fired", "sql-01");
    let ids = server
        .post(
            &format!("{path}&mode=auto"),
            &[
                ("x-source", "action-group"),
                ("authorization", "Bearer s3cret"),
            ],
            &body,
        )
        .job_ids();
    let job = server.finished(&ids[0]);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    let output = job.result.as_ref().unwrap().to_string();
    assert!(output.contains("webhook=probe"), "{output}");
    assert!(output.contains(&format!("body={}", body.len())), "{output}");
    assert!(output.contains("x-source"), "{output}");
    assert!(!output.contains("authorization"), "{output}");
    assert!(
        output.contains(
            "severity=Severity::Sev2 signal=SignalType::Metric condition=MonitorCondition::Fired"
        ),
        "{output}"
    );
    assert!(output.contains("virtualmachines/sql-01"), "{output}");
    assert!(output.contains("fired=1772359200000"), "{output}");
    assert!(
        output.contains("params=region=westeurope,mode=auto"),
        "{output}"
    );
}

#[test]
fn job_api_health_and_metrics() {
    let server = Server::start(ServeOptions::default());
    assert_eq!(server.get("/healthz", &[]).status, 200);
    let (path, _) = server.webhook(
        "probe",
        server.target(guests::PROBE, FailoverType::Test, &[("echo", "hi")]),
        false,
    );
    let ids = server.post(&path, &[], b"").job_ids();
    server.finished(&ids[0]);

    let job_path = format!("/api/v1/jobs/{}", ids[0]);
    assert_eq!(server.get(&job_path, &[]).status, 401);
    assert_eq!(
        server
            .get(&job_path, &[("authorization", "Bearer nope")])
            .status,
        401
    );
    assert_eq!(
        server.get("/metrics", &[]).status,
        401,
        "metrics want a token"
    );
    let auth = format!("Bearer {}", server.viewer);
    let job = server.get(&job_path, &[("authorization", &auth)]);
    assert_eq!(job.status, 200, "{}", job.body);
    let job = job.json();
    assert_eq!(job["status"], "Completed");
    assert_eq!(job["trigger"], "webhook:probe");
    let streams = server.get(&format!("{job_path}/streams"), &[("authorization", &auth)]);
    assert!(streams.json()["lines"].is_array(), "{}", streams.body);
    assert_eq!(
        server
            .get("/api/v1/jobs/nope", &[("authorization", &auth)])
            .status,
        404
    );

    let metrics = server.scrape();
    assert!(
        metrics.contains("drbook_jobs{status=\"completed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("drbook_trigger_to_start_seconds_count 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("drbook_webhook_deliveries_total{outcome=\"started\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("drbook_webhook_rejections_total{reason=\"token_missing\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("drbook_webhook_rejections_total{reason=\"token_unknown\"} 1"),
        "{metrics}"
    );
    assert_eq!(server.metrics.started_count(), 1);
}

#[test]
fn the_rate_limit_refuses_a_burst() {
    let server = Server::start(ServeOptions {
        rate_limit: RateLimit {
            per_second: 0.001,
            burst: 2.0,
        },
        ..ServeOptions::default()
    });
    let (path, _) = server.probe_webhook("probe", false);
    assert_eq!(server.post(&path, &[], b"").status, 202);
    assert_eq!(server.post(&path, &[], b"").status, 202);
    assert_eq!(server.post(&path, &[], b"").status, 429);
    assert!(server.log().join("\n").contains("rate_limited"));
}

#[test]
fn shutdown_is_graceful_and_leaves_no_lease() {
    let mut server = Server::start(ServeOptions::default());
    let (path, _) = server.webhook(
        "failover",
        server.target(guests::FAILOVER_PLAN, FailoverType::Unplanned, &[]),
        false,
    );
    let ids = server.post(&path, &[], b"").job_ids();
    server.stop().expect("a clean stop");
    let job = server.store.get(&ids[0]).unwrap();
    assert!(job.lease_owner.is_none(), "{job:?}");
    assert!(request_fails(server.addr), "still listening after shutdown");
    // Whatever state it was left in, any worker can finish it.
    if !job.is_terminal() {
        assert!(server
            .store
            .runnable(chrono::Utc::now(), 10)
            .unwrap()
            .contains(&ids[0]));
    }
}

fn request_fails(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).is_err()
}

#[test]
fn an_old_job_spec_without_webhook_fields_still_loads() {
    // A spec as jobs stored before webhooks existed.
    let old = r#"{"jobId":"j","plan":{"name":"p","primary_region":"a","recovery_region":"b","groups":[]},
                  "failoverType":"Planned","direction":"PrimaryToRecovery","parameters":{}}"#;
    let spec: drbook_core::job::JobSpec = serde_json::from_str(old).unwrap();
    assert!(spec.trigger.webhook().is_none() && spec.trigger.alert().is_none());
}

#[test]
fn a_webhook_keeps_its_module_through_prune() {
    let server = Server::start(ServeOptions::default());
    let (path, _) = server.probe_webhook("probe", false);
    let ids = server.post(&path, &[], b"").job_ids();
    server.finished(&ids[0]);
    assert_eq!(
        server
            .store
            .prune(chrono::Utc::now() + chrono::Duration::seconds(1))
            .unwrap(),
        1
    );
    let ids = server.post(&path, &[], b"").job_ids();
    assert_eq!(server.finished(&ids[0]).state, JobStatus::Completed);
}

/// `drbook webhook create --name dr` (the demo plan's unplanned failover):
/// the URL's path and its token.
fn cli_webhook(cli: &crate::cli::Cli) -> (String, String) {
    let mut command = cli.command();
    command.args(["--speed", "instant"]);
    create_dr_webhook(command, &cli.plan())
}

/// `command` (a `drbook` with its global flags) creating the webhook `dr`
/// for `plan`'s unplanned failover: the URL's path and its token.
pub(crate) fn create_dr_webhook(
    mut command: std::process::Command,
    plan: &str,
) -> (String, String) {
    let out = command
        .args([
            "webhook",
            "create",
            "--name",
            "dr",
            "--runbook",
            guests::FAILOVER_PLAN,
            "--plan",
            plan,
            "--type",
            "unplanned",
            "--url-base",
            "http://placeholder",
        ])
        .output()
        .expect("running drbook");
    assert!(out.status.success(), "{}", crate::cli::stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let url = stdout
        .split_whitespace()
        .find(|w| w.starts_with("http://placeholder/webhooks/dr?token="))
        .unwrap_or_else(|| panic!("no URL in {stdout}"));
    let token = url.split_once("token=").unwrap().1.to_string();
    (
        url.trim_start_matches("http://placeholder").to_string(),
        token,
    )
}

/// `drbook --speed <speed> serve` on an ephemeral port: the child and its
/// address.
fn cli_serve(cli: &crate::cli::Cli, speed: &str) -> (std::process::Child, SocketAddr) {
    let mut command = cli.command();
    command.args(["--speed", speed]);
    serving(command)
}

/// `command` (a `drbook` with its global flags) running `serve` on an
/// ephemeral port: the child and the address it printed.
pub(crate) fn serving(mut command: std::process::Command) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead;
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{first}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// SIGTERM, then the exit status.
fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    crate::cli::signal(&child, "-TERM");
    child.wait().unwrap()
}

/// `drbook serve` ignores SIGPIPE: a write to a socket whose client has
/// reset it then fails that one write, instead of killing the server with
/// every job it runs. The process once set SIGPIPE's default action (to end
/// quietly under `| head`) and `fabric serve-arm` died of it when a client
/// went away mid-answer. Read from the kernel's view of the live process:
/// the race itself cannot be forced from here on every run.
#[test]
#[cfg(target_os = "linux")]
fn a_client_that_hangs_up_cannot_kill_the_server_sigpipe_is_ignored() {
    let cli = crate::cli::Cli::demo();
    let (child, addr) = cli_serve(&cli, "instant");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .map(|mask| u64::from_str_radix(mask.trim(), 16).unwrap())
        .expect("SigIgn in /proc/PID/status");
    const SIGPIPE: u32 = 13;
    assert_ne!(
        ignored & (1 << (SIGPIPE - 1)),
        0,
        "SIGPIPE is not ignored: {status}"
    );
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").status, 200);
    assert!(terminate(child).success());
}

#[test]
fn the_cli_creates_a_webhook_and_serve_runs_what_it_starts() {
    let cli = crate::cli::Cli::demo();
    let plan = cli.plan();
    let (path, token) = cli_webhook(&cli);

    let list = cli.run(&["webhook", "list"]);
    assert!(list.status.success());
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("dr") && list.contains("enabled"), "{list}");
    assert!(!list.contains(&token));
    let json = cli.run(&["--json", "webhook", "list"]);
    assert!(!String::from_utf8_lossy(&json.stdout).contains(&token));
    let db = std::fs::read(cli.dir.path().join("jobs.db")).unwrap();
    let db_wal = std::fs::read(cli.dir.path().join("jobs.db-wal")).unwrap_or_default();
    for bytes in [&db, &db_wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is stored in clear"
        );
    }
    assert_eq!(
        cli.run(&["webhook", "delete", "nope"]).status.code(),
        Some(2)
    );
    assert!(cli.run(&["webhook", "disable", "dr"]).status.success());
    assert!(cli.run(&["webhook", "enable", "dr"]).status.success());
    let again = cli.run(&[
        "webhook",
        "create",
        "--name",
        "dr",
        "--runbook",
        guests::FAILOVER_PLAN,
        "--plan",
        &plan,
    ]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        crate::cli::stderr(&again)
    );

    let (child, addr) = cli_serve(&cli, "instant");
    let ids = request(
        addr,
        "POST",
        &path,
        &[],
        &alert("cli", "Sev0", "Fired", "web-01"),
    )
    .job_ids();
    let job = BlockingStore::open(cli.dir.path()).finished(&ids[0]);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").status, 200);
    let status = terminate(child);
    assert!(status.success(), "serve ended with {status}");
}

/// `drbook serve` stopped (SIGTERM) while the job a delivery started is in
/// the middle of the plan: it exits at once and cleanly, the job stays
/// resumable with no lease held, and a worker started afterwards completes
/// it with every VM failed over once.
#[test]
fn serve_stopped_mid_job_leaves_it_to_the_next_worker() {
    let cli = crate::cli::Cli::demo();
    let (path, _) = cli_webhook(&cli);
    // 300×: each group's failovers take about a second.
    let (child, addr) = cli_serve(&cli, "300");
    let ids = request(
        addr,
        "POST",
        &path,
        &[],
        &alert("mid", "Sev0", "Fired", "web-01"),
    )
    .job_ids();
    let store = BlockingStore::open(cli.dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.journal(&ids[0]).unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "the job never got under way");
        std::thread::sleep(Duration::from_millis(5));
    }

    let stopping = Instant::now();
    let status = terminate(child);
    assert!(status.success(), "serve ended with {status}");
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "serve took {:?} to stop",
        stopping.elapsed()
    );
    let job = store.get(&ids[0]).unwrap();
    assert!(!job.is_terminal(), "the job was left, not ended: {job:?}");
    assert_eq!(job.lease_owner, None, "and its lease released");

    let worker = cli
        .command()
        .args(["--speed", "300", "worker", "--exit-when-idle"])
        .output()
        .unwrap();
    assert!(worker.status.success(), "{}", crate::cli::stderr(&worker));
    let job = store.get(&ids[0]).unwrap();
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    use crate::jobs_cli::{operations_per_vm, vms, DEMO_VMS};
    assert_eq!(
        operations_per_vm(&cli, "UnplannedFailover"),
        vms(&DEMO_VMS),
        "each VM failed over once"
    );
}
