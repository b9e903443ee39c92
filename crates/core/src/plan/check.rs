//! Holding a plan against a fabric: every VM exists and replicates between the
//! plan's regions, and every VM its `[scope]` grants exists.

use super::file::{PlanError, RecoveryPlan};
use crate::fabric::ProtectedItem;

/// Checks `plan` against the fabric's items; lists every problem at once.
pub fn check_against(plan: &RecoveryPlan, items: &[ProtectedItem]) -> Result<(), PlanError> {
    let mut problems = Vec::new();
    for group in &plan.groups {
        for vm in &group.vms {
            match items.iter().find(|i| i.name.eq_ignore_ascii_case(vm)) {
                None => problems.push(format!(
                    "VM `{vm}` (group `{}`) is not a protected item of this fabric; `drbook fabric show` lists them",
                    group.name
                )),
                Some(item) => {
                    let pair = [item.primary_region.as_str(), item.recovery_region.as_str()];
                    let plan_pair = [plan.primary_region.as_str(), plan.recovery_region.as_str()];
                    if !pair.iter().all(|r| plan_pair.iter().any(|p| p.eq_ignore_ascii_case(r))) {
                        problems.push(format!(
                            "VM `{vm}` replicates {} → {}, but the plan is for {} → {}",
                            item.primary_region, item.recovery_region, plan.primary_region, plan.recovery_region
                        ));
                    }
                }
            }
        }
    }
    problems.extend(
        plan.scope
            .problems_against(items, "in the plan's `[scope] vms`"),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Invalid {
            plan: plan.name.clone(),
            problems,
        })
    }
}
