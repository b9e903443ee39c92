//! The `drbook fabric` command line, run as an operator would: exit codes
//! (0 ok, 1 refused or failed, 2 input error), JSON output with the
//! reference's field names, and bad input that leaves the store unchanged.

use std::path::Path;
use std::process::{Command, Output};

fn drbook(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drbook"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--speed", "instant"])
        .args(args)
        .env_remove("DRBOOK_DATA_DIR")
        .output()
        .expect("drbook runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit code")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What an operator can see of the store: items and history.
fn snapshot(dir: &Path) -> (String, String) {
    (
        stdout(&drbook(dir, &["--json", "fabric", "show"])),
        stdout(&drbook(dir, &["--json", "fabric", "history"])),
    )
}

/// `drbook fabric init --force --estate FILE`.
fn init_estate(dir: &Path, estate: &Path) -> Output {
    drbook(
        dir,
        &[
            "fabric",
            "init",
            "--force",
            "--estate",
            estate.to_str().expect("utf-8"),
        ],
    )
}

fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let init = drbook(dir.path(), &["fabric", "init", "--demo"]);
    assert_eq!(code(&init), 0, "{}", stderr(&init));
    dir
}

#[test]
fn init_demo_writes_the_plan_and_show_uses_the_reference_names() {
    let dir = demo();
    let plan = dir.path().join("plans").join("contoso-3tier.toml");
    let text = std::fs::read_to_string(&plan).expect("the plan file");
    assert!(
        text.contains("name = \"contoso-3tier\"") && text.contains("[[groups]]"),
        "{text}"
    );

    let show = drbook(dir.path(), &["--json", "fabric", "show"]);
    let items: serde_json::Value = serde_json::from_str(&stdout(&show)).expect("JSON");
    let items = items.as_array().expect("an array");
    assert_eq!(items.len(), 12);
    for field in [
        "name",
        "activeLocation",
        "protectionState",
        "testFailoverState",
        "replicationHealth",
        "allowedOperations",
        "currentScenario",
    ] {
        assert!(items[0].get(field).is_some(), "missing {field}");
    }
    let table = stdout(&drbook(dir.path(), &["fabric", "show"]));
    assert!(
        table.contains("sql-01") && table.contains("Primary (eastus)"),
        "{table}"
    );

    let again = drbook(dir.path(), &["fabric", "init", "--demo"]);
    assert_eq!(
        code(&again),
        2,
        "an existing fabric is refused without --force"
    );
    assert!(stderr(&again).contains("--force"));
    assert_eq!(
        code(&drbook(
            dir.path(),
            &["fabric", "init", "--demo", "--force"]
        )),
        0
    );
}

#[test]
fn an_operator_runs_the_cycle_and_the_history_records_it() {
    let dir = demo();
    for op in ["planned-failover", "commit", "reprotect"] {
        let out = drbook(
            dir.path(),
            &["fabric", "op", op, "web-01", "web-02", "--wait"],
        );
        assert_eq!(code(&out), 0, "{op}: {}", stderr(&out));
        assert!(stdout(&out).contains("Succeeded"), "{}", stdout(&out));
    }
    // Failback: the direction now defaults to recovery-to-primary.
    let out = drbook(
        dir.path(),
        &[
            "--json",
            "fabric",
            "op",
            "planned-failover",
            "web-01",
            "--wait",
        ],
    );
    let statuses: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(statuses[0]["request"]["direction"], "RecoveryToPrimary");

    let history: serde_json::Value = serde_json::from_str(&stdout(&drbook(
        dir.path(),
        &["--json", "fabric", "history"],
    )))
    .expect("JSON");
    let history = history.as_array().expect("an array");
    assert_eq!(history.len(), 7);
    assert_eq!(history[0]["vm"], "web-01");
    assert_eq!(history[0]["operation"], "PlannedFailover");
    assert_eq!(history[0]["outcome"], "Succeeded");
    assert!(history[0]["initiator"]
        .as_str()
        .is_some_and(|i| i.starts_with("cli:")));
}

#[test]
fn refusals_and_input_errors_have_their_exit_codes_and_change_nothing() {
    let dir = demo();
    let before = snapshot(dir.path());
    let cases: [(&[&str], i32, &str); 7] = [
        (&["fabric", "op", "commit", "sql-01"], 1, "not allowed"),
        (
            &["fabric", "op", "planned-failover", "nope"],
            2,
            "no protected item named `nope`",
        ),
        (
            &[
                "fabric",
                "op",
                "planned-failover",
                "sql-01",
                "--direction",
                "recovery-to-primary",
            ],
            2,
            "--direction primary-to-recovery",
        ),
        (
            &["fabric", "op", "commit", "sql-01", "--network", "n"],
            2,
            "--network does not apply",
        ),
        (
            &["fabric", "op", "test-failover", "sql-01"],
            2,
            "--network NAME",
        ),
        (
            &["fabric", "op", "explode", "sql-01"],
            2,
            "unknown operation",
        ),
        (
            &["fabric", "fault", "region-down", "mars"],
            2,
            "no region `mars`",
        ),
    ];
    for (args, expected, message) in cases {
        let out = drbook(dir.path(), args);
        assert_eq!(code(&out), expected, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn bad_estates_are_input_errors_and_leave_the_store_unchanged() {
    let dir = demo();
    let before = snapshot(dir.path());
    let estate = dir.path().join("estate.toml");
    let bad = [
        "regions = [\"a\", \"b\"]\n[[vms]]\nname = \"x\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"a\"\n",
        "regions = [\"a\", \"b\"]\n[[vms]]\nname = \"x\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"z\"\n",
        "not toml at all [",
    ];
    for text in bad {
        std::fs::write(&estate, text).expect("write");
        let out = init_estate(dir.path(), &estate);
        assert_eq!(code(&out), 2, "{text}: {}", stderr(&out));
    }
    assert_eq!(snapshot(dir.path()), before);

    let good = "regions = [\"a\", \"b\"]\n[[vms]]\nname = \"x\"\ndisk_size_gb = 1\nprimary_region = \"a\"\nrecovery_region = \"b\"\n";
    std::fs::write(&estate, good).expect("write");
    let out = init_estate(dir.path(), &estate);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&drbook(dir.path(), &["fabric", "show"])).contains("Primary (a)"));
}

#[test]
fn a_missing_or_corrupt_store_is_an_input_error() {
    let dir = tempfile::tempdir().expect("dir");
    let out = drbook(dir.path(), &["fabric", "show"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("fabric init --demo"),
        "{}",
        stderr(&out)
    );

    std::fs::write(dir.path().join("fabric.db"), "garbage ".repeat(1000)).expect("write");
    let out = drbook(dir.path(), &["fabric", "show"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("not a readable drbook fabric store"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn faults_and_reset_from_the_command_line() {
    let dir = demo();
    assert_eq!(
        code(&drbook(
            dir.path(),
            &["fabric", "fault", "fail-next", "app-01"]
        )),
        0
    );
    let out = drbook(
        dir.path(),
        &[
            "fabric",
            "op",
            "test-failover",
            "app-01",
            "--network",
            "drill",
            "--wait",
        ],
    );
    assert_eq!(code(&out), 1, "the operation failed: {}", stdout(&out));
    assert!(stdout(&out).contains("Failed"));

    assert_eq!(
        code(&drbook(
            dir.path(),
            &["fabric", "fault", "degrade", "app-02", "--health", "critical"]
        )),
        0
    );
    assert!(
        stdout(&drbook(dir.path(), &["fabric", "show"])).contains("app-02 replication Critical")
    );
    assert_eq!(
        code(&drbook(
            dir.path(),
            &["fabric", "op", "planned-failover", "app-02"]
        )),
        1
    );

    assert_eq!(code(&drbook(dir.path(), &["fabric", "reset"])), 0);
    let show = stdout(&drbook(dir.path(), &["--json", "fabric", "show"]));
    let items: serde_json::Value = serde_json::from_str(&show).expect("JSON");
    assert!(items
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["protectionState"] == "Protected" && i["testFailoverState"] == "None"));
}
