//! The example runbooks' HTTP steps (issue 16), on the simulator, each
//! granted what its Cargo.toml declares, against a local server standing
//! in for the application and the incident channel, which sees exactly the
//! requests expected: `failover-plan`'s `app-url` check and `notify-url`
//! post, and `dr-drill`'s `check-url` validation of each test VM.

use serde_json::Value;
use std::path::Path;

// What this binary does not use of the shared test modules.
#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod runbooks;
#[path = "common/stand.rs"]
mod stand;

use common::run_in;
use stand::Stand;

/// A data dir with the demo fabric at instant speed and a plan of two of
/// its VMs.
fn two_vms() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("drbook.toml"),
        "[fabric]\nspeed = \"instant\"\n",
    )
    .unwrap();
    run_in(dir.path(), &["fabric", "init", "--demo"], 0);
    let plan = dir.path().join("web.toml");
    std::fs::write(
        &plan,
        "name = \"web\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\n\
         [[groups]]\nname = \"web\"\nvms = [\"web-01\", \"web-02\"]\n",
    )
    .unwrap();
    (dir, plan.display().to_string())
}

fn output_of(dir: &Path, args: &[&str], code: i32) -> Value {
    let out = run_in(dir, args, code);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A failover that passes checks the application once, then posts its
/// summary once to the webhook; one whose application check fails still
/// posts, saying it did not pass.
#[test]
fn failover_plan_checks_the_application_then_posts_the_summary() {
    let (dir, plan) = two_vms();
    let stand = Stand::start("");
    let runbook = runbooks::granted("failover-plan", dir.path());
    let runbook = runbook.to_str().unwrap();
    let (app, hook) = (
        format!("app-url={}", stand.url("/ok/health")),
        format!("notify-url={}", stand.url("/ok/hook")),
    );
    let doc = output_of(
        dir.path(),
        &[
            "--json", "run", runbook, "--plan", &plan, "--type", "test", "--param", &app,
            "--param", &hook,
        ],
        0,
    );
    assert_eq!(stand.requests(), ["GET /ok/health", "POST /ok/hook"]);
    let posted: Value = serde_json::from_str(&stand.bodies()[1]).unwrap();
    assert_eq!(posted["plan"], "web");
    assert_eq!(posted["passed"], true);
    assert_eq!(posted["job"], doc["jobId"], "{doc:#}");

    // The application does not answer 2xx: the job fails, and says so to
    // the channel.
    run_in(dir.path(), &["fabric", "reset"], 0);
    let broken = format!("app-url={}", stand.url("/missing"));
    let out = run_in(
        dir.path(),
        &[
            "run", runbook, "--plan", &plan, "--type", "test", "--param", &broken, "--param", &hook,
        ],
        1,
    );
    assert_eq!(
        &stand.requests()[2..],
        ["GET /missing", "POST /ok/hook"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posted: Value = serde_json::from_str(&stand.bodies()[3]).unwrap();
    assert_eq!(posted["passed"], false);
}

/// `check-url` with `{vm}`: one GET per VM of the plan, each the VM's own
/// URL, and the drill passes; the same drill without the parameter sends
/// nothing.
#[test]
fn dr_drill_validates_each_test_vm_over_http() {
    let (dir, plan) = two_vms();
    let stand = Stand::start("");
    let runbook = runbooks::granted("dr-drill", dir.path());
    let runbook = runbook.to_str().unwrap();
    let check = format!("check-url={}", stand.url("/ok/{vm}/health"));
    let doc = output_of(
        dir.path(),
        &[
            "--json", "run", runbook, "--plan", &plan, "--type", "test", "--param", &check,
        ],
        0,
    );
    let mut seen = stand.requests();
    seen.sort();
    assert_eq!(seen, ["GET /ok/web-01/health", "GET /ok/web-02/health"]);
    assert!(
        doc["output"]
            .as_str()
            .is_some_and(|o| o.starts_with("drill passed")),
        "{doc:#}"
    );

    run_in(
        dir.path(),
        &["run", runbook, "--plan", &plan, "--type", "test"],
        0,
    );
    assert_eq!(stand.requests().len(), 2, "no check-url, no request");
}
