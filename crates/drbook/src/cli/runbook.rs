//! `drbook runbook`: writing one (`new`: a crate; `build`: its component;
//! `test`: one job of it on a scenario, for drbook-test), what a runbook
//! file is, before anyone runs it (`inspect`), its capability manifest
//! (`grant`), and its signatures (`sign`, `verify`), embedded in the file
//! in the WebAssembly tool-conventions format, which wasmsign2 reads too;
//! `push` and `pull` to and from OCI registries (`registry`).

mod build;
mod grant;
mod inspect;
mod new;
mod registry;
mod test;

use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Global, InputError, Outcome};
use drbook_signing::{PublicKey, SigningKey};

#[derive(Args)]
pub struct RunbookArgs {
    #[command(subcommand)]
    command: RunbookCommand,
}

#[derive(Subcommand)]
enum RunbookCommand {
    /// Creates a runbook crate that builds anywhere: Cargo.toml (a cdylib,
    /// its capability manifest, the runbook profile), the runbook, a test
    /// of it, a README, a drbook.toml and the demo plan; drbook-sdk,
    /// drbook-test and the WIT of this drbook vendored in `vendor/`.
    New(new::NewArgs),
    /// Builds a runbook crate into its component (installing the
    /// wasm32-wasip2 target if missing), writes its capability manifest,
    /// signs it with `--sign`, and prints its path, size, digest and world.
    Build(build::BuildArgs),
    /// Runs one job of a runbook on a scenario (JSON: an estate, its plan,
    /// faults, answers to approvals) on a simulator of its own at instant
    /// speed; prints how it ended, its streams, the fabric and its history.
    /// What drbook-test runs from a runbook's `cargo test`.
    Test(test::TestArgs),
    /// Shows a runbook's digest, size, signers (and the trust policy's keys
    /// they are), capability manifest and whether its signatures cover it,
    /// what the policy decides, and its world's imports and exports.
    Inspect {
        /// The runbook (a WebAssembly component).
        file: PathBuf,
    },
    /// Writes the runbook's capability manifest (the operations it may
    /// start, the interfaces it imports), replacing the one it has. Sign it
    /// after: signatures cover the manifest only if made after it.
    Grant(grant::GrantArgs),
    /// Signs a runbook, keeping the signatures it already has: an author
    /// signs, then a reviewer countersigns the same file.
    Sign {
        /// The runbook (a WebAssembly component).
        file: PathBuf,
        /// The private key: OpenSSH or PEM (`drbook key generate`, `ssh-keygen -t ed25519`).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed runbook (default: FILE, replaced).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Checks a runbook's signatures against public keys, on its bytes, before
    /// anything compiles it; names the keys that signed it. Exits 0 if one of
    /// the keys signed the runbook as it is, 1 if none did.
    Verify {
        /// The runbook (a WebAssembly component).
        file: PathBuf,
        /// The public keys (OpenSSH or PEM, e.g. `KEY.pub`): repeat the flag or list several.
        #[arg(long = "key", required = true, num_args = 1..)]
        keys: Vec<PathBuf>,
    },
    /// Pushes a runbook to an OCI registry (`oci://HOST[:PORT]/REPO:TAG`) as a
    /// CNCF Wasm artifact; prints the reference pinned to its digest.
    Push(registry::PushArgs),
    /// Pulls a runbook from an OCI registry (by tag or digest) into a file;
    /// prints the reference pinned to its digest.
    Pull(registry::PullArgs),
}

pub async fn run(global: &Global, args: RunbookArgs) -> anyhow::Result<Outcome> {
    match args.command {
        RunbookCommand::New(args) => new::run(global, args),
        RunbookCommand::Build(args) => build::run(global, args),
        RunbookCommand::Test(args) => test::run(global, args).await,
        RunbookCommand::Inspect { file } => inspect::run(global, &file),
        RunbookCommand::Grant(args) => grant::run(global, args),
        RunbookCommand::Sign { file, key, out } => {
            sign(global, &file, &key, out.as_deref().unwrap_or(&file))
        }
        RunbookCommand::Verify { file, keys } => verify(global, &file, &keys),
        RunbookCommand::Push(args) => registry::push(global, args),
        RunbookCommand::Pull(args) => registry::pull(global, args),
    }
}

fn sign(global: &Global, file: &Path, key: &Path, out: &Path) -> anyhow::Result<Outcome> {
    let (signed, signer) = signed(&read_module(file)?, file, key)?;
    write_replacing(out, &signed)?;
    let digest = drbook_core::module::digest(&signed);
    if global.json {
        let doc = serde_json::json!({
            "file": out.display().to_string(),
            "signer": signer_json(&signer, None),
            "digest": digest,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("signed:  {}", out.display());
        println!("by:      {}", describe(&signer, None));
        println!("digest:  {digest}");
    }
    Ok(Outcome::Success)
}

/// `module` (read from `file`) signed with the private key in `key`,
/// keeping its signatures, and who signed: what `sign` and `build --sign`
/// write.
fn signed(module: &[u8], file: &Path, key: &Path) -> anyhow::Result<(Vec<u8>, PublicKey)> {
    let key = SigningKey::from_file(key).map_err(|e| InputError::new(e.to_string()))?;
    let signed = drbook_signing::sign(module, &key)
        .map_err(|e| InputError::new(format!("cannot sign {}: {e}", file.display())))?;
    Ok((signed, key.public_key()))
}

fn verify(global: &Global, file: &Path, key_files: &[PathBuf]) -> anyhow::Result<Outcome> {
    let keys = key_files
        .iter()
        .map(|path| PublicKey::from_file(path).map_err(|e| InputError::new(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    // A refusal is not bad input but the answer (exit 1).
    let verified = drbook_signing::verify(&read_module(file)?, &keys)
        .with_context(|| format!("refusing {}", file.display()))?;
    let (signers, others): (Vec<_>, Vec<_>) = keys
        .iter()
        .zip(key_files)
        .partition(|(key, _)| verified.signers.contains(key));
    if global.json {
        let list = |keys: &[(&PublicKey, &PathBuf)]| {
            keys.iter()
                .map(|(key, path)| signer_json(key, Some(path)))
                .collect::<Vec<_>>()
        };
        let doc = serde_json::json!({
            "file": file.display().to_string(),
            "digest": verified.digest,
            "signers": list(&signers),
            "not_signers": list(&others),
            "other_signatures": verified.other_signatures,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("file:    {}", file.display());
        println!("digest:  {}", verified.digest);
        for (title, keys) in [("signed by:", &signers), ("not signed by:", &others)] {
            if !keys.is_empty() {
                println!("{title}");
            }
            for (key, path) in keys {
                println!("  {}", describe(key, Some(path)));
            }
        }
        if verified.other_signatures > 0 {
            println!(
                "other signatures: {} (by keys not given)",
                verified.other_signatures
            );
        }
    }
    Ok(Outcome::Success)
}

fn read_module(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file)
        .map_err(|e| InputError::new(format!("cannot read runbook {}: {e}", file.display())).into())
}

/// A key as a line: its fingerprint, its comment, the file it came from.
fn describe(key: &PublicKey, path: Option<&Path>) -> String {
    let mut line = key.fingerprint();
    if !key.comment().is_empty() {
        line = format!("{line} {}", key.comment());
    }
    match path {
        Some(path) => format!("{line} ({})", path.display()),
        None => line,
    }
}

fn signer_json(key: &PublicKey, path: Option<&Path>) -> serde_json::Value {
    serde_json::json!({
        "fingerprint": key.fingerprint(),
        "comment": key.comment(),
        "key_file": path.map(|p| p.display().to_string()),
    })
}

/// Writes `bytes` to `path` through a file beside it, renamed over it once
/// written and synced: a signing that fails half-way leaves the runbook as
/// it was. A file replaced keeps its permissions.
fn write_replacing(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let cannot =
        |e: std::io::Error| InputError::new(format!("cannot write {}: {e}", path.display()));
    let name = path
        .file_name()
        .ok_or_else(|| InputError::new(format!("{} names no file", path.display())))?;
    let temp = path.with_file_name(format!(
        ".{}.{}.signing",
        name.to_string_lossy(),
        std::process::id()
    ));
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(|e| cannot(e).into())
}
