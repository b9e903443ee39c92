//! Commits the failover of every VM of a plan, group by group: the failover
//! becomes final and the old recovery points are deleted. VMs already
//! committed are skipped, so the runbook can be re-run after a partial commit.

use drbook_sdk::fabric::{self, AllowedOperation, ProtectionState};
use drbook_sdk::prelude::*;

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    run_plan(ctx, |group| {
        let mut pending = group.clone();
        pending.vms.clear();
        for vm in &group.vms {
            let item = fabric::get_item(vm)?;
            if item.allows(AllowedOperation::Commit) {
                pending.vms.push(vm.clone());
            } else if item.protection_state == ProtectionState::FailoverCommitted {
                verbose!("{vm} is already committed");
            } else {
                bail!(
                    "cannot commit `{vm}`: it is {}; fail it over first",
                    item.protection_state
                );
            }
        }
        run_group(&pending, "commit", fabric::commit).into_result()?;
        Ok(())
    })
}
