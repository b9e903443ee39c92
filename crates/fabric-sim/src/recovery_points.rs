//! Recovery points, derived rather than stored: a replication knows when it
//! started and how often points appear, so the points at any instant follow
//! from the clock. This keeps the store small (no row per point) and makes RPO
//! grow between points and drop when one appears, exactly as the clock says.

use chrono::{DateTime, Duration, Utc};
use drbook_core::fabric::{RecoveryPoint, RecoveryPointChoice, RecoveryPointType};
use serde::{Deserialize, Serialize};

use super::profile::Schedule;
use drbook_core::fabric::Location;

/// A running (or, during a failover, frozen) replication of one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replication {
    /// The side data is copied from: where the VM runs.
    pub source: Location,
    /// Counts replications of the item, so that point ids never repeat.
    pub generation: u32,
    /// The first point (the end of the initial sync) is taken at this time.
    pub since: DateTime<Utc>,
    pub interval_ms: i64,
    pub app_consistent_every: u32,
    pub window: u32,
    /// Set while a failover is under way or pending commit: no new points.
    pub frozen_at: Option<DateTime<Utc>>,
    /// Points taken before `since` that the schedule cannot derive: a live
    /// estate's, with their own ids and times, when a dry run loads it
    /// (`snapshot`). Oldest first; they age out of the window like the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imported: Vec<RecoveryPoint>,
}

impl Replication {
    pub fn new(
        source: Location,
        generation: u32,
        since: DateTime<Utc>,
        interval: Duration,
        schedule: &Schedule,
    ) -> Self {
        Replication {
            source,
            generation,
            since,
            interval_ms: interval.num_milliseconds().max(1),
            app_consistent_every: schedule.app_consistent_every.max(1),
            window: schedule.window.max(1),
            frozen_at: None,
            imported: Vec::new(),
        }
    }

    /// Whether new points still appear (it is neither frozen nor gone).
    pub fn is_live(&self) -> bool {
        self.frozen_at.is_none()
    }

    /// The points that exist at `now`, oldest first.
    pub fn points(&self, now: DateTime<Utc>) -> Vec<RecoveryPoint> {
        let until = self.frozen_at.map_or(now, |frozen| frozen.min(now));
        let elapsed = (until - self.since).num_milliseconds();
        let derived = if elapsed < 0 {
            0..0
        } else {
            let newest = elapsed / self.interval_ms;
            (newest - i64::from(self.window) + 1).max(0)..newest + 1
        };
        let mut points: Vec<RecoveryPoint> = self
            .imported
            .iter()
            .filter(|p| p.recovery_point_time <= until)
            .cloned()
            .chain(derived.map(|k| self.point(k)))
            .collect();
        let aged = points.len().saturating_sub(self.window as usize);
        points.drain(..aged);
        points
    }

    fn point(&self, k: i64) -> RecoveryPoint {
        let recovery_point_type = if k % i64::from(self.app_consistent_every) == 0 {
            RecoveryPointType::ApplicationConsistent
        } else {
            RecoveryPointType::CrashConsistent
        };
        RecoveryPoint {
            id: format!("rp-{}-{k}", self.generation),
            recovery_point_time: self.since + Duration::milliseconds(k * self.interval_ms),
            recovery_point_type,
        }
    }
}

/// The point a failover restores from. `Latest` and `LatestProcessed` both take
/// the newest point; `Latest` costs more time (see the profile).
pub fn choose<'a>(
    points: &'a [RecoveryPoint],
    choice: &RecoveryPointChoice,
) -> Option<&'a RecoveryPoint> {
    let newest_of =
        |kind: RecoveryPointType| points.iter().rev().find(|p| p.recovery_point_type == kind);
    match choice {
        RecoveryPointChoice::Latest | RecoveryPointChoice::LatestProcessed => points.last(),
        RecoveryPointChoice::LatestApplicationConsistent => {
            newest_of(RecoveryPointType::ApplicationConsistent)
        }
        RecoveryPointChoice::LatestCrashConsistent => newest_of(RecoveryPointType::CrashConsistent),
        RecoveryPointChoice::Id(id) => points.iter().find(|p| &p.id == id),
    }
}
