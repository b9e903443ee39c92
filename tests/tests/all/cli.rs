//! `drbook run`, `plan validate` and `runbook inspect` as an operator uses
//! them: the real binary, its exit codes (0 completed, 1 failed, 2 bad input)
//! and what it prints.

use std::process::{Child, Command, Output};

use drbook_tests::guests;

/// The `drbook` binary, built fresh by this crate (`src/bin/drbook-cli.rs`).
pub fn drbook_bin() -> &'static str {
    env!("CARGO_BIN_EXE_drbook-cli")
}

/// Sends `signal` (`-TERM`, `-STOP`, ...) to a child process.
pub(crate) fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(sent.success(), "kill {signal}");
}

/// The user every command runs as (decisions and stops name it).
pub(crate) const USER: &str = "dr-tester";

/// A data directory for the CLI, and commands that use it.
pub(crate) struct Cli {
    pub(crate) dir: tempfile::TempDir,
}

impl Cli {
    /// A data directory with the demo fabric.
    pub(crate) fn demo() -> Self {
        let cli = Cli {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = cli.run(&["fabric", "init", "--demo"]);
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cli
    }

    /// The demo recovery plan.
    pub(crate) fn plan(&self) -> String {
        self.dir
            .path()
            .join("plans")
            .join("contoso-3tier.toml")
            .display()
            .to_string()
    }

    /// `drbook` on this data directory, as [`USER`], without a subcommand.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(drbook_bin());
        command
            .arg("--data-dir")
            .arg(self.dir.path())
            .env("USER", USER);
        command
    }

    /// Runs `drbook` to its end with an instant simulator.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(["--speed", "instant"])
            .args(args)
            .output()
            .expect("running drbook")
    }

    /// Whatever a hostile runbook did before, `drbook` still runs a normal
    /// one on this data directory.
    pub(crate) fn assert_still_alive(&self) {
        let plan = self.plan();
        let args = [
            "run",
            guests::PROBE,
            "--plan",
            &plan,
            "--param",
            "echo=still alive",
        ];
        let out = self.run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A reader that goes away (`drbook fabric show | head`) ends the command
/// quietly with success, as Unix tools do: no panic on the broken pipe.
#[test]
fn a_closed_stdout_ends_a_command_quietly() {
    let cli = Cli::demo();
    let mut child = cli
        .command()
        .args(["fabric", "show"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing said about the broken pipe");
}

#[test]
fn run_prints_one_json_document_with_every_vm() {
    let cli = Cli::demo();
    let plan = cli.plan();
    let out = cli.run(&[
        "run",
        guests::FAILOVER_PLAN,
        "--plan",
        &plan,
        "--type",
        "unplanned",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["status"], "Completed");
    let vms = doc["vms"].as_array().unwrap();
    assert_eq!(vms.len(), 12);
    assert!(vms
        .iter()
        .all(|vm| vm["result"] == "Succeeded" && vm["operation"] == "unplanned-failover"));
    assert!(doc["rtoSeconds"].is_number());
    assert!(doc["runbookDigest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(!doc["streams"].as_array().unwrap().is_empty());
}

#[test]
fn diagnostics_are_json_lines_in_the_jobs_span_when_asked() {
    let cli = Cli::demo();
    let plan = cli.plan();
    let out = cli
        .command()
        .env("RUST_LOG", "drbook_jobs=debug,drbook_runtime=trace")
        .args(["--speed", "instant", "--log-format", "json", "--json"])
        .args(["run", guests::FAILOVER_PLAN, "--plan", &plan])
        .output()
        .expect("running drbook");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is still one JSON document");
    let job = doc["jobId"].as_str().expect("the job's id");
    let events: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let in_job = |message: &str| {
        events
            .iter()
            .filter(|e| e["fields"]["message"] == message && e["span"]["job"] == job)
            .count()
    };
    assert_eq!(in_job("run started"), 1, "{events:#?}");
    assert_eq!(in_job("run ended"), 1);
    // Every host call, at trace level: 12 VMs each started and waited on.
    assert!(in_job("host call") > 24, "{}", in_job("host call"));
    assert!(events
        .iter()
        .filter(|e| e["fields"]["message"] == "host call")
        .all(|e| e["level"] == "TRACE"));
}

#[test]
fn run_prints_a_summary_table_and_exits_1_when_the_runbook_fails() {
    let cli = Cli::demo();
    let plan = cli.plan();
    let out = cli.run(&[
        "run",
        guests::HOSTILE,
        "--plan",
        &plan,
        "--param",
        "attack=panic",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("VM "), "{table}");
    assert!(
        table.contains("failed: runbook panicked: the hostile runbook gave up on purpose"),
        "{table}"
    );
    assert!(table.contains("NotStarted"), "{table}");
}

#[test]
fn bad_inputs_exit_2_with_the_problem_and_the_fix() {
    let cli = Cli::demo();
    let plan = cli.plan();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "Cargo.toml", "--plan", &plan],
            "is not a WebAssembly file",
        ),
        (
            vec!["run", guests::PROBE, "--plan", &plan, "--param", "novalue"],
            "write it as --param key=value",
        ),
        (
            vec![
                "run",
                guests::PROBE,
                "--plan",
                &plan,
                "--param",
                "a=1",
                "--param",
                "a=2",
            ],
            "given twice",
        ),
        (
            vec!["run", guests::PROBE, "--plan", "missing.toml"],
            "cannot read plan file missing.toml",
        ),
        (
            vec!["run", "missing.wasm", "--plan", &plan],
            "cannot read runbook missing.wasm",
        ),
        (
            vec!["run", guests::PROBE, "--plan", &plan, "--type", "sideways"],
            "invalid value 'sideways'",
        ),
        (
            vec![
                "run",
                guests::PROBE,
                "--plan",
                &plan,
                "--module-functions",
                "10",
            ],
            "is refused before compiling: it defines",
        ),
        (
            vec![
                "run",
                guests::PROBE,
                "--plan",
                &plan,
                "--module-bytes",
                "1KiB",
            ],
            "and at most 1.0 KiB is loaded (the `module-bytes` limit)",
        ),
    ];
    for (args, expected) in cases {
        let out = cli.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// A runbook whose memories need more than the job's memory limit could
/// never start: refused before its job and module are stored, not failed at
/// its first run (issue 10, item 7).
#[test]
fn a_runbook_that_could_never_start_is_refused_before_it_is_stored() {
    let cli = Cli::demo();
    let plan = cli.plan();
    let out = cli.run(&["run", guests::PROBE, "--plan", &plan, "--memory", "64KiB"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("of memory to start, more than the job's 64.0 KiB memory limit"),
        "{}",
        stderr(&out)
    );
    let jobs = cli.run(&["--json", "jobs", "list"]);
    let jobs: serde_json::Value = serde_json::from_slice(&jobs.stdout).unwrap();
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "stored: {jobs}");
}

#[test]
fn a_plan_naming_unknown_vms_is_refused_before_anything_runs() {
    let cli = Cli::demo();
    let plan = cli.dir.path().join("bad.toml");
    std::fs::write(
        &plan,
        "name = \"bad\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"g\"\nvms = [\"sql-01\", \"ghost-01\"]\n",
    )
    .unwrap();
    let plan = plan.display().to_string();
    let out = cli.run(&["plan", "validate", &plan]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("VM `ghost-01` (group `g`) is not a protected item"),
        "{}",
        stderr(&out)
    );
    let out = cli.run(&["run", guests::FAILOVER_PLAN, "--plan", &plan]);
    assert_eq!(out.status.code(), Some(2));
    let history = cli.run(&["fabric", "history", "--json"]);
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        history.as_array().map(Vec::len),
        Some(0),
        "nothing ran: {history}"
    );

    let out = cli.run(&["plan", "validate", &cli.plan()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 groups, 12 VMs"));
}

#[test]
fn inspect_shows_world_exports_and_digest() {
    let cli = Cli::demo();
    let out = cli.run(&["runbook", "inspect", guests::FAILOVER_PLAN, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["exports"], serde_json::json!(["run"]));
    let imports: Vec<&str> = doc["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        imports.contains(&"drbook:runbook/site-recovery@0.1.0"),
        "{imports:?}"
    );
    assert!(
        !imports
            .iter()
            .any(|i| i.starts_with("wasi:filesystem") || i.starts_with("wasi:sockets")),
        "{imports:?}"
    );
    let core_module = cli.dir.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0").unwrap();
    let out = cli.run(&["runbook", "inspect", core_module.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("core WebAssembly module, not a component"),
        "{}",
        stderr(&out)
    );
}
