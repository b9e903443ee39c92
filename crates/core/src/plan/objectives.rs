//! Recovery objectives: how long a plan may take to bring its VMs up (RTO)
//! and how much data it may lose (RPO), per plan and per group, as auditors
//! ask DR teams to prove them. Written as durations (`rto = "30m"`,
//! `rpo = "15m"`); a group's own objective overrides the plan's for its VMs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A recovery objective, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Objective(u64);

impl Objective {
    pub fn from_secs(seconds: u64) -> Self {
        Objective(seconds)
    }

    pub fn as_secs(self) -> u64 {
        self.0
    }

    /// Whether an achieved value (seconds) misses this objective.
    pub fn missed_by(self, achieved_seconds: f64) -> bool {
        achieved_seconds > self.0 as f64
    }
}

/// The units an objective is written in, largest first.
const UNITS: [(&str, u64); 4] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

/// An objective that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration; write a number and a unit (s, m, h, d), e.g. `90s`, `15m`, `4h` or `1h30m`")]
pub struct BadObjective(pub String);

impl std::str::FromStr for Objective {
    type Err = BadObjective;

    /// `90s`, `15m`, `4h`, `1d`, or several (`1h30m`); spaces between
    /// the parts are allowed.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadObjective(text.to_string());
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let (_, factor) = UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .ok_or_else(bad)?;
            total = number
                .checked_mul(*factor)
                .and_then(|part| total.checked_add(part))
                .ok_or_else(bad)?;
            rest = rest[unit_len..].trim_start();
        }
        Ok(Objective(total))
    }
}

impl fmt::Display for Objective {
    /// The shortest way to write it back: `15m`, `1h30m`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut left = self.0;
        for (unit, factor) in UNITS {
            if left >= factor {
                write!(f, "{}{unit}", left / factor)?;
                left %= factor;
            }
        }
        Ok(())
    }
}

impl Serialize for Objective {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Objective {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The objectives that hold for one VM: its group's, else its plan's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Objectives {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto: Option<Objective>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo: Option<Objective>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_read_and_write_back() {
        for (text, seconds, back) in [
            ("90s", 90, "1m30s"),
            ("15m", 900, "15m"),
            ("4h", 14_400, "4h"),
            ("1h30m", 5_400, "1h30m"),
            ("1h 30m", 5_400, "1h30m"),
            ("1d", 86_400, "1d"),
            ("0s", 0, "0s"),
        ] {
            let objective: Objective = text.parse().unwrap();
            assert_eq!(objective.as_secs(), seconds, "{text}");
            assert_eq!(objective.to_string(), back, "{text}");
        }
        for bad in [
            "",
            "15",
            "m",
            "15 minutes",
            "1.5h",
            "-1m",
            "99999999999999999999d",
        ] {
            let err = bad.parse::<Objective>().unwrap_err().to_string();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
        assert!(Objective::from_secs(60).missed_by(60.5));
        assert!(!Objective::from_secs(60).missed_by(60.0));
    }
}
