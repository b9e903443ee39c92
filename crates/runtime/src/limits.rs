//! What one runbook instance may use: memory, wall-clock time and output. A
//! runbook is untrusted code; these bounds turn its excesses into failed jobs
//! with a readable reason instead of a host that runs out of anything.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

/// The bounds of one job's runbook instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory of the instance, in bytes: all its linear memories and tables
    /// together (a component may have many of each).
    pub memory_bytes: usize,
    /// Wall-clock time from the job's first start, across unloads, reloads
    /// and restarts of the host: waits, time spent unloaded and the replays
    /// that reload the job all count. A job loaded past it fails at once.
    pub deadline: Duration,
    /// Bytes of streams (log lines, stdout, stderr) kept for the job; the rest
    /// is dropped and the job's streams say so.
    pub output_bytes: usize,
    /// Entries of the job's journal (one per host call, WASI's clock reads,
    /// random draws and polls included), across all its runs: the call that
    /// would pass it fails the job.
    pub journal_entries: usize,
    /// Bytes of the job's journal (its calls and replies as stored, in
    /// JSON), across all its runs: the call that would pass it fails the job.
    pub journal_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            // A plan with a reprotect waits up to two hours in Azure.
            deadline: Duration::from_secs(4 * 3600),
            output_bytes: 1 << 20,
            journal_entries: 100_000,
            journal_bytes: 64 << 20,
        }
    }
}

/// What a runbook may pass the host in one string or list (`wit/runbook.wit`
/// documents each). The host stores, journals and prints what it is given:
/// past these caps it refuses the call or cuts the text, so that a runbook
/// cannot make a job's records (or `jobs list`) as large as its memory.
pub(crate) mod caps {
    /// A VM name, an operation id, a recovery point id, a network: longer
    /// ones are refused (`fabric-error.invalid`); no such name exists.
    pub const NAME: usize = 1 << 10;
    /// A log line, a progress activity, an approval prompt, a cleanup's
    /// comments, a runbook error's message: cut to this.
    pub const TEXT: usize = 16 << 10;
    /// `run`'s output, and a runbook error's `completed` list in all: cut to
    /// this (the list keeps the entries that fit, then says how many more).
    pub const SUMMARY: usize = 64 << 10;
    /// Operations in one `wait-all`: more traps.
    pub const WAIT_ALL: usize = 4096;
}

/// `text` cut to at most `cap` bytes, at a character boundary, ending with
/// a note that says how long it was. Text within the cap is returned as is.
pub(crate) fn cut(mut text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let note = format!(
        "… [cut: {} bytes, past the host's {}]",
        text.len(),
        human_bytes(cap)
    );
    let mut end = cap.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&note);
    text
}

/// A runbook error's `completed` list within [`caps::SUMMARY`] in all: the
/// entries that fit (each cut to [`caps::NAME`]), then `… and N more`.
pub(crate) fn cut_list(list: Vec<String>) -> Vec<String> {
    let mut total = 0;
    let mut kept = Vec::new();
    let count = list.len();
    for entry in list {
        let entry = cut(entry, caps::NAME);
        if total + entry.len() > caps::SUMMARY - caps::NAME {
            kept.push(format!("… and {} more", count - kept.len()));
            break;
        }
        total += entry.len();
        kept.push(entry);
    }
    kept
}

/// A `wait-all` on more than [`caps::WAIT_ALL`] operations (the trap's
/// cause).
#[derive(Debug, thiserror::Error)]
#[error(
    "runbook waited on {count} operations in one `wait-all`, past the {} allowed; wait for them in batches",
    caps::WAIT_ALL
)]
pub struct TooManyOperations {
    pub count: usize,
}

/// The memory limit exceeded by a runbook (the trap's cause).
#[derive(Debug, thiserror::Error)]
#[error(
    "runbook exceeded its {} memory limit (its memories and tables would have taken {}); \
     give it more with `--memory`, or make it use less",
    human_bytes(*limit),
    human_bytes(*total)
)]
pub struct MemoryLimitExceeded {
    pub limit: usize,
    /// The instance's total had the growth been granted.
    pub total: usize,
}

/// A journal limit a runbook would have passed with its next host call.
#[derive(Debug, thiserror::Error)]
pub enum JournalLimitExceeded {
    #[error(
        "runbook made more than its limit of {limit} journal entries (one per host call, WASI clock reads \
         included); give it more with `--journal-entries`, or make it call the host less (a loop that polls \
         or reads the clock without sleeping?)"
    )]
    Entries { limit: usize },
    #[error(
        "runbook's journal would pass its limit of {} (it holds {}, and this call takes {}); give it more \
         with `--journal-bytes`, or make it call the host less (a loop of `list-items`?)",
        human_bytes(*limit),
        human_bytes(*used),
        human_bytes(*call)
    )]
    Bytes {
        limit: usize,
        used: usize,
        /// What the refused call's entry would have taken.
        call: usize,
    },
}

/// The deadline passed by a runbook (the trap's cause).
#[derive(Debug, thiserror::Error)]
#[error("runbook ran past its {} deadline", human_duration(*deadline))]
pub struct DeadlineExceeded {
    pub deadline: Duration,
}

/// A deadline further away than this is none: capping it keeps the
/// arithmetic on instants and dates in range whatever `--deadline` says.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// When a job must end: its first start plus its deadline. While the guest
/// computes, the epoch callback checks it; at every host call
/// `InstanceState::checkpoint` does; while the host awaits for the guest,
/// [`Deadline::wait`] does; a sleep past it is cut to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// On this host's monotonic clock: what the checks and waits use.
    pub at: Instant,
    /// On the wall clock: the wake time of a job unloaded until then.
    pub wall: DateTime<Utc>,
    pub len: Duration,
}

impl Deadline {
    /// The deadline of a job that first started at `started`: the job's,
    /// not this run's, so that unloading or restarting it never resets it.
    pub fn new(started: DateTime<Utc>, len: Duration) -> Self {
        let len = len.min(FOREVER);
        let wall = TimeDelta::from_std(len)
            .ok()
            .and_then(|len| started.checked_add_signed(len))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Deadline {
            at: Instant::now() + until(wall).min(FOREVER),
            wall,
            len,
        }
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
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

/// How long until `time` on the wall clock (zero once it has passed).
pub(crate) fn until(time: DateTime<Utc>) -> Duration {
    (time - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

/// Enforces `Limits::memory_bytes` over the whole instance. wasmtime asks
/// about each memory and table on its own, and a component may have many:
/// limiting each would let 24 memories of 60 MiB pass a 64 MiB limit, so
/// the limiter keeps their total. Traps with [`MemoryLimitExceeded`] so that
/// the job's failure names the limit rather than an OOM abort.
pub(crate) struct MemoryLimiter {
    limit: usize,
    /// Bytes granted so far to every memory and table of the instance.
    /// Nothing is given back: wasm memories and tables never shrink, and a
    /// growth that fails after it was granted (past the memory's own
    /// maximum, or the host out of memory) stays counted, which errs on the
    /// host's side.
    granted: usize,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        MemoryLimiter { limit, granted: 0 }
    }

    /// Grants growing one memory or table from `current` to `desired`
    /// bytes if the instance's total stays within the limit.
    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let total = self.granted.saturating_add(desired.saturating_sub(current));
        if total > self.limit {
            return Err(MemoryLimitExceeded {
                limit: self.limit,
                total,
            }
            .into());
        }
        self.granted = total;
        Ok(true)
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // wasmtime keeps a pointer per table element.
        let element = std::mem::size_of::<usize>();
        self.grow(
            current.saturating_mul(element),
            desired.saturating_mul(element),
        )
    }
}

// The two formatters below stay by hand: limit messages say `64 MiB`, `10 min`
// and `300 ms`, where bytesize writes `64.0 MiB` (or `1.0 GiB`) and
// humantime's `format_duration` writes `10m` and `300ms`.

pub fn human_bytes(bytes: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
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
        assert_eq!(human_bytes(16 << 10), "16 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert_eq!(human_duration(Duration::from_secs(600)), "10 min");
    }

    #[test]
    fn long_text_and_lists_are_cut_to_their_caps() {
        assert_eq!(cut("short".to_string(), 10), "short");
        let text = "é".repeat(20_000);
        let cut_text = cut(text, caps::TEXT);
        assert!(cut_text.len() <= caps::TEXT, "{}", cut_text.len());
        assert!(cut_text.ends_with("… [cut: 40000 bytes, past the host's 16 KiB]"));

        let names: Vec<String> = (0..100).map(|n| format!("vm-{n}")).collect();
        assert_eq!(cut_list(names.clone()), names, "a list that fits is kept");
        let long = vec!["x".repeat(10_000); 1000];
        let kept = cut_list(long);
        let total: usize = kept.iter().map(String::len).sum();
        assert!(total <= caps::SUMMARY, "{total}");
        assert!(kept[0].len() <= caps::NAME);
        assert_eq!(
            kept.last().unwrap(),
            &format!("… and {} more", 1001 - kept.len())
        );
    }

    /// A core module declaring `memories` memories of `pages` 64 KiB pages
    /// each and a funcref table of `elements`, in binary (this crate has no
    /// WAT parser): the shape of a component whose core instances have many.
    fn module(memories: u32, pages: u32, elements: u32) -> Vec<u8> {
        fn leb(mut n: u32, out: &mut Vec<u8>) {
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    return out.push(byte);
                }
                out.push(byte | 0x80);
            }
        }
        let mut tables = vec![1, 0x70, 0x00];
        leb(elements, &mut tables);
        let mut mems = Vec::new();
        leb(memories, &mut mems);
        for _ in 0..memories {
            mems.push(0x00);
            leb(pages, &mut mems);
        }
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        for (id, body) in [(4, tables), (5, mems)] {
            module.push(id);
            leb(body.len() as u32, &mut module);
            module.extend(body);
        }
        module
    }

    /// Instantiates `module` under a limit of `limit` bytes.
    fn instantiate(module: &[u8], limit: usize) -> wasmtime::Result<()> {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, module)?;
        let mut store = wasmtime::Store::new(&engine, MemoryLimiter::new(limit));
        store.limiter(|limiter| limiter);
        wasmtime::Instance::new(&mut store, &module, &[])?;
        Ok(())
    }

    #[test]
    fn the_memory_limit_is_the_instances_total() {
        const MIB: usize = 1 << 20;
        // Four memories of 1 MiB each: each fits in 3 MiB, all four do not.
        let four = module(4, 16, 0);
        instantiate(&four, 4 * MIB).expect("4 MiB in all fits 4 MiB");
        let error = instantiate(&four, 3 * MIB).expect_err("4 MiB in all is past 3 MiB");
        let exceeded = error
            .downcast_ref::<MemoryLimitExceeded>()
            .unwrap_or_else(|| panic!("not the memory limit: {error:?}"));
        assert_eq!((exceeded.limit, exceeded.total), (3 * MIB, 4 * MIB));

        // Tables count too, a pointer per element: two memories of 1 MiB
        // and a table of 1 MiB of pointers are past 2.5 MiB.
        let elements = (MIB / std::mem::size_of::<usize>()) as u32;
        let tabled = module(2, 16, elements);
        instantiate(&tabled, 3 * MIB).expect("3 MiB in all fits 3 MiB");
        let error = instantiate(&tabled, 5 * MIB / 2).expect_err("3 MiB is past 2.5 MiB");
        assert!(error.is::<MemoryLimitExceeded>(), "{error:?}");
    }
}
