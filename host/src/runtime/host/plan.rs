//! `plan`: the job's recovery plan and inputs, and the webhook request and
//! alert that started it.

use crate::runtime::bindings::plan::{
    self, Alert, Group, JobContext, MonitorCondition, RecoveryPlan, Severity, SignalType, Step,
    WebhookData,
};
use crate::runtime::events::JobEvent;
use crate::runtime::state::InstanceState;
use crate::serve;

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
            webhook: spec.webhook.as_ref().map(|w| WebhookData {
                name: w.name.clone(),
                body: w.body.clone(),
                headers: w.headers.clone(),
            }),
            alert: spec.alert.as_ref().map(alert),
        })
    }
}

fn alert(a: &serve::Alert) -> Alert {
    let millis = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis().max(0) as u64;
    Alert {
        alert_id: a.alert_id.clone(),
        alert_rule: a.alert_rule.clone(),
        severity: match a.severity {
            serve::Severity::Sev0 => Severity::Sev0,
            serve::Severity::Sev1 => Severity::Sev1,
            serve::Severity::Sev2 => Severity::Sev2,
            serve::Severity::Sev3 => Severity::Sev3,
            serve::Severity::Sev4 => Severity::Sev4,
        },
        signal_type: match a.signal_type {
            serve::SignalType::Metric => SignalType::Metric,
            serve::SignalType::Log => SignalType::Log,
            serve::SignalType::ActivityLog => SignalType::ActivityLog,
        },
        monitor_condition: match a.monitor_condition {
            serve::MonitorCondition::Fired => MonitorCondition::Fired,
            serve::MonitorCondition::Resolved => MonitorCondition::Resolved,
        },
        monitoring_service: a.monitoring_service.clone(),
        target_ids: a.target_ids.clone(),
        fired_time: millis(a.fired),
        resolved_time: a.resolved.map(millis),
        description: a.description.clone().unwrap_or_default(),
    }
}

fn step(s: &crate::plan::Step) -> Step {
    Step {
        name: s.name.clone(),
        manual: s.manual.clone(),
    }
}
