//! Builds every example runbook (`runbooks/*`) and test guest
//! (`tests/guests/*`) for `wasm32-wasip2` with the `runbook` profile, in a
//! target directory of their own (a nested cargo must not wait on the lock of
//! the build that runs this script), and writes their paths as constants:
//! `FAILOVER_PLAN`, `HOSTILE`, ..., and `foreach_guest!`, which names them
//! all (the tests use it to insist that every guest has a test). The tests
//! use exactly what users ship: an example runbook whose `Cargo.toml` has
//! `[package.metadata.drbook] operations = [...]` carries that capability
//! manifest, written as `drbook runbook grant` writes it (declaring the
//! interfaces it imports) into a copy in `target/guests/granted/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use drbook_core::fabric::OperationKind;
use drbook_core::scope::Manifest;
use drbook_signing::manifest;

fn main() {
    // Read when the script runs, not when it is compiled: cargo shares one
    // compiled script between checkouts of the same workspace.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir)
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let target_dir = root.join("target").join("guests");
    let mut packages = Vec::new();
    for dir in [root.join("runbooks"), root.join("tests").join("guests")] {
        println!("cargo:rerun-if-changed={}", dir.display());
        packages.extend(crates_in(&dir));
    }
    for watched in ["guest-sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "runbook",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (package, _) in &packages {
        cmd.args(["-p", package]);
    }
    // The outer build's settings are for the host, not for the guests.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("running cargo to build the test guests");
    if !status.success() {
        panic!(
            "building the runbooks for wasm32-wasip2 failed (see above). If the target is missing, run \
             `rustup target add wasm32-wasip2` (scripts/test.sh does it for you)."
        );
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut constants = String::new();
    let mut names = String::new();
    for (package, dir) in &packages {
        let file = package.replace('-', "_");
        let built = target_dir
            .join("wasm32-wasip2")
            .join("runbook")
            .join(format!("{file}.wasm"));
        assert!(
            built.exists(),
            "cargo built {package} but {} is missing",
            built.display()
        );
        let (http, azure) = (declared(dir, "http"), declared(dir, "azure"));
        let wasm = match declared_operations(dir) {
            None if http.is_empty() && azure.is_empty() => built,
            operations => granted(
                &built,
                Manifest {
                    interfaces: Vec::new(),
                    operations: operations.unwrap_or_default(),
                    http,
                    azure,
                },
                &target_dir.join("granted"),
            ),
        };
        constants.push_str(&format!(
            "/// `{package}`, built for wasm32-wasip2.\npub const {}: &str = {:?};\n",
            file.to_uppercase(),
            wasm.display().to_string()
        ));
        names.push_str(&format!("        $mac!({file});\n"));
    }
    // `foreach_guest!(m)` calls `m!(name)` for every guest built, so that
    // the test binary can insist that each has a test.
    constants.push_str(&format!(
        "/// Calls `$mac!(name)` for every runbook and test guest built.\n#[macro_export]\nmacro_rules! foreach_guest {{\n    ($mac:ident) => {{\n{names}    }};\n}}\n"
    ));
    std::fs::write(out_dir.join("guests.rs"), constants).expect("writing guests.rs");
}

/// The operations `[package.metadata.drbook]` of the crate in `dir`
/// declares, if it declares any.
fn declared_operations(dir: &Path) -> Option<Vec<OperationKind>> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("reading Cargo.toml");
    let manifest: toml::Table = text.parse().expect("a valid Cargo.toml");
    let names = manifest
        .get("package")?
        .get("metadata")?
        .get("drbook")?
        .get("operations")?
        .as_array()
        .expect("`[package.metadata.drbook] operations` is a list");
    let operations = names
        .iter()
        .map(|name| {
            let name = name.as_str().expect("operations are names");
            manifest::operation(name).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        })
        .collect();
    Some(operations)
}

/// The patterns `[package.metadata.drbook] <key>` (`http`, `azure`) of the
/// crate in `dir` declares (none: it reaches none).
fn declared(dir: &Path, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("reading Cargo.toml");
    let manifest: toml::Table = text.parse().expect("a valid Cargo.toml");
    let Some(patterns) = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("drbook"))
        .and_then(|d| d.get(key))
    else {
        return Vec::new();
    };
    patterns
        .as_array()
        .unwrap_or_else(|| panic!("`[package.metadata.drbook] {key}` is a list"))
        .iter()
        .map(|p| p.as_str().expect("patterns are strings").to_string())
        .collect()
}

/// A copy of `built` in `dir` with its capability manifest: `declared`,
/// with the interfaces it imports.
fn granted(built: &Path, mut declared: Manifest, dir: &Path) -> PathBuf {
    let module = std::fs::read(built).expect("reading a built runbook");
    declared.interfaces = manifest::imported_interfaces(&module).expect("a component's imports");
    let written = manifest::write(&module, &declared)
        .unwrap_or_else(|e| panic!("granting {}: {e}", built.display()));
    std::fs::create_dir_all(dir).expect("creating the granted runbooks' dir");
    let path = dir.join(built.file_name().expect("a file name"));
    std::fs::write(&path, written.module).expect("writing a granted runbook");
    path
}

/// `(package name, dir)` of every crate directly below `dir`.
fn crates_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("name = ")
                .map(|v| v.trim_matches('"').to_string())
        });
        if let Some(name) = name {
            found.push((name, entry.path()));
        }
    }
    found.sort();
    found
}
