//! `drbook run --dry-run` from the command line: on an estate where a real
//! run meets every kind of refusal (a VM whose state refuses the failover,
//! unhealthy replication, a region down), the dry run predicts the refusals
//! a real run then meets, changes nothing in the estate, sends Azure no
//! POST, and leaves no job behind; on the azure backend against `drbook
//! fabric serve-arm`, and on the simulator backend.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
mod runbooks;

use common::drbook;
use runbooks::failover_plan;

/// Five VMs in two plans: `east` (eastus → westus: vm-a fails over, vm-b is
/// failed over already, vm-c's replication is degraded) and `central`
/// (centralus → eastus2, and centralus is down).
const ESTATE: &str = r#"
regions = ["eastus", "westus", "centralus", "eastus2"]
[[vms]]
name = "vm-a"
disk_size_gb = 128
primary_region = "eastus"
recovery_region = "westus"
[[vms]]
name = "vm-b"
disk_size_gb = 128
primary_region = "eastus"
recovery_region = "westus"
[[vms]]
name = "vm-c"
disk_size_gb = 128
primary_region = "eastus"
recovery_region = "westus"
[[vms]]
name = "vm-d"
disk_size_gb = 128
primary_region = "centralus"
recovery_region = "eastus2"
[[vms]]
name = "vm-e"
disk_size_gb = 128
primary_region = "centralus"
recovery_region = "eastus2"
"#;

const PLANS: [(&str, &str, &str, &str); 2] = [
    ("east", "eastus", "westus", r#"["vm-a", "vm-b", "vm-c"]"#),
    ("central", "centralus", "eastus2", r#"["vm-d", "vm-e"]"#),
];

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command`, asserting it exits with `code`.
fn exits(command: &mut Command, code: i32) -> Output {
    let output = command.output().expect("running drbook");
    assert_eq!(output.status.code(), Some(code), "{}", text(&output));
    output
}

/// The estate in the simulator of `dir`, with its refusals set up, and the
/// plan files (by name) in `plans`.
fn estate(dir: &Path, plans: &Path) -> Vec<(String, PathBuf)> {
    let sim = |args: &[&str]| exits(drbook(dir).args(["--speed", "instant"]).args(args), 0);
    let file = dir.join("estate.toml");
    std::fs::write(&file, ESTATE).unwrap();
    sim(&["fabric", "init", "--estate", file.to_str().unwrap()]);
    sim(&["fabric", "op", "planned-failover", "vm-b", "--wait"]);
    sim(&["fabric", "fault", "degrade", "vm-c", "--health", "warning"]);
    sim(&["fabric", "fault", "region-down", "centralus"]);
    PLANS
        .iter()
        .map(|(name, primary, recovery, vms)| {
            let path = plans.join(format!("{name}.toml"));
            std::fs::write(
                &path,
                format!(
                    "name = \"{name}\"\nprimary_region = \"{primary}\"\nrecovery_region = \"{recovery}\"\n\
                     [[groups]]\nname = \"all\"\nvms = {vms}\n"
                ),
            )
            .unwrap();
            (name.to_string(), path)
        })
        .collect()
}

/// What the estate's simulator holds: its items (without their RPO, which
/// grows with the clock) and its audit trail.
fn state_of(dir: &Path) -> (Value, Value) {
    let read = |args: &[&str]| -> Value {
        let out = exits(
            drbook(dir)
                .args(["--speed", "instant", "--json"])
                .args(args),
            0,
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let mut items = read(&["fabric", "show"]);
    for item in items.as_array_mut().expect("items") {
        item.as_object_mut().expect("an item").remove("rpoSeconds");
    }
    (items, read(&["fabric", "history"]))
}

/// A run's summary: its status, each VM's result, its refusals.
struct Run {
    summary: Value,
}

impl Run {
    /// `run` on `plan`, which fails (exit 1): the plan meets refusals.
    fn of(mut command: Command, runbook: &Path, plan: &Path, dry_run: bool) -> Run {
        command
            .args(["--json", "run"])
            .arg(runbook)
            .arg("--plan")
            .arg(plan);
        if dry_run {
            command.arg("--dry-run");
        }
        let out = exits(&mut command, 1);
        Run {
            summary: serde_json::from_slice(&out.stdout).expect("a JSON summary"),
        }
    }

    fn results(&self) -> Vec<(String, String)> {
        self.summary["vms"]
            .as_array()
            .expect("vms")
            .iter()
            .map(|vm| (text_of(&vm["vm"]), text_of(&vm["result"])))
            .collect()
    }

    /// (VM, operation, error) of each refused start.
    fn refusals(&self) -> Vec<(String, String, String)> {
        self.summary["refusals"]
            .as_array()
            .expect("refusals")
            .iter()
            .map(|r| {
                (
                    text_of(&r["vm"]),
                    text_of(&r["operation"]),
                    text_of(&r["error"]),
                )
            })
            .collect()
    }
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn no_jobs(dir: &Path) {
    let out = exits(drbook(dir).args(["--json", "jobs", "list"]), 0);
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(jobs, Value::Array(Vec::new()), "no job in the job store");
}

#[tokio::test]
async fn a_dry_run_on_azure_sends_no_post_and_predicts_a_real_runs_refusals() {
    let runbook = failover_plan();
    let (sim, host, tmp) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let plans = estate(sim.path(), host.path());
    let (_server, ep) = common::serve_arm(sim.path(), &[]);
    std::fs::write(
        host.path().join("drbook.toml"),
        format!(
            "[fabric]\nkind = \"azure\"\nsubscription = {}\nresource-group = {}\nvault = {}\n\
             arm-endpoint = {}\ncredential = \"managed-identity\"\nca-file = {}\n",
            ep["subscription"], ep["resourceGroup"], ep["vault"], ep["armEndpoint"], ep["caFile"]
        ),
    )
    .unwrap();
    let azure = || {
        let mut command = drbook(host.path());
        command
            .env("IDENTITY_ENDPOINT", ep["tokenEndpoint"].as_str().unwrap())
            .env("IDENTITY_HEADER", ep["identityHeader"].as_str().unwrap())
            .env("TMPDIR", tmp.path());
        command
    };
    // The admin routes are served beside the token endpoint too, over
    // plain HTTP.
    let admin = reqwest::Url::parse(ep["tokenEndpoint"].as_str().unwrap())
        .and_then(|url| url.join("/admin/counters"))
        .unwrap();
    let counters = || async {
        reqwest::Client::new()
            .get(admin.clone())
            .header("X-IDENTITY-HEADER", ep["identityHeader"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };

    let before = state_of(sim.path());
    let dry: Vec<Run> = plans
        .iter()
        .map(|(_, plan)| Run::of(azure(), &runbook, plan, true))
        .collect();
    let seen = counters().await;
    assert_eq!(seen["posts"], serde_json::json!({}), "{seen}");
    let requests = seen["requests"].as_object().expect("requests");
    // Reads only (and tokens): no POST, PUT, PATCH or DELETE of any route.
    assert!(
        requests.keys().all(|route| route.starts_with("GET ")),
        "{requests:?}"
    );
    assert!(
        requests.contains_key("GET protectedItems.list"),
        "the estate was read: {requests:?}"
    );
    assert_eq!(state_of(sim.path()), before, "the estate did not change");
    no_jobs(host.path());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the dry runs' job stores are gone"
    );

    let east = &dry[0].summary;
    assert_eq!(east["dryRun"]["speed"], 600.0, "{east}");
    assert_eq!(
        east["dryRun"]["mismatches"],
        serde_json::json!([]),
        "{east}"
    );
    // vm-a's planned failover takes the profile's 4 simulated minutes; the
    // RTO adds the time from the job's start to it.
    let vm_a = &east["vms"][0];
    assert_eq!(vm_a["vm"], "vm-a");
    let took = vm_a["durationSeconds"].as_f64().expect("a duration");
    assert!((239.0..=241.0).contains(&took), "{took}");
    let rto = east["rtoSeconds"].as_f64().expect("an estimated RTO");
    assert!((took..600.0).contains(&rto), "{rto}");

    let real: Vec<Run> = plans
        .iter()
        .map(|(_, plan)| Run::of(azure(), &runbook, plan, false))
        .collect();
    assert!(real[0].summary.get("dryRun").is_none());
    for ((name, _), (dry, real)) in plans.iter().zip(dry.iter().zip(&real)) {
        assert_eq!(dry.results(), real.results(), "plan {name}");
        let starts = |run: &Run| -> Vec<(String, String)> {
            run.refusals()
                .into_iter()
                .map(|(vm, op, _)| (vm, op))
                .collect()
        };
        assert_eq!(starts(dry), starts(real), "plan {name}");
    }
    // The state and the health refusals word for word; the outage as
    // Azure shows it (an operation it does not allow now), and as the copy
    // names it.
    assert_eq!(dry[0].refusals(), real[0].refusals());
    assert_eq!(dry[0].refusals().len(), 2, "vm-b and vm-c");
    for ((vm, _, predicted), (_, _, met)) in dry[1].refusals().iter().zip(real[1].refusals()) {
        assert!(
            predicted.contains("region `centralus` is unavailable"),
            "{predicted}"
        );
        assert!(met.contains(&format!("not allowed on `{vm}`")), "{met}");
    }
    assert_eq!(dry[1].refusals().len(), 2, "vm-d and vm-e");
    let seen = counters().await;
    assert_eq!(
        seen["posts"],
        serde_json::json!({"vm-a/plannedFailover": 1}),
        "the real run POSTed its one failover: {seen}"
    );
}

#[test]
fn a_dry_run_on_the_simulator_changes_nothing_and_predicts_a_real_runs_refusals() {
    let runbook = failover_plan();
    let (dir, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plans = estate(dir.path(), dir.path());
    let sim = || {
        let mut command = drbook(dir.path());
        command.args(["--speed", "600"]).env("TMPDIR", tmp.path());
        command
    };

    // At instant speed nothing could be estimated: refused, with the fix.
    let instant = exits(
        drbook(dir.path())
            .args(["--speed", "instant", "run"])
            .arg(&runbook)
            .arg("--plan")
            .arg(&plans[0].1)
            .arg("--dry-run"),
        2,
    );
    assert!(
        text(&instant).contains("pass a factor"),
        "{}",
        text(&instant)
    );

    let before = state_of(dir.path());
    let dry: Vec<Run> = plans
        .iter()
        .map(|(_, plan)| Run::of(sim(), &runbook, plan, true))
        .collect();
    assert_eq!(state_of(dir.path()), before, "the simulator did not change");
    no_jobs(dir.path());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    assert!(
        dry[0].summary["dryRun"]["estate"]
            .as_str()
            .is_some_and(|e| e.starts_with("the simulator in ")),
        "{}",
        dry[0].summary
    );

    let real: Vec<Run> = plans
        .iter()
        .map(|(_, plan)| Run::of(sim(), &runbook, plan, false))
        .collect();
    for ((name, _), (dry, real)) in plans.iter().zip(dry.iter().zip(&real)) {
        assert_eq!(dry.results(), real.results(), "plan {name}");
        assert_eq!(dry.refusals(), real.refusals(), "plan {name}");
        assert!(!dry.refusals().is_empty(), "plan {name}");
    }
    assert_ne!(
        state_of(dir.path()),
        before,
        "the real run failed vm-a over"
    );
}

#[test]
fn a_dry_run_approves_the_manual_steps_no_one_else_could_reach() {
    let runbook = failover_plan();
    let dir = tempfile::tempdir().unwrap();
    estate(dir.path(), dir.path());
    let plan = dir.path().join("manual.toml");
    std::fs::write(
        &plan,
        "name = \"manual\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"first\"\nvms = [\"vm-a\"]\n\
         pre = [{ name = \"dns\", manual = \"Switch DNS to westus\" }]\n",
    )
    .unwrap();
    // The job's store is the dry run's own: were the step left to a person,
    // the run would wait out its deadline.
    let out = exits(
        drbook(dir.path())
            .args(["--json", "run"])
            .arg(&runbook)
            .arg("--plan")
            .arg(&plan)
            .args(["--dry-run", "--deadline", "2m"]),
        0,
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["status"], "Completed", "{summary}");
    assert_eq!(
        summary["manualSteps"],
        serde_json::json!(["Switch DNS to westus"])
    );
    assert!(
        text(&out).contains("a real run waits here for a person"),
        "{}",
        text(&out)
    );
    no_jobs(dir.path());
}
