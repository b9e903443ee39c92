//! The crates a new runbook depends on, embedded in the `drbook` binary and
//! written into the runbook's crate (`vendor/`), so that it builds with
//! no clone of drbook and always against the WIT of the drbook that made
//! it.
//!
//! The sources are this repository's own files (`include_str!`): there is
//! no second copy to drift. Their manifests inherit from the workspace,
//! which a crate outside it cannot; [`standalone_manifest`] writes each
//! inherited key out, with every dependency pinned to the version this
//! workspace's `Cargo.lock` builds and tests.

use toml::{Table, Value};

use crate::{AuthoringError, File};

/// `(name inside src/, contents)` of drbook-sdk's sources.
pub(crate) const SDK_SOURCES: &[(&str, &str)] = &[
    (
        "approval.rs",
        include_str!("../../../guest-sdk/src/approval.rs"),
    ),
    ("azure.rs", include_str!("../../../guest-sdk/src/azure.rs")),
    ("check.rs", include_str!("../../../guest-sdk/src/check.rs")),
    (
        "context.rs",
        include_str!("../../../guest-sdk/src/context.rs"),
    ),
    (
        "display.rs",
        include_str!("../../../guest-sdk/src/display.rs"),
    ),
    ("error.rs", include_str!("../../../guest-sdk/src/error.rs")),
    (
        "fabric.rs",
        include_str!("../../../guest-sdk/src/fabric.rs"),
    ),
    (
        "groups.rs",
        include_str!("../../../guest-sdk/src/groups.rs"),
    ),
    ("http.rs", include_str!("../../../guest-sdk/src/http.rs")),
    ("lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    ("log.rs", include_str!("../../../guest-sdk/src/log.rs")),
    (
        "recovery.rs",
        include_str!("../../../guest-sdk/src/recovery.rs"),
    ),
];

/// drbook-test's sources.
pub(crate) const HARNESS_SOURCES: &[(&str, &str)] = &[
    ("host.rs", include_str!("../../drbook-test/src/host.rs")),
    ("lib.rs", include_str!("../../drbook-test/src/lib.rs")),
    (
        "outcome.rs",
        include_str!("../../drbook-test/src/outcome.rs"),
    ),
    (
        "scenario.rs",
        include_str!("../../drbook-test/src/scenario.rs"),
    ),
];

/// The contract; the SDK reads it from `../wit` (its `generate!`).
pub const WIT: &str = include_str!("../../../wit/runbook.wit");

const SDK_MANIFEST: &str = include_str!("../../../guest-sdk/Cargo.toml");
const HARNESS_MANIFEST: &str = include_str!("../../drbook-test/Cargo.toml");
const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");
const LOCK: &str = include_str!("../../../Cargo.lock");

/// Where the vendored crates go in a runbook's crate.
pub const SDK_DIR: &str = "vendor/drbook-sdk";
pub const HARNESS_DIR: &str = "vendor/drbook-test";

/// The files of `vendor/`: the SDK, the harness and the WIT.
pub fn files() -> Result<Vec<File>, AuthoringError> {
    let mut files = vec![File::new("vendor/wit/runbook.wit", WIT)];
    for (dir, manifest, sources) in [
        (SDK_DIR, SDK_MANIFEST, SDK_SOURCES),
        (HARNESS_DIR, HARNESS_MANIFEST, HARNESS_SOURCES),
    ] {
        files.push(File::new(
            format!("{dir}/Cargo.toml"),
            standalone_manifest(manifest)?,
        ));
        for (name, contents) in sources {
            files.push(File::new(format!("{dir}/src/{name}"), *contents));
        }
    }
    Ok(files)
}

/// The workspace's `[profile.runbook]`: what `drbook runbook build` builds
/// with, copied into a runbook's own manifest.
pub fn runbook_profile() -> Result<Table, AuthoringError> {
    let workspace = parse("Cargo.toml", WORKSPACE_MANIFEST)?;
    workspace
        .get("profile")
        .and_then(|p| p.get("runbook"))
        .and_then(Value::as_table)
        .cloned()
        .ok_or_else(|| {
            AuthoringError::Embedded("the workspace's Cargo.toml has no [profile.runbook]".into())
        })
}

/// A member's manifest with what it inherits from the workspace written
/// out, each dependency pinned to its locked version, and no `[lints]`
/// (the workspace's).
pub fn standalone_manifest(member: &str) -> Result<String, AuthoringError> {
    let workspace = parse("Cargo.toml", WORKSPACE_MANIFEST)?;
    let inherited = |section: &str| {
        workspace
            .get("workspace")
            .and_then(|w| w.get(section))
            .and_then(Value::as_table)
            .cloned()
            .unwrap_or_default()
    };
    let (package_keys, dependencies) = (inherited("package"), inherited("dependencies"));
    let mut manifest = parse("a member's Cargo.toml", member)?;
    manifest.remove("lints");
    if let Some(Value::Table(package)) = manifest.get_mut("package") {
        for (key, value) in package.iter_mut() {
            if is_inherited(value) {
                *value = package_keys.get(key).cloned().ok_or_else(|| {
                    AuthoringError::Embedded(format!("the workspace has no package.{key}"))
                })?;
            }
        }
        package.insert("publish".into(), Value::Boolean(false));
    }
    for section in ["dependencies", "dev-dependencies"] {
        let Some(Value::Table(deps)) = manifest.get_mut(section) else {
            continue;
        };
        for (name, dep) in deps.iter_mut() {
            *dep = pinned(name, dep, &dependencies)?;
        }
    }
    Ok(format!(
        "# Vendored by `drbook runbook new`: do not edit. A newer drbook writes a newer copy \
         (`drbook runbook new`, then replace vendor/).\n{}",
        toml::to_string(&manifest).map_err(|e| AuthoringError::Embedded(e.to_string()))?
    ))
}

fn is_inherited(value: &Value) -> bool {
    value.get("workspace").and_then(Value::as_bool) == Some(true)
}

/// A dependency from crates.io at the version `Cargo.lock` has for it.
fn pinned(name: &str, dep: &Value, workspace: &Table) -> Result<Value, AuthoringError> {
    let mut table = match (is_inherited(dep), workspace.get(name)) {
        (false, _) => return Ok(dep.clone()),
        (true, Some(Value::String(version))) => {
            Table::from_iter([("version".to_string(), Value::String(version.clone()))])
        }
        (true, Some(Value::Table(spec))) => spec.clone(),
        (true, _) => {
            return Err(AuthoringError::Embedded(format!(
                "the workspace has no dependency `{name}`"
            )))
        }
    };
    if table.contains_key("path") {
        return Err(AuthoringError::Embedded(format!(
            "`{name}` is a path dependency: a vendored crate may depend on crates.io only"
        )));
    }
    let requirement = table
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    table.insert(
        "version".into(),
        Value::String(format!("={}", locked(name, &requirement)?)),
    );
    // The member's own features add to the workspace's.
    if let Some(Value::Array(more)) = dep.get("features") {
        let features = table
            .entry("features")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(features) = features {
            features.extend(more.iter().cloned());
        }
    }
    Ok(Value::Table(table))
}

/// The version of `name` in `Cargo.lock` that `requirement` (`0.61`, `1`,
/// `=0.9.0`) selects; the newest if several do.
fn locked(name: &str, requirement: &str) -> Result<String, AuthoringError> {
    let lock = parse("Cargo.lock", LOCK)?;
    let wanted = requirement.trim_start_matches(['=', '^']);
    lock.get("package")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .filter_map(|p| p.get("version").and_then(Value::as_str))
        .filter(|v| *v == wanted || v.starts_with(&format!("{wanted}.")))
        .max_by_key(|v| {
            v.split('.')
                .map(|n| n.parse::<u64>().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .map(str::to_string)
        .ok_or_else(|| {
            AuthoringError::Embedded(format!(
                "Cargo.lock has no `{name}` matching `{requirement}`"
            ))
        })
}

fn parse(what: &str, text: &str) -> Result<Table, AuthoringError> {
    text.parse::<Table>()
        .map_err(|e| AuthoringError::Embedded(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn names_in(dir: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn listed(sources: &[(&str, &str)]) -> BTreeSet<String> {
        sources.iter().map(|(name, _)| name.to_string()).collect()
    }

    /// A source file added to the SDK or the harness and not embedded would
    /// leave every new runbook with a crate that does not build.
    #[test]
    fn every_source_of_the_sdk_and_the_harness_is_embedded() {
        assert_eq!(listed(SDK_SOURCES), names_in("../../guest-sdk/src"));
        assert_eq!(listed(HARNESS_SOURCES), names_in("../drbook-test/src"));
    }

    #[test]
    fn a_vendored_manifest_inherits_nothing_and_pins_what_the_lock_has() {
        let sdk: Table = standalone_manifest(SDK_MANIFEST).unwrap().parse().unwrap();
        let package = &sdk["package"];
        assert_eq!(package["name"].as_str(), Some("drbook-sdk"));
        assert_eq!(package["edition"].as_str(), Some("2021"));
        assert!(sdk.get("lints").is_none());
        let wit_bindgen = &sdk["dependencies"]["wit-bindgen"];
        let version = wit_bindgen["version"].as_str().unwrap();
        assert!(version.starts_with("=0.61."), "{version}");
        assert_eq!(wit_bindgen["default-features"].as_bool(), Some(false));
        assert!(!standalone_manifest(SDK_MANIFEST)
            .unwrap()
            .contains("workspace"));
        let harness: Table = standalone_manifest(HARNESS_MANIFEST)
            .unwrap()
            .parse()
            .unwrap();
        assert!(harness["dependencies"]["serde_json"]["version"]
            .as_str()
            .unwrap()
            .starts_with("=1."));
    }

    #[test]
    fn a_path_or_unknown_dependency_cannot_be_vendored() {
        let path = "[package]\nname = \"x\"\n[dependencies]\ndrbook-core.workspace = true\n";
        assert!(standalone_manifest(path)
            .unwrap_err()
            .to_string()
            .contains("path dependency"));
        let unknown = "[package]\nname = \"x\"\n[dependencies]\nnope.workspace = true\n";
        assert!(standalone_manifest(unknown)
            .unwrap_err()
            .to_string()
            .contains("no dependency `nope`"));
    }

    #[test]
    fn the_runbook_profile_is_the_workspaces() {
        let profile = runbook_profile().unwrap();
        assert_eq!(profile["inherits"].as_str(), Some("release"));
        assert_eq!(profile["panic"].as_str(), Some("abort"));
    }
}
