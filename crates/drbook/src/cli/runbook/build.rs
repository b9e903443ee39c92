//! `drbook runbook build [PATH]`: a runbook crate into its component, with
//! nothing to remember: the `wasm32-wasip2` target installed if missing,
//! cargo run with the target and the `runbook` profile, the crate's
//! capability manifest (`[package.metadata.drbook] operations`) written
//! into the module as `grant` writes it, then signed as `sign` signs
//! (`--sign`, after the manifest so that the signatures cover it). The
//! module is loaded as a job would load it, so a runbook this host would
//! refuse (another WIT version, another world) is refused here.

use anyhow::Context as _;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{grant, read_module, signed, write_replacing};
use crate::cli::{Global, InputError, Outcome};
use drbook_core::fabric::OperationKind;
use drbook_core::scope::Manifest;
use drbook_signing::manifest;

/// The target a runbook is built for: it emits a component directly.
const TARGET: &str = "wasm32-wasip2";

#[derive(Args)]
pub struct BuildArgs {
    /// The runbook's crate, its directory (default: the current one).
    path: Option<PathBuf>,
    /// Cargo's target directory (default: cargo's, `CARGO_TARGET_DIR` or
    /// the crate's `target/`).
    #[arg(long)]
    target_dir: Option<PathBuf>,
    /// Sign the built runbook with this private key (OpenSSH or PEM);
    /// repeat for several signers.
    #[arg(long = "sign", value_name = "KEY")]
    keys: Vec<PathBuf>,
}

/// What a runbook crate's manifest says about building it.
struct Crate {
    manifest: PathBuf,
    /// The `.wasm`'s stem: the package name, `-` as `_`.
    artifact: String,
    /// `None`: it declares no capability manifest.
    operations: Option<Vec<OperationKind>>,
    /// `[package.metadata.drbook] http`: the HTTP destinations it may reach.
    http: Vec<String>,
    /// `[package.metadata.drbook] azure`: the Azure resources it may call.
    azure: Vec<String>,
}

pub fn run(global: &Global, args: BuildArgs) -> anyhow::Result<Outcome> {
    let dir = args.path.unwrap_or_else(|| PathBuf::from("."));
    let krate = read_crate(&dir)?;
    ensure_target()?;
    let target_dir = match args.target_dir {
        Some(dir) => dir,
        None => target_directory(&krate.manifest)?,
    };
    let status = cargo()
        .args([
            "build",
            "--target",
            TARGET,
            "--profile",
            "runbook",
            "--manifest-path",
        ])
        .arg(&krate.manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        // Cargo's own output goes to stderr: stdout is this command's report.
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .context("cannot run cargo; install Rust with rustup (https://rustup.rs)")?;
    if !status.success() {
        anyhow::bail!(
            "cargo could not build {} (its errors are above)",
            krate.manifest.display()
        );
    }
    let path = target_dir
        .join(TARGET)
        .join("runbook")
        .join(format!("{}.wasm", krate.artifact));
    let mut module = read_module(&path)?;
    // Before the manifest, which would only say an import is not drbook's.
    drbook_runtime::wit_version::check(&module, &path.display().to_string())
        .map_err(|e| InputError::new(e.to_string()))?;
    if krate.operations.is_some() || !krate.http.is_empty() || !krate.azure.is_empty() {
        let declared = Manifest {
            interfaces: Vec::new(),
            operations: krate.operations.clone().unwrap_or_default(),
            http: krate.http.clone(),
            azure: krate.azure.clone(),
        };
        let (written, _) = grant::grant(&module, declared)
            .map_err(|e| InputError::new(format!("{}: {e}", path.display())))?;
        module = written.module;
    }
    let mut signers = Vec::new();
    for key in &args.keys {
        let (with_signature, signer) = signed(&module, &path, key)?;
        module = with_signature;
        signers.push(signer.fingerprint());
    }
    write_replacing(&path, &module)?;
    // Refused here as a job would refuse it: another world, a module past
    // the load limits. Compiled into the data dir's cache, so that the
    // jobs of it that follow (`drbook runbook test`) start at once.
    let runbook = global
        .runtime(true)?
        .load_bytes(&module, &path.display().to_string())
        .map_err(|e| InputError::new(e.to_string()))?;
    report(global, &path, &runbook, &krate, &signers)
}

fn report(
    global: &Global,
    path: &Path,
    runbook: &drbook_runtime::Runbook,
    krate: &Crate,
    signers: &[String],
) -> anyhow::Result<Outcome> {
    let world = drbook_runtime::wit_version::host_world();
    let operations = krate
        .operations
        .as_ref()
        .map(|ops| ops.iter().map(|k| k.cli_name()).collect::<Vec<_>>());
    if global.json {
        let doc = serde_json::json!({
            "path": path.display().to_string(),
            "size": runbook.size,
            "digest": runbook.digest,
            "world": world,
            "operations": operations,
            "signers": signers,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("built:      {}", path.display());
        println!("size:       {}", bytesize(runbook.size));
        println!("digest:     {}", runbook.digest);
        println!("world:      {world}");
        println!(
            "operations: {}",
            match &operations {
                None => "no manifest ([package.metadata.drbook] operations): it may start what its job may".to_string(),
                Some(ops) if ops.is_empty() => "none (read-only)".to_string(),
                Some(ops) => ops.join(", "),
            }
        );
        for signer in signers {
            println!("signed by:  {signer}");
        }
    }
    Ok(Outcome::Success)
}

fn bytesize(bytes: usize) -> String {
    format!("{bytes} bytes ({:.1} KiB)", bytes as f64 / 1024.0)
}

/// Reads `dir/Cargo.toml`, refusing what is not a runbook crate.
fn read_crate(dir: &Path) -> anyhow::Result<Crate> {
    let manifest = dir.join("Cargo.toml");
    let not_a_runbook = |why: &str| {
        InputError::new(format!(
            "{} is not a runbook crate: {why}; make one with `drbook runbook new NAME`",
            dir.display()
        ))
    };
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| not_a_runbook(&format!("cannot read {} ({e})", manifest.display())))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| not_a_runbook(&format!("its Cargo.toml does not parse ({e})")))?;
    let name = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| not_a_runbook("its Cargo.toml has no [package] name"))?;
    let cdylib = table
        .get("lib")
        .and_then(|l| l.get("crate-type"))
        .and_then(toml::Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
    if !cdylib {
        return Err(
            not_a_runbook("a runbook is a `cdylib` (`[lib] crate-type = [\"cdylib\"]`)").into(),
        );
    }
    let operations = match table
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("drbook"))
        .and_then(|d| d.get("operations"))
    {
        None => None,
        Some(toml::Value::Array(names)) => Some(
            names
                .iter()
                .map(|name| {
                    name.as_str()
                        .ok_or_else(|| "not a string".to_string())
                        .and_then(manifest::operation)
                        .map_err(|e| {
                            InputError::new(format!(
                                "{}: [package.metadata.drbook] operations: {name}: {e}",
                                manifest.display()
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => {
            return Err(InputError::new(format!(
                "{}: [package.metadata.drbook] operations is a list of operations, e.g. \
                 [\"planned-failover\", \"test-failover\"]",
                manifest.display()
            ))
            .into())
        }
    };
    let http = patterns(
        &table,
        &manifest,
        "http",
        manifest::http_pattern,
        "URL prefixes, e.g. [\"https://hooks.contoso.com/services/\", \"{notify-url}\"]",
    )?;
    let azure = patterns(
        &table,
        &manifest,
        "azure",
        manifest::azure_pattern,
        "Azure resource id patterns, e.g. [\"/subscriptions/{subscription}/resourceGroups/*/\
         providers/Microsoft.Network/dnszones/contoso.com/*\"]",
    )?;
    Ok(Crate {
        manifest,
        artifact: name.replace('-', "_"),
        operations,
        http,
        azure,
    })
}

/// `[package.metadata.drbook] <key>` of the crate's `table` (in the file
/// `manifest`): patterns, each checked by `check`; none when it is absent.
fn patterns(
    table: &toml::Table,
    manifest: &Path,
    key: &str,
    check: fn(&str) -> Result<(), String>,
    example: &str,
) -> anyhow::Result<Vec<String>> {
    match table
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("drbook"))
        .and_then(|d| d.get(key))
    {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(patterns)) => Ok(patterns
            .iter()
            .map(|p| {
                let text = p.as_str().ok_or_else(|| "not a string".to_string())?;
                check(text).map(|()| text.to_string())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                InputError::new(format!(
                    "{}: [package.metadata.drbook] {key}: {e}",
                    manifest.display()
                ))
            })?),
        Some(_) => Err(InputError::new(format!(
            "{}: [package.metadata.drbook] {key} is a list of {example}",
            manifest.display()
        ))
        .into()),
    }
}

/// `$CARGO` (set when drbook runs under cargo, as in a runbook's tests),
/// else `cargo`.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Adds the target with rustup when it is not installed. Without rustup
/// (a distribution's Rust), cargo says whether the target is there.
fn ensure_target() -> anyhow::Result<()> {
    let Ok(installed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        eprintln!("rustup not found: building anyway; the {TARGET} target must be installed");
        return Ok(());
    };
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == TARGET)
    {
        return Ok(());
    }
    eprintln!("installing the {TARGET} target (`rustup target add {TARGET}`)");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .context("running rustup")?;
    if !status.success() {
        anyhow::bail!("`rustup target add {TARGET}` failed (its errors are above)");
    }
    Ok(())
}

/// Cargo's target directory for `manifest`: what `CARGO_TARGET_DIR`, a
/// `.cargo/config.toml` or the crate's workspace make it.
fn target_directory(manifest: &Path) -> anyhow::Result<PathBuf> {
    let output = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("cannot run cargo; install Rust with rustup (https://rustup.rs)")?;
    if !output.status.success() {
        anyhow::bail!(
            "cargo cannot read {}: {}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading `cargo metadata`")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` names no target_directory")
}
