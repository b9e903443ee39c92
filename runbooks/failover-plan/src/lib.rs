//! Fails a recovery plan over: planned, unplanned or test as the job says,
//! groups in order, the VMs of a group in parallel, and a check after each
//! group that every VM really is up on the target side. Stops at the first
//! group that fails and reports the groups it completed.

use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    output!(
        "{} failover of plan `{}` ({} groups, {} VMs), {}",
        ctx.failover_type(),
        ctx.plan_name(),
        ctx.groups().len(),
        ctx.vms().count(),
        ctx.direction()
    );
    run_plan(ctx, |group| {
        for step in group.pre.iter().filter(|s| s.manual.is_none()) {
            verbose!("pre step `{}` of group `{}`", step.name, group.name);
        }
        failover_group(ctx, group).into_result()?;
        // The custom check after each group, and the plan's post steps.
        verify_failed_over(group, ctx.failover_type(), ctx.direction())?;
        for step in group.post.iter().filter(|s| s.manual.is_none()) {
            output!(
                "post step `{}` of group `{}`: every VM is up",
                step.name,
                group.name
            );
        }
        Ok(())
    })
}
