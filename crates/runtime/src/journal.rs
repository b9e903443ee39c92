//! The journal of a job's host calls, which makes a job durable.
//!
//! Before the runbook sees the result of a host call, the call and its reply
//! are appended to the job's journal (the run's log in the job store, see
//! `drbook_core::store::RunLog`). To resume a job after
//! its host died, the runbook is run again from the start: each host call is
//! answered from the journal (in microseconds) as long as the runbook makes
//! the same calls; at the end of the journal it continues live. A call that
//! differs from the journal's is a divergence: the module changed or the
//! runbook is not deterministic, and the job fails naming the first
//! difference.
//!
//! Calls with an effect outside the job (starting an operation, a timed
//! sleep) are written first as an *intent* without a reply, and completed
//! after. A resumed job that finds an intent without reply asks the fabric
//! whether the operation was started (by its initiator, which names the job
//! and the call) instead of starting it twice.
//!
//! What the runbook could learn from WASI (clocks, randomness) is derived from
//! the journal too: clocks show the time of the latest entry, randomness is
//! seeded by the job id. A replay is therefore exact.

use serde::{de::DeserializeOwned, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drbook_core::journal::{Call, Entry, Record};
use drbook_core::store::{RunLog, StoreError};

/// What the journal says about the next call.
pub enum Replay<R> {
    /// The call was made before: here is its reply.
    Reply(R),
    /// The call was started before (an intent at `seq`, written at `at`) but
    /// its reply was never written.
    Intent { seq: usize, at: i64 },
    /// The journal is exhausted: make the call live.
    Live,
}

/// The runbook made another call than the journal holds at this point.
#[derive(Debug, thiserror::Error)]
#[error(
    "replay diverged at journal entry {position}: the journal holds {expected}, the runbook now calls {actual}. \
     The runbook is not the one this job ran (a changed module) or it is not deterministic; the job cannot resume"
)]
pub struct Divergence {
    pub position: usize,
    pub expected: String,
    pub actual: String,
}

/// A journal entry the job store holds but this build cannot use.
#[derive(Debug, thiserror::Error)]
#[error("journal entry {position} of the job is corrupt ({detail}); the job cannot resume")]
pub struct CorruptEntry {
    pub position: usize,
    pub detail: String,
}

pub struct Journal {
    entries: Vec<Entry>,
    /// The next entry to replay; `entries.len()` once live.
    cursor: usize,
    /// Where new entries go: the run's log in the job store, or nowhere (a
    /// run that does not need to survive its process, e.g. a benchmark).
    sink: Option<Arc<dyn RunLog>>,
    /// The time of the latest entry, read by the WASI clocks.
    logical_now: Arc<AtomicI64>,
}

impl Journal {
    /// A journal that replays `entries` and then appends to `sink`.
    pub fn new(entries: Vec<Entry>, sink: Option<Arc<dyn RunLog>>) -> Self {
        let start = entries.first().map(|e| e.at).unwrap_or_else(now_ms);
        Journal {
            entries,
            cursor: 0,
            sink,
            logical_now: Arc::new(AtomicI64::new(start)),
        }
    }

    pub fn replaying(&self) -> bool {
        self.cursor < self.entries.len()
    }

    /// The position the next call takes.
    pub fn position(&self) -> usize {
        self.cursor
    }

    /// How many entries it holds (replayed or recorded).
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    pub fn sink(&self) -> Option<&Arc<dyn RunLog>> {
        self.sink.as_ref()
    }

    pub(crate) fn clock(&self) -> LogicalClock {
        LogicalClock(self.logical_now.clone())
    }

    /// Matches `call` against the journal.
    pub fn replay<R: DeserializeOwned>(&mut self, call: &Call) -> wasmtime::Result<Replay<R>> {
        let Some(entry) = self.entries.get(self.cursor) else {
            return Ok(Replay::Live);
        };
        if &entry.call != call {
            return Err(Divergence {
                position: self.cursor + 1,
                expected: describe(&entry.call),
                actual: describe(call),
            }
            .into());
        }
        let position = self.cursor;
        self.cursor += 1;
        self.logical_now.store(entry.at, Ordering::Relaxed);
        match &entry.reply {
            Some(value) => {
                let reply = serde_json::from_value(value.clone()).map_err(|e| CorruptEntry {
                    position: position + 1,
                    detail: e.to_string(),
                })?;
                Ok(Replay::Reply(reply))
            }
            None => Ok(Replay::Intent {
                seq: position,
                at: entry.at,
            }),
        }
    }

    /// Appends a call made live with its reply (and the stream line it
    /// wrote, in the same transaction) before the runbook sees the reply.
    pub fn record<R: Serialize>(
        &mut self,
        call: Call,
        reply: &R,
        stream: Option<&Record>,
    ) -> wasmtime::Result<()> {
        let entry = Entry {
            call,
            reply: Some(serde_json::to_value(reply)?),
            at: now_ms(),
        };
        let seq = self.entries.len();
        self.persist(seq, &entry, stream)?;
        self.push(entry);
        Ok(())
    }

    /// Appends an intent: a call with an outside effect, about to be made.
    /// An operation start's is on disk before the operation starts: after a
    /// power loss too, a resumed job finds it and asks the fabric instead of
    /// starting the operation again. A sleep's is not synced (if lost, the
    /// sleep starts over).
    pub async fn intent(&mut self, call: Call) -> wasmtime::Result<usize> {
        let durable = call.starts_an_operation();
        let entry = Entry {
            call,
            reply: None,
            at: now_ms(),
        };
        let seq = self.entries.len();
        match &self.sink {
            Some(spool) if durable => spool.append_intent(seq, &entry).await?,
            Some(spool) => spool.append(seq, &entry, None)?,
            None => {}
        }
        self.push(entry);
        Ok(seq)
    }

    /// Completes the intent at `seq` with its reply.
    pub fn complete<R: Serialize>(&mut self, seq: usize, reply: &R) -> wasmtime::Result<()> {
        let mut entry = self.entries[seq].clone();
        entry.reply = Some(serde_json::to_value(reply)?);
        self.persist(seq, &entry, None)?;
        self.entries[seq] = entry;
        Ok(())
    }

    fn push(&mut self, entry: Entry) {
        self.logical_now.store(entry.at, Ordering::Relaxed);
        self.entries.push(entry);
        self.cursor = self.entries.len();
    }

    fn persist(
        &self,
        seq: usize,
        entry: &Entry,
        stream: Option<&Record>,
    ) -> Result<(), StoreError> {
        match &self.sink {
            Some(spool) => spool.append(seq, entry, stream),
            None => Ok(()),
        }
    }
}

/// A short description of a call, for divergence errors.
fn describe(call: &Call) -> String {
    let text = serde_json::to_string(call).unwrap_or_else(|_| format!("{call:?}"));
    if text.len() > 200 {
        format!(
            "{}…",
            &text[..text
                .char_indices()
                .nth(200)
                .map(|(i, _)| i)
                .unwrap_or(text.len())]
        )
    } else {
        text
    }
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The WASI clocks of a journaled job: the time of its latest journal entry,
/// so that a replay sees the times the first run saw.
#[derive(Clone)]
pub(crate) struct LogicalClock(Arc<AtomicI64>);

impl wasmtime_wasi::HostWallClock for LogicalClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed).max(0) as u64)
    }
}

impl wasmtime_wasi::HostMonotonicClock for LogicalClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed).max(0) as u64 * 1_000_000
    }
}
