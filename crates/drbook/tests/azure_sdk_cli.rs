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
//! The SDK lives in a venv under the target dir (`common/python.rs`),
//! filled from `tests/sdk/requirements.txt` (pinned) on the first run, then
//! reused while the requirements are the same. A machine without Python 3,
//! its venv module or PyPI fails this test: it does not skip.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
#[path = "common/python.rs"]
mod python;

use python::run;

/// The repository's `tests/sdk/`.
fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/sdk")
}

/// The venv's Python with the pinned SDK installed: `target/tmp/sdk-venv`.
fn sdk_python() -> PathBuf {
    let requirements = sdk_dir().join("requirements.txt");
    python::venv("sdk-venv", &requirements, "Azure's Python SDK").join("python")
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
