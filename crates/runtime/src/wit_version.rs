//! The version of the `drbook:runbook` WIT package a runbook was built
//! against, named when a runbook does not link.
//!
//! A runbook's imports are named `drbook:runbook/<interface>@<version>`,
//! the version its SDK's copy of `wit/runbook.wit` declares. Linking one
//! built against another version fails with wasmtime's "import not found",
//! which says nothing of versions; an author whose SDK is older or newer
//! than the host needs to read both versions and what to rebuild. The check
//! is for equality: while the package is at 0.x, any difference may change
//! a type, and a runbook is rebuilt in seconds with the SDK a host writes
//! (`drbook runbook new`).

use wasmparser::{Parser, Payload};

use crate::LoadError;

/// The WIT package's name, as a runbook's imports spell it.
pub const PACKAGE: &str = "drbook:runbook";

/// The host's copy of the contract, the one its bindings are generated from.
const WIT: &str = include_str!("../../../wit/runbook.wit");

/// The version of `drbook:runbook` this host speaks (`package
/// drbook:runbook@<version>;` in `wit/runbook.wit`).
pub fn host_version() -> &'static str {
    package_version(WIT).expect("wit/runbook.wit declares `package drbook:runbook@<version>;`")
}

/// The host's world, as `drbook runbook build` and `inspect` name it.
pub fn host_world() -> String {
    format!("{PACKAGE}/runbook@{}", host_version())
}

/// The version in a WIT file's `package drbook:runbook@<version>;`.
pub fn package_version(wit: &str) -> Option<&str> {
    let declared = wit
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("package "))?;
    let version = declared.strip_prefix(PACKAGE)?.strip_prefix('@')?;
    version.strip_suffix(';').map(str::trim)
}

/// The versions of `drbook:runbook` a component's top-level imports and
/// exports name, in the order met, each once. A component that names the
/// package without a version yields `""`.
pub fn runbook_versions(bytes: &[u8]) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut note = |name: &str| {
        if let Some(rest) = name.strip_prefix(PACKAGE).and_then(|r| r.strip_prefix('/')) {
            let version = rest.split_once('@').map_or("", |(_, v)| v);
            if !versions.iter().any(|v| v == version) {
                versions.push(version.to_string());
            }
        }
    };
    // A scan that fails part-way keeps what it read: the compiler names
    // what is malformed.
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(imports) if depth == 0 => {
                for import in imports.into_iter().flatten() {
                    note(import.name.name);
                }
            }
            Payload::ComponentExportSection(exports) if depth == 0 => {
                for export in exports.into_iter().flatten() {
                    note(export.name.name);
                }
            }
            _ => {}
        }
    }
    versions
}

/// The first version of `drbook:runbook` a component names that is not
/// the host's, if any.
pub fn mismatch(bytes: &[u8]) -> Option<String> {
    runbook_versions(bytes)
        .into_iter()
        .find(|version| version != host_version())
}

/// Refuses a component built against another version than the host's,
/// naming both; `origin` names it. What loading says of a runbook that does
/// not link, and what `drbook runbook build` checks before it writes
/// anything into a module.
pub fn check(bytes: &[u8], origin: &str) -> Result<(), LoadError> {
    match mismatch(bytes) {
        None => Ok(()),
        Some(runbook) => Err(LoadError::WitVersion {
            path: origin.to_string(),
            runbook,
            host: host_version().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_version_is_the_one_its_wit_declares() {
        assert_eq!(
            package_version("/// docs\npackage drbook:runbook@0.3.1;\n"),
            Some("0.3.1")
        );
        assert_eq!(package_version("package other:pkg@1.0.0;"), None);
        assert_eq!(package_version("package drbook:runbook;"), None);
        assert!(WIT.contains(&format!("package drbook:runbook@{};", host_version())));
        assert_eq!(
            host_world(),
            format!("drbook:runbook/runbook@{}", host_version())
        );
    }

    #[test]
    fn bytes_that_are_no_component_name_no_version() {
        assert!(runbook_versions(b"not wasm").is_empty());
        assert_eq!(mismatch(b"\0asm\x0d\0\x01\0"), None);
    }
}
