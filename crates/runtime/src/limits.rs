//! What one runbook instance may use: memory, wall-clock time and output. A
//! runbook is untrusted code; these bounds turn its excesses into failed jobs
//! with a readable reason instead of a host that runs out of anything.

use std::time::Duration;

/// The bounds of one job's runbook instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory of the instance, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time from the start of `run`, waits included.
    pub deadline: Duration,
    /// Bytes of streams (log lines, stdout, stderr) kept for the job; the rest
    /// is dropped and the job's streams say so.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            // A plan with a reprotect waits up to two hours in Azure.
            deadline: Duration::from_secs(4 * 3600),
            output_bytes: 1 << 20,
        }
    }
}

/// The memory limit exceeded by a runbook (the trap's cause).
#[derive(Debug, thiserror::Error)]
#[error("runbook exceeded its {} memory limit (it asked for {})", human_bytes(*limit), human_bytes(*desired))]
pub struct MemoryLimitExceeded {
    pub limit: usize,
    pub desired: usize,
}

/// The deadline passed by a runbook (the trap's cause).
#[derive(Debug, thiserror::Error)]
#[error("runbook ran past its {} deadline", human_duration(*deadline))]
pub struct DeadlineExceeded {
    pub deadline: Duration,
}

/// When a job must end: while the guest computes, the epoch callback checks
/// it; while the host awaits for the guest, [`Deadline::wait`] does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub at: std::time::Instant,
    pub len: Duration,
}

impl Deadline {
    pub fn new(len: Duration) -> Self {
        Deadline {
            at: std::time::Instant::now() + len,
            len,
        }
    }

    pub fn passed(&self) -> bool {
        std::time::Instant::now() >= self.at
    }

    pub fn exceeded(&self) -> DeadlineExceeded {
        DeadlineExceeded { deadline: self.len }
    }

    /// Awaits `future` unless the deadline comes first, which traps.
    pub async fn wait<T>(
        self,
        future: impl std::future::Future<Output = T>,
    ) -> wasmtime::Result<T> {
        tokio::time::timeout_at(self.at.into(), future)
            .await
            .map_err(|_| self.exceeded().into())
    }
}

/// Enforces `Limits::memory_bytes`, trapping with [`MemoryLimitExceeded`] so
/// that the job's failure names the limit rather than an OOM abort.
pub(crate) struct MemoryLimiter {
    pub limit: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Err(MemoryLimitExceeded {
                limit: self.limit,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a runbook needs a few thousand.
        Ok(desired <= 100_000)
    }
}

// The two formatters below stay by hand: limit messages say `64 MiB`, `10 min`
// and `300 ms`, where bytesize writes `64.0 MiB` (or `1.0 GiB`) and
// humantime's `format_duration` writes `10m` and `300ms`.

pub fn human_bytes(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else if secs >= 1 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Parses a duration as `humantime` does (`500ms`, `90s`, `10m`, `4h`,
/// `30d`, `1h 30m`, ...), or a plain number of seconds (for `--deadline`,
/// `--expires`, ...).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. `500ms`, `90s`, `10m`, `4h` or `30d`")
    })
}

/// Parses a size as `bytesize` does (`64MiB`, `512KiB`, `1.5GiB`, `64 MiB`,
/// ...) or a plain number of bytes (for `--memory`). `k`, `m` and `g` (and
/// `KB`, `MB`, `GB`) are powers of 1024 here, as in docker's `--memory`:
/// bytesize reads them as powers of 1000.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let number = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[number.len()..];
    let binary = match unit.to_ascii_lowercase().as_str() {
        "k" | "kb" => format!("{number}KiB"),
        "m" | "mb" => format!("{number}MiB"),
        "g" | "gb" => format!("{number}GiB"),
        _ => text.to_string(),
    };
    let size: bytesize::ByteSize = binary.parse().map_err(|_| {
        // bytesize's own message ("couldn't parse \"par...\"") helps less.
        format!("`{text}` is not a size; write e.g. `64MiB`, `512KiB`, `1GiB` or a number of bytes")
    })?;
    usize::try_from(size.as_u64()).map_err(|_| format!("`{text}` is too large a size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_sizes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("4h").unwrap(), Duration::from_secs(4 * 3600));
        assert_eq!(
            parse_duration("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert!(parse_duration("ten")
            .unwrap_err()
            .contains("not a duration"));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("16m").unwrap(), 16 << 20);
        assert_eq!(parse_bytes("512KB").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("1048576").unwrap(), 1 << 20);
        assert!(parse_bytes("3 parsecs").is_err());
        assert!(parse_bytes("ten").unwrap_err().contains("not a size"));
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 min");
    }
}
