//! A job's scope (issue 10, item 8): a runbook starts operations only on its
//! plan's VMs, and only those its failover type implies; anything else is
//! refused as `not-allowed` naming the rule, before the fabric hears of it,
//! and the refusal is on the job's record (its journal and streams) and in
//! the fabric's audit trail. A grant in the plan (`[scope]`) or on the job
//! (`--grant`) widens it, on the record. The `overreach` guest makes the
//! attempts through the real `drbook` binary; after each, the same data
//! directory runs a normal runbook.

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use drbook_core::fabric::{Direction, OperationKind};
use drbook_core::job::JobStatus;
use drbook_core::journal::Entry;
use drbook_core::plan::FailoverType;
use drbook_tests::guests;
use drbook_triggers::ServeOptions;
use serde_json::Value;

use crate::cli::{stderr, Cli};
use crate::support::BlockingStore;
use crate::webhooks::Server;

/// A plan of two web servers: the demo's other ten VMs are outside it.
pub(crate) const WEB_PLAN: &str =
    "name = \"web-only\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                        [[groups]]\nname = \"web\"\nvms = [\"web-01\", \"web-02\"]\n";

pub(crate) fn write_plan(cli: &Cli, name: &str, text: &str) -> String {
    let path = cli.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `drbook run <overreach> --json` with `attempts` and `extra`; its JSON.
fn overreach(cli: &Cli, plan: &str, attempts: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "run",
        guests::OVERREACH,
        "--plan",
        plan,
        "--json",
        "--param",
    ];
    let attempts = format!("attempts={attempts}");
    args.push(&attempts);
    args.extend_from_slice(extra);
    let out = cli.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

/// What the runbook reported for each attempt, in order.
pub(crate) fn report(doc: &Value) -> Vec<String> {
    doc["output"]
        .as_str()
        .unwrap_or_else(|| panic!("no output: {doc:#}"))
        .lines()
        .map(str::to_string)
        .collect()
}

pub(crate) fn json(out: Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// `drbook fabric history --json`.
pub(crate) fn history(cli: &Cli) -> Vec<Value> {
    json(cli.run(&["fabric", "history", "--json"]))
        .as_array()
        .unwrap()
        .clone()
}

/// The audit trail's entries of one outcome, as `(vm, operation)`.
pub(crate) fn audited(history: &[Value], outcome: &str) -> Vec<(String, String)> {
    history
        .iter()
        .filter(|h| h["outcome"] == outcome)
        .map(|h| {
            (
                h["vm"].as_str().unwrap().to_string(),
                h["operation"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The operation starts `job` journaled, each with its reply (a refused
/// start's is its `outOfScope` error).
pub(crate) fn journaled_starts(cli: &Cli, job: &str) -> Vec<Entry> {
    BlockingStore::open(cli.dir.path())
        .journal(job)
        .unwrap()
        .into_iter()
        .filter(|e| e.call.starts_an_operation())
        .collect()
}

/// The replies of `starts` refused as out of scope: each one's rule.
pub(crate) fn refused_rules(starts: &[Entry]) -> Vec<String> {
    starts
        .iter()
        .filter_map(|start| {
            let reply = start.reply.as_ref().expect("a reply");
            (reply["Err"]["error"] == "outOfScope")
                .then(|| reply["Err"]["rule"].as_str().unwrap().to_string())
        })
        .collect()
}

/// A `--json` run's warning stream.
pub(crate) fn warnings(doc: &Value) -> Vec<&Value> {
    doc["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["stream"] == "Warning")
        .collect()
}

pub(crate) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The app tier of the demo, which no test here touches.
const APP_PLAN: &str = "name = \"app-only\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                        [[groups]]\nname = \"app\"\nvms = [\"app-01\", \"app-02\", \"app-03\", \"app-04\"]\n";

/// A normal runbook still runs on this data directory: a planned failover
/// of the app tier, every VM once.
fn a_normal_runbook_runs(cli: &Cli) {
    let plan = write_plan(cli, "app.toml", APP_PLAN);
    let out = cli.run(&[
        "run",
        guests::FAILOVER_PLAN,
        "--plan",
        &plan,
        "--type",
        "planned",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let vms = doc["vms"].as_array().unwrap();
    assert_eq!(vms.len(), 4);
    assert!(
        vms.iter()
            .all(|vm| vm["result"] == "Succeeded" && vm["operation"] == "planned-failover"),
        "{doc:#}"
    );
}

/// A test job may drill its own VMs and nothing else: an unplanned or a
/// planned failover of production, or any operation on a VM outside its
/// plan, is refused as `not-allowed` naming the rule and the fix; nothing
/// starts on the fabric; each refusal is in the fabric's audit trail with
/// the job as initiator, and in the job's journal and warning stream.
#[test]
pub(crate) fn a_test_job_cannot_fail_production_over_nor_touch_vms_outside_its_plan() {
    let cli = Cli::demo();
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    let doc = overreach(
        &cli,
        &plan,
        "unplanned-failover@web-01,planned-failover@web-02,test-failover@sql-01,\
         test-failover@web-01,test-failover-cleanup@web-01",
        &["--type", "test"],
    );
    assert_eq!(doc["status"], "Completed", "{doc:#}");
    let report = report(&doc);
    let refused = "refused (not-allowed): ";
    assert_eq!(
        report[0],
        format!(
            "unplanned-failover on web-01: {refused}unplanned-failover on `web-01` is outside this \
             job's scope: a test job starts only test-failover and test-failover-cleanup (rule \
             `failover-type`); to allow it, add it to the plan's `[scope] operations` or start the \
             job with `--grant op=unplanned-failover`"
        )
    );
    assert!(
        report[1].starts_with(&format!("planned-failover on web-02: {refused}"))
            && report[1].contains("(rule `failover-type`)")
            && report[1].contains("`--grant op=planned-failover`"),
        "{}",
        report[1]
    );
    assert!(
        report[2].starts_with(&format!("test-failover on sql-01: {refused}"))
            && report[2].contains("`sql-01` is not in plan `web-only`")
            && report[2].contains("(rule `plan-vms`)")
            && report[2].contains("`--grant vm=sql-01`"),
        "{}",
        report[2]
    );
    // What its type implies, on its plan's VMs, goes through.
    assert_eq!(
        report[3..],
        [
            "test-failover on web-01: started: Succeeded",
            "test-failover-cleanup on web-01: started: Succeeded"
        ]
    );

    // The fabric started only the drill; the refusals are in its audit
    // trail, named by the job and the journal entry, with the rule.
    let job = doc["jobId"].as_str().unwrap();
    let trail = history(&cli);
    assert_eq!(
        audited(&trail, "Succeeded"),
        pairs(&[
            ("web-01", "TestFailover"),
            ("web-01", "TestFailoverCleanup")
        ])
    );
    assert_eq!(
        audited(&trail, "Refused"),
        pairs(&[
            ("web-01", "UnplannedFailover"),
            ("web-02", "PlannedFailover"),
            ("sql-01", "TestFailover"),
        ])
    );
    let refusals: Vec<&Value> = trail.iter().filter(|h| h["outcome"] == "Refused").collect();
    assert_eq!(
        refusals
            .iter()
            .map(|h| h["rule"].clone())
            .collect::<Vec<_>>(),
        ["failover-type", "failover-type", "plan-vms"]
    );
    for (refusal, line) in refusals.iter().zip(&report) {
        assert!(
            refusal["initiator"]
                .as_str()
                .unwrap()
                .starts_with(&format!("job {job} call ")),
            "{refusal}"
        );
        assert!(
            line.ends_with(refusal["error"].as_str().unwrap()),
            "{line} / {refusal}"
        );
    }
    let table = String::from_utf8(cli.run(&["fabric", "history"]).stdout).unwrap();
    assert_eq!(
        table.lines().filter(|l| l.contains("Refused: ")).count(),
        3,
        "{table}"
    );
    let items = json(cli.run(&["fabric", "show", "--json"]));
    for item in items.as_array().unwrap() {
        assert_eq!(
            (&item["protectionState"], &item["activeLocation"]),
            (&Value::from("Protected"), &Value::from("Primary")),
            "{item}"
        );
    }

    // On the job's record: the journal keeps each refusal as its start's
    // reply, and the warning stream says it.
    let starts = journaled_starts(&cli, job);
    assert_eq!(starts.len(), 5);
    assert_eq!(refused_rules(&starts[..3]).len(), 3, "{starts:?}");
    let warnings = warnings(&doc);
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[2]["text"]
        .as_str()
        .unwrap()
        .contains("(rule `plan-vms`)"));

    a_normal_runbook_runs(&cli);
}

/// A planned failover job fails over as planned, commits and reprotects,
/// but does not run an unplanned failover.
#[test]
fn a_planned_job_cannot_run_an_unplanned_failover() {
    let cli = Cli::demo();
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    let doc = overreach(
        &cli,
        &plan,
        "unplanned-failover@web-01,planned-failover@web-01,commit@web-01",
        &[],
    );
    let report = report(&doc);
    assert!(
        report[0].starts_with("unplanned-failover on web-01: refused (not-allowed): ")
            && report[0].contains(
                "a planned job starts only planned-failover, cancel-failover, commit and reprotect"
            ),
        "{}",
        report[0]
    );
    assert_eq!(
        report[1..],
        [
            "planned-failover on web-01: started: Succeeded",
            "commit on web-01: started: Succeeded"
        ]
    );
    assert_eq!(
        audited(&history(&cli), "Refused"),
        pairs(&[("web-01", "UnplannedFailover")])
    );
    a_normal_runbook_runs(&cli);
}

/// The plan's `[scope]` grants VMs and operations to every job of the plan;
/// the grant is kept with the plan in the job's spec (`jobs show`), and what
/// it does not name is still refused.
#[test]
fn a_grant_in_the_plan_widens_every_job_of_the_plan() {
    let cli = Cli::demo();
    let plan = write_plan(
        &cli,
        "scoped.toml",
        &format!("{WEB_PLAN}[scope]\nvms = [\"sql-01\"]\noperations = [\"unplanned-failover\"]\n"),
    );
    let out = cli.run(&["plan", "validate", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = overreach(
        &cli,
        &plan,
        "unplanned-failover@sql-01,planned-failover@web-02,test-failover@sql-02",
        &["--type", "test"],
    );
    let report = report(&doc);
    assert_eq!(
        report[0],
        "unplanned-failover on sql-01: started: Succeeded"
    );
    assert!(
        report[1].contains("(rule `failover-type`)"),
        "{}",
        report[1]
    );
    assert!(report[2].contains("(rule `plan-vms`)"), "{}", report[2]);
    let trail = history(&cli);
    assert_eq!(
        audited(&trail, "Succeeded"),
        pairs(&[("sql-01", "UnplannedFailover")])
    );
    let job = json(cli.run(&["jobs", "show", doc["jobId"].as_str().unwrap()]));
    assert_eq!(
        job["spec"]["plan"]["scope"],
        serde_json::json!({ "vms": ["sql-01"], "operations": ["unplanned-failover"] }),
        "{job:#}"
    );
    assert!(
        job["spec"]["grant"].is_null(),
        "no grant of its own: {job:#}"
    );
    a_normal_runbook_runs(&cli);
}

/// `--grant` widens one job, is stored in its spec and shown by `jobs show`;
/// another job of the same plan does not have it.
#[test]
fn a_grant_on_the_job_widens_that_job_only_and_is_on_its_record() {
    let cli = Cli::demo();
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    let attempts = "unplanned-failover@sql-01,test-failover@web-01";
    let granted = overreach(
        &cli,
        &plan,
        attempts,
        &[
            "--type",
            "test",
            "--grant",
            "op=unplanned-failover",
            "--grant",
            "vm=sql-01",
        ],
    );
    assert_eq!(
        report(&granted),
        [
            "unplanned-failover on sql-01: started: Succeeded",
            "test-failover on web-01: started: Succeeded"
        ]
    );
    let job = json(cli.run(&["jobs", "show", granted["jobId"].as_str().unwrap()]));
    assert_eq!(
        job["spec"]["grant"],
        serde_json::json!({ "vms": ["sql-01"], "operations": ["unplanned-failover"] }),
        "{job:#}"
    );

    let plain = overreach(
        &cli,
        &plan,
        "unplanned-failover@sql-02",
        &["--type", "test"],
    );
    assert!(
        report(&plain)[0].contains("(rule `plan-vms`)"),
        "{:?}",
        report(&plain)
    );
    assert_eq!(
        audited(&history(&cli), "Refused"),
        pairs(&[("sql-02", "UnplannedFailover")])
    );
    let job = json(cli.run(&["jobs", "show", plain["jobId"].as_str().unwrap()]));
    assert!(job["spec"]["grant"].is_null(), "{job:#}");
    a_normal_runbook_runs(&cli);
}

/// A grant that names an unknown operation, a VM the fabric does not hold,
/// or is not `op=`/`vm=`, is bad input (exit 2) naming the problem, and no
/// job is stored.
#[test]
fn bad_grants_are_refused_before_the_job_is_stored() {
    let cli = Cli::demo();
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    let ghost = write_plan(
        &cli,
        "ghost.toml",
        &format!("{WEB_PLAN}[scope]\nvms = [\"ghost-01\"]\n"),
    );
    let typo = write_plan(
        &cli,
        "typo.toml",
        &format!("{WEB_PLAN}[scope]\noperations = [\"failover\"]\n"),
    );
    let cases: [(Vec<&str>, &str); 5] = [
        (
            vec!["--plan", &plan, "--grant", "op=failover"],
            "--grant `op=failover`: `failover` is not an operation; one of planned-failover, unplanned-failover",
        ),
        (
            vec!["--plan", &plan, "--grant", "vm=ghost-01"],
            "VM `ghost-01` (in --grant) is not a protected item of this fabric",
        ),
        (
            vec!["--plan", &plan, "--grant", "unplanned-failover"],
            "--grant `unplanned-failover`: it has no `=`; write --grant op=<operation> or --grant vm=<vm>",
        ),
        (
            vec!["--plan", &ghost],
            "VM `ghost-01` (in the plan's `[scope] vms`) is not a protected item of this fabric",
        ),
        (vec!["--plan", &typo], "`failover` is not an operation"),
    ];
    for (args, expected) in cases {
        let mut full = vec!["run", guests::OVERREACH];
        full.extend_from_slice(&args);
        let out = cli.run(&full);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = cli.run(&["plan", "validate", &ghost]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let jobs = json(cli.run(&["--json", "jobs", "list"]));
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "stored: {jobs}");
    a_normal_runbook_runs(&cli);
}

/// A refusal is journaled like any reply: a job that unloads after it (an
/// approval) and is replayed from its journal gets the same answer, without
/// a divergence, without a second record in the audit trail and without a
/// repeated line in its streams.
#[test]
fn a_refusal_is_replayed_from_the_journal_when_the_job_resumes() {
    let cli = Cli::demo();
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    let (run, job) = suspended(
        &cli,
        &[
            "run",
            guests::OVERREACH,
            "--plan",
            &plan,
            "--type",
            "test",
            "--json",
            "--param",
            "approval=after",
            "--param",
            "attempts=planned-failover@web-01,test-failover@app-01",
        ],
    );
    assert_eq!(audited(&history(&cli), "Refused").len(), 2);
    let out = cli.run(&["jobs", "approve", &job]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run.wait_with_output().unwrap();
    let doc = json(out);
    assert_eq!(doc["status"], "Completed", "{doc:#}");
    let report = report(&doc);
    assert_eq!(report.len(), 2);
    assert!(report[0].contains("(rule `failover-type`)"), "{report:?}");
    assert!(report[1].contains("(rule `plan-vms`)"), "{report:?}");

    // Replayed, not made again: one record each in the audit trail, one
    // warning each in the job's stored streams.
    assert_eq!(
        audited(&history(&cli), "Refused"),
        pairs(&[("web-01", "PlannedFailover"), ("app-01", "TestFailover")])
    );
    assert!(audited(&history(&cli), "Succeeded").is_empty());
    let logs = String::from_utf8(cli.run(&["jobs", "logs", &job]).stdout).unwrap();
    let refusals = logs
        .lines()
        .filter(|l| l.contains("is outside this job's scope"))
        .count();
    // Each refusal: its warning and the runbook's report line.
    assert_eq!(refusals, 4, "{logs}");
    a_normal_runbook_runs(&cli);
}

/// `drbook --speed instant ARGS` started, and the id of the data
/// directory's one job once it is suspended (waiting for a person); a job
/// that never waits fails the test after 30 s.
pub(crate) fn suspended(cli: &Cli, args: &[&str]) -> (Child, String) {
    let mut run = cli
        .command()
        .args(["--speed", "instant"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting drbook");
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let jobs = json(cli.run(&["--json", "jobs", "list"]));
        let first = jobs.as_array().and_then(|jobs| jobs.first());
        if let Some(job) = first.filter(|job| job["status"] == "Suspended") {
            break Some(job["id"].as_str().unwrap().to_string());
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    match job {
        Some(job) => (run, job),
        None => {
            let _ = run.kill();
            let out = run.wait_with_output().expect("drbook ends");
            panic!("the job never waited: {}", stderr(&out));
        }
    }
}

/// A job a webhook starts has the scope of its rule's type and plan: a test
/// webhook's job cannot fail production over, unless the webhook grants it.
#[test]
fn a_webhook_started_job_has_the_same_scope() {
    let server = Server::start(ServeOptions::default());
    let attempts = [("attempts", "unplanned-failover@web-01")];
    let (target, module) = server.target(guests::OVERREACH, FailoverType::Test, &attempts);
    let mut granted = target.clone();
    granted.grant.operations = vec![OperationKind::UnplannedFailover];
    let (plain, _) = server.webhook("drill", (target, module.clone()), false);
    let (widened, _) = server.webhook("drill-granted", (granted, module), false);

    let id = server.post(&plain, &[], b"{}").job_ids().remove(0);
    let job = server.finished(&id);
    assert_eq!(job.state, JobStatus::Completed, "{job:?}");
    let output = job.result.as_ref().unwrap()["output"].to_string();
    assert!(
        output.contains("unplanned-failover on web-01: refused (not-allowed)")
            && output.contains("(rule `failover-type`)"),
        "{output}"
    );
    let history = server.sim.history().unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.vm.as_str(), h.outcome))
            .collect::<Vec<_>>(),
        [("web-01", drbook_fabric_sim::Outcome::Refused)]
    );

    let id = server.post(&widened, &[], b"{}").job_ids().remove(0);
    let job = server.finished(&id);
    assert_eq!(
        job.spec.grant.operations,
        [OperationKind::UnplannedFailover]
    );
    let output = job.result.as_ref().unwrap()["output"].to_string();
    assert!(
        output.contains("unplanned-failover on web-01: started: Succeeded"),
        "{output}"
    );
    let item = server.tokio.block_on(async {
        use drbook_core::fabric::Fabric;
        server.sim.get_item("web-01").await.unwrap()
    });
    assert_eq!(item.active_location, Direction::PrimaryToRecovery.to());

    // The server still runs a normal runbook.
    let (probe, _) = server.probe_webhook("probe", false);
    let id = server.post(&probe, &[], b"{}").job_ids().remove(0);
    assert_eq!(server.finished(&id).state, JobStatus::Completed);
}

/// `drbook webhook create --grant` stores the grant with the webhook's run
/// (its jobs' specs carry it), and a bad one is bad input.
#[test]
fn a_webhooks_grant_is_checked_and_stored_with_it() {
    let cli = Cli::demo();
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    let create = |name: &str, grant: &str| {
        cli.run(&[
            "webhook",
            "create",
            "--name",
            name,
            "--runbook",
            guests::OVERREACH,
            "--plan",
            &plan,
            "--type",
            "test",
            "--grant",
            grant,
        ])
    };
    let out = create("bad", "op=delete-vm");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`delete-vm` is not an operation"),
        "{}",
        stderr(&out)
    );
    let out = create("drill", "vm=sql-01");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let hooks = json(cli.run(&["--json", "webhook", "list"]));
    let hooks = hooks.as_array().unwrap();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(
        hooks[0]["run"]["grant"],
        serde_json::json!({ "vms": ["sql-01"] })
    );
    a_normal_runbook_runs(&cli);
}
