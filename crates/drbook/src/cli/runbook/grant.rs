//! `drbook runbook grant`: writes a module's capability manifest (the
//! interfaces it imports, the operations it may start, the HTTP
//! destinations it may reach), replacing the one
//! it has, before it is signed: a signature covers the manifest only if it
//! was made after it, so signatures the module had are dropped, and the
//! author signs again.

use clap::Args;
use std::path::{Path, PathBuf};

use super::{read_module, write_replacing};
use crate::cli::{Global, InputError, Outcome};
use drbook_core::fabric::OperationKind;
use drbook_core::scope::{Interface, Manifest};
use drbook_signing::manifest;

#[derive(Args)]
#[command(group(clap::ArgGroup::new("grants").required(true).args(["operations", "read_only"])))]
pub struct GrantArgs {
    /// The runbook (a WebAssembly component).
    file: PathBuf,
    /// An operation the runbook may start, kebab-case (`test-failover`):
    /// repeat the flag or list several. Nothing else starts.
    #[arg(long = "operation", num_args = 1.., value_parser = manifest::operation)]
    operations: Vec<OperationKind>,
    /// The runbook starts no operation: it only reads.
    #[arg(long, conflicts_with = "operations")]
    read_only: bool,
    /// An HTTP destination it may reach, a URL prefix
    /// (`https://hooks.contoso.com/services/`; `*.host`, `:*`, `{param}`
    /// for a job parameter, `{vm}` for each VM of its plan): repeat the flag.
    /// Nothing else is reached.
    #[arg(long = "http", value_name = "URL-PREFIX", value_parser = http_pattern)]
    http: Vec<String>,
    /// An Azure resource it may call, a resource id pattern
    /// (`/subscriptions/{subscription}/resourceGroups/*/providers/Microsoft.Network/dnszones/contoso.com/*`;
    /// `*` any one segment, last anything below, `{param}` for a job
    /// parameter): repeat the flag. Nothing else is called.
    #[arg(long = "azure", value_name = "RESOURCE-ID-PATTERN", value_parser = azure_pattern)]
    azure: Vec<String>,
    /// An interface it imports (`site-recovery`, `plan`, `log`, `clock`,
    /// `approval`, `http`, `azure`). Default: those the runbook imports, as its file says.
    #[arg(long = "interface", num_args = 1.., value_parser = manifest::interface)]
    interfaces: Vec<Interface>,
    /// Where to write the runbook (default: FILE, replaced).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

pub fn run(global: &Global, args: GrantArgs) -> anyhow::Result<Outcome> {
    let module = read_module(&args.file)?;
    let declared = Manifest {
        interfaces: args.interfaces,
        operations: args.operations,
        http: args.http,
        azure: args.azure,
    };
    let (written, declared) = grant(&module, declared)
        .map_err(|e| InputError::new(format!("{}: {e}", args.file.display())))?;
    let out = args.out.as_deref().unwrap_or(&args.file);
    write_replacing(out, &written.module)?;
    report(global, out, &declared, written.dropped_signatures)
}

/// `module` with the manifest `declared` (its interfaces none: those it
/// imports), replacing the one it has: what `grant` writes, and `build`
/// from the crate's `[package.metadata.drbook]`.
pub fn grant(
    module: &[u8],
    mut declared: Manifest,
) -> Result<(manifest::Written, Manifest), manifest::ManifestError> {
    if declared.interfaces.is_empty() {
        declared.interfaces = manifest::imported_interfaces(module)?;
    }
    Ok((manifest::write(module, &declared)?, declared))
}

fn http_pattern(pattern: &str) -> Result<String, String> {
    manifest::http_pattern(pattern).map(|()| pattern.trim().to_string())
}

fn azure_pattern(pattern: &str) -> Result<String, String> {
    manifest::azure_pattern(pattern).map(|()| pattern.trim().to_string())
}

fn report(
    global: &Global,
    out: &Path,
    declared: &Manifest,
    dropped: usize,
) -> anyhow::Result<Outcome> {
    let names = |items: Vec<&str>| items.join(", ");
    let operations = names(declared.operations.iter().map(|k| k.cli_name()).collect());
    let interfaces = names(declared.interfaces.iter().map(|i| i.name()).collect());
    let digest = drbook_core::module::digest(&std::fs::read(out)?);
    if global.json {
        let doc = serde_json::json!({
            "file": out.display().to_string(),
            "digest": digest,
            "manifest": declared,
            "dropped_signatures": dropped,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("granted:    {}", out.display());
        println!("interfaces: {interfaces}");
        println!(
            "operations: {}",
            if operations.is_empty() {
                "none (read-only)"
            } else {
                &operations
            }
        );
        if !declared.http.is_empty() {
            println!("http:       {}", declared.http.join(", "));
        }
        if !declared.azure.is_empty() {
            println!("azure:      {}", declared.azure.join(", "));
        }
        println!("digest:     {digest}");
    }
    if dropped > 0 {
        eprintln!(
            "the {dropped} signature(s) {} had no longer cover it and were dropped: sign it again \
             (`drbook runbook sign {} --key KEY`)",
            out.display(),
            out.display()
        );
    } else {
        eprintln!(
            "not signed: sign it now (`drbook runbook sign {} --key KEY`), so that its signatures \
             cover the manifest",
            out.display()
        );
    }
    Ok(Outcome::Success)
}
