//! `plan`: the job's recovery plan and inputs, and the webhook request and
//! alert that started it.

use crate::bindings::plan::{
    self, Alert, Group, GroupObjective, JobContext, MonitorCondition, Objective, PlanObjectives,
    RecoveryPlan, Severity, SignalType, Step, WebhookData,
};
use crate::events::JobEvent;
use crate::state::InstanceState;
use drbook_core::alert as model;

impl plan::Host for InstanceState {
    async fn context(&mut self) -> wasmtime::Result<JobContext> {
        let spec = &self.spec;
        self.live.observer.notify(&JobEvent::Started {
            job_id: spec.job_id.clone(),
        });
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
            webhook: spec.trigger.webhook().map(|w| WebhookData {
                name: w.name.clone(),
                body: w.body.clone(),
                headers: w.headers.clone(),
            }),
            alert: spec.trigger.alert().map(alert),
        })
    }

    /// The plan is the job's, kept with it: the reply is the same on every
    /// call and in every run of the job, so it needs no journal entry.
    async fn objectives(&mut self) -> wasmtime::Result<PlanObjectives> {
        let plan = &self.spec.plan;
        Ok(PlanObjectives {
            plan: objective(plan.own_objectives()),
            groups: plan
                .groups
                .iter()
                .map(|g| GroupObjective {
                    group: g.name.clone(),
                    objective: objective(plan.group_objectives(g)),
                })
                .collect(),
        })
    }
}

fn objective(o: drbook_core::plan::Objectives) -> Objective {
    Objective {
        rto_seconds: o.rto.map(|o| o.as_secs()),
        rpo_seconds: o.rpo.map(|o| o.as_secs()),
    }
}

fn alert(a: &model::Alert) -> Alert {
    let millis = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis().max(0) as u64;
    Alert {
        alert_id: a.alert_id.clone(),
        alert_rule: a.alert_rule.clone(),
        severity: match a.severity {
            model::Severity::Sev0 => Severity::Sev0,
            model::Severity::Sev1 => Severity::Sev1,
            model::Severity::Sev2 => Severity::Sev2,
            model::Severity::Sev3 => Severity::Sev3,
            model::Severity::Sev4 => Severity::Sev4,
            model::Severity::Unknown => Severity::Unknown,
        },
        signal_type: match a.signal_type {
            model::SignalType::Metric => SignalType::Metric,
            model::SignalType::Log => SignalType::Log,
            model::SignalType::ActivityLog => SignalType::ActivityLog,
            model::SignalType::Unknown => SignalType::Unknown,
        },
        monitor_condition: match a.monitor_condition {
            model::MonitorCondition::Fired => MonitorCondition::Fired,
            model::MonitorCondition::Resolved => MonitorCondition::Resolved,
            model::MonitorCondition::Unknown => MonitorCondition::Unknown,
        },
        monitoring_service: a.monitoring_service.clone(),
        target_ids: a.target_ids.clone(),
        fired_time: millis(a.fired),
        resolved_time: a.resolved.map(millis),
        description: a.description.clone().unwrap_or_default(),
    }
}

fn step(s: &drbook_core::plan::Step) -> Step {
    Step {
        name: s.name.clone(),
        manual: s.manual.clone(),
    }
}
