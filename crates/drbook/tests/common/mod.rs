//! What the CLI tests that drive `drbook fabric serve-arm` share: the binary
//! on a data dir, untouched by the caller's environment, and the emulator
//! started in another process with its endpoints.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `drbook` on `data_dir`, with none of drbook's environment variables of
/// the shell that runs the tests: its fabric and job store are the data
/// dir's (or its `drbook.toml`'s).
pub fn drbook(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_drbook"));
    command.arg("--data-dir").arg(data_dir);
    for var in [
        "DRBOOK_DATA_DIR",
        "DRBOOK_CONFIG",
        "DRBOOK_FABRIC",
        "DRBOOK_SPEED",
        "DRBOOK_AZURE_VAULT",
        "DRBOOK_AZURE_CREDENTIAL",
        "DRBOOK_STORE",
        "DRBOOK_STORE_PATH",
        "DRBOOK_STORE_URL",
    ] {
        command.env_remove(var);
    }
    command
}

/// Runs `drbook args` on `data_dir`, from inside it (so that relative
/// paths are the data dir's), and checks that it exits with `code`; its
/// output.
#[allow(dead_code)] // each test binary has its own copy of this module; not all run drbook so
pub fn run_in(data_dir: &Path, args: &[&str], code: i32) -> std::process::Output {
    let mut command = drbook(data_dir);
    command.current_dir(data_dir);
    exits(command, args, code)
}

/// Runs `command` with `args` and checks that it exits with `code`,
/// showing its output otherwise; its output.
#[allow(dead_code)] // each test binary has its own copy of this module; not all run drbook so
pub fn exits(mut command: Command, args: &[&str], code: i32) -> std::process::Output {
    let output = command.args(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "drbook {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Kills the server when the test ends, passed or not.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `command`, a `drbook serve` on an ephemeral port (without TLS), started
/// and listening: the server and the URL it printed (`http://ADDR`).
#[allow(dead_code)] // each test binary has its own copy of this module; not all start servers so
pub fn serve(command: &mut Command) -> (Server, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting drbook serve");
    let first = first_line(&mut child);
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("serve printed {first:?}"))
        .to_string();
    (Server(child), url)
}

/// `drbook fabric serve-arm --json --port 0` on `data_dir`'s simulator at
/// instant speed, with `extra` flags: the running server and the one JSON
/// line of endpoints it printed.
#[allow(dead_code)] // each test binary has its own copy of this module; not all start servers so
pub fn serve_arm(data_dir: &Path, extra: &[&str]) -> (Server, Value) {
    let mut child = drbook(data_dir)
        .args([
            "--speed",
            "instant",
            "--json",
            "fabric",
            "serve-arm",
            "--port",
            "0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting drbook fabric serve-arm");
    let line = first_line(&mut child);
    let endpoints = serde_json::from_str(&line).expect("one JSON line of endpoints");
    (Server(child), endpoints)
}

/// The first line `child` printed on its stdout (piped): what a server
/// prints once it listens.
#[allow(dead_code)] // each test binary has its own copy of this module; not all start servers so
pub fn first_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("its stdout, piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reading its first line");
    line
}

/// Waits until `drbook jobs show` (local) says `status`.
#[allow(dead_code)] // each test binary has its own copy of this module; not all wait for jobs
pub fn wait_for(dir: &Path, job: &str, status: &str) {
    let start = std::time::Instant::now();
    loop {
        let shown: Value =
            serde_json::from_slice(&exits(drbook(dir), &["jobs", "show", job], 0).stdout).unwrap();
        if shown["status"] == status {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "job {job} is still {} ({})",
            shown["status"],
            shown["reason"]
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
