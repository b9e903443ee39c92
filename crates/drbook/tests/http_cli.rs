//! Runbooks' outside calls from the command line (issue 16): the
//! `http-probe` guest, granted by `drbook runbook grant --http`, sends what
//! its `requests` parameter lists to a local server standing in for the
//! world, which records every connection and request it gets. Grants
//! refuse before anything is sent (no name looked up: the server sees no
//! connection), a write is sent once across a `kill -9` and a read is
//! answered from the journal on resume, caps end a huge, a silent and a
//! dripping answer, a dry run sends no write, and every exchange is in the
//! job's report.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

// What this binary does not use of the shared test modules.
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod runbooks;
#[path = "common/stand.rs"]
mod stand;

use common::{drbook, run_in, Server as Process};
use stand::Stand;

/// A data dir with the demo fabric, and its plan's path.
fn demo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), &["fabric", "init", "--demo"], 0);
    let plan = dir.path().join("plans/contoso-3tier.toml");
    (dir, plan.display().to_string())
}

/// The probe granted `http` destinations (none: the probe as built, with
/// no manifest), written into `dir`.
fn probe(dir: &Path, http: &[&str]) -> String {
    let built = runbooks::http_probe().display().to_string();
    if http.is_empty() {
        return built;
    }
    let out = dir.join("probe.wasm").display().to_string();
    let mut args = vec!["runbook", "grant", &built, "--read-only", "-o", &out];
    for pattern in http {
        args.extend(["--http", pattern]);
    }
    run_in(dir, &args, 0);
    out
}

/// `drbook run PROBE --json` with `requests` (and `extra`): the job's
/// document and the probe's results, one per request.
fn run(
    dir: &Path,
    probe: &str,
    plan: &str,
    requests: &[String],
    extra: &[&str],
) -> (Value, Vec<Value>) {
    let requests = format!("requests={}", requests.join(";"));
    let mut args = vec!["--json", "run", probe, "--plan", plan, "--param", &requests];
    args.extend_from_slice(extra);
    let out = run_in(dir, &args, 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = results(&doc);
    (doc, results)
}

fn results(doc: &Value) -> Vec<Value> {
    let output = doc["output"].as_str().unwrap_or_else(|| panic!("{doc:#}"));
    serde_json::from_str(output).unwrap()
}

fn error_of(result: &Value) -> (&str, &str) {
    (
        result["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error: {result}")),
        result["message"].as_str().unwrap(),
    )
}

/// A module whose manifest grants no HTTP reaches nothing; one granted
/// host A (the stand-in, by its address) is refused host B, the metadata
/// endpoint, and a name that resolves to loopback although the grant names
/// it (not its address); a redirect off the list is handed back, not
/// followed.
/// Nothing refused reaches a server: no connection, no lookup.
#[test]
fn grants_refuse_before_anything_is_sent() {
    let (dir, plan) = demo();
    let b = Stand::start("");
    let a = Stand::start(&b.url("/landed"));

    let ungranted = probe(dir.path(), &[]);
    let (_, results) = run(
        dir.path(),
        &ungranted,
        &plan,
        &[format!("GET {}", a.url("/ok"))],
        &[],
    );
    let (kind, message) = error_of(&results[0]);
    assert_eq!(kind, "not-granted");
    assert!(
        message.contains("the module's manifest grants no HTTP destination")
            && message.contains("[package.metadata.drbook] http"),
        "{message}"
    );
    assert_eq!(
        a.connections(),
        0,
        "a module without the grant connects nowhere"
    );

    let a_grant = a.url("/");
    let localhost = format!("http://localhost:{}/", a.port);
    let granted = probe(dir.path(), &[&a_grant, &localhost]);
    let requests = [
        format!("GET {}", a.url("/ok")),
        format!("GET {}", b.url("/ok")),
        format!("GET {}", a.url("/redirect")),
        "GET http://169.254.169.254/latest/meta-data/".to_string(),
        format!("GET http://localhost:{}/ok", a.port),
        "GET http://b.test/".to_string(),
    ];
    let (doc, results) = run(dir.path(), &granted, &plan, &requests, &[]);
    assert_eq!(results[0]["status"], 200, "{doc:#}");
    assert_eq!(results[0]["body"], "ok /ok");
    let (kind, message) = error_of(&results[1]);
    assert_eq!(kind, "not-granted");
    assert!(
        message.contains(&format!("grants `{a_grant}`")),
        "{message}"
    );
    assert_eq!(
        results[2]["status"], 302,
        "a redirect is handed back: {doc:#}"
    );
    let (kind, message) = error_of(&results[3]);
    assert_eq!(kind, "not-granted");
    assert!(message.contains("none holds it"), "{message}");
    let (kind, message) = error_of(&results[4]);
    assert_eq!(kind, "not-granted");
    assert!(
        message.contains("`localhost` resolves to 127.0.0.1, which is not a public address"),
        "{message}"
    );
    assert_eq!(error_of(&results[5]).0, "not-granted");
    assert_eq!(a.requests(), ["GET /ok", "GET /redirect"]);
    assert_eq!(
        b.connections(),
        0,
        "nothing reached host B, redirected or not"
    );

    // The refusals are on the job's record, with the grant they lacked.
    let warnings: Vec<&str> = doc["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["stream"] == "Warning")
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert_eq!(warnings.len(), 4, "{warnings:?}");
}

/// `drbook worker` killed with SIGKILL while a granted POST is out (after
/// a GET that was answered): the job resumed by another worker is answered
/// the GET from its journal and `outcome-unknown` for the POST, which is
/// not sent again: the server saw each request once. The report lists both.
#[test]
fn a_post_out_when_the_host_died_is_sent_once_and_a_get_is_replayed_from_the_journal() {
    let (dir, plan) = demo();
    let stand = Stand::start("");
    let granted = probe(dir.path(), &[&stand.url("/")]);
    let requests = format!(
        "requests=GET {};POST {}",
        stand.url("/ok/health"),
        stand.url("/hold")
    );
    let out = run_in(
        dir.path(),
        &[
            "run", &granted, "--plan", &plan, "--param", &requests, "--detach",
        ],
        0,
    );
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut first = Process(worker(dir.path()));
    let start = Instant::now();
    while stand.requests().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the POST never came"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.0.kill().unwrap();
    first.0.wait().unwrap();

    let second = Process(worker(dir.path()));
    let doc = wait_for_end(dir.path(), &job);
    drop(second);
    assert_eq!(doc["status"], "Completed", "{doc:#}");
    let results: Vec<Value> =
        serde_json::from_str(doc["result"]["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        results[0]["body"], "ok /ok/health",
        "the GET's answer, from the journal"
    );
    let (kind, message) = error_of(&results[1]);
    assert_eq!(kind, "outcome-unknown");
    assert!(
        message.contains("drbook does not send it again"),
        "{message}"
    );
    assert_eq!(
        stand.requests(),
        ["GET /ok/health", "POST /hold"],
        "each request once"
    );

    run_in(
        dir.path(),
        &["report", &job, "--format", "md", "--out", "report.md"],
        0,
    );
    let report = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let start = report
        .find("## Outside calls")
        .unwrap_or_else(|| panic!("{report}"));
    let section = &report[start..];
    assert!(
        section.contains(&format!("GET {}", stand.url("/ok/health"))),
        "{section}"
    );
    assert!(section.contains("200, 13 bytes"), "{section}");
    assert!(section.contains("outcome-unknown"), "{section}");
}

/// A 1 GiB answer stops at the 1 MiB cap (the server's writes stop soon
/// after: nothing held it), a server that never answers and one that drips
/// end at the timeout; each named to the runbook.
#[test]
fn a_huge_a_silent_and_a_dripping_answer_are_bounded_and_reported() {
    let (dir, plan) = demo();
    let stand = Stand::start("");
    let granted = probe(dir.path(), &[&stand.url("/")]);
    let requests = ["/big", "/hold", "/drip"].map(|p| format!("GET {}", stand.url(p)));
    let (_, results) = run(
        dir.path(),
        &granted,
        &plan,
        &requests,
        &["--param", "timeout-ms=500"],
    );
    let (kind, message) = error_of(&results[0]);
    assert_eq!(kind, "too-large");
    assert!(message.contains("larger than 1048576 bytes"), "{message}");
    let (kind, message) = error_of(&results[1]);
    assert_eq!(kind, "timeout");
    assert!(
        message.contains("no whole answer within 500 ms"),
        "{message}"
    );
    assert_eq!(error_of(&results[2]).0, "timeout");
    // The client left: the server's writes failed long before 1 GiB.
    std::thread::sleep(Duration::from_millis(200));
    let written = stand.big_written();
    assert!(
        written < 256 << 20,
        "{written} bytes of the 1 GiB body were taken"
    );
}

/// `--dry-run`: a granted GET goes out, a POST is journaled and not sent.
#[test]
fn a_dry_run_sends_reads_and_records_writes() {
    let (dir, plan) = demo();
    let stand = Stand::start("");
    let granted = probe(dir.path(), &[&stand.url("/")]);
    let requests = [
        format!("GET {}", stand.url("/ok")),
        format!("POST {}", stand.url("/ok/hook")),
    ];
    let requests = format!("requests={}", requests.join(";"));
    let out = run_in(
        dir.path(),
        &[
            "--json",
            "run",
            &granted,
            "--plan",
            &plan,
            "--param",
            &requests,
            "--dry-run",
        ],
        0,
    );
    let results = results(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(results[0]["status"], 200);
    let (kind, message) = error_of(&results[1]);
    assert_eq!(kind, "not-sent");
    assert!(
        message.contains("recorded and not sent: this is a dry run"),
        "{message}"
    );
    assert_eq!(stand.requests(), ["GET /ok"]);
}

fn worker(dir: &Path) -> Child {
    drbook(dir)
        .args(["worker", "--lease", "200ms", "--poll", "10ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting a worker")
}

/// `drbook jobs show JOB --json` once the job has ended.
fn wait_for_end(dir: &Path, job: &str) -> Value {
    let start = Instant::now();
    loop {
        let out = run_in(dir, &["--json", "jobs", "show", job], 0);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        if matches!(
            doc["status"].as_str(),
            Some("Completed" | "Failed" | "Stopped")
        ) {
            return doc;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{doc:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
