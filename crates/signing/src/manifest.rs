//! The capability manifest: what a module declares it needs, in a custom
//! section named `drbook-capabilities`, signed with the rest of the module
//! (a signature covers every section after the `signature` section).
//!
//! The section's data is UTF-8 JSON, one object:
//!
//! ```json
//! {"version": 1, "interfaces": ["site-recovery", "plan", "log"],
//!  "operations": ["test-failover", "test-failover-cleanup"]}
//! ```
//!
//! - `version`: 1. A host refuses a version it does not read (a newer
//!   format may restrict in ways an older host would miss), naming both.
//! - `interfaces`: the WIT interfaces of the `runbook` world the module
//!   imports (`site-recovery`, `plan`, `log`, `clock`, `approval`;
//!   `types` and WASI need no declaration). A module importing one its
//!   manifest leaves out is refused before it compiles. New capabilities
//!   are new names here; an older host refuses a name it does not know.
//! - `operations`: what it may start, by kebab-case `OperationKind` names;
//!   empty for a read-only runbook.
//! - `http` (optional): the HTTP destinations it may reach, as patterns
//!   (`https://hooks.contoso.com/services/`, `{param}` placeholders the
//!   job's parameters fill: `drbook_core::outside`); needs the `http`
//!   interface.
//! - `azure` (optional): the Azure resources it may call, as resource id
//!   patterns (`/subscriptions/{subscription}/resourceGroups/*/providers/
//!   Microsoft.Network/dnszones/contoso.com/*`: `drbook_core::outside::azure`);
//!   needs the `azure` interface.
//!
//! Unknown fields are refused too, for the same reason as versions.
//!
//! Why JSON, not TOML: nobody writes the section by hand (`drbook runbook
//! grant` writes it, before signing), and what reads it is tools: a
//! reviewer's `wasm-tools`, a registry's scanner, a script, in any
//! language. JSON is read everywhere, has one way to write each value, and
//! the workspace already reads it (serde_json).

use drbook_core::scope::{self, Interface, Manifest};

use crate::format::Layout;
use crate::wasm::{self, Section};
use crate::SignatureError;

/// The custom section's name.
pub const SECTION: &str = "drbook-capabilities";
/// The format version this drbook reads and writes.
pub const VERSION: u64 = 1;

/// The WIT package whose interfaces manifests declare.
const PACKAGE: &str = "drbook:runbook/";
/// A component's import section (the component binary format's id 10).
const COMPONENT_IMPORT_SECTION: u8 = 10;

/// What to do about a manifest drbook cannot use.
const WRITE_IT: &str = "write it with `drbook runbook grant FILE --operation OP ...`, then sign \
                        the module";

/// Why a module's manifest is refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The module itself cannot be read.
    #[error(transparent)]
    Module(#[from] SignatureError),
    #[error(
        "its capability manifest (custom section `{SECTION}`) is not JSON: {reason}; {WRITE_IT}"
    )]
    NotJson { reason: String },
    #[error(
        "its capability manifest (custom section `{SECTION}`) has no `version`; this drbook reads \
         version {VERSION}; {WRITE_IT}"
    )]
    NoVersion,
    #[error(
        "its capability manifest is version {found}, and this drbook reads version {VERSION}: \
         upgrade drbook to run it, or write a version {VERSION} manifest (`drbook runbook grant`)"
    )]
    UnknownVersion { found: String },
    #[error(
        "its capability manifest is invalid: {reason} (a manifest holds `version`, `interfaces` \
         and `operations`); {WRITE_IT}"
    )]
    Invalid { reason: String },
    #[error(
        "it has a second capability manifest (custom section `{SECTION}`) at byte {offset}: a \
         module declares its capabilities once; write it with `drbook runbook grant`, which \
         replaces the one there"
    )]
    Duplicate { offset: usize },
    #[error(
        "its capability manifest grants operations ({operations}) but does not declare the \
         `site-recovery` interface that starts them; add `--interface site-recovery`"
    )]
    OperationsWithoutSiteRecovery { operations: String },
    #[error(
        "it imports `{import}`, an interface its capability manifest does not declare (it \
         declares {declared}); declare it (`drbook runbook grant FILE --interface {interface} \
         ...`) and sign the module again, or build the runbook without it"
    )]
    UndeclaredImport {
        import: String,
        interface: String,
        declared: String,
    },
    #[error(
        "it imports `{import}`, which no capability manifest of this drbook can declare (drbook \
         serves {known}); build it against drbook's `wit/runbook.wit`, or upgrade drbook"
    )]
    UnknownImport { import: String, known: String },
}

/// The manifest in `data`, a `drbook-capabilities` section's data.
pub fn decode(data: &[u8]) -> Result<Manifest, ManifestError> {
    let not_json = |reason: String| ManifestError::NotJson { reason };
    let text = std::str::from_utf8(data).map_err(|e| not_json(format!("not UTF-8 ({e})")))?;
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| not_json(e.to_string()))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| ManifestError::Invalid {
            reason: "it is not a JSON object".into(),
        })?;
    // The version first: a newer manifest's fields are not this one's.
    match object.remove("version") {
        None => return Err(ManifestError::NoVersion),
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(other) => {
            return Err(ManifestError::UnknownVersion {
                found: other.to_string(),
            })
        }
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| ManifestError::Invalid {
        reason: e.to_string(),
    })?;
    if !manifest.operations.is_empty() && !manifest.interfaces.contains(&Interface::SiteRecovery) {
        return Err(ManifestError::OperationsWithoutSiteRecovery {
            operations: names(&manifest.operations, |k| k.cli_name()),
        });
    }
    for pattern in &manifest.http {
        http_pattern(pattern).map_err(|reason| ManifestError::Invalid { reason })?;
    }
    for pattern in &manifest.azure {
        azure_pattern(pattern).map_err(|reason| ManifestError::Invalid { reason })?;
    }
    if !manifest.azure.is_empty() && !manifest.interfaces.contains(&Interface::Azure) {
        return Err(ManifestError::Invalid {
            reason: "it grants Azure resources but does not declare the `azure` interface that \
                     calls them; add `--interface azure`"
                .into(),
        });
    }
    if !manifest.http.is_empty() && !manifest.interfaces.contains(&Interface::Http) {
        return Err(ManifestError::Invalid {
            reason: "it grants HTTP destinations but does not declare the `http` interface that                      reaches them; add `--interface http`"
                .into(),
        });
    }
    Ok(manifest)
}

/// `manifest` as a section's data: the version, then the interfaces and the
/// operations, each once, in the order given.
pub fn encode(manifest: &Manifest) -> Vec<u8> {
    let mut interfaces = Vec::new();
    for i in &manifest.interfaces {
        if !interfaces.contains(i) {
            interfaces.push(*i);
        }
    }
    let mut operations = Vec::new();
    for k in &manifest.operations {
        if !operations.contains(k) {
            operations.push(*k);
        }
    }
    let mut json = serde_json::json!({
        "version": VERSION,
        "interfaces": interfaces,
        "operations": operations.iter().map(|k| k.cli_name()).collect::<Vec<_>>(),
    });
    for (key, patterns) in [("http", &manifest.http), ("azure", &manifest.azure)] {
        if !patterns.is_empty() {
            let mut once: Vec<&String> = Vec::new();
            for pattern in patterns {
                if !once.contains(&pattern) {
                    once.push(pattern);
                }
            }
            json[key] = serde_json::json!(once);
        }
    }
    json.to_string().into_bytes()
}

/// A module's manifest (`None`: it has none) and its imports, checked
/// against each other: read from the parse its signatures are verified on.
pub(crate) fn of_layout(layout: &Layout) -> Result<Option<Manifest>, ManifestError> {
    let Some(section) = manifest_section(layout)? else {
        return Ok(None);
    };
    let manifest = decode(section.custom.map_or(&[][..], |(_, data)| data))?;
    for import in imports_of(layout)? {
        let Some(name) = import.strip_prefix(PACKAGE) else {
            continue; // WASI, which grants nothing
        };
        let name = name.split('@').next().unwrap_or(name);
        if name == "types" {
            continue;
        }
        match Interface::named(name) {
            Some(interface) if manifest.interfaces.contains(&interface) => {}
            Some(interface) => {
                return Err(ManifestError::UndeclaredImport {
                    import,
                    interface: interface.name().to_string(),
                    declared: match manifest.interfaces.as_slice() {
                        [] => "none".to_string(),
                        declared => names(declared, |i| i.name()),
                    },
                })
            }
            None => {
                return Err(ManifestError::UnknownImport {
                    import,
                    known: names(&Interface::ALL, |i| i.name()),
                })
            }
        }
    }
    Ok(Some(manifest))
}

/// `module`'s manifest, checked against its imports (`None`: it has none).
pub fn read(module: &[u8]) -> Result<Option<Manifest>, ManifestError> {
    of_layout(&Layout::of(module)?)
}

/// The names `module` imports, as its component's import section has them
/// (`drbook:runbook/site-recovery@0.1.0`, `wasi:cli/stderr@0.2.6`, ...).
pub fn imports(module: &[u8]) -> Result<Vec<String>, ManifestError> {
    imports_of(&Layout::of(module)?)
}

/// The interfaces of drbook's world that `module` imports: what a manifest
/// written without `--interface` declares.
pub fn imported_interfaces(module: &[u8]) -> Result<Vec<Interface>, ManifestError> {
    let imports = imports(module)?;
    Ok(Interface::ALL
        .into_iter()
        .filter(|i| {
            let prefix = format!("{PACKAGE}{}@", i.name());
            imports.iter().any(|name| name.starts_with(&prefix))
        })
        .collect())
}

/// A module with its manifest written: and how many signatures were
/// dropped, which could no longer cover it.
#[derive(Debug)]
pub struct Written {
    pub module: Vec<u8>,
    pub dropped_signatures: usize,
}

/// `module` with `manifest` as its capability manifest: the one there
/// replaced in place, or a new section at the end. Signatures are
/// dropped, since the content they signed changed: sign the module after.
/// Refused if the manifest does not declare an interface the module
/// imports, as loading it would be.
pub fn write(module: &[u8], manifest: &Manifest) -> Result<Written, ManifestError> {
    let layout = Layout::of(module)?;
    let dropped_signatures = layout
        .signature
        .map(crate::format::SignatureData::decode)
        .transpose()?
        .map_or(0, |data| data.sets.iter().map(|s| s.signatures.len()).sum());
    let section = wasm::custom_section(SECTION, &encode(manifest));
    let existing = manifest_section(&layout)?;
    let content = layout.content();
    let mut out = Vec::with_capacity(wasm::HEADER_LEN + content.len() + section.len());
    out.extend_from_slice(&module[..wasm::HEADER_LEN]);
    match existing {
        Some(old) => {
            out.extend_from_slice(&module[layout.content_start..old.offset]);
            out.extend_from_slice(&section);
            out.extend_from_slice(&module[old.end()..]);
        }
        None => {
            out.extend_from_slice(content);
            out.extend_from_slice(&section);
        }
    }
    // What loading it would refuse is refused here, before anyone signs it.
    read(&out)?;
    Ok(Written {
        module: out,
        dropped_signatures,
    })
}

/// The content's manifest section, if any; a second one is refused.
fn manifest_section<'a>(layout: &Layout<'a>) -> Result<Option<Section<'a>>, ManifestError> {
    let mut found = layout.content.iter().filter(|s| s.is_custom(SECTION));
    let first = found.next().copied();
    match found.next() {
        Some(second) => Err(ManifestError::Duplicate {
            offset: second.offset,
        }),
        None => Ok(first),
    }
}

/// The names of the component's own imports (not its nested modules').
fn imports_of(layout: &Layout) -> Result<Vec<String>, ManifestError> {
    let mut names = Vec::new();
    for section in layout
        .content
        .iter()
        .filter(|s| s.id == COMPONENT_IMPORT_SECTION)
    {
        let malformed = |e: wasmparser::BinaryReaderError| ManifestError::Invalid {
            reason: format!(
                "the component's import section at byte {} cannot be read: {}",
                section.offset,
                e.message()
            ),
        };
        let reader = wasmparser::BinaryReader::new(section.payload(), section.payload_offset);
        let imports = wasmparser::ComponentImportSectionReader::new(reader).map_err(malformed)?;
        for import in imports {
            names.push(import.map_err(malformed)?.name.name.to_string());
        }
    }
    Ok(names)
}

/// `a, b, c`.
fn names<T: Copy>(items: &[T], name: impl Fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|i| name(*i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An operation by its kebab-case name, or why it is none: what
/// `drbook runbook grant --operation` reads.
pub fn operation(name: &str) -> Result<drbook_core::fabric::OperationKind, String> {
    scope::operation(name).ok_or_else(|| scope::unknown_operation(name))
}

/// An HTTP destination pattern as a manifest holds it, or why it is none:
/// what `drbook runbook grant --http` reads. Its placeholders are filled
/// with a stand-in to check the rest (a whole-pattern `{param}` is a URL the
/// job gives, checked when it runs).
pub fn http_pattern(pattern: &str) -> Result<(), String> {
    let trimmed = pattern.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') && trimmed.matches('{').count() == 1 {
        return Ok(());
    }
    let stand_in = stand_in(trimmed)?;
    drbook_core::outside::Pattern::parse(&stand_in)
        .map(|_| ())
        .map_err(|e| {
            e.to_string()
                .replace(&format!("`{stand_in}`"), &format!("`{pattern}`"))
        })
}

/// An Azure resource id pattern as a manifest holds it, or why it is none:
/// what `drbook runbook grant --azure` reads. Its placeholders are filled
/// with a stand-in to check the rest.
pub fn azure_pattern(pattern: &str) -> Result<(), String> {
    let stand_in = stand_in(pattern)?;
    drbook_core::outside::azure::ResourcePattern::parse(&stand_in)
        .map(|_| ())
        .map_err(|e| {
            e.to_string()
                .replace(&format!("`{stand_in}`"), &format!("`{pattern}`"))
        })
}

/// `pattern` with each `{placeholder}` replaced by `x`.
fn stand_in(pattern: &str) -> Result<String, String> {
    let mut stand_in = String::new();
    let mut rest = pattern.trim();
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("`{pattern}` opens a `{{` it does not close"))?;
        stand_in.push_str(&rest[..open]);
        stand_in.push('x');
        rest = &rest[open + close + 1..];
    }
    stand_in.push_str(rest);
    Ok(stand_in)
}

/// An interface by its name, or why it is none.
pub fn interface(name: &str) -> Result<Interface, String> {
    Interface::named(name).ok_or_else(|| {
        format!(
            "`{name}` is not an interface a manifest declares; one of {}",
            names(&Interface::ALL, |i| i.name())
        )
    })
}

#[cfg(test)]
mod tests;
