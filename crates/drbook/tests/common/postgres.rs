//! What the CLI tests on a PostgreSQL job store share (`postgres_cli.rs`
//! on one host, `scale_out_cli.rs` on several): `drbook` on a store URL,
//! its output checked and read, workers started, waited for and signalled,
//! the alerts servers are sent.
//! Included with `#[path]`, after `common`.

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long workers have to finish what they were given.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// `drbook` on `dir` with its job store at `url`.
pub fn drbook(dir: &Path, url: &str) -> Command {
    let mut command = super::common::drbook(dir);
    command.env("DRBOOK_STORE_URL", url);
    command
}

/// stdout then stderr.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command`, asserting it exits with `code`.
pub fn exits(command: &mut Command, code: i32) -> Output {
    let output = command.output().expect("running drbook");
    assert_eq!(output.status.code(), Some(code), "{}", text(&output));
    output
}

/// Runs `command`, asserting it succeeds; its stdout as JSON.
pub fn json(command: &mut Command) -> Value {
    serde_json::from_slice(&exits(command, 0).stdout).expect("JSON output")
}

/// `command` (a `drbook` with its global flags) as a worker whose leases
/// last `lease`, polling every 10 ms, with `extra` flags; its stderr goes
/// to `stderr`.
pub fn worker(mut command: Command, lease: &str, extra: &[&str], stderr: Stdio) -> Child {
    command
        .args(["worker", "--lease", lease, "--poll", "10ms"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("starting a worker")
}

/// Waits for `worker` (with `--exit-when-idle`) to exit successfully.
pub fn finishes(mut worker: Child) {
    let start = Instant::now();
    loop {
        if let Some(status) = worker.try_wait().unwrap() {
            assert!(status.success(), "the last worker failed");
            return;
        }
        assert!(start.elapsed() < PATIENCE, "the job did not finish in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` (`-STOP`, `-TERM`, ...) to `child`.
pub fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {signal}");
}

/// An Azure Monitor alert (the common alert schema), fired: the essentials
/// a delivery reads, its id `id`.
pub fn alert(id: &str) -> Vec<u8> {
    let essentials = serde_json::json!({
        "alertId": format!("/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{id}"),
        "alertRule": "eastus-heartbeat",
        "severity": "Sev0",
        "signalType": "Log",
        "monitorCondition": "Fired",
        "firedDateTime": chrono::Utc::now().to_rfc3339(),
    });
    let payload = serde_json::json!({
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": { "essentials": essentials },
    });
    payload.to_string().into_bytes()
}
