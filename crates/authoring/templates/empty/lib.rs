//! A drbook runbook: it reads its job's plan and reports it, and starts
//! nothing. Start operations with `drbook_sdk::fabric` (or the group
//! helpers: `run_plan`, `failover_group`), and declare each one in
//! Cargo.toml's `[package.metadata.drbook] operations`: the host refuses a
//! start the manifest does not name.

use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    for group in ctx.groups() {
        output!("group `{}`: {} VMs", group.name, group.vms.len());
    }
    Ok(format!(
        "plan `{}` has {} VMs",
        ctx.plan_name(),
        ctx.vms().count()
    ))
}
