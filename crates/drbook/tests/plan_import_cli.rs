//! `drbook plan import --from-azure` against the ARM emulator of `drbook
//! fabric serve-arm` (`common/azure.rs`), which serves plan files as the
//! vault's recovery plans (a group a Boot group, its steps as Automation
//! runbook and manual actions); the import writes them back as plan files with their groups,
//! VMs and steps, which `plan validate` accepts on the azure backend. A
//! plan the vault does not have, a plan naming an item that is not
//! protected, an existing `--out` and the simulator backend each get an
//! input error (exit 2) that says what to do.

use drbook_core::plan::{RecoveryPlan, Step};
use drbook_fabric_sim::demo_plan_toml;

#[path = "common/azure.rs"]
mod azure;
#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;

use azure::{text, AzureHost};

const OPS: &str = r#"
name = "ops"
primary_region = "eastus"
recovery_region = "westus"

[[groups]]
name = "db"
vms = ["sql-01", "sql-02"]
post = ["check-db"]

[[groups]]
name = "web"
vms = ["web-01", "web-02"]
pre = [{ name = "switch-dns", manual = "Point the DNS records at westus, then approve" }, "drain"]
"#;

const GHOST: &str = r#"
name = "ghost"
primary_region = "eastus"
recovery_region = "westus"

[[groups]]
name = "all"
vms = ["web-01", "ghost-01"]
"#;

fn step(name: &str, manual: Option<&str>) -> Step {
    Step {
        name: name.to_string(),
        manual: manual.map(str::to_string),
    }
}

#[test]
fn an_imported_plan_has_the_groups_vms_and_steps_and_validates() {
    let (sim, host) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let azure = AzureHost::start(sim.path(), host.path(), &[OPS], None);
    let out = host.path().join("ops.toml");
    let import = azure.run(&[
        "plan",
        "import",
        "--from-azure",
        "ops",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(import.status.success(), "{}", text(&import));
    let said = text(&import);
    assert!(
        said.contains("wrote plan `ops` to")
            && said.contains("2 groups, 4 VMs, 3 steps (1 manual), eastus → westus"),
        "{said}"
    );
    assert!(
        said.contains("note: `check-db` (end action 1 of Boot group (group 3 of the plan)) ran the Automation runbook"),
        "the named step's source is reported: {said}"
    );

    let plan = RecoveryPlan::load(&out).unwrap();
    assert_eq!(plan.name, "ops");
    assert_eq!(
        (plan.primary_region.as_str(), plan.recovery_region.as_str()),
        ("eastus", "westus")
    );
    let groups: Vec<(&str, &[String])> = plan
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.vms.as_slice()))
        .collect();
    assert_eq!(
        groups,
        [
            ("group-1", &["sql-01".to_string(), "sql-02".to_string()][..]),
            ("group-2", &["web-01".to_string(), "web-02".to_string()][..]),
        ],
        "ASR's groups have no names: numbered in boot order"
    );
    assert_eq!(plan.groups[0].pre, []);
    assert_eq!(plan.groups[0].post, [step("check-db", None)]);
    assert_eq!(
        plan.groups[1].pre,
        [
            step(
                "switch-dns",
                Some("Point the DNS records at westus, then approve")
            ),
            step("drain", None)
        ]
    );

    let valid = azure.run(&["plan", "validate", out.to_str().unwrap()]);
    assert!(valid.status.success(), "{}", text(&valid));
    assert!(
        text(&valid).contains("plan `ops` is valid: 2 groups, 4 VMs, eastus → westus"),
        "{}",
        text(&valid)
    );

    // The demo plan, to stdout: the same plan file `fabric init` wrote,
    // but for its groups' names.
    let demo = azure.run(&["plan", "import", "--from-azure", "contoso-3tier"]);
    assert!(demo.status.success(), "{}", text(&demo));
    let imported = RecoveryPlan::parse(&String::from_utf8_lossy(&demo.stdout), "stdout").unwrap();
    let written = RecoveryPlan::parse(&demo_plan_toml().unwrap(), "the demo plan").unwrap();
    assert_eq!(imported.groups.len(), written.groups.len());
    for (imported, written) in imported.groups.iter().zip(&written.groups) {
        assert_eq!(
            (&imported.vms, &imported.post),
            (&written.vms, &written.post)
        );
    }

    // --json: the plan and the notes, as one document.
    let json = azure.run(&["--json", "plan", "import", "--from-azure", "ops"]);
    assert!(json.status.success(), "{}", text(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        doc["plan"]["groups"][1]["pre"][0]["manual"],
        "Point the DNS records at westus, then approve"
    );
    assert_eq!(doc["file"], serde_json::Value::Null);
    assert_eq!(doc["notes"].as_array().map(Vec::len), Some(2), "{doc}");

    // An existing file is kept unless --force.
    std::fs::write(&out, "keep me").unwrap();
    let again = azure.run(&[
        "plan",
        "import",
        "--from-azure",
        "ops",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("exists; pass --force to replace it"),
        "{}",
        text(&again)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let forced = azure.run(&[
        "plan",
        "import",
        "--from-azure",
        "ops",
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(RecoveryPlan::load(&out).unwrap(), plan);
}

#[test]
fn bad_imports_say_what_is_wrong_and_what_to_do() {
    let (sim, host) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let azure = AzureHost::start(sim.path(), host.path(), &[OPS, GHOST], None);

    let missing = azure.run(&["plan", "import", "--from-azure", "no-such-plan"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(
        text(&missing).contains("there is no recovery plan `no-such-plan` in the vault")
            && text(&missing).contains("its plans: contoso-3tier, ops, ghost"),
        "{}",
        text(&missing)
    );

    let path = azure.run(&["plan", "import", "--from-azure", "ops/plannedFailover"]);
    assert_eq!(path.status.code(), Some(2), "{}", text(&path));
    assert!(
        text(&path).contains("cannot be the name of a recovery plan"),
        "{}",
        text(&path)
    );

    let ghost = azure.run(&["plan", "import", "--from-azure", "ghost"]);
    assert_eq!(ghost.status.code(), Some(2), "{}", text(&ghost));
    let said = text(&ghost);
    assert!(
        said.contains("names protected items that are not among the vault's protected items")
            && said.contains("replicationProtectedItems/ghost-01 (Boot group (group 3 of the plan), virtualMachineId ghost-01)")
            && !said.contains("items/web-01"),
        "{said}"
    );

    let simulator = azure.on_simulator(&["plan", "import", "--from-azure", "ops"]);
    assert_eq!(simulator.status.code(), Some(2), "{}", text(&simulator));
    assert!(
        text(&simulator).contains("configure the azure backend ([fabric] kind = \"azure\""),
        "{}",
        text(&simulator)
    );
}
