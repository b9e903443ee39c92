//! Recovering from a failed step without restarting the runbook: a retry
//! with backoff for the errors that pass by themselves, a timeout on a
//! wait, and going on with the other VMs when one fails.
//!
//! Which errors are worth retrying is the host's classification
//! ([`FabricError::is_transient`]: `busy` and `transient`), not the
//! runbook's guess. Every backoff and every poll of a timed wait sleeps on
//! the host's clock, which the job's journal keeps: a resumed job replays
//! the same attempts and sleeps and goes on where it stopped, and no wall
//! clock is read in the runbook.
//!
//! ```no_run
//! use std::time::Duration;
//! use drbook_sdk::prelude::*;
//! use drbook_sdk::recovery::{Recovery, Retry};
//!
//! drbook_sdk::runbook!(run);
//!
//! fn run(ctx: &Context) -> Result<String> {
//!     let recovery = Recovery::new()
//!         .retry(Retry::transient().attempts(3).backoff(Duration::from_secs(30)))
//!         .timeout(Duration::from_secs(30 * 60))
//!         .continue_on_error();
//!     recovery.run_plan(ctx, |group| Ok(recovery.failover_group(ctx, group)))
//! }
//! ```

use std::time::Duration;

use crate::fabric::{self, FabricError, Operation, OperationState, OperationStatus};
use crate::groups::{group_report, vm_outcome};
use crate::{clock, error, warning, Context, Error, Group, GroupReport, Result};

/// How often, and after how long, an operation's start is tried again.
///
/// A start the host answers with a transient error (`busy`, `transient`)
/// is tried again after a backoff that doubles each time, up to
/// [`max_backoff`](Retry::max_backoff); any other error, and the last
/// attempt's, is returned as is. Each attempt is a start of its own, so a
/// refused attempt started nothing and the fabric's audit trail shows it.
///
/// ```
/// use std::time::Duration;
/// use drbook_sdk::fabric::FabricError;
/// use drbook_sdk::recovery::Retry;
///
/// let retry = Retry::transient().attempts(4).backoff(Duration::from_secs(10));
/// assert_eq!(
///     retry.delays().collect::<Vec<_>>(),
///     [10, 20, 40].map(Duration::from_secs)
/// );
///
/// // A permanent refusal is returned at once: tried once, no backoff.
/// let mut tries = 0;
/// let refused: Result<(), _> = retry.run(|| {
///     tries += 1;
///     Err(FabricError::NotAllowed("planned failover is not allowed now".into()))
/// });
/// assert!(matches!(refused, Err(FabricError::NotAllowed(_))));
/// assert_eq!(tries, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
}

impl Retry {
    /// One attempt: what a start does without a retry.
    pub fn never() -> Self {
        Retry {
            attempts: 1,
            ..Retry::transient()
        }
    }

    /// Retries transient errors: 3 attempts, 30 s then 60 s apart (on the
    /// simulator's clock: scaled by its speed, as its operations are).
    pub fn transient() -> Self {
        Retry {
            attempts: 3,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(10 * 60),
        }
    }

    /// Attempts in all, the first included (at least 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The wait before the second attempt; each next one waits twice the
    /// previous, up to [`max_backoff`](Retry::max_backoff).
    pub fn backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// The longest wait between two attempts (10 minutes unless set).
    pub fn max_backoff(mut self, most: Duration) -> Self {
        self.max_backoff = most;
        self
    }

    /// The waits between attempts, in order: one fewer than the attempts.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        let (first, most) = (self.backoff, self.max_backoff);
        (0..self.attempts.saturating_sub(1))
            .map(move |n| first.saturating_mul(2u32.saturating_pow(n)).min(most))
    }

    /// Runs `start` until it succeeds, fails with an error that is not
    /// transient, or has had every attempt; between attempts it logs a
    /// warning and sleeps on the host's clock. The last attempt's transient
    /// error says how many were made.
    pub fn run<T>(
        &self,
        mut start: impl FnMut() -> Result<T, FabricError>,
    ) -> Result<T, FabricError> {
        let mut delays = self.delays();
        let mut attempt = 1;
        loop {
            let error = match start() {
                Ok(value) => return Ok(value),
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => e,
            };
            let Some(delay) = delays.next() else {
                return Err(error.after_attempts(attempt));
            };
            warning!(
                "attempt {attempt} of {} refused ({}); trying again in {}s",
                self.attempts,
                fabric::describe(&error),
                delay.as_secs()
            );
            clock::sleep(delay);
            attempt += 1;
        }
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry::never()
    }
}

impl FabricError {
    /// The same error, its message saying how many attempts were made.
    fn after_attempts(self, attempts: u32) -> Self {
        if attempts == 1 {
            return self;
        }
        let note = |m: String| format!("{m} (after {attempts} attempts)");
        match self {
            FabricError::Busy(m) => FabricError::Busy(note(m)),
            FabricError::Transient(m) => FabricError::Transient(note(m)),
            other => other,
        }
    }
}

/// How a runbook recovers from a failed step: the [`Retry`] of each start,
/// a timeout on each wait, and whether a VM that fails stops the plan.
/// `Recovery::new()` is what [`crate::run_group`] and [`crate::run_plan`]
/// do: one attempt, no timeout, stop at the first group that fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    retry: Retry,
    timeout: Option<Duration>,
    continue_on_error: bool,
}

impl Recovery {
    pub fn new() -> Self {
        Recovery::default()
    }

    /// Retries each VM's start as `retry` says.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Gives up waiting for a VM's operation after `timeout` (simulated
    /// time, as `clock.sleep` counts it), reporting that VM failed; its
    /// operation goes on in the fabric (`drbook fabric show`), as nothing
    /// here cancels it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A VM that fails (refused, failed, timed out) no longer stops the
    /// plan: it is recorded, the other VMs and the next groups go on, and
    /// [`run_plan`](Recovery::run_plan) fails at the end naming every VM
    /// that failed and why.
    pub fn continue_on_error(mut self) -> Self {
        self.continue_on_error = true;
        self
    }

    /// [`crate::run_group`], each start retried and each wait timed out as
    /// set.
    pub fn run_group(
        &self,
        group: &Group,
        action: &str,
        mut start: impl FnMut(&str) -> Result<Operation, FabricError>,
    ) -> GroupReport {
        let started: Vec<Result<Operation, FabricError>> = group
            .vms
            .iter()
            .map(|vm| self.retry.run(|| start(vm)))
            .collect();
        let operations: Vec<&Operation> = started.iter().flatten().collect();
        let mut statuses = wait(&operations, self.timeout).into_iter();
        let results = started
            .iter()
            .map(|start| match start {
                Ok(_) => statuses
                    .next()
                    .map(|status| vm_outcome(action, status))
                    .unwrap_or_else(|| Err(Error::new("never waited for"))),
                Err(e) => Err(Error::from(e.clone()).context(format!("cannot start {action}"))),
            })
            .collect();
        group_report(group, action, results)
    }

    /// [`crate::failover_group`], with this recovery.
    pub fn failover_group(&self, ctx: &Context, group: &Group) -> GroupReport {
        self.failover_group_in(ctx, group, ctx.direction())
    }

    /// [`crate::failover_group_in`], with this recovery.
    pub fn failover_group_in(
        &self,
        ctx: &Context,
        group: &Group,
        direction: fabric::Direction,
    ) -> GroupReport {
        crate::groups::failover_with(self, ctx, group, direction)
    }

    /// [`crate::run_plan`] where `body` reports what happened to each VM of
    /// the group. Without `continue_on_error` the plan stops at the first
    /// group with a failed VM; with it, every group runs and the job fails
    /// at the end, its error naming each VM that failed and why, and listing
    /// the groups whose every VM succeeded.
    pub fn run_plan(
        &self,
        ctx: &Context,
        mut body: impl FnMut(&Group) -> Result<GroupReport>,
    ) -> Result<String> {
        let mut failed: Vec<String> = Vec::new();
        let mut clean: Vec<String> = Vec::new();
        let summary = crate::run_plan(ctx, |group| {
            let report = body(group)?;
            if !self.continue_on_error {
                report.into_result()?;
                return Ok(());
            }
            let before = failed.len();
            for vm in report.failed() {
                if let Err(e) = &vm.result {
                    warning!("going on without `{}` ({}): {e}", vm.vm, group.name);
                    failed.push(format!("{}: {e}", vm.vm));
                }
            }
            if failed.len() == before {
                clean.push(group.name.clone());
            }
            Ok(())
        })?;
        if failed.is_empty() {
            return Ok(summary);
        }
        error!(
            "{} VM(s) failed while the others went on: {}",
            failed.len(),
            failed.join("; ")
        );
        Err(Error::new(format!(
            "plan `{}`: every group ran, {} VM(s) failed ({})",
            ctx.plan_name(),
            failed.len(),
            failed.join("; ")
        ))
        .with_completed(clean))
    }
}

/// Waits for `operations`, each at most `timeout` when one is set: the
/// results in the same order, a timed-out one as an error naming how far
/// it got. Without a timeout, one `wait-all`. With one, the statuses are
/// polled: every twentieth of the timeout (between 30 s and 5 min), so that
/// a wait costs the journal about twenty status reads per operation.
///
/// ```no_run
/// use std::time::Duration;
/// use drbook_sdk::fabric::{self, Direction};
/// use drbook_sdk::recovery::wait;
///
/// let op = fabric::planned_failover("web-01", Direction::PrimaryToRecovery).unwrap();
/// let statuses = wait(&[&op], Some(Duration::from_secs(15 * 60)));
/// ```
pub fn wait(
    operations: &[&Operation],
    timeout: Option<Duration>,
) -> Vec<Result<OperationStatus, Error>> {
    let Some(timeout) = timeout else {
        return fabric::wait_all(operations)
            .into_iter()
            .map(|status| status.map_err(Error::from))
            .collect();
    };
    let poll = (timeout / 20).clamp(Duration::from_secs(30), Duration::from_secs(5 * 60));
    let mut results: Vec<Option<Result<OperationStatus, Error>>> =
        operations.iter().map(|_| None).collect();
    let mut waited = Duration::ZERO;
    loop {
        for (op, result) in operations.iter().zip(results.iter_mut()) {
            if result.is_some() {
                continue;
            }
            match op.status() {
                Ok(s) if s.state == OperationState::InProgress && waited >= timeout => {
                    *result = Some(Err(Error::new(format!(
                        "timed out after {}s waiting for operation {} on `{}` ({}% done, still in progress)",
                        timeout.as_secs(),
                        s.id,
                        s.vm,
                        s.percent_complete
                    ))));
                }
                Ok(s) if s.state == OperationState::InProgress => {}
                other => *result = Some(other.map_err(Error::from)),
            }
        }
        if results.iter().all(Option::is_some) {
            return results.into_iter().flatten().collect();
        }
        let step = poll
            .min(timeout.saturating_sub(waited))
            .max(Duration::from_millis(1));
        clock::sleep(step);
        waited += step;
    }
}
