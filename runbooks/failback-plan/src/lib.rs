//! Fails a recovery plan back: the same plan, groups in order, in the
//! direction recovery → primary, after a reprotect. Planned by default (no
//! data loss); `--type unplanned` when the recovery side is already down.

use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    let direction = Direction::RecoveryToPrimary;
    output!(
        "failback of plan `{}` to {} ({})",
        ctx.plan_name(),
        ctx.primary_region(),
        ctx.failover_type()
    );
    run_plan(ctx, |group| {
        failover_group_in(ctx, group, direction).into_result()?;
        verify_failed_over(group, ctx.failover_type(), direction)?;
        Ok(())
    })
}
