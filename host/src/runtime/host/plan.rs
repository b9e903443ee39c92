//! `plan`: the job's recovery plan and inputs.

use crate::runtime::bindings::plan::{self, Group, JobContext, RecoveryPlan, Step};
use crate::runtime::state::InstanceState;

impl plan::Host for InstanceState {
    async fn context(&mut self) -> wasmtime::Result<JobContext> {
        let spec = &self.spec;
        let groups = spec
            .plan
            .groups
            .iter()
            .map(|g| Group {
                name: g.name.clone(),
                vms: g.vms.clone(),
                pre: g.pre.iter().map(step).collect(),
                post: g.post.iter().map(step).collect(),
            })
            .collect();
        Ok(JobContext {
            job_id: spec.job_id.clone(),
            plan: RecoveryPlan {
                name: spec.plan.name.clone(),
                primary_region: spec.plan.primary_region.clone(),
                recovery_region: spec.plan.recovery_region.clone(),
                groups,
            },
            failover_type: spec.failover_type.into(),
            direction: spec.direction.into(),
            parameters: spec
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

fn step(s: &crate::plan::Step) -> Step {
    Step {
        name: s.name.clone(),
        manual: s.manual.clone(),
    }
}
