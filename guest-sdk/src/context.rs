//! The job a runbook runs in: its recovery plan, failover type, direction
//! and inputs, and the webhook request and alert that started it.

use crate::bindings::drbook::runbook::plan;
use crate::fabric::{Direction, FailoverType};

pub use plan::{Alert, Group, MonitorCondition, Severity, SignalType, Step, WebhookData};

/// The context of this job; read once when the job starts.
pub struct Context {
    raw: plan::JobContext,
}

impl Context {
    pub(crate) fn get() -> Self {
        Context {
            raw: plan::context(),
        }
    }

    pub fn job_id(&self) -> &str {
        &self.raw.job_id
    }

    pub fn plan_name(&self) -> &str {
        &self.raw.plan.name
    }

    pub fn primary_region(&self) -> &str {
        &self.raw.plan.primary_region
    }

    pub fn recovery_region(&self) -> &str {
        &self.raw.plan.recovery_region
    }

    /// The plan's groups, in boot order.
    pub fn groups(&self) -> &[Group] {
        &self.raw.plan.groups
    }

    pub fn failover_type(&self) -> FailoverType {
        self.raw.failover_type
    }

    pub fn direction(&self) -> Direction {
        self.raw.direction
    }

    /// An input of the job (`--param key=value`).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.raw
            .parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// An input of the job, or `default` when it was not given.
    pub fn param_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.param(key).unwrap_or(default)
    }

    /// The request, when a webhook started this job (Azure's `WebhookData`).
    pub fn webhook(&self) -> Option<&WebhookData> {
        self.raw.webhook.as_ref()
    }

    /// The Azure Monitor alert that started this job, when the webhook's
    /// request carried one in the common alert schema. Its severity, signal
    /// type and condition may be `Unknown`: a value Azure sent that this
    /// version does not know; the value as sent is in the request body.
    pub fn alert(&self) -> Option<&Alert> {
        self.raw.alert.as_ref()
    }

    /// Every VM of the plan, in boot order.
    pub fn vms(&self) -> impl Iterator<Item = &str> {
        self.groups()
            .iter()
            .flat_map(|g| g.vms.iter().map(String::as_str))
    }
}
