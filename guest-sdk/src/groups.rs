//! The shape of every recovery plan: groups in order, the VMs of a group in
//! parallel. `run_group` starts an action on every VM of a group and waits for
//! all; `run_plan` walks the groups and stops at the first that fails,
//! reporting what completed (drbook's default, §4 of the reference).

use crate::fabric::{
    self, AllowedOperation, Direction, FabricError, FailoverType, Location, Operation,
    OperationState, OperationStatus, TestFailoverState,
};
use crate::recovery::Recovery;
use crate::{bail, error, output, progress, Context, Error, Group, Result};

/// What happened to one VM of a group.
pub struct VmResult {
    pub vm: String,
    pub result: Result<OperationStatus>,
}

/// What happened to a group.
pub struct GroupReport {
    pub group: String,
    pub action: String,
    /// In the group's VM order.
    pub vms: Vec<VmResult>,
}

impl GroupReport {
    pub fn succeeded(&self) -> bool {
        self.vms.iter().all(|v| v.result.is_ok())
    }

    pub fn failed(&self) -> impl Iterator<Item = &VmResult> {
        self.vms.iter().filter(|v| v.result.is_err())
    }

    /// `Ok(self)` if every VM succeeded, else an error naming each VM that
    /// did not and why.
    pub fn into_result(self) -> Result<GroupReport> {
        if self.succeeded() {
            return Ok(self);
        }
        let reasons: Vec<String> = self
            .failed()
            .filter_map(|v| v.result.as_ref().err().map(|e| format!("{}: {e}", v.vm)))
            .collect();
        Err(Error::new(format!(
            "{} failed for {} of {} VMs ({})",
            self.action,
            reasons.len(),
            self.vms.len(),
            reasons.join("; ")
        )))
    }
}

/// Starts `start(vm)` on every VM of `group` at once, then waits for all of
/// them, logging each VM's outcome. A VM whose start is refused is reported
/// as failed; the others still run. (One attempt each and no timeout:
/// [`Recovery::run_group`] retries and times out.)
pub fn run_group(
    group: &Group,
    action: &str,
    start: impl FnMut(&str) -> Result<Operation, FabricError>,
) -> GroupReport {
    Recovery::new().run_group(group, action, start)
}

/// A VM's outcome from the status its wait ended with.
pub(crate) fn vm_outcome(action: &str, status: Result<OperationStatus>) -> Result<OperationStatus> {
    match status {
        Ok(s) if s.state == OperationState::Succeeded => Ok(s),
        Ok(s) => Err(Error::new(format!(
            "{action} ended {}: {}",
            s.state,
            s.error.unwrap_or_else(|| "no reason given".to_string())
        ))),
        Err(e) => Err(e),
    }
}

/// The report of `group`, one result per VM in its order, each logged.
pub(crate) fn group_report(
    group: &Group,
    action: &str,
    results: Vec<Result<OperationStatus>>,
) -> GroupReport {
    let vms: Vec<VmResult> = group
        .vms
        .iter()
        .zip(results)
        .map(|(vm, result)| VmResult {
            vm: vm.clone(),
            result,
        })
        .collect();
    for vm in &vms {
        match &vm.result {
            Ok(_) => output!("{action} of {}: succeeded", vm.vm),
            Err(e) => error!("{action} of {}: {e}", vm.vm),
        }
    }
    GroupReport {
        group: group.name.clone(),
        action: action.to_string(),
        vms,
    }
}

/// Fails a group over as the job's context says: planned, unplanned (from the
/// `recovery-point` input, default `latest`, shutting the source down unless
/// `shutdown-source=false`) or test (into the `test-network` input, default
/// `drbook-test-isolated`), in the job's direction.
pub fn failover_group(ctx: &Context, group: &Group) -> GroupReport {
    failover_group_in(ctx, group, ctx.direction())
}

/// [`failover_group`] in a given direction (a failback runbook passes
/// `RecoveryToPrimary` whatever the job's direction).
pub fn failover_group_in(ctx: &Context, group: &Group, direction: Direction) -> GroupReport {
    failover_with(&Recovery::new(), ctx, group, direction)
}

/// [`failover_group_in`] under `recovery`.
pub(crate) fn failover_with(
    recovery: &Recovery,
    ctx: &Context,
    group: &Group,
    direction: Direction,
) -> GroupReport {
    let recovery_point = fabric::parse_recovery_point(ctx.param_or("recovery-point", "latest"));
    match ctx.failover_type() {
        FailoverType::Planned => recovery.run_group(group, "planned failover", |vm| {
            fabric::planned_failover(vm, direction)
        }),
        FailoverType::Unplanned => {
            let shutdown = ctx.param_or("shutdown-source", "true") != "false";
            recovery.run_group(group, "unplanned failover", |vm| {
                fabric::unplanned_failover(vm, direction, &recovery_point, shutdown)
            })
        }
        FailoverType::Test => {
            let network = ctx.param_or("test-network", "drbook-test-isolated");
            recovery.run_group(group, "test failover", |vm| {
                fabric::test_failover(vm, direction, network, &recovery_point)
            })
        }
    }
}

/// Runs `body` for each group of the plan in boot order, reporting progress.
/// The group's manual steps run around it: the `pre` ones before `body`, the
/// `post` ones after (each waits for a person's approval). Stops at the first
/// group that fails or whose manual step is rejected; the error names that
/// group and lists the groups completed before it.
pub fn run_plan(ctx: &Context, mut body: impl FnMut(&Group) -> Result<()>) -> Result<String> {
    let groups = ctx.groups();
    let mut completed = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        progress!(
            (index * 100 / groups.len()) as u8,
            "group {} of {}: {}",
            index + 1,
            groups.len(),
            group.name
        );
        let result = manual_steps(&group.pre)
            .and_then(|_| body(group))
            .and_then(|_| manual_steps(&group.post));
        if let Err(e) = result {
            error!(
                "group `{}` failed: {e}; completed before it: {}",
                group.name,
                list(&completed)
            );
            return Err(e
                .context(format!("group `{}`", group.name))
                .with_completed(completed));
        }
        completed.push(group.name.clone());
    }
    progress!(100, "all {} groups done", groups.len());
    Ok(format!(
        "plan `{}`: {} of {} groups completed ({})",
        ctx.plan_name(),
        completed.len(),
        groups.len(),
        list(&completed)
    ))
}

/// The manual steps among `steps`, in order.
fn manual_steps(steps: &[crate::context::Step]) -> Result<()> {
    for step in steps {
        if let Some(prompt) = &step.manual {
            crate::approval::require(&step.name, prompt)?;
        }
    }
    Ok(())
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Checks that every VM of `group` is up where a failover of `failover_type`
/// in `direction` puts it: on the target side with a commit pending (or
/// done), or, for a test failover, with its test copy waiting for cleanup.
pub fn verify_failed_over(
    group: &Group,
    failover_type: FailoverType,
    direction: Direction,
) -> Result<()> {
    let target = match direction {
        Direction::PrimaryToRecovery => Location::Recovery,
        Direction::RecoveryToPrimary => Location::Primary,
    };
    for vm in &group.vms {
        let item = fabric::get_item(vm)?;
        let up = match failover_type {
            FailoverType::Test => {
                item.test_failover_state == TestFailoverState::WaitingForCompletion
            }
            _ => item.active_location == target && item.allows(AllowedOperation::Commit),
        };
        if !up {
            bail!(
                "`{vm}` of group `{}` is not up on the target side: it is {} on {} (test failover {})",
                group.name,
                item.protection_state,
                item.active_location,
                item.test_failover_state
            );
        }
    }
    crate::verbose!("group `{}`: all {} VMs up", group.name, group.vms.len());
    Ok(())
}
