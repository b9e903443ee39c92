//! A Python venv of pinned requirements, for the tests that drive Azure's
//! own Python tools against the emulator (its SDK, the Azure CLI). Kept
//! out of `common/mod.rs` so the other tests do not carry it; included
//! with `#[path]`.
//!
//! A venv lives in the target dir (`target/tmp/<name>`), made with
//! `python3 -m venv` and filled from its requirements file with pip on the
//! first run, then reused while the file is the same (a copy of the file
//! it was filled from is kept in it). A machine without Python 3, its venv
//! module or PyPI fails the test that needs it, naming what to install: it
//! does not skip.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `command`'s output; a failure to run it, or its non-zero exit, panics
/// with what it printed and `what` it was for.
pub fn run(command: &mut Command, what: &str) -> String {
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

/// The `bin` directory of the venv `name` filled from `requirements`
/// (`what` names its packages in the panic when pip fails): made again when
/// it is missing or was filled from other requirements.
pub fn venv(name: &str, requirements: &Path, what: &str) -> PathBuf {
    // Tests of one binary run on threads: one makes the venv, the others
    // wait for it rather than remove it under its feet.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|p| p.into_inner());
    let wanted = std::fs::read_to_string(requirements)
        .unwrap_or_else(|e| panic!("reading {}: {e}", requirements.display()));
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let bin = venv.join("bin");
    let installed = venv.join("installed-requirements.txt");
    if bin.join("python").exists()
        && std::fs::read_to_string(&installed).ok().as_ref() == Some(&wanted)
    {
        return bin;
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        &format!(
            "making the venv {} (needs Python 3 with its venv module: Debian's python3-venv, \
             `apt-get install -y python3-venv`)",
            venv.display()
        ),
    );
    run(
        Command::new(bin.join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(requirements),
        &format!("installing {what} from PyPI into the venv (needs PyPI reachable, or a mirror in PIP_INDEX_URL)"),
    );
    std::fs::write(&installed, &wanted).expect("recording the venv's requirements");
    bin
}
