//! Holding a plan against a fabric: every VM exists and replicates between the
//! plan's regions, and every VM its `[scope]` grants exists; and, before a
//! drill, each VM's current RPO against its objective.

use serde::Serialize;

use super::file::{PlanError, RecoveryPlan};
use super::objectives::Objective;
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

/// A VM that would miss its RPO objective if it failed over now: its
/// newest recovery point is older than the objective allows, or it does
/// not replicate at all (`rpo_seconds` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RpoWarning {
    pub vm: String,
    pub group: String,
    pub rpo_seconds: Option<u64>,
    pub objective: Objective,
}

impl std::fmt::Display for RpoWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rpo_seconds {
            Some(rpo) => write!(
                f,
                "VM `{}` (group `{}`): its RPO is {} now, over its objective of {}: a failover now would lose more data than allowed; check its replication (`drbook fabric show`)",
                self.vm,
                self.group,
                Objective::from_secs(rpo),
                self.objective
            ),
            None => write!(
                f,
                "VM `{}` (group `{}`): it does not replicate now, so no RPO can be met (objective {}); reprotect it first",
                self.vm, self.group, self.objective
            ),
        }
    }
}

/// Every VM of `plan` with an RPO objective that its item's current RPO
/// already exceeds, in boot order. VMs the fabric does not hold are
/// [`check_against`]'s to report.
pub fn rpo_warnings(plan: &RecoveryPlan, items: &[ProtectedItem]) -> Vec<RpoWarning> {
    plan.groups
        .iter()
        .flat_map(|group| group.vms.iter().map(move |vm| (group, vm)))
        .filter_map(|(group, vm)| {
            let objective = plan.objectives_of(vm).rpo?;
            let item = items.iter().find(|i| i.name.eq_ignore_ascii_case(vm))?;
            let over = item.rpo_seconds.is_none_or(|rpo| rpo > objective.as_secs());
            over.then(|| RpoWarning {
                vm: vm.clone(),
                group: group.name.clone(),
                rpo_seconds: item.rpo_seconds,
                objective,
            })
        })
        .collect()
}
