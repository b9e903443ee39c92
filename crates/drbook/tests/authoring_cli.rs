//! Writing a runbook outside this repository (issue 17), as a new author
//! would: `drbook runbook new` in an empty directory under the system's
//! temporary directory, `drbook runbook build`, then the new crate's own
//! `cargo test`, which runs its component with drbook-test on this build's
//! `drbook` (`DRBOOK`). Registries are allowed (`CARGO_NET_OFFLINE` is
//! removed): the crate's dependencies come from crates.io, and nothing
//! of it names this checkout.
//!
//! Cargo's target directory is `target/tmp/authoring/<test>` of this
//! repository, so that a rerun builds incrementally (wit-bindgen,
//! serde_json and the crate's own build are kept); the crates themselves
//! are new each run. One per test: cargo takes a vendored crate at the same
//! relative path in another new crate for the one it built, if that build
//! is newer than its files (its fingerprint is by path and time), so
//! tests running side by side in one target directory would build each
//! other's `vendor/`.

#[allow(dead_code)] // the emulator's helpers: these tests need only `drbook()`
mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// This checkout: nothing a new crate holds may name it.
fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Kept across runs (see the module's docs).
fn target_dir(test: &str) -> PathBuf {
    checkout().join("target/tmp/authoring").join(test)
}

/// An empty directory outside the checkout.
fn outside() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("drbook-authoring-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    assert!(
        !dir.path().starts_with(checkout()),
        "{} is inside the checkout",
        dir.path().display()
    );
    dir
}

/// `drbook` run in `dir` (its data dir a fresh one inside it), with cargo's
/// target directory `target` and registries allowed.
fn drbook_in(dir: &Path, target: &Path) -> Command {
    let mut command = common::drbook(&dir.join(".drbook"));
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("CARGO_NET_OFFLINE");
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn new_crate(dir: &Path, name: &str, template: &str) -> PathBuf {
    let output = drbook_in(dir, dir)
        .args(["runbook", "new", name, "--template", template])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    dir.join(name)
}

/// `drbook --json runbook build` in `krate` into `target`, which must exit
/// with `code`.
fn build(krate: &Path, target: &Path, code: i32) -> Output {
    let output = drbook_in(krate, target)
        .args(["--json", "runbook", "build"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(code), "{}", text(&output));
    output
}

/// The crate's own `cargo test` into `target`, with `DRBOOK` this build's
/// binary.
fn cargo_test(krate: &Path, target: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .arg("test")
        .args(extra)
        .current_dir(krate)
        .env("DRBOOK", env!("CARGO_BIN_EXE_drbook"))
        .env("CARGO_TARGET_DIR", target)
        .env_remove("CARGO_NET_OFFLINE")
        .output()
        .unwrap()
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let (mut found, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
            if path.is_dir() {
                dirs.push(path)
            } else {
                found.push(path)
            }
        }
    }
    found
}

#[test]
fn a_new_runbook_builds_and_its_tests_pass_outside_the_repository() {
    let target = target_dir("failover");
    let dir = outside();
    let krate = new_crate(dir.path(), "my-failover", "failover");
    let written = files(&krate);
    for expected in [
        "Cargo.toml",
        "src/lib.rs",
        "tests/runbook.rs",
        "README.md",
        "drbook.toml",
        "plans/contoso-3tier.toml",
        "vendor/wit/runbook.wit",
        "vendor/drbook-sdk/Cargo.toml",
        "vendor/drbook-test/src/lib.rs",
    ] {
        assert!(written.contains(&krate.join(expected)), "no {expected}");
    }
    let checkout = checkout().display().to_string();
    for file in &written {
        let contents = std::fs::read_to_string(file).unwrap();
        assert!(
            !contents.contains(&checkout),
            "{} names the checkout",
            file.display()
        );
    }
    // Not twice in the same place.
    let again = drbook_in(dir.path(), &target)
        .args(["runbook", "new", "my-failover"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again).contains("exists and is not empty"),
        "{}",
        text(&again)
    );

    let built: Value = serde_json::from_slice(&build(&krate, &target, 0).stdout).unwrap();
    let component = PathBuf::from(built["path"].as_str().unwrap());
    assert!(
        component.ends_with("wasm32-wasip2/runbook/my_failover.wasm"),
        "{built}"
    );
    assert_eq!(
        built["size"].as_u64(),
        Some(std::fs::metadata(&component).unwrap().len())
    );
    assert!(built["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(built["world"], "drbook:runbook/runbook@0.1.0");
    assert_eq!(
        built["operations"],
        serde_json::json!(["planned-failover", "unplanned-failover", "test-failover"])
    );
    // The manifest is in the module, as `runbook grant` writes it.
    let inspected = common::exits(
        drbook_in(&krate, &target),
        &["--json", "runbook", "inspect", component.to_str().unwrap()],
        0,
    );
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(inspected["manifest"]["operations"], built["operations"]);

    // --sign signs after the manifest: the signature covers the module as built.
    common::exits(
        drbook_in(dir.path(), &target),
        &["key", "generate", "author"],
        0,
    );
    let signed: Value = serde_json::from_slice(
        &drbook_in(&krate, &target)
            .args(["--json", "runbook", "build", "--sign"])
            .arg(dir.path().join("author"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        signed["signers"].as_array().map(Vec::len),
        Some(1),
        "{signed}"
    );
    let author = dir.path().join("author.pub");
    let author = author.to_str().unwrap();
    common::exits(
        drbook_in(&krate, &target),
        &[
            "runbook",
            "verify",
            component.to_str().unwrap(),
            "--key",
            author,
        ],
        0,
    );

    // The 12-VM failover, a fault and an approval, in the crate's own tests.
    let tested = cargo_test(&krate, &target, &["--", "--nocapture"]);
    let report = text(&tested);
    assert!(tested.status.success(), "{report}");
    assert!(report.contains("test result: ok. 4 passed"), "{report}");
    if let Some(line) = report.lines().find(|l| l.contains("12-VM failover ran in")) {
        eprintln!("{line}");
    }

    // A broken assertion about the fabric fails the author's test.
    let test_file = krate.join("tests/runbook.rs");
    let source = std::fs::read_to_string(&test_file).unwrap();
    let asserted = r#"assert_eq!(vm.active_location(), "Recovery", "{}", vm.name());"#;
    assert!(source.contains(asserted));
    std::fs::write(
        &test_file,
        source.replace(
            asserted,
            r#"assert_eq!(vm.active_location(), "Primary", "{}", vm.name());"#,
        ),
    )
    .unwrap();
    let broken = cargo_test(
        &krate,
        &target,
        &["--test", "runbook", "every_vm_fails_over_once"],
    );
    let report = text(&broken);
    assert!(!broken.status.success(), "{report}");
    assert!(
        report.contains("every_vm_fails_over_once ... FAILED"),
        "{report}"
    );
    assert!(report.contains(r#"right: "Primary""#), "{report}");
}

#[test]
fn the_drill_and_empty_templates_pass_their_own_tests() {
    let target = target_dir("templates");
    let dir = outside();
    for (template, tests) in [("drill", 4), ("empty", 1)] {
        let krate = new_crate(dir.path(), &format!("my-{template}"), template);
        let tested = cargo_test(&krate, &target, &[]);
        let report = text(&tested);
        assert!(tested.status.success(), "{template}: {report}");
        assert!(
            report.contains(&format!("test result: ok. {tests} passed")),
            "{template}: {report}"
        );
    }
}

#[test]
fn a_runbook_built_against_another_wit_version_is_refused_naming_both() {
    let target = target_dir("wit");
    let dir = outside();
    for (name, version) in [("wit-older", "0.0.9"), ("wit-newer", "0.2.0")] {
        let krate = new_crate(dir.path(), name, "empty");
        let wit = krate.join("vendor/wit/runbook.wit");
        let contract = std::fs::read_to_string(&wit).unwrap();
        let declared = "package drbook:runbook@0.1.0;";
        assert!(contract.contains(declared));
        std::fs::write(
            &wit,
            contract.replace(declared, &format!("package drbook:runbook@{version};")),
        )
        .unwrap();
        let refused = text(&build(&krate, &target, 2));
        assert!(
            refused.contains(&format!(
                "was built against drbook:runbook@{version} but this host speaks drbook:runbook@0.1.0"
            )),
            "{refused}"
        );
        assert!(refused.contains("drbook runbook new"), "{refused}");
        // Loading it for a job refuses it the same way.
        let component = target.join(format!(
            "wasm32-wasip2/runbook/{}.wasm",
            name.replace('-', "_")
        ));
        let inspected = drbook_in(&krate, &target)
            .args(["runbook", "inspect", component.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(inspected.status.code(), Some(2), "{}", text(&inspected));
        assert!(text(&inspected).contains(&format!("drbook:runbook@{version}")));
    }
}

#[test]
fn what_is_not_a_runbook_crate_is_named_as_such() {
    let dir = outside();
    let refused = text(&build(dir.path(), dir.path(), 2));
    assert!(refused.contains("is not a runbook crate"), "{refused}");
    assert!(refused.contains("drbook runbook new"), "{refused}");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let refused = text(&build(dir.path(), dir.path(), 2));
    assert!(refused.contains("a runbook is a `cdylib`"), "{refused}");
    let bad_name = drbook_in(dir.path(), dir.path())
        .args(["runbook", "new", "1st-runbook"])
        .output()
        .unwrap();
    assert_eq!(bad_name.status.code(), Some(2));
    assert!(
        text(&bad_name).contains("starting with a letter"),
        "{}",
        text(&bad_name)
    );
}
