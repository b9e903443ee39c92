//! How fast time runs for a fabric that simulates it, and for the runbooks
//! driving it. Durations in the simulator's profile are Azure's; the scale
//! turns them into real time, so that a demo can run a two-hour reprotect in
//! seconds and a test in no time at all. A runbook's `clock.sleep` is scaled
//! the same way, so that its waits keep their proportion to the operations'.
//! Against a real fabric the scale is 1.

use chrono::Duration;
use std::fmt;
use std::str::FromStr;

/// `instant` (every operation ends the moment it starts) or a factor: `600`
/// runs ten simulated minutes per real second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeScale {
    Instant,
    Factor(f64),
}

impl Default for TimeScale {
    fn default() -> Self {
        TimeScale::Factor(1.0)
    }
}

impl TimeScale {
    /// The real time a simulated duration takes at this speed.
    pub fn real(self, simulated: Duration) -> Duration {
        match self {
            TimeScale::Instant => Duration::zero(),
            TimeScale::Factor(factor) => {
                let micros = simulated.num_microseconds().unwrap_or(i64::MAX) as f64 / factor;
                Duration::microseconds(micros.round() as i64)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid speed `{0}`: use `instant` or a positive factor such as `600` (ten simulated minutes per second)")]
pub struct TimeScaleError(String);

impl FromStr for TimeScale {
    type Err = TimeScaleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("instant") {
            return Ok(TimeScale::Instant);
        }
        match s.parse::<f64>() {
            Ok(factor) if factor.is_finite() && factor > 0.0 => Ok(TimeScale::Factor(factor)),
            _ => Err(TimeScaleError(s.to_string())),
        }
    }
}

impl fmt::Display for TimeScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeScale::Instant => f.write_str("instant"),
            TimeScale::Factor(factor) => write!(f, "{factor}"),
        }
    }
}
