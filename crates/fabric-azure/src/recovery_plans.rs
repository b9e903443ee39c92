//! Site Recovery's recovery plans as drbook plans, for `drbook plan import
//! --from-azure`. A plan's `Boot` groups become drbook's groups, in order,
//! each item named as the read model names it (its friendly name); script
//! and Automation runbook actions become named steps, manual actions manual
//! steps. What drbook's plans cannot say is kept as close as the order
//! allows and reported as a note: ASR's `Shutdown` and `Failover` groups
//! (and a `Boot` group without VMs) hold no VMs in drbook, so their actions
//! run before the next group with VMs; an action ASR runs only for some
//! failover types or directions runs in every job of a drbook plan.

use crate::error::ArmError;
use crate::fabric_impl::AzureFabric;
use crate::wire;
use chrono::Utc;
use drbook_core::fabric::{FabricError, ProtectedItem};
use drbook_core::plan::{Group, RecoveryPlan, Step};
use std::collections::HashMap;

/// A recovery plan read as a drbook plan, with what the reading changed.
#[derive(Debug, Clone)]
pub struct Imported {
    pub plan: RecoveryPlan,
    /// One line per action moved, restricted or of an unknown kind, and per
    /// named step (what Site Recovery ran for it).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "`{0}` cannot be the name of a recovery plan (it is one segment of a URL: no `/`, `?`, \
         `#` or `%`); give the plan's name as the portal lists it"
    )]
    BadName(String),
    #[error(
        "there is no recovery plan `{name}` in the vault {vault}; {}",
        plan_list(plans)
    )]
    NotFound {
        name: String,
        vault: String,
        plans: Vec<String>,
    },
    #[error(
        "recovery plan `{plan}` names protected items that are not among the vault's protected \
         items:{}\nremove them from the plan in Site Recovery, or protect them again; \
         `drbook fabric show` lists the vault's items",
        items.iter().map(|i| format!("\n  - {i}")).collect::<String>()
    )]
    UnknownItems { plan: String, items: Vec<String> },
    #[error(
        "recovery plan `{plan}`: {} protected items of the vault are named `{name}` ({}); drbook \
         names VMs by their friendly names, so rename one or protect it in another vault",
        ids.len(),
        ids.join(", ")
    )]
    AmbiguousName {
        plan: String,
        name: String,
        ids: Vec<String>,
    },
    #[error(
        "recovery plan `{plan}` has no VM in its boot groups, so there is nothing to fail over; \
         add protected items to it in Site Recovery"
    )]
    NoVms { plan: String },
    #[error(
        "recovery plan `{plan}`: its VMs replicate between different regions ({}); a drbook plan \
         fails over between two regions: split it into one plan per pair of regions",
        pairs.join("; ")
    )]
    MixedRegions { plan: String, pairs: Vec<String> },
    #[error(transparent)]
    Fabric(#[from] FabricError),
}

fn plan_list(plans: &[String]) -> String {
    if plans.is_empty() {
        "the vault has no recovery plans".to_string()
    } else {
        format!("its plans: {}", plans.join(", "))
    }
}

/// The failover types a drbook job can be, as ASR names them.
const JOB_TYPES: [&str; 3] = ["PlannedFailover", "UnplannedFailover", "TestFailover"];
const DIRECTIONS: [&str; 2] = ["PrimaryToRecovery", "RecoveryToPrimary"];

/// `plan` as a drbook plan, its items named after `items` (the vault's
/// protected items as the read model reads them).
pub fn import(plan: &wire::RecoveryPlan, items: &[ProtectedItem]) -> Result<Imported, ImportError> {
    let mut by_id: HashMap<String, &ProtectedItem> = HashMap::new();
    let mut by_name: HashMap<String, Vec<&ProtectedItem>> = HashMap::new();
    for item in items {
        by_id.insert(item.id.to_ascii_lowercase(), item);
        by_name
            .entry(item.name.to_ascii_lowercase())
            .or_default()
            .push(item);
    }
    let mut notes = Vec::new();
    let mut unknown = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    // Actions of groups without VMs, for the next group with VMs.
    let mut pending: Vec<Step> = Vec::new();
    let mut members: Vec<&ProtectedItem> = Vec::new();
    for (index, raw) in plan.properties.groups.iter().enumerate() {
        let kind = raw.group_type.as_deref().unwrap_or("Boot");
        let label = format!("{kind} group (group {} of the plan)", index + 1);
        let boot = kind.eq_ignore_ascii_case("Boot");
        let mut vms = Vec::new();
        for member in raw.replication_protected_items.iter().filter(|_| boot) {
            let id = member.id.clone().unwrap_or_default();
            match by_id.get(&id.to_ascii_lowercase()) {
                Some(item) => {
                    vms.push(item.name.clone());
                    members.push(item);
                }
                None => unknown.push(format!(
                    "{id} ({label}{})",
                    member
                        .virtual_machine_id
                        .as_deref()
                        .map(|vm| format!(", virtualMachineId {vm}"))
                        .unwrap_or_default()
                )),
            }
        }
        let name = format!("group-{}", groups.len() + 1);
        let mut steps = |actions: &[wire::RecoveryPlanAction], at: &str| -> Vec<Step> {
            actions
                .iter()
                .enumerate()
                .map(|(i, action)| step(action, &format!("{at} {} of {label}", i + 1), &mut notes))
                .collect()
        };
        let start = steps(&raw.start_group_actions, "start action");
        let end = steps(&raw.end_group_actions, "end action");
        if vms.is_empty() {
            if !start.is_empty() || !end.is_empty() {
                notes.push(format!(
                    "the actions of the {label} run before the next group with VMs: drbook's \
                     groups hold VMs"
                ));
            }
            pending.extend(start);
            pending.extend(end);
            continue;
        }
        let mut pre = std::mem::take(&mut pending);
        pre.extend(start);
        groups.push(Group {
            name,
            vms,
            pre,
            post: end,
            rto: None,
            rpo: None,
        });
    }
    if !unknown.is_empty() {
        return Err(ImportError::UnknownItems {
            plan: plan.name.clone(),
            items: unknown,
        });
    }
    let Some(last) = groups.last_mut() else {
        return Err(ImportError::NoVms {
            plan: plan.name.clone(),
        });
    };
    if !pending.is_empty() {
        notes.push(format!(
            "the actions after the last group with VMs run after group `{}`",
            last.name
        ));
        last.post.append(&mut pending);
    }
    for item in &members {
        if let Some(same) = by_name.get(&item.name.to_ascii_lowercase()) {
            if same.len() > 1 {
                return Err(ImportError::AmbiguousName {
                    plan: plan.name.clone(),
                    name: item.name.clone(),
                    ids: same.iter().map(|i| i.id.clone()).collect(),
                });
            }
        }
    }
    let mut pairs: Vec<(&str, &str)> = members
        .iter()
        .map(|i| (i.primary_region.as_str(), i.recovery_region.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup_by(|a, b| a.0.eq_ignore_ascii_case(b.0) && a.1.eq_ignore_ascii_case(b.1));
    let [(primary, recovery)] = pairs[..] else {
        return Err(ImportError::MixedRegions {
            plan: plan.name.clone(),
            pairs: pairs.iter().map(|(p, r)| format!("{p} → {r}")).collect(),
        });
    };
    Ok(Imported {
        plan: RecoveryPlan {
            name: plan.name.clone(),
            primary_region: primary.to_string(),
            recovery_region: recovery.to_string(),
            groups,
            scope: Default::default(),
            rto: None,
            rpo: None,
        },
        notes,
    })
}

/// One action as a step; `at` says where it is, for the notes.
fn step(action: &wire::RecoveryPlanAction, at: &str, notes: &mut Vec<String>) -> Step {
    let details = &action.custom_details;
    let name = match action.action_name.trim() {
        "" => format!("action-{}", at.replace(' ', "-")),
        name => name.to_string(),
    };
    let types: Vec<&str> = JOB_TYPES
        .into_iter()
        .filter(|t| !has(&action.failover_types, t))
        .collect();
    let directions: Vec<&str> = DIRECTIONS
        .into_iter()
        .filter(|d| !has(&action.failover_directions, d))
        .collect();
    if !types.is_empty() || !directions.is_empty() {
        notes.push(format!(
            "`{name}` ({at}) does not run in Site Recovery for {}: drbook runs it in every job \
             of the plan, so have the runbook skip it there",
            types
                .iter()
                .chain(&directions)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let what = match details.instance_type.as_str() {
        "ManualActionDetails" => {
            let prompt = details
                .description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| name.clone());
            return Step {
                name,
                manual: Some(prompt),
            };
        }
        "AutomationRunbookActionDetails" => format!(
            "the Automation runbook {}",
            details.runbook_id.as_deref().unwrap_or("(no runbookId)")
        ),
        "ScriptActionDetails" => format!(
            "the script {}",
            details.path.as_deref().unwrap_or("(no path)")
        ),
        other => format!("an action of a kind this version does not know (`{other}`)"),
    };
    notes.push(format!(
        "`{name}` ({at}) ran {what} in Site Recovery: a named step here, which the runbook carries out"
    ));
    Step { name, manual: None }
}

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v.eq_ignore_ascii_case(value))
}

impl AzureFabric {
    /// `replicationRecoveryPlans/{name}` read as a drbook plan, its items
    /// named after the vault's protected items.
    pub async fn import_plan(&self, name: &str) -> Result<Imported, ImportError> {
        if !crate::fabric_impl::is_segment(name) {
            return Err(ImportError::BadName(name.to_string()));
        }
        let path = format!("{}/replicationRecoveryPlans/{name}", self.vault_path());
        let plan: wire::RecoveryPlan = match self.arm().get_json(&path).await {
            Ok(plan) => plan,
            Err(e) if e.status() == Some(404) => {
                let plans: Vec<wire::RecoveryPlan> = self
                    .arm()
                    .list(&format!("{}/replicationRecoveryPlans", self.vault_path()))
                    .await
                    .map_err(ArmError::into_fabric)?;
                return Err(ImportError::NotFound {
                    name: name.to_string(),
                    vault: self.vault_path().to_string(),
                    plans: plans.into_iter().map(|p| p.name).collect(),
                });
            }
            Err(e) => return Err(e.into_fabric().into()),
        };
        let now = Utc::now();
        let items: Vec<ProtectedItem> = self
            .list_raw()
            .await?
            .iter()
            .map(|raw| crate::map::item(raw, &[], now))
            .collect();
        import(&plan, &items)
    }
}
