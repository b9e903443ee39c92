//! `drbook runbook new PATH [--template failover|drill|empty]`: a runbook
//! crate at PATH, ready to build and test anywhere on disk. The SDK, the
//! test harness and the WIT are this drbook's own (drbook-authoring embeds
//! them), vendored into the crate's `vendor/`: it needs no clone of drbook,
//! and it is built against the WIT version this host speaks.

use clap::Args;
use std::path::{Path, PathBuf};

use crate::cli::{Global, InputError, Outcome};
use drbook_authoring::{crate_files, Template};

#[derive(Args)]
pub struct NewArgs {
    /// The crate's directory, created; its last component names the crate
    /// (`my-failover`).
    path: PathBuf,
    /// What it starts as: `failover` (a plan, group by group, checked),
    /// `drill` (test failover, validation, cleanup), `empty` (reads its plan).
    #[arg(long, default_value = "failover", value_parser = ["failover", "drill", "empty"])]
    template: String,
}

pub fn run(global: &Global, args: NewArgs) -> anyhow::Result<Outcome> {
    let dir = &args.path;
    let name = dir.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        InputError::new(format!(
            "{} names no directory to create; pass the new crate's path, e.g. `my-failover`",
            dir.display()
        ))
    })?;
    let template: Template = args
        .template
        .parse()
        .map_err(|e: drbook_authoring::AuthoringError| InputError::new(e.to_string()))?;
    let demo_plan = drbook_fabric_sim::demo_plan_toml()?;
    let world = drbook_runtime::wit_version::host_world();
    let files = crate_files(name, template, &demo_plan, &world)
        .map_err(|e| InputError::new(e.to_string()))?;
    refuse_a_used_directory(dir)?;
    for file in &files {
        let path = dir.join(&file.path);
        let write = || {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, &file.contents)
        };
        write().map_err(|e| InputError::new(format!("cannot write {}: {e}", path.display())))?;
    }
    if global.json {
        let doc = serde_json::json!({
            "path": dir.display().to_string(),
            "name": name,
            "template": args.template,
            "world": world,
            "files": files.iter().map(|f| &f.path).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "created:  {} (template {}, {} files)",
            dir.display(),
            args.template,
            files.len()
        );
        println!("world:    {world} (vendor/: drbook-sdk, drbook-test, the WIT)");
        println!(
            "next:     cd {} && drbook runbook build && cargo test",
            dir.display()
        );
    }
    Ok(Outcome::Success)
}

/// A crate is written into a new or empty directory only: nothing of the
/// author's is overwritten.
fn refuse_a_used_directory(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(InputError::new(format!(
            "{} exists and is not empty: pick a new path, or remove what is there",
            dir.display()
        ))
        .into()),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(InputError::new(format!("cannot use {}: {e}", dir.display())).into()),
    }
}
