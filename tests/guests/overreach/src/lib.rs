//! A runbook that reaches beyond its job's scope on purpose: it starts the
//! operations its `attempts` input lists (`operation@vm`, comma-separated),
//! whatever its plan and failover type, waits for each one that starts, and
//! reports one line per attempt: `<operation> on <vm>: started: <state>` or
//! `<operation> on <vm>: refused (<error>): <message>`. With
//! `approval=after` it then waits for a person, so that its job unloads and
//! is replayed from its journal when approved, and makes the attempts of
//! `attempts-after` once approved.

use drbook_sdk::fabric::{self, FabricError, Operation, RecoveryPointChoice};
use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    let mut report = Vec::new();
    attempt_all(ctx, "attempts", &mut report)?;
    if ctx.param("approval") == Some("after") {
        drbook_sdk::approval::require("after-attempts", "The attempts are made; approve to end")?;
        attempt_all(ctx, "attempts-after", &mut report)?;
    }
    Ok(report.join("\n"))
}

/// Makes the attempts the input `param` lists, a line each in `report`.
fn attempt_all(ctx: &Context, param: &str, report: &mut Vec<String>) -> Result<()> {
    for attempt in ctx.param_or(param, "").split(',').filter(|a| !a.is_empty()) {
        let (operation, vm) = attempt
            .split_once('@')
            .ok_or_else(|| Error::new(format!("attempt `{attempt}` is not `operation@vm`")))?;
        let line = match start(ctx, operation, vm)? {
            Ok(op) => match op.wait() {
                Ok(status) => format!("{operation} on {vm}: started: {}", status.state),
                Err(e) => format!("{operation} on {vm}: started: {}", fabric::describe(&e)),
            },
            Err(e) => format!(
                "{operation} on {vm}: refused ({}): {}",
                kind(&e),
                fabric::describe(&e)
            ),
        };
        output!("{line}");
        report.push(line);
    }
    Ok(())
}

/// Starts `operation` on `vm` in the job's direction.
fn start(
    ctx: &Context,
    operation: &str,
    vm: &str,
) -> Result<std::result::Result<Operation, FabricError>> {
    let direction = ctx.direction();
    let latest = RecoveryPointChoice::Latest;
    Ok(match operation {
        "planned-failover" => fabric::planned_failover(vm, direction),
        "unplanned-failover" => fabric::unplanned_failover(vm, direction, &latest, false),
        "test-failover" => fabric::test_failover(vm, direction, "vnet-overreach", &latest),
        "test-failover-cleanup" => fabric::test_failover_cleanup(vm, "overreach"),
        "commit" => fabric::commit(vm),
        "cancel-failover" => fabric::cancel_failover(vm),
        "reprotect" => fabric::reprotect(vm),
        other => bail!("`{other}` is not an operation this runbook tries"),
    })
}

fn kind(e: &FabricError) -> &'static str {
    match e {
        FabricError::NotAllowed(_) => "not-allowed",
        FabricError::Busy(_) => "busy",
        FabricError::NotFound(_) => "not-found",
        FabricError::RegionUnavailable(_) => "region-unavailable",
        FabricError::Invalid(_) => "invalid",
        FabricError::Transient(_) => "transient",
    }
}
