//! `drbook runbook push` and `pull`: runbook modules to and from OCI
//! registries as CNCF Wasm artifacts (drbook-module-oci). A push checks
//! that the file is a runbook this host can load, and prints the reference
//! pinned to the pushed manifest's digest: what to give `run` so that
//! nobody's later push of the tag changes what runs. Signatures are inside
//! the module, so a signed file is pushed and pulled signed.

use clap::Args;
use std::path::PathBuf;

use super::super::{Global, InputError, Outcome};
use drbook_module_oci::Reference;

#[derive(Args)]
pub struct PushArgs {
    /// The runbook (a WebAssembly component, signed or not).
    file: PathBuf,
    /// Where to push it: `oci://HOST[:PORT]/REPO:TAG`.
    reference: String,
}

#[derive(Args)]
pub struct PullArgs {
    /// `oci://HOST[:PORT]/REPO:TAG` or `oci://HOST[:PORT]/REPO@sha256:DIGEST`.
    reference: String,
    /// Where to write the module (default: `REPO's last component.wasm`
    /// in the current directory).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Runs `work` on the process's runtime from the synchronous `runbook`
/// command.
fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(work))
}

pub fn push(global: &Global, args: PushArgs) -> anyhow::Result<Outcome> {
    let reference: Reference = args
        .reference
        .parse()
        .map_err(|e: drbook_module_oci::OciError| InputError::new(e.to_string()))?;
    if reference.tag.is_none() || reference.digest.is_some() {
        return Err(InputError::new(format!(
            "push to a tag: `{reference}` {}; write it as oci://HOST[:PORT]/REPO:TAG (the digest is \
             the pushed manifest's, printed after the push)",
            if reference.digest.is_some() {
                "names a digest"
            } else {
                "names no tag"
            }
        ))
        .into());
    }
    let bytes = super::read_module(&args.file)?;
    // A file this host cannot run is not worth publishing.
    global
        .runtime(false)?
        .load_bytes(&bytes, &args.file.display().to_string())
        .map_err(|e| InputError::new(e.to_string()))?;
    let pushed = block_on(super::super::modules::registry(global)?.push(&bytes, &reference))
        .map_err(|e| InputError::new(e.to_string()))?;
    if global.json {
        let doc = serde_json::json!({
            "reference": pushed.reference.to_string(),
            "digest": pushed.reference.digest,
            "moduleDigest": pushed.module_digest,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{}", pushed.reference);
        eprintln!(
            "pushed {} as {reference} (module {})",
            args.file.display(),
            pushed.module_digest
        );
    }
    Ok(Outcome::Success)
}

pub fn pull(global: &Global, args: PullArgs) -> anyhow::Result<Outcome> {
    if !Reference::is_oci(&args.reference) {
        return Err(InputError::new(format!(
            "`{}` is not a registry reference; write it as oci://HOST[:PORT]/REPO:TAG",
            args.reference
        ))
        .into());
    }
    let module = block_on(super::super::modules::fetch(global, &args.reference))?;
    let output = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.wasm", module.name())));
    super::write_replacing(&output, &module.bytes)?;
    if global.json {
        let doc = serde_json::json!({
            "reference": module.origin,
            "file": output.display().to_string(),
            "moduleDigest": module.digest,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{}", module.origin);
        eprintln!(
            "pulled into {} (module {})",
            output.display(),
            module.digest
        );
    }
    Ok(Outcome::Success)
}
