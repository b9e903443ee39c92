//! How fast simulated time runs. Durations in the profile are Azure's
//! (simulated); the speed turns them into real time, so that a demo can run a
//! two-hour reprotect in seconds and a test can run it in no time at all.

use chrono::Duration;
use std::fmt;
use std::str::FromStr;

/// `instant` (every operation ends the moment it starts) or a factor: `600`
/// runs ten simulated minutes per real second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Instant,
    Factor(f64),
}

impl Default for Speed {
    fn default() -> Self {
        Speed::Factor(1.0)
    }
}

impl Speed {
    /// The real time a simulated duration takes at this speed.
    pub fn real(self, simulated: Duration) -> Duration {
        match self {
            Speed::Instant => Duration::zero(),
            Speed::Factor(factor) => {
                let micros = simulated.num_microseconds().unwrap_or(i64::MAX) as f64 / factor;
                Duration::microseconds(micros.round() as i64)
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid speed `{0}`: use `instant` or a positive factor such as `600` (ten simulated minutes per second)")]
pub struct SpeedError(String);

impl FromStr for Speed {
    type Err = SpeedError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("instant") {
            return Ok(Speed::Instant);
        }
        match s.parse::<f64>() {
            Ok(factor) if factor.is_finite() && factor > 0.0 => Ok(Speed::Factor(factor)),
            _ => Err(SpeedError(s.to_string())),
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::Instant => f.write_str("instant"),
            Speed::Factor(factor) => write!(f, "{factor}"),
        }
    }
}
