//! Durable jobs as an operator drives them: real `drbook run --detach`,
//! `drbook worker` and `drbook jobs` processes on one data directory, workers
//! killed with SIGKILL, and assertions on what the job store and the
//! simulator say afterwards (states, reasons, operations per VM, streams).

use std::collections::BTreeMap;
use std::fs::File;
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use drbook_tests::guests;
use serde_json::Value;

use crate::cli::{stderr, Cli, USER};

/// How long any wait for a job or a worker may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

const PROMPT: &str = "Point DNS at westus, then approve";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `args` and checks the exit code.
fn expect(cli: &Cli, args: &[&str], code: i32) -> Output {
    let out = cli.run(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A copy of the demo plan whose group `app` starts with a manual step.
fn manual_plan(cli: &Cli) -> String {
    let demo = std::fs::read_to_string(cli.plan()).unwrap();
    let app = "name = \"app\"\nvms = [\"app-01\", \"app-02\", \"app-03\", \"app-04\"]\npre = []";
    assert!(demo.contains(app), "the demo plan changed:\n{demo}");
    let manual = demo.replace(
        app,
        &app.replace(
            "pre = []",
            &format!("pre = [{{ name = \"switch-dns\", manual = \"{PROMPT}\" }}]"),
        ),
    );
    let path = cli.dir.path().join("manual.toml");
    std::fs::write(&path, manual).unwrap();
    path.display().to_string()
}

/// `drbook run --detach`: the new job's id.
fn detach(cli: &Cli, runbook: &str, plan: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", runbook, "--plan", plan, "--detach"];
    args.extend_from_slice(extra);
    let out = expect(cli, &args, 0);
    let id = stdout(&out).trim().to_string();
    assert!(id.starts_with("job-"), "not a job id: {id}");
    id
}

/// A `drbook worker` child process, killed (SIGKILL) when dropped.
struct Worker {
    child: Child,
    log: std::path::PathBuf,
}

impl Worker {
    /// Starts `drbook --speed <speed> worker <extra>` (polling every 20 ms
    /// unless `extra` says otherwise); its stderr goes to a log file in the
    /// data directory.
    fn start(cli: &Cli, speed: &str, extra: &[&str]) -> Worker {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = cli.dir.path().join(format!("worker-{n}.log"));
        let mut command = cli.command();
        command.args(["--speed", speed, "worker"]).args(extra);
        if !extra.contains(&"--poll") {
            command.args(["--poll", "20ms"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("starting drbook worker");
        Worker { child, log }
    }

    /// What the worker wrote to stderr so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) for a worker started with `--exit-when-idle` to exit.
    fn exits(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not exit within {PATIENCE:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: the worker dies without a chance to clean up.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `drbook jobs show <id>`.
fn show(cli: &Cli, id: &str) -> Value {
    let out = expect(cli, &["jobs", "show", id], 0);
    serde_json::from_slice(&out.stdout).expect("jobs show prints JSON")
}

/// Polls `jobs show` until `done` holds; fails after [`PATIENCE`] with the
/// job as last seen (and the worker's log, if any).
fn wait_for(
    cli: &Cli,
    id: &str,
    what: &str,
    worker: Option<&Worker>,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let job = show(cli, id);
        if done(&job) {
            return job;
        }
        if Instant::now() >= deadline {
            panic!(
                "job {id} is not {what} after {PATIENCE:?}: status {}, reason {}\nworker log:\n{}",
                job["status"],
                job["reason"],
                worker.map(Worker::log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Suspended at the approval, with no lease left behind (the worker released
/// it when the job was unloaded), so another process may take it at once.
fn suspended_and_unloaded(job: &Value) -> bool {
    job["status"] == "Suspended" && job["leaseOwner"].is_null()
}

/// A failover job of the manual plan, run by a worker up to its approval;
/// then the worker is killed. Returns the job's id.
fn job_waiting_for_approval(cli: &Cli) -> String {
    let plan = manual_plan(cli);
    let id = detach(cli, guests::FAILOVER_PLAN, &plan, &[]);
    let worker = Worker::start(cli, "instant", &[]);
    let job = wait_for(cli, &id, "suspended", Some(&worker), suspended_and_unloaded);
    worker.kill();
    assert_eq!(job["reason"], format!("waiting for approval: {PROMPT}"));
    assert_eq!(job["wake"]["on"], "decision", "{job}");
    assert_eq!(job["wake"]["prompt"], PROMPT, "{job}");
    // Only the group before the manual step ran.
    assert_eq!(
        operations_per_vm(cli, "PlannedFailover"),
        vms(&["sql-01", "sql-02"]),
        "before the approval"
    );
    id
}

/// `drbook fabric history`: how many operations of `kind` each VM had.
pub(crate) fn operations_per_vm(cli: &Cli, kind: &str) -> BTreeMap<String, usize> {
    let out = expect(cli, &["fabric", "history", "--json"], 0);
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut counts = BTreeMap::new();
    for entry in history.as_array().expect("history is a list") {
        if entry["operation"] == kind {
            *counts
                .entry(entry["vm"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

/// One operation for each of `names`.
pub(crate) fn vms(names: &[&str]) -> BTreeMap<String, usize> {
    names.iter().map(|vm| (vm.to_string(), 1)).collect()
}

pub(crate) const DEMO_VMS: [&str; 12] = [
    "sql-01", "sql-02", "app-01", "app-02", "app-03", "app-04", "web-01", "web-02", "web-03",
    "web-04", "web-05", "web-06",
];

/// `drbook fabric show`: each VM's protection state.
fn protection(cli: &Cli) -> BTreeMap<String, String> {
    let out = expect(cli, &["fabric", "show", "--json"], 0);
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["name"].as_str().unwrap().to_string(),
                item["protectionState"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `drbook jobs logs <id>`.
fn logs(cli: &Cli, id: &str) -> String {
    stdout(&expect(cli, &["jobs", "logs", id], 0))
}

fn count_lines(text: &str, line: &str) -> usize {
    text.lines().filter(|l| *l == line).count()
}

#[test]
fn an_approval_survives_a_killed_worker_and_the_job_completes_once() {
    let cli = Cli::demo();
    let id = job_waiting_for_approval(&cli);

    let asked = chrono::Utc::now();
    let out = expect(&cli, &["jobs", "approve", &id, "--comment", "ok"], 0);
    let answered = chrono::Utc::now();
    assert!(
        stdout(&out).contains(&format!("approved \"{PROMPT}\" for job {id} as {USER}")),
        "{}",
        stdout(&out)
    );
    let (status, log) = Worker::start(&cli, "instant", &["--exit-when-idle"]).exits();
    assert!(status.success(), "{log}");
    assert!(log.contains(&format!("job {id}: Completed")), "{log}");

    let job = show(&cli, &id);
    assert_eq!(job["status"], "Completed", "{job}");
    assert!(job["reason"].is_null(), "{job}");
    assert!(job["ended"].is_string(), "{job}");
    assert_eq!(operations_per_vm(&cli, "PlannedFailover"), vms(&DEMO_VMS));

    let text = logs(&cli, &id);
    let waiting = format!("manual step `switch-dns`: waiting for approval: {PROMPT}");
    let approved = format!("manual step `switch-dns` approved by {USER}: ok");
    assert_eq!(count_lines(&text, &waiting), 1, "{text}");
    assert_eq!(count_lines(&text, &approved), 1, "{text}");
    // The streams are whole: each VM's failover is reported once, in order.
    for vm in DEMO_VMS {
        let line = format!("planned failover of {vm}: succeeded");
        assert_eq!(count_lines(&text, &line), 1, "{line}:\n{text}");
    }
    let order = |needle: &str| text.find(needle).unwrap();
    assert!(order("sql-02: succeeded") < order(&waiting));
    assert!(order(&approved) < order("app-01: succeeded"));

    let out = expect(
        &cli,
        &["--json", "jobs", "list", "--status", "Completed"],
        0,
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());

    // The evidence shows the decision: its step, who, when, the comment.
    let file = |format: &str| cli.dir.path().join(format!("report.{format}"));
    for format in ["json", "html"] {
        let out = file(format);
        expect(
            &cli,
            &[
                "report",
                &id,
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
            ],
            0,
        );
    }
    let report: Value = serde_json::from_slice(&std::fs::read(file("json")).unwrap()).unwrap();
    let approvals = report["report"]["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{approvals:#?}");
    let (prompt, decision) = (&approvals[0]["prompt"], &approvals[0]["decision"]);
    assert_eq!(prompt, PROMPT);
    assert_eq!(
        (&decision["approved"], &decision["by"], &decision["comment"]),
        (&Value::from(true), &Value::from(USER), &Value::from("ok")),
        "{decision}"
    );
    let at: chrono::DateTime<chrono::Utc> = decision["at"].as_str().unwrap().parse().unwrap();
    // In milliseconds: a store may keep no finer time.
    let ms = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    assert!(
        ms(asked) <= ms(at) && ms(at) <= ms(answered),
        "decided at {at}, asked {asked}"
    );
    let html = std::fs::read_to_string(file("html")).unwrap();
    let row = format!(
        "<tr><td>{PROMPT}</td><td>approved</td><td>{USER}</td><td>{}</td><td>ok</td></tr>",
        at.format("%Y-%m-%d %H:%M:%S%.3f UTC")
    );
    assert!(html.contains(&row), "{row} in {html}");
}

#[test]
fn a_rejected_step_fails_the_job_and_leaves_later_groups_alone() {
    let cli = Cli::demo();
    let id = job_waiting_for_approval(&cli);
    // A worker that is already running picks the decision up.
    let worker = Worker::start(&cli, "instant", &[]);
    expect(
        &cli,
        &["jobs", "reject", &id, "--comment", "DNS not ready"],
        0,
    );
    let job = wait_for(&cli, &id, "failed", Some(&worker), |job| {
        job["status"] == "Failed"
    });
    drop(worker);

    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "manual step `switch-dns` rejected by {USER}: DNS not ready"
        )),
        "{reason}"
    );
    assert!(reason.contains("group `app`"), "{reason}");
    assert_eq!(
        operations_per_vm(&cli, "PlannedFailover"),
        vms(&["sql-01", "sql-02"])
    );
    let states = protection(&cli);
    for vm in &DEMO_VMS[2..] {
        assert_eq!(states[*vm], "Protected", "{vm}: {states:?}");
    }
    for vm in &DEMO_VMS[..2] {
        assert_ne!(states[*vm], "Protected", "{vm}: {states:?}");
    }
}

#[test]
fn a_stopped_suspended_job_is_never_run_again() {
    let cli = Cli::demo();
    let id = job_waiting_for_approval(&cli);
    let out = expect(&cli, &["jobs", "stop", &id], 0);
    assert!(
        stdout(&out).contains(&format!("job {id} stopped")),
        "{}",
        stdout(&out)
    );
    let job = show(&cli, &id);
    assert_eq!(job["status"], "Stopped", "{job}");
    assert_eq!(job["reason"], format!("stopped by {USER}"));

    // Neither an approval nor a worker brings it back.
    expect(&cli, &["jobs", "approve", &id], 2);
    let (status, log) = Worker::start(&cli, "instant", &["--exit-when-idle"]).exits();
    assert!(status.success(), "{log}");
    assert!(!log.contains(&id), "the worker touched the job:\n{log}");
    assert_eq!(show(&cli, &id)["status"], "Stopped");
    assert_eq!(
        operations_per_vm(&cli, "PlannedFailover"),
        vms(&["sql-01", "sql-02"])
    );
}

#[test]
fn a_stop_ends_a_loaded_job_while_it_waits_on_a_reprotect() {
    let cli = Cli::demo();
    let plan = cli.plan();
    expect(&cli, &["run", guests::FAILOVER_PLAN, "--plan", &plan], 0);
    expect(&cli, &["run", guests::COMMIT_PLAN, "--plan", &plan], 0);
    let id = detach(&cli, guests::REPROTECT_PLAN, &plan, &[]);
    // At real speed a reprotect takes 45 minutes and the runbook sleeps a
    // minute between polls; the job stays loaded for all of it.
    let worker = Worker::start(&cli, "1", &["--unload-after", "10m"]);
    let deadline = Instant::now() + PATIENCE;
    while operations_per_vm(&cli, "Reprotect").len() < DEMO_VMS.len() {
        assert!(
            Instant::now() < deadline,
            "the reprotects did not start:\n{}",
            worker.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let job = show(&cli, &id);
    assert_eq!(job["status"], "Running", "{job}");
    assert!(job["wake"].is_null(), "the job should be loaded: {job}");
    assert!(job["leaseOwner"].is_string(), "{job}");

    let out = expect(&cli, &["jobs", "stop", &id], 0);
    assert!(stdout(&out).contains("stop requested"), "{}", stdout(&out));
    let asked = Instant::now();
    let job = wait_for(&cli, &id, "stopped", Some(&worker), |job| {
        job["status"] == "Stopped"
    });
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the stop took {:?}: it should not wait for the runbook's next poll",
        asked.elapsed()
    );
    assert_eq!(job["reason"], format!("stopped by {USER}"), "{job}");
    assert!(job["leaseOwner"].is_null(), "{job}");
    drop(worker);
    assert_eq!(operations_per_vm(&cli, "Reprotect"), vms(&DEMO_VMS));
}

#[test]
fn resume_with_a_changed_module_fails_with_the_divergence() {
    let cli = Cli::demo();
    let id = job_waiting_for_approval(&cli);
    let out = expect(
        &cli,
        &["jobs", "resume", &id, "--module", guests::COMMIT_PLAN],
        1,
    );
    assert!(
        stderr(&out).contains(&format!("job {id} re-pinned to sha256:")),
        "{}",
        stderr(&out)
    );
    let job = show(&cli, &id);
    assert_eq!(job["status"], "Failed", "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("replay diverged at journal entry"),
        "{reason}"
    );
    // Nothing ran live: only the first group's failovers, from before.
    assert_eq!(
        operations_per_vm(&cli, "PlannedFailover"),
        vms(&["sql-01", "sql-02"])
    );
    assert!(operations_per_vm(&cli, "Commit").is_empty());
}

#[test]
fn resume_without_a_module_continues_with_the_pinned_one() {
    let cli = Cli::demo();
    let id = job_waiting_for_approval(&cli);
    let digest = show(&cli, &id)["digest"].clone();
    expect(&cli, &["jobs", "approve", &id], 0);
    let out = expect(&cli, &["--json", "jobs", "resume", &id], 0);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(summary["status"], "Completed", "{summary}");
    assert_eq!(summary["runbookDigest"], digest);

    let job = show(&cli, &id);
    assert_eq!(job["status"], "Completed", "{job}");
    assert_eq!(job["digest"], digest);
    assert_eq!(operations_per_vm(&cli, "PlannedFailover"), vms(&DEMO_VMS));
    let text = logs(&cli, &id);
    let approved = format!("manual step `switch-dns` approved by {USER}");
    assert_eq!(count_lines(&text, &approved), 1, "{text}");
}

#[test]
fn bad_job_commands_exit_2_and_say_why() {
    let cli = Cli::demo();
    let plan = cli.plan();
    // Run in-process to its end; then a detached job, which stays `New`
    // (created after the first ended: a plan has one job at a time).
    expect(&cli, &["run", guests::FAILOVER_PLAN, "--plan", &plan], 0);
    let waiting = detach(&cli, guests::FAILOVER_PLAN, &plan, &[]);
    let out = expect(
        &cli,
        &["--json", "jobs", "list", "--status", "Completed"],
        0,
    );
    let completed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(completed.as_array().map(Vec::len), Some(1), "{completed}");
    let done = completed[0]["id"].as_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["jobs", "show", "nope"], "no job `nope`".into()),
        (vec!["jobs", "logs", "nope"], "no job `nope`".into()),
        (vec!["jobs", "approve", "nope"], "no job `nope`".into()),
        (
            vec!["jobs", "approve", &waiting],
            format!("job {waiting} is not waiting for an approval (it is New)"),
        ),
        (
            vec!["jobs", "reject", &done],
            "is not waiting for an approval".into(),
        ),
        (
            vec!["jobs", "resume", &done],
            format!("job {done} has already ended (Completed); nothing to resume"),
        ),
        (
            vec!["jobs", "stop", &done],
            format!("job {done} has already ended (Completed)"),
        ),
        (
            vec!["jobs", "list", "--status", "Bogus"],
            "unknown status `Bogus`".into(),
        ),
    ];
    for (args, expected) in cases {
        let out = expect(&cli, &args, 2);
        assert!(
            stderr(&out).contains(&expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Nothing was lost or changed by the refusals.
    assert_eq!(show(&cli, &waiting)["status"], "New");
    assert_eq!(show(&cli, &done)["status"], "Completed");
}

#[test]
fn several_workers_on_one_store_run_each_job_once() {
    let cli = Cli::demo();
    // One plan, and one job, per VM: twelve jobs for the workers to race for.
    let mut jobs = Vec::new();
    for vm in DEMO_VMS {
        let plan = cli.dir.path().join(format!("{vm}.toml"));
        std::fs::write(
            &plan,
            format!(
                "name = \"{vm}\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                 [[groups]]\nname = \"only\"\nvms = [\"{vm}\"]\n"
            ),
        )
        .unwrap();
        let plan = plan.display().to_string();
        jobs.push(detach(&cli, guests::FAILOVER_PLAN, &plan, &[]));
    }
    // Three workers polling as fast as they can: each sees every job in its
    // list of runnable ones, and only the lease decides who runs it.
    let workers: Vec<Worker> = (0..3)
        .map(|_| Worker::start(&cli, "instant", &["--exit-when-idle", "--poll", "1ms"]))
        .collect();
    let mut logs = String::new();
    for worker in workers {
        let (status, log) = worker.exits();
        assert!(status.success(), "{log}");
        logs.push_str(&log);
    }

    for id in &jobs {
        let job = show(&cli, id);
        assert_eq!(job["status"], "Completed", "{job}");
        let reports = logs
            .lines()
            .filter(|line| line.starts_with(&format!("job {id}: ")))
            .map(str::to_string)
            .collect::<Vec<_>>();
        assert_eq!(reports, vec![format!("job {id}: Completed ")], "{id}");
    }
    assert_eq!(operations_per_vm(&cli, "PlannedFailover"), vms(&DEMO_VMS));
}

/// `jobs logs --follow` in another process shows a running job's lines as
/// they are written (from its spool: a worker folds them into the store only
/// when the run ends), and exits when the job ends, having shown every line
/// once.
#[test]
fn logs_follow_shows_a_running_jobs_lines_as_they_come() {
    let cli = Cli::demo();
    let id = detach(&cli, guests::FAILOVER_PLAN, &cli.plan(), &[]);
    let mut follow = cli
        .command()
        .args(["jobs", "logs", &id, "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting jobs logs --follow");
    let lines = std::io::BufReader::new(follow.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in lines.lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // 300×: each group's failovers take about a second; no wait is long
    // enough to unload the job.
    let worker = Worker::start(&cli, "300", &["--exit-when-idle"]);

    let first = rx.recv_timeout(PATIENCE).expect("a first line");
    let job = show(&cli, &id);
    assert_eq!(job["status"], "Running", "seen while the job runs: {job}");
    assert!(
        cli.dir
            .path()
            .join("spool")
            .join(format!("{id}.jsonl"))
            .exists(),
        "the running job has its spool"
    );
    let mut followed = vec![first];
    followed.extend(rx.iter());
    assert!(follow.wait().unwrap().success());
    let (status, log) = worker.exits();
    assert!(status.success(), "{log}");

    assert_eq!(show(&cli, &id)["status"], "Completed");
    let all = logs(&cli, &id);
    assert_eq!(
        followed.join("\n") + "\n",
        all,
        "every line, once, in order"
    );
    assert!(all.contains("all 3 groups done"), "{all}");
}

/// A spool damaged while its job was down (a complete line that is not a
/// journal line: a torn write never ends with its newline) fails the job at
/// its next start with the file and the line, and the file is kept.
#[test]
fn a_corrupt_spool_fails_the_job_naming_the_file_and_line_and_is_kept() {
    let cli = Cli::demo();
    let id = detach(&cli, guests::FAILOVER_PLAN, &cli.plan(), &[]);
    let spool = cli.dir.path().join("spool").join(format!("{id}.jsonl"));
    let worker = Worker::start(&cli, "300", &["--lease", "200ms"]);
    let deadline = Instant::now() + PATIENCE;
    while std::fs::metadata(&spool).map_or(true, |m| m.len() == 0) {
        assert!(Instant::now() < deadline, "the job never spooled a line");
        std::thread::sleep(Duration::from_millis(5));
    }
    worker.kill();
    let whole = std::fs::read_to_string(&spool).unwrap();
    // The lines, without the zeros the spool writes ahead of them.
    let whole = whole.trim_end_matches('\0');
    let lines = whole.lines().count();
    std::fs::write(&spool, format!("{whole}not a journal line\n")).unwrap();

    let (status, log) = Worker::start(&cli, "300", &["--exit-when-idle"]).exits();
    assert!(status.success(), "{log}");
    let job = show(&cli, &id);
    assert_eq!(job["status"], "Failed", "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains(&spool.display().to_string()), "{reason}");
    assert!(
        reason.contains(&format!("line {} is corrupt", lines + 1)),
        "{reason}"
    );
    assert!(spool.exists(), "the damaged spool is kept for inspection");
}

/// A worker notices at once that a job it ran has ended: with a poll of an
/// hour, `--exit-when-idle` still exits as soon as its only job completes
/// (it used to sleep out the poll first; `drbook run` waited so 100 ms).
#[test]
fn a_worker_wakes_when_its_job_ends_not_at_its_next_poll() {
    let cli = Cli::demo();
    let id = detach(&cli, guests::FAILOVER_PLAN, &cli.plan(), &[]);
    let (status, log) =
        Worker::start(&cli, "instant", &["--exit-when-idle", "--poll", "1h"]).exits();
    assert!(status.success(), "{log}");
    assert!(log.contains(&format!("job {id}: Completed")), "{log}");
}

/// Two people approve the same step at the same moment: the first decision
/// stands, the second is refused (exit 2) naming who decided, and one
/// decision is recorded.
#[test]
fn of_two_approvals_at_once_the_first_stands_and_the_second_is_refused() {
    let cli = Cli::demo();
    let id = job_waiting_for_approval(&cli);
    let approvals: Vec<Child> = ["first", "second"]
        .iter()
        .map(|comment| {
            cli.command()
                .args(["jobs", "approve", &id, "--comment", comment])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting drbook jobs approve")
        })
        .collect();
    let outs: Vec<_> = approvals
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let codes: Vec<_> = outs.iter().map(|out| out.status.code()).collect();
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(2)),
        "{codes:?}: {outs:?}"
    );
    let refused = outs
        .iter()
        .find(|out| out.status.code() == Some(2))
        .unwrap();
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains(&format!("was already approved by {USER}"))
            && message.contains("the first decision stands"),
        "{message}"
    );
    let first = ["first", "second"][codes.iter().position(|c| *c == Some(0)).unwrap()];
    let (status, log) = Worker::start(&cli, "instant", &["--exit-when-idle"]).exits();
    assert!(status.success(), "{log}");
    let text = logs(&cli, &id);
    let approved = format!("manual step `switch-dns` approved by {USER}: {first}");
    assert_eq!(count_lines(&text, &approved), 1, "{text}");
    assert!(!text.contains("rejected"), "{text}");
}
