//! Capability grants (issue 12, item 3): a module's manifest, written by
//! `drbook runbook grant`, narrows what its jobs may start to the
//! intersection of the manifest, the job's scope and the trust policy's
//! cap. A start outside it is `not-allowed` naming the grant that refused
//! it, on the job's record (journal, streams) and in the fabric's audit
//! trail, with the fabric unchanged. The `overreach` guest, granted
//! narrowly, makes the attempts through the real `drbook` binary.

use drbook_tests::guests;
use serde_json::Value;

use crate::cli::{signal, stderr, Cli};
use crate::scope::{
    audited, history, journaled_starts, json, pairs, refused_rules, report, suspended, warnings,
    write_plan, WEB_PLAN,
};
use crate::support::BlockingStore;

/// `drbook runbook grant` of the `overreach` guest into `name` in the data
/// directory, with `operations`; its path.
fn granted(cli: &Cli, name: &str, operations: &[&str]) -> String {
    let out = cli.dir.path().join(name).display().to_string();
    let mut args = vec!["runbook", "grant", guests::OVERREACH, "-o", &out];
    for op in operations {
        args.extend(["--operation", op]);
    }
    let done = cli.run(&args);
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    out
}

/// `drbook run FILE --json` with `attempts` and `extra`, which completes.
fn attempt(cli: &Cli, file: &str, attempts: &str, extra: &[&str]) -> Value {
    let plan = write_plan(cli, "web.toml", WEB_PLAN);
    let attempts = format!("attempts={attempts}");
    let mut args = vec!["run", file, "--plan", &plan, "--json", "--param", &attempts];
    args.extend_from_slice(extra);
    let doc = json(cli.run(&args));
    assert_eq!(doc["status"], "Completed", "{doc:#}");
    doc
}

/// No item of the demo fabric has moved: all protected, on their primary.
fn assert_untouched(cli: &Cli) {
    let items = json(cli.run(&["fabric", "show", "--json"]));
    for item in items.as_array().unwrap() {
        assert_eq!(
            (&item["protectionState"], &item["activeLocation"]),
            (&Value::from("Protected"), &Value::from("Primary")),
            "{item}"
        );
    }
}

/// The rules of the audit trail's refusals, in order.
fn refusal_rules(trail: &[Value]) -> Vec<String> {
    trail
        .iter()
        .filter(|h| h["outcome"] == "Refused")
        .map(|h| h["rule"].as_str().unwrap().to_string())
        .collect()
}

/// A drill-only module (test failover and cleanup) in a job of type
/// unplanned, whose scope allows an unplanned failover: refused by the
/// manifest, naming it. What the manifest allows and the job's scope does
/// not (a test failover in an unplanned job), and a VM outside the plan,
/// are refused by the scope's rules. Nothing reaches the fabric.
#[test]
fn a_drill_only_module_cannot_fail_over_even_where_its_job_could() {
    let cli = Cli::demo();
    let drill = granted(
        &cli,
        "drill_only.wasm",
        &["test-failover", "test-failover-cleanup"],
    );
    let doc = attempt(
        &cli,
        &drill,
        "unplanned-failover@web-01,test-failover@web-02,test-failover@sql-01",
        &["--type", "unplanned"],
    );
    let report = report(&doc);
    assert_eq!(
        report[0],
        "unplanned-failover on web-01: refused (not-allowed): unplanned-failover on `web-01` is \
         not granted to this job's module: the module's manifest grants test-failover and \
         test-failover-cleanup; unplanned-failover is not among them (rule `module-manifest`); \
         to allow it, its author declares it (`drbook runbook grant FILE --operation \
         unplanned-failover`, with the operations it has) and signs the module again"
    );
    assert!(
        report[1].contains("a unplanned job starts only unplanned-failover")
            && report[1].contains("(rule `failover-type`)"),
        "{}",
        report[1]
    );
    assert!(
        report[2].contains("`sql-01` is not in plan `web-only`")
            && report[2].contains("(rule `plan-vms`)"),
        "{}",
        report[2]
    );

    // The fabric started nothing; the audit trail has each refusal with
    // its rule, the job as initiator.
    let trail = history(&cli);
    assert!(audited(&trail, "Succeeded").is_empty(), "{trail:?}");
    assert_eq!(
        audited(&trail, "Refused"),
        pairs(&[
            ("web-01", "UnplannedFailover"),
            ("web-02", "TestFailover"),
            ("sql-01", "TestFailover"),
        ])
    );
    assert_eq!(
        refusal_rules(&trail),
        ["module-manifest", "failover-type", "plan-vms"]
    );
    assert_untouched(&cli);

    // On the job's record: each refusal is its start's journaled reply,
    // and the manifest it was held to is pinned with its admission,
    // unsigned (no trust policy is configured).
    let job = doc["jobId"].as_str().unwrap();
    let starts = journaled_starts(&cli, job);
    assert_eq!(
        refused_rules(&starts),
        ["module-manifest", "failover-type", "plan-vms"],
        "{starts:?}"
    );
    let store = BlockingStore::open(cli.dir.path());
    let record = store.get(job).unwrap();
    let capabilities = &record.spec.admission.as_ref().unwrap().capabilities;
    assert_eq!(
        capabilities.describe_operations(),
        "test-failover, test-failover-cleanup"
    );
    assert!(!capabilities.signed);
    drop(store);
    assert_eq!(warnings(&doc).len(), 3);
}

/// A module importing an interface its manifest does not declare (here
/// `site-recovery`, blanked out of a granted manifest: `runbook grant`
/// refuses to write it) is refused at admission, before anything compiles
/// it: bad input, no job stored.
#[test]
fn a_module_importing_an_undeclared_interface_is_refused_at_admission() {
    let cli = Cli::demo();
    let granted = granted(&cli, "forged.wasm", &["test-failover"]);
    let mut module = std::fs::read(&granted).unwrap();
    // JSON's whitespace keeps the section's length, and its framing.
    let (declared, blank) = (br#""site-recovery","#, [b' '; 16]);
    let at = module
        .windows(declared.len())
        .position(|w| w == declared)
        .expect("the manifest's interfaces");
    module[at..at + declared.len()].copy_from_slice(&blank);
    let operations = br#""operations":["test-failover"]"#;
    let at = module
        .windows(operations.len())
        .position(|w| w == operations)
        .expect("the manifest's operations");
    module[at..at + operations.len()].copy_from_slice(br#""operations":[               ]"#);
    std::fs::write(&granted, &module).unwrap();
    let plan = cli.plan();
    let out = cli.run(&["run", &granted, "--plan", &plan]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "it imports `drbook:runbook/site-recovery@0.1.0`, an interface its capability \
             manifest does not declare (it declares plan, log, approval)"
        ) && err.contains("--interface site-recovery"),
        "{err}"
    );
    let jobs = json_of(&cli, &["--json", "jobs", "list"]);
    assert_eq!(jobs, Value::Array(vec![]));
    // `runbook grant` refuses to write such a manifest in the first place.
    let out = cli.run(&[
        "runbook",
        "grant",
        guests::OVERREACH,
        "--read-only",
        "--interface",
        "plan",
        "log",
        "-o",
        cli.dir.path().join("x.wasm").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("an interface its capability manifest does not declare"));
}

fn json_of(cli: &Cli, args: &[&str]) -> Value {
    json(cli.run(args))
}

/// A data directory with a trust policy: `platform`'s key, and the rule
/// `drills` for `drill_*`, capping its modules at `cap`.
fn trusted(cli: &Cli, cap: &str) {
    let dir = cli.dir.path();
    if !dir.join("platform.pub").exists() {
        let out = cli
            .command()
            .current_dir(dir)
            .args(["key", "generate", "platform"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let policy = format!(
        "[trust]\n[trust.organisations.platform]\nkeys = [\"platform.pub\"]\n\
         [[trust.rules]]\nname = \"drills\"\nrunbooks = [\"drill_*\"]\n\
         require = [\"platform\"]\n{cap}"
    );
    std::fs::write(dir.join("drbook.toml"), policy).unwrap();
}

fn sign(cli: &Cli, file: &str) {
    let key = cli.dir.path().join("platform").display().to_string();
    let out = cli.run(&["runbook", "sign", file, "--key", &key]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A trust policy whose rule caps its modules at less than their manifest
/// declares: what the manifest grants and the cap does not is refused,
/// naming the policy's rule; the manifest is pinned as signed.
#[test]
fn a_policy_cap_narrower_than_the_manifest_is_refused_naming_the_rule() {
    let cli = Cli::demo();
    trusted(&cli, "operations = [\"test-failover\"]\n");
    let drill = granted(
        &cli,
        "drill_only.wasm",
        &["test-failover", "test-failover-cleanup"],
    );
    sign(&cli, &drill);
    let doc = attempt(
        &cli,
        &drill,
        "test-failover@web-01,test-failover-cleanup@web-01",
        &["--type", "test"],
    );
    let report = report(&doc);
    assert_eq!(report[0], "test-failover on web-01: started: Succeeded");
    assert_eq!(
        report[1],
        "test-failover-cleanup on web-01: refused (not-allowed): test-failover-cleanup on \
         `web-01` is not granted to this job's module: the trust policy's rule `drills` caps the \
         modules it admits at test-failover; test-failover-cleanup is not among them (rule \
         `trust-policy`); to allow it, add it to that rule's `operations` in `[trust]`"
    );
    let trail = history(&cli);
    assert_eq!(
        audited(&trail, "Succeeded"),
        pairs(&[("web-01", "TestFailover")])
    );
    assert_eq!(
        audited(&trail, "Refused"),
        pairs(&[("web-01", "TestFailoverCleanup")])
    );
    assert_eq!(refusal_rules(&trail), ["trust-policy"]);
    let job = json_of(
        &cli,
        &["--json", "jobs", "show", doc["jobId"].as_str().unwrap()],
    );
    let capabilities = &job["spec"]["admission"]["capabilities"];
    assert_eq!(capabilities["signed"], true, "{job:#}");
    assert_eq!(
        capabilities["caps"],
        serde_json::json!([{ "rule": "drills", "operations": ["test-failover"] }])
    );
}

/// A job resumed after its host died is held to the grant pinned with it:
/// the manifest it was admitted with, though the file was granted more
/// since, narrowed by the policy as it is when it resumes. What it started
/// before is replayed, neither re-checked nor started again.
#[test]
fn a_resumed_job_keeps_its_pinned_grant_and_is_narrowed_by_a_changed_policy() {
    let cli = Cli::demo();
    trusted(&cli, "");
    let drill = granted(
        &cli,
        "drill_only.wasm",
        &["test-failover", "test-failover-cleanup"],
    );
    sign(&cli, &drill);
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    // A test job granted an unplanned failover too: its scope allows it.
    let (mut run, job) = suspended(
        &cli,
        &[
            "run",
            &drill,
            "--plan",
            &plan,
            "--type",
            "test",
            "--grant",
            "op=unplanned-failover",
            "--json",
            "--param",
            "approval=after",
            "--param",
            "attempts=test-failover@web-02",
            "--param",
            "attempts-after=unplanned-failover@web-01,test-failover-cleanup@web-02",
        ],
    );
    // The host dies while the job waits for its approval.
    signal(&run, "-KILL");
    run.wait().unwrap();

    // Since: the file is granted an unplanned failover too (the job is
    // pinned to the module it was admitted with), and the policy caps
    // `drills` at what excludes the test failover the job already started.
    granted(
        &cli,
        "drill_only.wasm",
        &[
            "test-failover",
            "test-failover-cleanup",
            "unplanned-failover",
        ],
    );
    sign(&cli, &drill);
    trusted(&cli, "operations = [\"unplanned-failover\", \"commit\"]\n");
    let out = cli.run(&["jobs", "approve", &job]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(cli.run(&["--json", "jobs", "resume", &job]));
    assert_eq!(doc["status"], "Completed", "{doc:#}");
    let report = report(&doc);
    assert_eq!(report.len(), 3, "{report:?}");
    // Before the host died, replayed now: started once.
    assert_eq!(report[0], "test-failover on web-02: started: Succeeded");
    // After: the pinned manifest, not the file's, refuses the failover the
    // job's scope and the new cap allow; the cap refuses the cleanup.
    assert!(
        report[1].starts_with("unplanned-failover on web-01: refused")
            && report[1].contains("(rule `module-manifest`)"),
        "{}",
        report[1]
    );
    assert!(
        report[2].contains(
            "the trust policy's rule `drills` caps the modules it admits at \
             unplanned-failover and commit"
        ) && report[2].contains("(rule `trust-policy`)"),
        "{}",
        report[2]
    );
    let trail = history(&cli);
    assert_eq!(
        audited(&trail, "Succeeded"),
        pairs(&[("web-02", "TestFailover")])
    );
    assert_eq!(refusal_rules(&trail), ["module-manifest", "trust-policy"]);
    let items = json_of(&cli, &["fabric", "show", "--json"]);
    let web_01 = items
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == "web-01")
        .unwrap();
    assert_eq!(web_01["activeLocation"], "Primary", "{web_01}");
}

/// A job re-pinned to another module (`jobs resume --module`) is held to
/// that module's manifest, not to the one it was admitted with, and its
/// record names the module it runs now and, under `replaces`, the one it
/// was admitted with.
#[test]
fn a_job_re_pinned_to_another_module_is_held_to_its_manifest() {
    let cli = Cli::demo();
    let drill = granted(
        &cli,
        "drill_only.wasm",
        &["test-failover", "test-failover-cleanup"],
    );
    let wider = granted(
        &cli,
        "drill_wider.wasm",
        &[
            "test-failover",
            "test-failover-cleanup",
            "unplanned-failover",
        ],
    );
    let plan = write_plan(&cli, "web.toml", WEB_PLAN);
    let out = cli.run(&[
        "run",
        &drill,
        "--plan",
        &plan,
        "--type",
        "test",
        "--grant",
        "op=unplanned-failover",
        "--param",
        "attempts=unplanned-failover@web-01",
        "--detach",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let doc = json(cli.run(&["--json", "jobs", "resume", &job, "--module", &wider]));
    assert_eq!(
        report(&doc),
        ["unplanned-failover on web-01: started: Succeeded"]
    );
    assert_eq!(
        audited(&history(&cli), "Succeeded"),
        pairs(&[("web-01", "UnplannedFailover")])
    );
    let record = json_of(&cli, &["--json", "jobs", "show", &job]);
    let admission = &record["spec"]["admission"];
    assert_eq!(admission["source"], wider.as_str(), "{record:#}");
    assert_eq!(admission["digest"], record["digest"], "{record:#}");
    assert_eq!(
        admission["capabilities"]["manifest"]["operations"],
        serde_json::json!([
            "test-failover",
            "test-failover-cleanup",
            "unplanned-failover"
        ])
    );
    assert_eq!(
        admission["replaces"]["source"],
        drill.as_str(),
        "{record:#}"
    );
    assert_ne!(admission["replaces"]["digest"], admission["digest"]);
}
