//! `drbook report JOB`: the signed evidence report of a job (drbook-report):
//! each VM's operation, recovery point, achieved RPO and RTO against the
//! plan's objectives, the timeline, the checks, approvals, module, trigger
//! and the fabric's audit trail. `drbook report verify FILE`: whether a
//! report is as it was signed, and by whom.
//!
//! The signing key is `[report] key` in drbook.toml, else
//! `<data-dir>/report-key`, made on first use (0600, with its `.pub`
//! beside it for whoever verifies). Exit codes: 0 written / valid; 1 the
//! report does not verify; 2 bad input (an unknown job, a missing key, no
//! Chromium for a PDF).

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

use super::{Global, InputError, Outcome};
use crate::config::FabricChoice;
use drbook_core::store::{JobStore, StoreError};
use drbook_report::{AuditEntry, Format, Inputs, Report};
use drbook_signing::{KeyFormat, PublicKey, SigningKey};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: Option<ReportCommand>,
    /// The job to report on (`drbook jobs list` lists them).
    job: Option<String>,
    /// The report's format.
    #[arg(long, value_enum, default_value = "html")]
    format: FormatArg,
    /// Where to write it (default: `<job>.<format>` in the current directory).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Checks a report's signature: valid (and by whom) or not, exit 1.
    Verify {
        /// The report file (any format).
        file: PathBuf,
        /// The public key it must be signed by (OpenSSH or PEM); without
        /// it, the key in the report is named and must be judged by you.
        #[arg(long, value_name = "PUB")]
        key: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// One self-contained page: inline CSS and SVG, no script.
    Html,
    /// The HTML page printed by headless Chromium.
    Pdf,
    /// The report's model.
    Json,
    /// For tickets and wikis.
    Md,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            FormatArg::Html => Format::Html,
            FormatArg::Pdf => Format::Pdf,
            FormatArg::Json => Format::Json,
            FormatArg::Md => Format::Markdown,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            FormatArg::Html => "html",
            FormatArg::Pdf => "pdf",
            FormatArg::Json => "json",
            FormatArg::Md => "md",
        }
    }
}

pub async fn run(global: &Global, args: ReportArgs) -> anyhow::Result<Outcome> {
    match (args.command, args.job) {
        (Some(ReportCommand::Verify { file, key }), _) => verify(global, &file, key.as_deref()),
        (None, Some(job)) => write(global, &job, args.format, args.out).await,
        (None, None) => Err(InputError::new(
            "name the job to report on (`drbook report JOB`; `drbook jobs list` lists them), \
             or verify a report (`drbook report verify FILE`)",
        )
        .into()),
    }
}

async fn write(
    global: &Global,
    id: &str,
    format: FormatArg,
    out: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let config = global.config()?;
    let store = super::open_store(global)?;
    let report = build(global, store.as_ref(), id).await?;
    let key = signing_key(global, config.report.key.as_deref())?;
    let bytes = report
        .signed(format.format(), config.report.chromium.as_deref(), &key)
        .map_err(|e| match e {
            drbook_report::RenderError::Pdf(e) => InputError::new(e.to_string()).into(),
            other => anyhow::Error::new(other),
        })?;
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{id}.{}", format.extension())));
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    if global.json {
        let doc = serde_json::json!({
            "file": path.display().to_string(),
            "passed": report.summary.passed,
            "headline": report.summary.headline,
            "signer": key.public_key().fingerprint(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{}", report.summary.headline);
        println!(
            "wrote {} ({} bytes), signed by {}",
            path.display(),
            bytes.len(),
            key.public_key().fingerprint()
        );
    }
    Ok(Outcome::Success)
}

/// The report of job `id`, from the job store and the fabric's audit trail.
async fn build(global: &Global, store: &dyn JobStore, id: &str) -> anyhow::Result<Report> {
    let job = store.get(id).await.map_err(|e| match e {
        StoreError::NoSuchJob { .. } => InputError::new(e.to_string()).into(),
        other => anyhow::Error::new(other),
    })?;
    let journal = store.journal(id).await?;
    let streams: Vec<_> = store
        .streams(id, 0)
        .await?
        .into_iter()
        .map(|(_, record)| record)
        .collect();
    let mut decisions = Vec::new();
    for (index, entry) in journal.iter().enumerate() {
        if let drbook_core::journal::Call::Approval { .. } = entry.call {
            if let Some(decision) = store.decision(id, index).await? {
                decisions.push((index, decision));
            }
        }
    }
    let audit = match &global.config()?.fabric {
        FabricChoice::Simulator { .. } => {
            let history = super::open_fabric(global)?.history()?;
            let entries: Vec<AuditEntry> =
                serde_json::from_value(serde_json::to_value(history)?)
                    .context("reading the simulator's history as audit entries")?;
            Some(entries)
        }
        FabricChoice::Azure(_) => None,
    };
    Ok(Report::build(Inputs {
        job: &job,
        journal: &journal,
        streams: &streams,
        decisions: &decisions,
        audit,
        generated: chrono::Utc::now(),
    }))
}

/// The key that signs reports: `configured`, else the data dir's, made now
/// if there is none yet.
fn signing_key(global: &Global, configured: Option<&Path>) -> anyhow::Result<SigningKey> {
    if let Some(path) = configured {
        return SigningKey::from_file(path).map_err(|e| {
            InputError::new(format!(
                "[report] key: {e}; make one with `drbook key generate {}`",
                path.display()
            ))
            .into()
        });
    }
    let path = global.data_dir()?.join("report-key");
    if path.exists() {
        return SigningKey::from_file(&path)
            .map_err(|e| InputError::new(format!("the data dir's report key: {e}")).into());
    }
    std::fs::create_dir_all(global.data_dir()?)?;
    let key = SigningKey::generate(format!("drbook-reports@{}", super::who()))?;
    let public = PathBuf::from(format!("{}.pub", path.display()));
    super::key::write_new(&path, key.encode(KeyFormat::OpenSsh)?.as_bytes(), 0o600)?;
    super::key::write_new(
        &public,
        key.public_key().encode(KeyFormat::OpenSsh)?.as_bytes(),
        0o644,
    )?;
    eprintln!(
        "made the report signing key {} ({}); its public key, for verifiers: {}",
        path.display(),
        key.public_key().fingerprint(),
        public.display()
    );
    Ok(key)
}

fn verify(global: &Global, file: &Path, key: Option<&Path>) -> anyhow::Result<Outcome> {
    let bytes = std::fs::read(file)
        .map_err(|e| InputError::new(format!("cannot read {}: {e}", file.display())))?;
    let expected = key
        .map(PublicKey::from_file)
        .transpose()
        .map_err(|e| InputError::new(format!("--key: {e}")))?;
    let result = drbook_report::signature::verify(&bytes, expected.as_ref());
    if global.json {
        let doc = match &result {
            Ok(signed) => serde_json::json!({
                "file": file.display().to_string(),
                "valid": true,
                "fingerprint": signed.fingerprint,
                "comment": signed.comment,
            }),
            Err(e) => serde_json::json!({
                "file": file.display().to_string(),
                "valid": false,
                "error": e.to_string(),
            }),
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    match result {
        Ok(signed) => {
            if !global.json {
                let by = if signed.comment.is_empty() {
                    signed.fingerprint.clone()
                } else {
                    format!("{} ({})", signed.fingerprint, signed.comment)
                };
                println!("{}: valid, signed by {by}", file.display());
                if expected.is_none() {
                    println!(
                        "note: no --key given; check that this key is the one you expect reports from"
                    );
                }
            }
            Ok(Outcome::Success)
        }
        Err(e) => {
            if !global.json {
                println!("{}: INVALID: {e}", file.display());
            }
            Ok(Outcome::Failed)
        }
    }
}
