//! Azure's own SDK against `drbook fabric serve-arm`: issue 11 wants an
//! emulator "faithful enough that Azure's own SDKs work against it", and
//! the backend's own client (written from the same reading of the
//! specification) cannot show that. `tests/sdk/asr_sdk_check.py` drives
//! Microsoft's Python SDK for Site Recovery (generated from the REST
//! specification) with azure-identity's `ManagedIdentityCredential`: paged
//! lists, one item, its recovery points, a planned failover to completion
//! through the SDK's LRO poller, and its job; then a drill, an unplanned
//! failover, commit and reprotect of another item with the SDK's A2A
//! inputs, a refusal, the recovery plans. Every body is read back
//! through the SDK's models and any field the specification does not know,
//! or of another type, fails the script.
//!
//! The SDK lives in a venv under the target dir, made with `python3 -m
//! venv` and filled from `tests/sdk/requirements.txt` (pinned) on the first
//! run, then reused while the requirements are the same. A machine without
//! Python 3, its venv module or PyPI fails this test: it does not skip.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

/// The repository's `tests/sdk/`.
fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk")
}

/// `command`'s output; a failure to run it, or its non-zero exit, panics
/// with what it printed and `what` it was for.
fn run(command: &mut Command, what: &str) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what}: {command:?} exited {}:\n{text}",
        out.status
    );
    text
}

/// The venv's Python with the pinned SDK installed: `target/tmp/sdk-venv`,
/// made again when it is missing or was filled from other requirements (a
/// copy of the file it was filled from is kept in it).
fn sdk_python() -> PathBuf {
    let requirements = sdk_dir().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("tests/sdk/requirements.txt");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-venv");
    let python = venv.join("bin/python");
    let installed = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&installed).ok().as_ref() == Some(&wanted) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "making the SDK's venv (needs Python 3 with its venv module: \
         Debian's python3-venv)",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
        "installing Azure's Python SDK from PyPI into the venv",
    );
    std::fs::write(&installed, &wanted).expect("recording the venv's requirements");
    python
}

#[test]
fn azures_python_sdk_lists_reads_and_fails_over_through_the_emulator() {
    let python = sdk_python();
    let dir = tempfile::tempdir().unwrap();
    run(
        common::drbook(dir.path()).args(["fabric", "init", "--demo"]),
        "drbook fabric init --demo",
    );
    // Five items a page: the demo's 12 come in three, through nextLink.
    let (_server, ep) = common::serve_arm(dir.path(), &["--page-size", "5"]);
    let mut check = Command::new(python);
    check
        .arg(sdk_dir().join("asr_sdk_check.py"))
        .arg(ep.to_string())
        .arg("12")
        .env("NO_PROXY", "127.0.0.1");
    for (name, value) in ep["env"].as_object().expect("the emulator's env") {
        check.env(name, value.as_str().expect("a string"));
    }
    let out = run(&mut check, "asr_sdk_check.py against serve-arm");
    assert!(out.contains("the SDK and the emulator agree"), "{out}");
}
