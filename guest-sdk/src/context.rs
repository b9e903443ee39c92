//! The job a runbook runs in: its recovery plan, failover type, direction
//! and inputs, its recovery objectives, and the webhook request and alert
//! that started it.

use std::cell::OnceCell;
use std::time::Duration;

use crate::bindings::drbook::runbook::plan;
use crate::fabric::{Direction, FailoverType};

pub use plan::{
    Alert, Group, GroupObjective, MonitorCondition, Objective, PlanObjectives, Severity,
    SignalType, Step, WebhookData,
};

/// The context of this job; read once when the job starts.
pub struct Context {
    raw: plan::JobContext,
    /// Read on first use, so that a runbook that never asks for its
    /// objectives does not import `plan.objectives`.
    objectives: OnceCell<PlanObjectives>,
}

impl Context {
    pub(crate) fn get() -> Self {
        Context {
            raw: plan::context(),
            objectives: OnceCell::new(),
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

    /// The plan's recovery objectives: its own and each group's (the
    /// group's where the plan file sets one, else the plan's). The
    /// evidence report holds every VM to them whatever the runbook does;
    /// a runbook reads them to act on them, e.g. to log what it must meet:
    ///
    /// ```no_run
    /// # use drbook_sdk::prelude::*;
    /// # fn run(ctx: &Context) -> Result<String> {
    /// if let Some(rto) = ctx.objectives().plan.rto() {
    ///     output!("plan `{}` must be up within {}s", ctx.plan_name(), rto.as_secs());
    /// }
    /// # Ok(String::new()) }
    /// ```
    pub fn objectives(&self) -> &PlanObjectives {
        self.objectives.get_or_init(plan::objectives)
    }

    /// The objectives that hold for the VMs of the group named `group`
    /// (compared exactly, as the plan names it); the plan's own for a name
    /// that is not one of its groups.
    pub fn objectives_of(&self, group: &str) -> Objective {
        let all = self.objectives();
        all.groups
            .iter()
            .find(|g| g.group == group)
            .map_or(all.plan, |g| g.objective)
    }

    /// Every VM of the plan, in boot order.
    pub fn vms(&self) -> impl Iterator<Item = &str> {
        self.groups()
            .iter()
            .flat_map(|g| g.vms.iter().map(String::as_str))
    }
}

impl Objective {
    /// The recovery time objective: every VM it holds for up within it of
    /// the job's start; `None` when the plan sets none.
    pub fn rto(&self) -> Option<Duration> {
        self.rto_seconds.map(Duration::from_secs)
    }

    /// The recovery point objective: the most data a failover may lose;
    /// `None` when the plan sets none.
    pub fn rpo(&self) -> Option<Duration> {
        self.rpo_seconds.map(Duration::from_secs)
    }
}
