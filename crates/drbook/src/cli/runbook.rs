//! `drbook runbook inspect`: what a runbook file is, before anyone runs it.

use clap::{Args, Subcommand};
use std::path::PathBuf;

use super::{Global, InputError, Outcome};

#[derive(Args)]
pub struct RunbookArgs {
    #[command(subcommand)]
    command: RunbookCommand,
}

#[derive(Subcommand)]
enum RunbookCommand {
    /// Shows a runbook's world, imports, exports, size and digest.
    Inspect {
        /// The runbook (a WebAssembly component).
        file: PathBuf,
    },
}

pub fn run(global: &Global, args: RunbookArgs) -> anyhow::Result<Outcome> {
    let RunbookCommand::Inspect { file } = args.command;
    let runtime = global.runtime(false)?;
    let runbook = runtime
        .load(&file)
        .map_err(|e| InputError::new(e.to_string()))?;
    let (imports, exports) = runtime.describe(&runbook);
    if global.json {
        let doc = serde_json::json!({
            "file": file.display().to_string(),
            "world": "drbook:runbook/runbook@0.1.0",
            "digest": runbook.digest,
            "size": runbook.size,
            "imports": imports,
            "exports": exports,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("file:    {}", file.display());
        println!("world:   drbook:runbook/runbook@0.1.0 (checked: it links against this host)");
        println!("digest:  {}", runbook.digest);
        println!("size:    {} bytes", runbook.size);
        println!("imports:");
        for name in &imports {
            println!("  {name}");
        }
        println!("exports:");
        for name in &exports {
            println!("  {name}");
        }
    }
    Ok(Outcome::Success)
}
