//! Reprotects every VM of a plan: replication starts from the side each VM
//! runs on now back to the other side. Reprotect is item by item in Azure (the
//! plan-level one is deprecated) and takes 45 min to 2 h, so all VMs start at
//! once and the runbook streams their progress until every VM is at 100 %.
//! VMs already protected are skipped.

use drbook_sdk::fabric::{self, AllowedOperation, Operation, OperationState, ProtectionState};
use drbook_sdk::prelude::*;
use std::time::Duration;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    let poll = Duration::from_secs(
        ctx.param_or("poll-seconds", "60")
            .parse()
            .map_err(|_| Error::new("`poll-seconds` must be a number of seconds"))?,
    );
    let mut running: Vec<(String, Operation)> = Vec::new();
    for vm in ctx.vms() {
        let item = fabric::get_item(vm)?;
        if item.allows(AllowedOperation::ReverseReplicate) {
            running.push((vm.to_string(), fabric::reprotect(vm)?));
        } else if item.protection_state == ProtectionState::Protected {
            verbose!("{vm} is already protected");
        } else {
            bail!(
                "cannot reprotect `{vm}`: it is {}; commit its failover first",
                item.protection_state
            );
        }
    }
    let total = running.len();
    output!("reprotecting {total} VMs of plan `{}`", ctx.plan_name());
    let mut failed = Vec::new();
    let mut done = 0;
    while !running.is_empty() {
        let mut percent_sum = done * 100;
        let mut still = Vec::new();
        for (vm, op) in running {
            let status = op.status()?;
            match status.state {
                OperationState::InProgress => {
                    percent_sum += status.percent_complete as usize;
                    still.push((vm, op));
                }
                OperationState::Succeeded => {
                    output!("reprotect of {vm}: 100 %, protected");
                    done += 1;
                    percent_sum += 100;
                }
                _ => {
                    error!(
                        "reprotect of {vm}: {}: {}",
                        status.state,
                        status.error.unwrap_or_default()
                    );
                    failed.push(vm);
                    done += 1;
                    percent_sum += 100;
                }
            }
        }
        running = still;
        progress!(
            (percent_sum / total.max(1)) as u8,
            "{} of {total} VMs reprotected",
            done - failed.len()
        );
        if !running.is_empty() {
            drbook_sdk::clock::sleep(poll);
        }
    }
    if !failed.is_empty() {
        bail!("reprotect failed for {}", failed.join(", "));
    }
    Ok(format!(
        "{total} VMs of plan `{}` reprotected",
        ctx.plan_name()
    ))
}
