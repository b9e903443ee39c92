//! The example runbooks the CLI tests run, built for wasm32-wasip2 as the
//! test crate's build script builds them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example `failover-plan` runbook.
pub fn failover_plan() -> PathBuf {
    example("failover-plan")
}

/// The example `dr-drill` runbook: a test failover of the plan and its
/// cleanup, so that a plan may be drilled again and again.
#[allow(dead_code)] // each test binary has its own copy of this module; not all drill
pub fn dr_drill() -> PathBuf {
    example("dr-drill")
}

/// The `probe` test guest (`tests/guests/probe`), for the benches that time
/// the host around it.
#[allow(dead_code)] // each test binary has its own copy of this module; only benches probe
pub fn probe() -> PathBuf {
    example("probe")
}

/// The `http-probe` test guest (`tests/guests/http-probe`), as built: no
/// capability manifest, so no HTTP destination granted.
#[allow(dead_code)] // each test binary has its own copy of this module; only http_cli probes HTTP
pub fn http_probe() -> PathBuf {
    example("http-probe")
}

/// The example runbook `package` (of `runbooks/`) written into `dir` with
/// the capability manifest its Cargo.toml declares (`[package.metadata.drbook]`
/// `operations`, `http`, `azure`), as `drbook runbook build` writes it, by
/// `drbook runbook grant`: what the tests of its outside calls run.
#[allow(dead_code)] // each test binary has its own copy of this module; not all grant
pub fn granted(package: &str, dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runbooks");
    let text = std::fs::read_to_string(root.join(package).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    let declared = &manifest["package"]["metadata"]["drbook"];
    let out = dir.join(format!("{}.wasm", package.replace('-', "_")));
    let mut grant = Command::new(env!("CARGO_BIN_EXE_drbook"));
    grant.arg("runbook").arg("grant").arg(example(package));
    for (key, flag) in [
        ("operations", "--operation"),
        ("http", "--http"),
        ("azure", "--azure"),
    ] {
        for value in declared
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            grant.arg(flag).arg(value.as_str().unwrap());
        }
    }
    let written = grant.arg("-o").arg(&out).output().expect("running drbook");
    assert!(
        written.status.success(),
        "{}{}",
        String::from_utf8_lossy(&written.stdout),
        String::from_utf8_lossy(&written.stderr)
    );
    out
}

/// The runbook `package` (of `runbooks/` or `tests/guests/`), built in its own target
/// dir: this nested cargo does not wait on the lock of the build running the
/// tests.
fn example(package: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = root.join("target").join("guests");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&root)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "runbook"])
        .args(["-p", package, "--target-dir"])
        .arg(&target);
    for var in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTFLAGS"] {
        cargo.env_remove(var);
    }
    let built = cargo.output().expect("running cargo");
    assert!(
        built.status.success(),
        "{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let file = format!("{}.wasm", package.replace('-', "_"));
    target.join("wasm32-wasip2/runbook").join(file)
}
