//! The azure backend under crashes: the demo plan's failover as a job of a
//! host configured with `[fabric] kind = "azure"`, against the ARM emulator
//! (in this process, over HTTPS, azure_identity's managed identity over its
//! token endpoint), its worker killed with SIGKILL mid-plan and restarted.
//! The job completes and the emulator received one POST per VM: a resumed
//! job found the operations its first runs started by their client request
//! ids instead of POSTing again. And nothing that run leaves behind (the job
//! store, the spool, the audit log, its processes' output at `trace`) holds
//! the identity secret or a token.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use drbook_arm_emulator::{Config, Emulator};
use drbook_core::TimeScale;
use drbook_fabric_sim::{demo_estate, demo_plan_toml, Options, Simulator};
use drbook_tests::guests;
use serde_json::Value;

use crate::cli::drbook_bin;
use crate::crash::exits;

const SECRET: &str = "drbook-azure-crash-test";

struct Host<'a> {
    dir: &'a Path,
    emu: &'a Emulator,
    /// Where each process's stdout and stderr go, logged at `trace`
    /// (`None`: not kept, default log level).
    logs: Option<&'a Path>,
    processes: AtomicUsize,
}

impl<'a> Host<'a> {
    fn new(dir: &'a Path, emu: &'a Emulator) -> Self {
        Host {
            dir,
            emu,
            logs: None,
            processes: AtomicUsize::new(0),
        }
    }

    fn drbook(&self) -> Command {
        let ep = self.emu.endpoints();
        let mut cmd = Command::new(drbook_bin());
        cmd.arg("--data-dir")
            .arg(self.dir)
            .env_remove("DRBOOK_FABRIC")
            .env("IDENTITY_ENDPOINT", &ep.token_endpoint)
            .env("IDENTITY_HEADER", SECRET);
        if self.logs.is_some() {
            cmd.env("RUST_LOG", "trace");
        }
        cmd
    }

    /// The files the next process's stdout and stderr are kept in.
    fn log_files(&self, what: &str) -> Option<(PathBuf, PathBuf)> {
        let dir = self.logs?;
        let n = self.processes.fetch_add(1, Ordering::SeqCst);
        let name = format!("{n:02}-{what}");
        Some((
            dir.join(format!("{name}.stdout")),
            dir.join(format!("{name}.stderr")),
        ))
    }

    fn output(&self, args: &[&str]) -> Output {
        let out = self.drbook().args(args).output().expect("running drbook");
        if let Some((stdout, stderr)) = self.log_files(args[0]) {
            std::fs::write(stdout, &out.stdout).unwrap();
            std::fs::write(stderr, &out.stderr).unwrap();
        }
        assert!(
            out.status.success(),
            "drbook {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn worker(&self, extra: &[&str]) -> Child {
        let (stdout, stderr) = match self.log_files("worker") {
            Some((stdout, stderr)) => (
                Stdio::from(std::fs::File::create(stdout).unwrap()),
                Stdio::from(std::fs::File::create(stderr).unwrap()),
            ),
            None => (Stdio::null(), Stdio::null()),
        };
        self.drbook()
            .args(["worker", "--lease", "200ms", "--poll", "10ms"])
            .args(extra)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("starting a worker")
    }
}

/// The ARM emulator over a demo simulator at `scale` (in `sim_dir`), serving
/// the demo plan as a recovery plan, and a host's data dir configured for it
/// with the demo plan file; returns the emulator and the plan file.
fn azure_host(
    tokio: &tokio::runtime::Runtime,
    sim_dir: &Path,
    host_dir: &Path,
    scale: TimeScale,
) -> (Emulator, std::path::PathBuf) {
    let sim = Simulator::init_with(sim_dir, &demo_estate(), false, Options::new(scale)).unwrap();
    let emu = tokio
        .block_on(Emulator::start(
            sim,
            Config {
                identity_secret: Some(SECRET.to_string()),
                recovery_plans: vec![drbook_core::plan::RecoveryPlan::parse(
                    &demo_plan_toml().unwrap(),
                    "demo",
                )
                .unwrap()],
                ..Config::default()
            },
            sim_dir,
        ))
        .unwrap();
    let ep = emu.endpoints().clone();
    std::fs::write(
        host_dir.join("drbook.toml"),
        format!(
            "[fabric]\nkind = \"azure\"\nsubscription = {:?}\nresource-group = {:?}\nvault = {:?}\n\
             arm-endpoint = {:?}\ncredential = \"managed-identity\"\nca-file = {:?}\n",
            ep.subscription, ep.resource_group, ep.vault, ep.base_url, ep.ca_pem_path
        ),
    )
    .unwrap();
    let plan = host_dir.join("contoso-3tier.toml");
    std::fs::write(&plan, demo_plan_toml().unwrap()).unwrap();
    (emu, plan)
}

/// What a search of a host's files found.
#[derive(Default)]
struct Search {
    /// Every file read, and its size then.
    read: Vec<(PathBuf, usize)>,
    /// Each secret found: what, and in which file.
    found: Vec<String>,
}

impl Search {
    /// Reads every file under `dir`, recursively, for the identity secret,
    /// each of `tokens`, and anything shaped like one of the emulator's
    /// tokens (`emu.` and hex digits), in case a token was issued that
    /// `tokens` does not name.
    fn dir(&mut self, dir: &Path, tokens: &[String]) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                self.dir(&path, tokens);
                continue;
            }
            // No process runs while a search reads.
            let bytes = std::fs::read(&path).unwrap();
            let mut secrets = vec![("the identity secret", SECRET.as_bytes())];
            secrets.extend(tokens.iter().map(|t| ("a token", t.as_bytes())));
            for (what, secret) in secrets {
                if bytes.windows(secret.len()).any(|w| w == secret) {
                    self.found.push(format!("{what} in {}", path.display()));
                }
            }
            let shaped = bytes
                .windows(4 + 16)
                .any(|w| w.starts_with(b"emu.") && w[4..].iter().all(u8::is_ascii_hexdigit));
            if shaped {
                self.found
                    .push(format!("a token (emu.…) in {}", path.display()));
            }
            self.read.push((path, bytes.len()));
        }
    }

    /// Whether a file named like `name`, not empty, was read.
    fn read_some(&self, name: &str) -> bool {
        self.read
            .iter()
            .any(|(path, len)| *len > 0 && path.to_string_lossy().contains(name))
    }
}

/// The crash test, its processes logged at `trace`: after each kill and at
/// the end, the host's data dir (job store and its WAL, the spool of the
/// running job, the azure audit log, the config) and the processes' output
/// hold neither the identity secret nor any token the emulator issued.
#[test]
fn a_killed_worker_on_azure_resumes_with_one_post_per_vm() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let sim_dir = tempfile::tempdir().unwrap();
    let host_dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    // 1,200× faster: a failover takes a fraction of a second, so kills land
    // between and during the groups' operations.
    let (emu, plan) = azure_host(
        &tokio,
        sim_dir.path(),
        host_dir.path(),
        TimeScale::Factor(1200.0),
    );
    let host = Host {
        logs: Some(logs.path()),
        ..Host::new(host_dir.path(), &emu)
    };

    let out = host.output(&[
        "run",
        guests::FAILOVER_PLAN,
        "--plan",
        plan.to_str().unwrap(),
        "--detach",
    ]);
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let kills = [400, 1200, 2500];
    let mut search = Search::default();
    for after in kills {
        let mut child = host.worker(&[]);
        std::thread::sleep(Duration::from_millis(after));
        child.kill().expect("SIGKILL the worker");
        child.wait().unwrap();
        // What a killed worker left: its job's spool is not folded yet.
        search.dir(host_dir.path(), &emu.issued_tokens());
    }
    // The killed workers had started operations: the last one resumes a
    // job in the middle of its plan.
    let before = emu.counters().total_posts();
    assert!(before > 0, "no worker started anything before its kill");
    let mut last = host.worker(&["--exit-when-idle"]);
    exits(&mut last, Duration::from_secs(120));

    let record: Value =
        serde_json::from_slice(&host.output(&["jobs", "show", &job]).stdout).unwrap();
    assert_eq!(
        record["status"], "Completed",
        "after kills at {kills:?} ms: {record:#}"
    );
    let items: Value =
        serde_json::from_slice(&host.output(&["--json", "fabric", "show"]).stdout).unwrap();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 12);
    let counters = emu.counters();
    for item in items {
        let vm = item["name"].as_str().unwrap();
        assert_eq!(item["protectionState"], "FailedOverCommitPending", "{vm}");
        assert_eq!(
            counters.posts(vm, "plannedFailover"),
            1,
            "{vm} after kills at {kills:?} ms: {counters:?}"
        );
    }
    assert_eq!(counters.total_posts(), 12, "{counters:?}");

    let tokens = emu.issued_tokens();
    assert!(!tokens.is_empty(), "the hosts fetched no token");
    search.dir(host_dir.path(), &tokens);
    search.dir(logs.path(), &tokens);
    assert!(search.found.is_empty(), "{:#?}", search.found);
    for name in ["jobs.db", "/spool/", "azure-audit.jsonl", "worker.stderr"] {
        assert!(
            search.read_some(name),
            "{name} was not searched: {:#?}",
            search.read
        );
    }
    let traced = std::fs::read_to_string(logs.path().join("01-worker.stderr")).unwrap();
    assert!(
        traced.contains("TRACE"),
        "the workers did not log at trace: {traced}"
    );

    // The search finds what it looks for: a token and the secret, planted.
    std::fs::write(host_dir.path().join("spool").join("planted"), &tokens[0]).unwrap();
    std::fs::write(logs.path().join("planted.stderr"), SECRET).unwrap();
    let mut planted = Search::default();
    planted.dir(host_dir.path(), &tokens);
    planted.dir(logs.path(), &tokens);
    assert_eq!(planted.found.len(), 3, "{:#?}", planted.found);
    tokio.block_on(emu.shutdown());
}

/// The README's full DR cycle, each example runbook as `drbook run` on a host
/// of the azure backend: a drill, a planned failover, commit, reprotect,
/// failback, commit and reprotect again. Every VM ends where it started
/// (protected, primary to recovery), and each step sent one POST per VM.
#[test]
fn the_five_example_runbooks_run_the_whole_cycle_on_azure() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let sim_dir = tempfile::tempdir().unwrap();
    let host_dir = tempfile::tempdir().unwrap();
    let (emu, plan) = azure_host(&tokio, sim_dir.path(), host_dir.path(), TimeScale::Instant);
    let host = Host::new(host_dir.path(), &emu);
    let plan = plan.to_str().unwrap();
    let steps: [(&str, &[&str], &[&str]); 7] = [
        (
            guests::DR_DRILL,
            &["--type", "test", "--param", "test-network=vnet-drill"],
            &["testFailover", "testFailoverCleanup"],
        ),
        (
            guests::FAILOVER_PLAN,
            &["--type", "planned"],
            &["plannedFailover"],
        ),
        (guests::COMMIT_PLAN, &[], &["failoverCommit"]),
        (guests::REPROTECT_PLAN, &[], &["reProtect"]),
        (
            guests::FAILBACK_PLAN,
            &["--direction", "recovery-to-primary"],
            &["plannedFailover"],
        ),
        (guests::COMMIT_PLAN, &[], &["failoverCommit"]),
        (guests::REPROTECT_PLAN, &[], &["reProtect"]),
    ];
    let mut expected: std::collections::HashMap<&str, u64> = Default::default();
    for (runbook, args, actions) in steps {
        let mut run = vec!["--speed", "instant", "run", runbook, "--plan", plan];
        run.extend_from_slice(args);
        host.output(&run);
        for action in actions {
            *expected.entry(action).or_default() += 1;
        }
        let counters = emu.counters();
        for (action, times) in &expected {
            for vm in ["sql-01", "app-01", "web-01"] {
                assert_eq!(
                    counters.posts(vm, action),
                    *times,
                    "{vm} {action} after {runbook}: {counters:?}"
                );
            }
        }
    }
    let items: Value =
        serde_json::from_slice(&host.output(&["--json", "fabric", "show"]).stdout).unwrap();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 12);
    for item in items {
        assert_eq!(item["protectionState"], "Protected", "{item:#}");
    }
    tokio.block_on(emu.shutdown());
}

/// A recovery plan imported from the vault runs: `plan import --from-azure`
/// of the demo plan, then the failover runbook on the file it wrote, one
/// POST per VM.
#[test]
fn an_imported_recovery_plan_fails_over_on_azure() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let sim_dir = tempfile::tempdir().unwrap();
    let host_dir = tempfile::tempdir().unwrap();
    let (emu, _) = azure_host(&tokio, sim_dir.path(), host_dir.path(), TimeScale::Instant);
    let host = Host::new(host_dir.path(), &emu);
    let imported = host_dir.path().join("imported.toml");
    let imported = imported.to_str().unwrap();
    host.output(&[
        "plan",
        "import",
        "--from-azure",
        "contoso-3tier",
        "--out",
        imported,
    ]);
    host.output(&[
        "--speed",
        "instant",
        "run",
        guests::FAILOVER_PLAN,
        "--plan",
        imported,
        "--type",
        "planned",
    ]);
    let counters = emu.counters();
    for vm in demo_estate().vms.iter().map(|vm| vm.name.as_str()) {
        assert_eq!(
            counters.posts(vm, "plannedFailover"),
            1,
            "{vm}: {counters:?}"
        );
    }
    assert_eq!(counters.total_posts(), 12, "{counters:?}");
    tokio.block_on(emu.shutdown());
}

/// `drbook serve` on the azure backend: a webhook created for the demo
/// plan's unplanned failover, one delivery, and the job it starts runs to
/// its end against the emulator, one POST per VM.
#[test]
fn a_webhook_fails_a_plan_over_on_azure() {
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let sim_dir = tempfile::tempdir().unwrap();
    let host_dir = tempfile::tempdir().unwrap();
    let (emu, plan) = azure_host(&tokio, sim_dir.path(), host_dir.path(), TimeScale::Instant);
    let host = Host::new(host_dir.path(), &emu);
    let (path, _) = crate::webhooks::create_dr_webhook(host.drbook(), plan.to_str().unwrap());
    let mut command = host.drbook();
    command.args(["--speed", "instant"]).stderr(Stdio::null());
    let (mut server, addr) = crate::webhooks::serving(command);

    let job = crate::webhooks::request(addr, "POST", &path, &[], b"")
        .job_ids()
        .remove(0);
    let record = crate::support::BlockingStore::open(host_dir.path()).finished(&job);
    assert_eq!(
        record.state,
        drbook_core::job::JobStatus::Completed,
        "{record:?}"
    );
    let counters = emu.counters();
    for vm in demo_estate().vms.iter().map(|vm| vm.name.as_str()) {
        assert_eq!(
            counters.posts(vm, "unplannedFailover"),
            1,
            "{vm}: {counters:?}"
        );
    }
    assert_eq!(counters.total_posts(), 12, "{counters:?}");
    crate::cli::signal(&server, "-TERM");
    assert!(server.wait().unwrap().success());
    tokio.block_on(emu.shutdown());
}
