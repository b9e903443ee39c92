//! What a test sets up: the estate and its plan, the job's inputs, the
//! faults and the answers to approvals. It becomes the JSON document
//! `drbook runbook test --scenario` reads.

use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::host::{self, Error};
use crate::Outcome;

/// One job of the runbook on a small estate. Built with chained calls;
/// [`Scenario::run`] runs it.
#[derive(Debug, Clone)]
pub struct Scenario {
    primary: String,
    recovery: String,
    groups: Vec<Group>,
    failover_type: String,
    direction: String,
    params: BTreeMap<String, String>,
    faults: Vec<Value>,
    approvals: Vec<Value>,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    vms: Vec<String>,
    /// The prompts of its manual steps, run before the group fails over.
    manual: Vec<String>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    /// No VMs yet; VMs replicate `eastus` → `westus`; a planned failover,
    /// primary to recovery.
    pub fn new() -> Self {
        Scenario {
            primary: "eastus".to_string(),
            recovery: "westus".to_string(),
            groups: Vec::new(),
            failover_type: "planned".to_string(),
            direction: "primary-to-recovery".to_string(),
            params: BTreeMap::new(),
            faults: Vec::new(),
            approvals: Vec::new(),
        }
    }

    /// The regions every VM replicates between.
    pub fn regions(mut self, primary: &str, recovery: &str) -> Self {
        self.primary = primary.to_string();
        self.recovery = recovery.to_string();
        self
    }

    /// A group of the plan (groups fail over in the order added), and its
    /// VMs, each replicating and healthy.
    pub fn group<S: Into<String>>(mut self, name: &str, vms: impl IntoIterator<Item = S>) -> Self {
        self.groups.push(Group {
            name: name.to_string(),
            vms: vms.into_iter().map(Into::into).collect(),
            manual: Vec::new(),
        });
        self
    }

    /// A manual step before `group` fails over: the runbook asks for an
    /// approval with `prompt` (`drbook_sdk::run_plan` does), which the test
    /// answers with [`Scenario::approve`] or [`Scenario::reject`].
    pub fn manual_step(mut self, group: &str, prompt: &str) -> Self {
        match self.groups.iter_mut().find(|g| g.name == group) {
            Some(found) => found.manual.push(prompt.to_string()),
            None => panic!(
                "manual_step: no group `{group}` yet; add it with .group(\"{group}\", [...]) first"
            ),
        }
        self
    }

    /// The job's failover type: `planned` (the default), `unplanned` or `test`.
    pub fn failover_type(mut self, failover_type: &str) -> Self {
        self.failover_type = failover_type.to_string();
        self
    }

    /// The job's direction: `primary-to-recovery` (the default) or
    /// `recovery-to-primary`.
    pub fn direction(mut self, direction: &str) -> Self {
        self.direction = direction.to_string();
        self
    }

    /// An input of the job (`ctx.param(key)`).
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.params.insert(key.to_string(), value.to_string());
        self
    }

    /// The next operation started on `vm` fails.
    pub fn fail_next(self, vm: &str) -> Self {
        self.fault(json!({ "fail_next": vm }))
    }

    /// The next `times` starts on `vm` are refused as transient (Azure's
    /// throttling): what a runbook's `drbook_sdk::recovery::Retry` is
    /// tested against. Each refusal is in the final history.
    pub fn refuse_next(mut self, vm: &str, times: u32) -> Self {
        for _ in 0..times {
            self = self.fault(json!({ "refuse_next": vm }));
        }
        self
    }

    /// The next start on `vm` is refused for good, as Site Recovery refuses
    /// on a quota or a policy: the runbook sees `not-allowed`, which a
    /// retry does not try again.
    pub fn refuse_next_permanently(self, vm: &str) -> Self {
        self.fault(json!({ "refuse_next_permanently": vm }))
    }

    /// The next operation started on `vm` hangs (still in progress when
    /// the run ends): what a runbook's wait timeout is tested against.
    pub fn stall(self, vm: &str) -> Self {
        self.fault(json!({ "stall": vm }))
    }

    /// `region` is down: operations that need it are refused.
    pub fn region_down(self, region: &str) -> Self {
        self.fault(json!({ "region_down": region }))
    }

    /// `vm`'s replication health is critical.
    pub fn unhealthy(self, vm: &str) -> Self {
        self.fault(json!({ "unhealthy": vm }))
    }

    fn fault(mut self, fault: Value) -> Self {
        self.faults.push(fault);
        self
    }

    /// Approves the manual step whose prompt contains `prompt`, with
    /// `comment`. A step the test does not answer fails the run.
    pub fn approve(self, prompt: &str, comment: &str) -> Self {
        self.decision(prompt, true, comment)
    }

    /// Rejects the manual step whose prompt contains `prompt`.
    pub fn reject(self, prompt: &str, comment: &str) -> Self {
        self.decision(prompt, false, comment)
    }

    fn decision(mut self, prompt: &str, approved: bool, comment: &str) -> Self {
        self.approvals
            .push(json!({ "prompt": prompt, "approved": approved, "comment": comment }));
        self
    }

    /// The document `drbook runbook test --scenario` reads: an estate
    /// (`drbook fabric init --estate`'s), a plan (a plan file's), the job's
    /// inputs, the faults and the answers.
    pub fn to_json(&self) -> Value {
        let vms: Vec<Value> = self
            .groups
            .iter()
            .flat_map(|group| &group.vms)
            .map(|vm| {
                json!({
                    "name": vm,
                    "disk_size_gb": 128,
                    "primary_region": self.primary,
                    "recovery_region": self.recovery,
                })
            })
            .collect();
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|group| {
                let pre: Vec<Value> = group
                    .manual
                    .iter()
                    .enumerate()
                    .map(|(n, prompt)| json!({ "name": format!("manual-{}", n + 1), "manual": prompt }))
                    .collect();
                json!({ "name": group.name, "vms": group.vms, "pre": pre })
            })
            .collect();
        json!({
            "estate": { "regions": [self.primary, self.recovery], "vms": vms },
            "plan": {
                "name": "test-plan",
                "primary_region": self.primary,
                "recovery_region": self.recovery,
                "groups": groups,
            },
            "failover_type": self.failover_type,
            "direction": self.direction,
            "params": self.params,
            "faults": self.faults,
            "approvals": self.approvals,
        })
    }

    /// Builds the runbook (once per test binary) and runs the scenario;
    /// panics with the reason if it cannot run (a test's failure).
    pub fn run(&self) -> Outcome {
        self.try_run().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Scenario::run`], returning why it could not run instead of panicking.
    pub fn try_run(&self) -> Result<Outcome, Error> {
        host::run(&host::component()?, &self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_is_an_estate_a_plan_faults_and_answers() {
        let doc = Scenario::new()
            .regions("northeurope", "westeurope")
            .group("db", ["sql-01"])
            .group("web", ["web-01", "web-02"])
            .manual_step("web", "Switch DNS")
            .fail_next("web-02")
            .refuse_next("web-01", 2)
            .stall("sql-01")
            .region_down("northeurope")
            .unhealthy("sql-01")
            .approve("DNS", "done")
            .param("recovery-point", "latest")
            .failover_type("unplanned")
            .to_json();
        assert_eq!(
            doc["estate"]["regions"],
            json!(["northeurope", "westeurope"])
        );
        assert_eq!(doc["estate"]["vms"].as_array().unwrap().len(), 3);
        assert_eq!(doc["estate"]["vms"][2]["recovery_region"], "westeurope");
        assert_eq!(doc["plan"]["groups"][1]["vms"], json!(["web-01", "web-02"]));
        assert_eq!(doc["plan"]["groups"][1]["pre"][0]["manual"], "Switch DNS");
        assert_eq!(doc["plan"]["groups"][0]["pre"], json!([]));
        assert_eq!(
            doc["faults"],
            json!([
                { "fail_next": "web-02" },
                { "refuse_next": "web-01" },
                { "refuse_next": "web-01" },
                { "stall": "sql-01" },
                { "region_down": "northeurope" },
                { "unhealthy": "sql-01" }
            ])
        );
        assert_eq!(
            doc["approvals"][0],
            json!({ "prompt": "DNS", "approved": true, "comment": "done" })
        );
        assert_eq!(doc["params"]["recovery-point"], "latest");
        assert_eq!(doc["failover_type"], "unplanned");
    }

    #[test]
    #[should_panic(expected = "no group `web` yet")]
    fn a_manual_step_needs_its_group() {
        let _ = Scenario::new().manual_step("web", "Switch DNS");
    }
}
