//! Reading a plan file and checking what needs no fabric: every group named
//! once and not empty, every VM in exactly one group.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

use super::objectives::{Objective, Objectives};
use crate::scope::Grant;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryPlan {
    pub name: String,
    pub primary_region: String,
    pub recovery_region: String,
    /// In boot order.
    pub groups: Vec<Group>,
    /// What its jobs may do beyond their default scope (`[scope]`: VMs
    /// outside the groups, operations beyond a job's failover type); see
    /// [`crate::scope`].
    #[serde(default, skip_serializing_if = "Grant::is_empty")]
    pub scope: Grant,
    /// The recovery time objective: every VM up within it of the job's
    /// start. A group's own `rto` holds for its VMs instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<Objective>,
    /// The recovery point objective: the most data a failover may lose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<Objective>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub name: String,
    pub vms: Vec<String>,
    /// Steps the runbook runs before the group fails over.
    #[serde(default)]
    pub pre: Vec<Step>,
    /// Steps the runbook runs after every VM of the group is up.
    #[serde(default)]
    pub post: Vec<Step>,
    /// This group's RTO (from the job's start), instead of the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<Objective>,
    /// This group's RPO, instead of the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<Objective>,
}

/// A step before or after a group: a name the runbook gives a meaning to
/// (`"check-databases"`), or a manual step that waits for a person
/// (`{ name = "switch-dns", manual = "Point DNS at westus, then approve" }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawStep")]
pub struct Step {
    pub name: String,
    /// The prompt of a manual step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawStep {
    Name(String),
    Full(FullStep),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullStep {
    name: String,
    #[serde(default)]
    manual: Option<String>,
}

impl From<RawStep> for Step {
    fn from(raw: RawStep) -> Self {
        match raw {
            RawStep::Name(name) => Step { name, manual: None },
            RawStep::Full(FullStep { name, manual }) => Step { name, manual },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("plan file {path} is not a valid recovery plan: {message}\nA plan has `name`, `primary_region`, `recovery_region` and `[[groups]]` tables with `name`, `vms` and optional `pre`/`post` step lists, an optional `[scope]` with `vms` and `operations` its jobs may also operate on, and optional `rto` and `rpo` objectives (durations such as \"30m\") on the plan and on groups; see `drbook fabric init --demo` for an example.")]
    Parse { path: String, message: String },
    #[error("plan `{plan}` is invalid:\n{}", bullet(problems))]
    Invalid { plan: String, problems: Vec<String> },
}

fn bullet(problems: &[String]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl RecoveryPlan {
    pub fn load(path: &Path) -> Result<Self, PlanError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: display.clone(),
            source,
        })?;
        Self::parse(&text, &display)
    }

    /// Parses a plan and checks its structure; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PlanError> {
        let plan: RecoveryPlan = toml::from_str(text).map_err(|e| PlanError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        let problems = plan.structural_problems();
        if problems.is_empty() {
            Ok(plan)
        } else {
            Err(PlanError::Invalid {
                plan: plan.name,
                problems,
            })
        }
    }

    fn structural_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() {
            problems.push("the plan has no name; set `name = \"...\"`".to_string());
        }
        if self.primary_region == self.recovery_region {
            problems.push(format!(
                "primary and recovery region are both `{}`; a plan fails over between two regions",
                self.primary_region
            ));
        }
        if self.groups.is_empty() {
            problems.push(
                "the plan has no groups; add at least one `[[groups]]` with `name` and `vms`"
                    .to_string(),
            );
        }
        if self.rto == Some(Objective::from_secs(0)) {
            problems.push(
                "the plan's rto is 0s: no failover is instant; set the time its VMs must be up within, e.g. `rto = \"30m\"`"
                    .to_string(),
            );
        }
        let mut group_names: HashMap<&str, usize> = HashMap::new();
        let mut vm_groups: HashMap<String, &str> = HashMap::new();
        for (index, group) in self.groups.iter().enumerate() {
            if group.name.trim().is_empty() {
                problems.push(format!("group {} has no name", index + 1));
            }
            if let Some(first) = group_names.insert(&group.name, index) {
                problems.push(format!(
                    "group name `{}` is used by groups {} and {}; give each group its own name",
                    group.name,
                    first + 1,
                    index + 1
                ));
            }
            if let Some(problem) = self.group_rto_problem(group) {
                problems.push(problem);
            }
            if group.vms.is_empty() {
                problems.push(format!(
                    "group `{}` has no VMs; add VMs to it or remove it",
                    group.name
                ));
            }
            for vm in &group.vms {
                if let Some(first) = vm_groups.insert(vm.to_ascii_lowercase(), &group.name) {
                    problems.push(format!(
                        "VM `{vm}` is in groups `{first}` and `{}`; a VM belongs to exactly one group of a plan",
                        group.name
                    ));
                }
            }
        }
        problems
    }

    /// A group's RTO that cannot hold: zero, or longer than the plan's (the
    /// plan's RTO is when its last VM is up, so no group may take longer).
    fn group_rto_problem(&self, group: &Group) -> Option<String> {
        let rto = group.rto?;
        if rto.as_secs() == 0 {
            return Some(format!(
                "group `{}` has rto 0s: no failover is instant; set the time its VMs must be up within, e.g. `rto = \"30m\"`",
                group.name
            ));
        }
        match self.rto {
            Some(plan) if rto > plan => Some(format!(
                "group `{}` has rto {rto}, longer than the plan's {plan}: the plan's RTO is when its last VM is up, \
                 so lower the group's or raise the plan's",
                group.name
            )),
            _ => None,
        }
    }

    /// The objectives that hold for `vm`: its group's, else the plan's.
    pub fn objectives_of(&self, vm: &str) -> Objectives {
        match self.group_of(vm) {
            Some(group) => self.group_objectives(group),
            None => self.own_objectives(),
        }
    }

    /// The objectives that hold for `group`'s VMs: its own, else the plan's.
    pub fn group_objectives(&self, group: &Group) -> Objectives {
        Objectives {
            rto: group.rto.or(self.rto),
            rpo: group.rpo.or(self.rpo),
        }
    }

    /// The plan's own objectives (its file's top-level `rto` and `rpo`).
    pub fn own_objectives(&self) -> Objectives {
        Objectives {
            rto: self.rto,
            rpo: self.rpo,
        }
    }

    /// Every VM of the plan, in boot order.
    pub fn vms(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .flat_map(|g| g.vms.iter().map(String::as_str))
    }

    /// The group a VM belongs to.
    pub fn group_of(&self, vm: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.vms.iter().any(|v| v.eq_ignore_ascii_case(vm)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "app"
primary_region = "eastus"
recovery_region = "westus"

[[groups]]
name = "db"
vms = ["sql-01", "sql-02"]
post = ["check-db"]

[[groups]]
name = "web"
vms = ["web-01"]
pre = [{ name = "switch-dns", manual = "Point DNS at westus, then approve" }]
"#;

    #[test]
    fn parses_a_plan_in_order() {
        let plan = RecoveryPlan::parse(GOOD, "good.toml").unwrap();
        assert_eq!(plan.groups.len(), 2);
        assert_eq!(
            plan.groups[0].post,
            vec![Step {
                name: "check-db".into(),
                manual: None
            }]
        );
        assert_eq!(
            plan.vms().collect::<Vec<_>>(),
            vec!["sql-01", "sql-02", "web-01"]
        );
        assert_eq!(plan.group_of("WEB-01").unwrap().name, "web");
        assert_eq!(
            plan.groups[1].pre[0].manual.as_deref(),
            Some("Point DNS at westus, then approve")
        );
    }

    #[test]
    fn names_every_structural_problem() {
        let text = r#"
name = "bad"
primary_region = "eastus"
recovery_region = "eastus"
[[groups]]
name = "a"
vms = ["vm1"]
[[groups]]
name = "a"
vms = ["VM1"]
[[groups]]
name = "empty"
vms = []
"#;
        let err = RecoveryPlan::parse(text, "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("both `eastus`"), "{err}");
        assert!(
            err.contains("group name `a` is used by groups 1 and 2"),
            "{err}"
        );
        assert!(err.contains("VM `VM1` is in groups `a` and `a`"), "{err}");
        assert!(err.contains("group `empty` has no VMs"), "{err}");
    }

    #[test]
    fn rejects_unknown_fields_and_bad_toml() {
        let err = RecoveryPlan::parse("name = 1", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml is not a valid recovery plan"), "{err}");
        let err = RecoveryPlan::parse(&GOOD.replace("post =", "postt ="), "y.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `postt`"), "{err}");
    }

    #[test]
    fn objectives_hold_per_plan_and_per_group() {
        let text = GOOD
            .replace(
                "recovery_region = \"westus\"\n",
                "recovery_region = \"westus\"\nrto = \"1h\"\nrpo = \"15m\"\n",
            )
            .replace(
                "name = \"web\"\n",
                "name = \"web\"\nrto = \"30m\"\nrpo = \"5m\"\n",
            );
        let plan = RecoveryPlan::parse(&text, "objectives.toml").unwrap();
        let sql = plan.objectives_of("sql-01");
        assert_eq!(sql.rto.map(Objective::as_secs), Some(3600));
        assert_eq!(sql.rpo.map(Objective::as_secs), Some(900));
        let web = plan.objectives_of("WEB-01");
        assert_eq!(web.rto.map(Objective::as_secs), Some(1800));
        assert_eq!(web.rpo.map(Objective::as_secs), Some(300));
        // Written back as written, and read again as the same plan.
        let back = toml::to_string(&plan).unwrap();
        assert!(back.contains("rto = \"1h\""), "{back}");
        assert_eq!(RecoveryPlan::parse(&back, "back.toml").unwrap(), plan);
        // A plan without objectives has none, and writes none.
        let plain = RecoveryPlan::parse(GOOD, "good.toml").unwrap();
        assert_eq!(plain.objectives_of("sql-01"), Objectives::default());
        assert!(!toml::to_string(&plain).unwrap().contains("rto"));
    }

    #[test]
    fn bad_objectives_are_named_with_the_fix() {
        let err = RecoveryPlan::parse(
            &GOOD.replace("name = \"db\"\n", "name = \"db\"\nrpo = \"quarter hour\"\n"),
            "bad.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`quarter hour` is not a duration"), "{err}");
        assert!(err.contains("e.g. `90s`, `15m`"), "{err}");
        let text = GOOD
            .replace(
                "recovery_region = \"westus\"\n",
                "recovery_region = \"westus\"\nrto = \"30m\"\n",
            )
            .replace("name = \"web\"\n", "name = \"web\"\nrto = \"2h\"\n")
            .replace("name = \"db\"\n", "name = \"db\"\nrto = \"0s\"\n");
        let err = RecoveryPlan::parse(&text, "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("group `web` has rto 2h, longer than the plan's 30m"),
            "{err}"
        );
        assert!(err.contains("group `db` has rto 0s"), "{err}");
    }

    #[test]
    fn a_thousand_vms_in_fifty_groups_is_fine() {
        let mut text = String::from(
            "name = \"big\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n",
        );
        for g in 0..50 {
            let vms: Vec<String> = (0..20).map(|v| format!("\"vm-{g}-{v}\"")).collect();
            text.push_str(&format!(
                "[[groups]]\nname = \"g{g}\"\nvms = [{}]\n",
                vms.join(",")
            ));
        }
        let plan = RecoveryPlan::parse(&text, "big.toml").unwrap();
        assert_eq!(plan.vms().count(), 1000);
    }
}
