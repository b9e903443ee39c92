//! `drbook plan validate`: checks a plan file on its own and against the fabric.

use clap::{Args, Subcommand};
use std::path::PathBuf;

use super::{Global, InputError, Outcome};
use drbook_core::plan::{check_against, RecoveryPlan};

#[derive(Args)]
pub struct PlanArgs {
    #[command(subcommand)]
    command: PlanCommand,
}

#[derive(Subcommand)]
enum PlanCommand {
    /// Checks a recovery plan: structure (groups, VMs) and the fabric's VMs.
    Validate {
        /// The plan file (TOML).
        plan: PathBuf,
    },
}

pub async fn run(global: &Global, args: PlanArgs) -> anyhow::Result<Outcome> {
    let PlanCommand::Validate { plan: path } = args.command;
    let plan = RecoveryPlan::load(&path).map_err(|e| InputError::new(e.to_string()))?;
    let fabric = super::open_backend(global)?;
    let items = fabric.list_items().await?;
    check_against(&plan, &items).map_err(|e| InputError::new(e.to_string()))?;
    let vms = plan.vms().count();
    if global.json {
        println!(
            "{}",
            serde_json::json!({ "plan": plan.name, "valid": true, "groups": plan.groups.len(), "vms": vms })
        );
    } else {
        println!(
            "plan `{}` is valid: {} groups, {vms} VMs, {} → {}",
            plan.name,
            plan.groups.len(),
            plan.primary_region,
            plan.recovery_region
        );
    }
    Ok(Outcome::Success)
}
