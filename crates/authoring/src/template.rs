//! The templates of `drbook runbook new` and the files of a new crate.
//!
//! `failover` and `drill` are the repository's own example runbooks
//! (`runbooks/failover-plan`, `runbooks/dr-drill`), embedded as they are,
//! with their capability manifests: what a new author starts from is what
//! drbook builds and tests. `empty` reads its plan and starts nothing.
//! Each comes with a test file that runs it with drbook-test.

use toml::{Table, Value};

use crate::vendor::{self, HARNESS_DIR, SDK_DIR};
use crate::{AuthoringError, File};

/// What a new runbook starts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Fails a plan over, group by group, checking each group.
    Failover,
    /// A drill: test failover, validation, cleanup always.
    Drill,
    /// Reads its plan, starts nothing.
    Empty,
}

impl std::str::FromStr for Template {
    type Err = AuthoringError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "failover" => Ok(Template::Failover),
            "drill" => Ok(Template::Drill),
            "empty" => Ok(Template::Empty),
            other => Err(AuthoringError::UnknownTemplate(other.to_string())),
        }
    }
}

/// A template's sources: the runbook, its test, the manifest whose
/// `[package.metadata.drbook] operations` it declares, and the failover
/// type its README runs it with.
struct Sources {
    name: &'static str,
    lib: &'static str,
    test: &'static str,
    manifest: Option<&'static str>,
    job_type: &'static str,
}

impl Template {
    fn sources(self) -> Sources {
        match self {
            Template::Failover => Sources {
                name: "failover",
                lib: include_str!("../../../runbooks/failover-plan/src/lib.rs"),
                test: include_str!("../templates/failover/runbook.rs"),
                manifest: Some(include_str!("../../../runbooks/failover-plan/Cargo.toml")),
                job_type: "planned",
            },
            Template::Drill => Sources {
                name: "drill",
                lib: include_str!("../../../runbooks/dr-drill/src/lib.rs"),
                test: include_str!("../templates/drill/runbook.rs"),
                manifest: Some(include_str!("../../../runbooks/dr-drill/Cargo.toml")),
                job_type: "test",
            },
            Template::Empty => Sources {
                name: "empty",
                lib: include_str!("../templates/empty/lib.rs"),
                test: include_str!("../templates/empty/runbook.rs"),
                manifest: None,
                job_type: "planned",
            },
        }
    }
}

const README: &str = include_str!("../templates/README.md");

/// The configuration `drbook --config drbook.toml` reads in the new crate.
const CONFIG: &str = "\
# drbook's configuration for running this runbook by hand (README.md):
# `drbook --config drbook.toml --data-dir .drbook ...` drives the embedded
# Site Recovery simulator in ./.drbook, ten simulated minutes per second.
[fabric]
kind = \"simulator\"
speed = 600
";

const GITIGNORE: &str = "/target\n/.drbook\n";

/// Every file of a new runbook crate named `name`: its manifest, runbook,
/// test, README, configuration and `demo_plan` (as `plans/contoso-3tier.toml`,
/// the plan of `drbook fabric init --demo`), and `vendor/`; `world` is the
/// host's (`drbook:runbook/runbook@<version>`), named in the README.
pub fn crate_files(
    name: &str,
    template: Template,
    demo_plan: &str,
    world: &str,
) -> Result<Vec<File>, AuthoringError> {
    check_name(name)?;
    let sources = template.sources();
    let operations = match sources.manifest {
        Some(manifest) => operations(manifest)?,
        None => Table::from_iter([("operations".to_string(), Value::Array(Vec::new()))]),
    };
    let readme = README
        .replace("{{name}}", name)
        .replace("{{template}}", sources.name)
        .replace("{{world}}", world)
        .replace("{{wasm}}", &format!("{}.wasm", name.replace('-', "_")))
        .replace("{{type}}", sources.job_type);
    let mut files = vec![
        File::new("Cargo.toml", manifest(name, &operations)?),
        File::new("src/lib.rs", sources.lib),
        File::new("tests/runbook.rs", sources.test),
        File::new("README.md", readme),
        File::new("drbook.toml", CONFIG),
        File::new("plans/contoso-3tier.toml", demo_plan),
        File::new(".gitignore", GITIGNORE),
    ];
    files.extend(vendor::files()?);
    Ok(files)
}

/// A package name cargo takes, and that is a file name on every platform.
fn check_name(name: &str) -> Result<(), AuthoringError> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if starts_well && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(())
    } else {
        Err(AuthoringError::BadName(name.to_string()))
    }
}

/// The operations a manifest's `[package.metadata.drbook]` declares, and
/// the HTTP destinations and Azure resources if it declares any: that
/// table, as the new crate's.
fn operations(manifest: &str) -> Result<Table, AuthoringError> {
    let manifest: Table = manifest
        .parse()
        .map_err(|e| AuthoringError::Embedded(format!("a template's Cargo.toml: {e}")))?;
    let drbook = manifest
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("drbook"));
    let operations = drbook
        .and_then(|d| d.get("operations"))
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| {
            AuthoringError::Embedded(
                "a template declares no [package.metadata.drbook] operations".into(),
            )
        })?;
    let mut table = Table::from_iter([("operations".to_string(), Value::Array(operations))]);
    for key in ["http", "azure"] {
        if let Some(patterns) = drbook.and_then(|d| d.get(key)) {
            table.insert(key.to_string(), patterns.clone());
        }
    }
    Ok(table)
}

/// The new crate's manifest: a `cdylib` on the vendored SDK, tested with
/// the vendored harness, its capability manifest, the runbook profile, and
/// an empty `[workspace]` so that it builds on its own wherever it is
/// (inside another workspace's directory too).
fn manifest(name: &str, operations: &Table) -> Result<String, AuthoringError> {
    let toml =
        |value: Value| toml::to_string(&value).map_err(|e| AuthoringError::Embedded(e.to_string()));
    let profile = toml(Value::Table(Table::from_iter([(
        "profile".to_string(),
        Value::Table(Table::from_iter([(
            "runbook".to_string(),
            Value::Table(vendor::runbook_profile()?),
        )])),
    )])))?;
    let operations = toml(Value::Table(operations.clone()))?;
    Ok(format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
drbook-sdk = {{ path = "{SDK_DIR}" }}

[dev-dependencies]
drbook-test = {{ path = "{HARNESS_DIR}" }}

# The capability manifest: the operations this runbook may start (an
# empty list: it only reads), and the HTTP destinations it may reach.
# `drbook runbook build` writes it into the module; the host refuses any
# other start or destination.
[package.metadata.drbook]
{operations}
# Small and abort-on-panic: `drbook runbook build` builds with it
# (`--target wasm32-wasip2 --profile runbook`).
{profile}
# A crate of its own, wherever it is.
[workspace]
"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORLD: &str = "drbook:runbook/runbook@0.1.0";

    fn file<'a>(files: &'a [File], path: &str) -> &'a str {
        &files.iter().find(|f| f.path == path).unwrap().contents
    }

    #[test]
    fn a_crate_has_its_manifest_runbook_test_and_vendored_sdk() {
        let files = crate_files(
            "my-failover",
            Template::Failover,
            "name = \"demo\"\n",
            WORLD,
        )
        .unwrap();
        let manifest: Table = file(&files, "Cargo.toml").parse().unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("my-failover"));
        assert_eq!(manifest["lib"]["crate-type"][0].as_str(), Some("cdylib"));
        assert_eq!(
            manifest["package"]["metadata"]["drbook"]["operations"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        // Its HTTP destinations come with it: the URLs its job is given.
        assert_eq!(
            manifest["package"]["metadata"]["drbook"]["http"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect::<Vec<_>>(),
            ["{app-url}", "{notify-url}"]
        );
        assert_eq!(
            manifest["profile"]["runbook"]["panic"].as_str(),
            Some("abort")
        );
        assert!(manifest["workspace"].as_table().unwrap().is_empty());
        assert!(file(&files, "src/lib.rs").contains("failover_group"));
        assert!(file(&files, "tests/runbook.rs").contains("drbook_test::Scenario"));
        assert_eq!(
            file(&files, "plans/contoso-3tier.toml"),
            "name = \"demo\"\n"
        );
        assert!(file(&files, "README.md").contains("target/wasm32-wasip2/runbook/my_failover.wasm"));
        assert!(!file(&files, "README.md").contains("{{"));
        assert_eq!(file(&files, "vendor/wit/runbook.wit"), vendor::WIT);
        assert!(file(&files, "vendor/drbook-sdk/src/lib.rs").contains("path: \"../wit\""));
    }

    #[test]
    fn the_empty_template_only_reads() {
        let files = crate_files("reader", Template::Empty, "", WORLD).unwrap();
        let manifest: Table = file(&files, "Cargo.toml").parse().unwrap();
        let operations = &manifest["package"]["metadata"]["drbook"]["operations"];
        assert_eq!(operations.as_array().map(Vec::len), Some(0));
    }

    #[test]
    fn a_bad_name_or_template_is_refused_naming_the_fix() {
        for bad in ["", "1st", "my runbook", "../x", "é"] {
            let err = crate_files(bad, Template::Empty, "", WORLD).unwrap_err();
            assert!(err.to_string().contains("letters, digits"), "{bad}: {err}");
        }
        let err = "nope".parse::<Template>().unwrap_err();
        assert!(err.to_string().contains("failover, drill or empty"));
    }
}
