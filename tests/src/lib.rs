//! Shared helpers of drbook's integration tests and benchmarks, and the paths
//! of the guests that `build.rs` built.

/// Paths of the built runbooks and test guests.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// Estates, plans and job specs the benchmarks build.
pub mod fixtures {
    use drbook_core::fabric::Direction;
    use drbook_core::job::JobSpec;
    use drbook_core::plan::{FailoverType, Group, RecoveryPlan};
    use drbook_fabric_sim::Estate;

    pub const PRIMARY: &str = "eastus";
    pub const RECOVERY: &str = "westus";

    /// An estate of `vms` (128 GB disks) replicating `PRIMARY` → `RECOVERY`.
    pub fn estate(vms: impl IntoIterator<Item = String>) -> Estate {
        Estate::replicating(PRIMARY, RECOVERY, vms)
    }

    /// A plan `PRIMARY` → `RECOVERY` with one group, `all`, of `vms`.
    pub fn one_group_plan(name: &str, vms: Vec<String>) -> RecoveryPlan {
        RecoveryPlan {
            name: name.to_string(),
            primary_region: PRIMARY.to_string(),
            recovery_region: RECOVERY.to_string(),
            groups: vec![Group {
                name: "all".to_string(),
                vms,
                pre: Vec::new(),
                post: Vec::new(),
                rto: None,
                rpo: None,
            }],
            scope: Default::default(),
            rto: None,
            rpo: None,
        }
    }

    /// A planned, primary-to-recovery job spec; built through serde so that
    /// fields added to `JobSpec` later (all optional) take their defaults.
    pub fn job_spec(id: &str, plan: &RecoveryPlan, parameters: &[(&str, String)]) -> JobSpec {
        let parameters: std::collections::BTreeMap<&str, &str> =
            parameters.iter().map(|(k, v)| (*k, v.as_str())).collect();
        serde_json::from_value(serde_json::json!({
            "jobId": id,
            "plan": plan,
            "failoverType": FailoverType::Planned,
            "direction": Direction::PrimaryToRecovery,
            "parameters": parameters,
        }))
        .expect("a valid job spec")
    }
}
