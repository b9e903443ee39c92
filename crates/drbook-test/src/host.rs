//! Finding and calling the `drbook` binary: `drbook runbook build` for the
//! component (once per test binary), `drbook runbook test` for each scenario.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::Outcome;

/// Why a scenario could not run (not: the runbook failed, which is an
/// [`Outcome`]).
#[derive(Debug, Clone)]
pub enum Error {
    /// The `drbook` binary could not be started.
    NoDrbook { binary: String, reason: String },
    /// `drbook runbook build` failed: its output says why (cargo's errors).
    Build { output: String },
    /// `drbook runbook test` refused the scenario or could not run it.
    Run { output: String },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoDrbook { binary, reason } => write!(
                f,
                "cannot run `{binary}` ({reason}): drbook-test drives the drbook binary; install it and put it \
                 on PATH, or set DRBOOK to its path"
            ),
            Error::Build { output } => write!(f, "`drbook runbook build` failed:\n{output}"),
            Error::Run { output } => write!(f, "`drbook runbook test` could not run the scenario:\n{output}"),
        }
    }
}

impl std::error::Error for Error {}

/// `$DRBOOK`, else `drbook` (on `PATH`).
fn drbook() -> String {
    std::env::var("DRBOOK").unwrap_or_else(|_| "drbook".to_string())
}

/// `drbook --data-dir <target>/drbook-runbook/data ARGS`: the build
/// compiles the component into that data dir's cache, and each scenario
/// loads it from there instead of compiling it again (seconds in a debug
/// build, under load).
fn call(args: &[&std::ffi::OsStr]) -> Result<Output, Error> {
    call_with(drbook(), args)
}

fn call_with(binary: String, args: &[&std::ffi::OsStr]) -> Result<Output, Error> {
    Command::new(&binary)
        .arg("--data-dir")
        .arg(runbook_target_dir().join("data"))
        .args(args)
        .output()
        .map_err(|e| Error::NoDrbook {
            binary,
            reason: e.to_string(),
        })
}

fn both(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    )
}

/// The runbook's component, built once per test binary by `drbook runbook
/// build` of the crate under test (`CARGO_MANIFEST_DIR`).
///
/// It builds into a target directory of its own, beside the test binary's
/// (`<target>/drbook-runbook`): the `cargo test` that runs this test holds
/// the lock of its own target directory, and a build there would wait for
/// it forever.
pub fn component() -> Result<PathBuf, Error> {
    static BUILT: OnceLock<Result<PathBuf, Error>> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

fn build() -> Result<PathBuf, Error> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| Error::Build {
        output:
            "CARGO_MANIFEST_DIR is not set: run the test with `cargo test` in the runbook's crate"
                .to_string(),
    })?;
    let target = runbook_target_dir();
    let output = call(&[
        "--json".as_ref(),
        "runbook".as_ref(),
        "build".as_ref(),
        manifest_dir.as_ref(),
        "--target-dir".as_ref(),
        target.as_os_str(),
    ])?;
    if !output.status.success() {
        return Err(Error::Build {
            output: both(&output),
        });
    }
    let built: Value = serde_json::from_slice(&output.stdout).map_err(|e| Error::Build {
        output: format!("its output is not JSON ({e}):\n{}", both(&output)),
    })?;
    built["path"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| Error::Build {
            output: format!("its output names no `path`:\n{}", both(&output)),
        })
}

/// `<target>/drbook-runbook`, `<target>` being the test binary's target
/// directory (`<target>/<profile>/deps/<test>`).
fn runbook_target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
        .join("drbook-runbook")
}

/// Runs `scenario` with `component`: `drbook runbook test`, whose JSON
/// becomes the [`Outcome`].
pub fn run(component: &Path, scenario: &Value) -> Result<Outcome, Error> {
    static SCENARIOS: AtomicUsize = AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "drbook-test-{}-{}.json",
        std::process::id(),
        SCENARIOS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, scenario.to_string()).map_err(|e| Error::Run {
        output: format!("cannot write the scenario to {}: {e}", file.display()),
    })?;
    let started = Instant::now();
    let output = call(&[
        "--json".as_ref(),
        "runbook".as_ref(),
        "test".as_ref(),
        component.as_os_str(),
        "--scenario".as_ref(),
        file.as_os_str(),
    ]);
    let elapsed = started.elapsed();
    let _ = std::fs::remove_file(&file);
    let output = output?;
    // 0: the job completed, 1: it ended otherwise; both print the outcome.
    match (
        output.status.code(),
        serde_json::from_slice::<Value>(&output.stdout),
    ) {
        (Some(0 | 1), Ok(doc)) => Ok(Outcome::new(doc, elapsed)),
        _ => Err(Error::Run {
            output: both(&output),
        }),
    }
}

impl Outcome {
    pub(crate) fn new(doc: Value, elapsed: Duration) -> Self {
        Outcome { doc, elapsed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_drbook_is_named_with_the_fix() {
        let err = call_with("/nonexistent/drbook".to_string(), &[]).unwrap_err();
        assert!(matches!(err, Error::NoDrbook { .. }));
        let message = err.to_string();
        assert!(message.contains("/nonexistent/drbook"), "{message}");
        assert!(message.contains("set DRBOOK"), "{message}");
    }
}
