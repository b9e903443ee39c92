//! Azure-like durations of the operations and the recovery-point schedule, in
//! simulated time. The speed turns them into real time when an operation
//! starts (or a replication begins), and the result is stored, so a process
//! opening the store later at another speed sees the same timeline.

use chrono::Duration;
use drbook_core::fabric::{OperationRequest, RecoveryPointChoice};
use drbook_core::TimeScale;

/// Simulated durations of the operations of §3.
#[derive(Debug, Clone)]
pub struct Profile {
    pub planned_failover: Duration,
    pub unplanned_failover: Duration,
    pub test_failover: Duration,
    /// Added to a failover that processes all pending data first (`Latest`).
    pub process_pending_data: Duration,
    pub test_failover_cleanup: Duration,
    pub commit: Duration,
    pub cancel_failover: Duration,
    pub change_recovery_point: Duration,
    /// Reprotect of an empty disk; grows linearly with the disk size...
    pub reprotect_min: Duration,
    /// ...up to this, reached at `reprotect_max_at_gb`.
    pub reprotect_max: Duration,
    pub reprotect_max_at_gb: u32,
    pub recovery_points: Schedule,
}

/// When recovery points appear: a crash-consistent point every
/// `crash_interval`, every `app_consistent_every`-th of them application
/// consistent, the newest `window` kept.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub crash_interval: Duration,
    pub app_consistent_every: u32,
    pub window: u32,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            planned_failover: Duration::minutes(4),
            unplanned_failover: Duration::minutes(3),
            test_failover: Duration::minutes(4),
            process_pending_data: Duration::minutes(2),
            test_failover_cleanup: Duration::minutes(1),
            commit: Duration::minutes(1),
            cancel_failover: Duration::minutes(2),
            change_recovery_point: Duration::minutes(2),
            reprotect_min: Duration::minutes(45),
            reprotect_max: Duration::hours(2),
            reprotect_max_at_gb: 2048,
            recovery_points: Schedule {
                crash_interval: Duration::minutes(5),
                app_consistent_every: 12,
                window: 24,
            },
        }
    }
}

impl Profile {
    /// The simulated duration of `request` on a VM with `disk_size_gb`.
    pub fn duration(&self, request: &OperationRequest, disk_size_gb: u32) -> Duration {
        let pending = |choice: &RecoveryPointChoice| match choice {
            RecoveryPointChoice::Latest => self.process_pending_data,
            _ => Duration::zero(),
        };
        match request {
            OperationRequest::PlannedFailover { .. } => self.planned_failover,
            OperationRequest::UnplannedFailover { recovery_point, .. } => {
                self.unplanned_failover + pending(recovery_point)
            }
            OperationRequest::TestFailover { recovery_point, .. } => {
                self.test_failover + pending(recovery_point)
            }
            OperationRequest::TestFailoverCleanup { .. } => self.test_failover_cleanup,
            OperationRequest::Commit => self.commit,
            OperationRequest::CancelFailover => self.cancel_failover,
            OperationRequest::ChangeRecoveryPoint { .. } => self.change_recovery_point,
            OperationRequest::Reprotect => {
                let share = f64::from(disk_size_gb.min(self.reprotect_max_at_gb))
                    / f64::from(self.reprotect_max_at_gb.max(1));
                let extra = (self.reprotect_max - self.reprotect_min).num_seconds() as f64 * share;
                self.reprotect_min + Duration::seconds(extra.round() as i64)
            }
        }
    }
}

impl Schedule {
    /// The real interval between crash-consistent points at `speed`. An
    /// `instant` fabric keeps the simulated interval: points cannot appear
    /// infinitely often, and tests move a manual clock by simulated minutes.
    pub fn real_interval(&self, speed: TimeScale) -> Duration {
        match speed {
            TimeScale::Instant => self.crash_interval,
            TimeScale::Factor(_) => speed
                .real(self.crash_interval)
                .max(Duration::milliseconds(1)),
        }
    }
}
