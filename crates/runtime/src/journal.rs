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
//! What the runbook learns from WASI (its clocks, randomness, and which of
//! the pollables it waits on are ready) is journaled too, one entry per
//! call, like a WIT host call: a live run hands it live values (the time
//! now, the operating system's randomness), and a replay hands it the same
//! ones. A replay is therefore exact.
//!
//! A job retried after it failed (`drbook jobs retry`, see
//! `drbook_core::retry`) replays the journal kept before its failed step,
//! then goes live; the journal knows its attempts, so that each start names
//! the attempt that made it in its initiator, and the operations its cut
//! dropped that did not fail, so that a live start of the same VM and
//! request takes one back instead of starting it again.
//!
//! A journal is bounded (`Limits::journal_entries` and `journal_bytes`, over
//! the whole job): a call that would pass a bound fails the job, before it
//! is journaled and, for an operation, before it starts. It keeps in memory
//! only what is left to replay (an intent waiting for its reply is its
//! caller's): what a live run journals is in the job store, not here.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::iter::Peekable;
use std::sync::Arc;

use drbook_core::fabric::OperationRequest;
use drbook_core::journal::{Call, Entry, Record};
use drbook_core::retry::{self, Attempt, Carried};
use drbook_core::store::{RunLog, StoreError};

use crate::limits::{JournalLimitExceeded, Limits};

/// What the journal says about the next call.
pub enum Replay<R> {
    /// The call was made before: here is its reply.
    Reply(R),
    /// The call was started before (an intent) but its reply was never
    /// written.
    Intent(Intent),
    /// The journal is exhausted: make the call live.
    Live,
}

/// An intent waiting for its reply, made live or met in a replay: what
/// [`Journal::complete`] takes, so that only an intent can be completed.
pub struct Intent {
    seq: usize,
    entry: Entry,
}

impl Intent {
    /// Its position in the journal.
    pub fn seq(&self) -> usize {
        self.seq
    }

    /// When it was written (ms since the epoch).
    pub fn at(&self) -> i64 {
        self.entry.at
    }
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
    /// What is left to replay, in order; empty once live. Each entry is let
    /// go of once replayed.
    replay: Peekable<std::vec::IntoIter<Entry>>,
    /// The position of the next call: entries replayed or recorded so far.
    next: usize,
    /// Where new entries go: the run's log in the job store, or nowhere (a
    /// run that does not need to survive its process, e.g. a benchmark).
    sink: Option<Arc<dyn RunLog>>,
    /// `Limits::journal_entries` and `Limits::journal_bytes`.
    max_entries: usize,
    max_bytes: usize,
    /// Bytes of the entries replayed or recorded so far, as [`entry_bytes`]
    /// counts them.
    bytes: usize,
    /// The job's retries, without the entries their cuts dropped: which
    /// attempt wrote each position.
    attempts: Vec<Attempt>,
    /// What those cuts dropped that a live start takes back, once each.
    carried: Vec<Carried>,
}

impl Journal {
    /// A journal that replays `entries` and then appends to `sink`, within
    /// the default limits (a job's own come with [`Journal::limit`]).
    pub fn new(entries: Vec<Entry>, sink: Option<Arc<dyn RunLog>>) -> Self {
        Journal::retried(entries, sink, &[])
    }

    /// [`Journal::new`] for a job retried as `attempts` (its record's).
    pub fn retried(
        entries: Vec<Entry>,
        sink: Option<Arc<dyn RunLog>>,
        attempts: &[Attempt],
    ) -> Self {
        let limits = Limits::default();
        let carried = retry::carried(attempts, &entries);
        let attempts = attempts
            .iter()
            .map(|a| Attempt {
                dropped: Vec::new(),
                ..a.clone()
            })
            .collect();
        Journal {
            replay: entries.into_iter().peekable(),
            next: 0,
            sink,
            max_entries: limits.journal_entries,
            max_bytes: limits.journal_bytes,
            bytes: 0,
            attempts,
            carried,
        }
    }

    /// The attempt that writes (or wrote) position `seq`.
    pub fn attempt_at(&self, seq: usize) -> u32 {
        retry::attempt_at(&self.attempts, seq)
    }

    /// The operation an earlier attempt started on `vm` for `request`, whose
    /// start a retry's cut dropped and which did not fail, if there is one
    /// left: the live start it answers takes it (see `drbook_core::retry`).
    pub fn take_carried(&mut self, vm: &str, request: &OperationRequest) -> Option<String> {
        let index = self
            .carried
            .iter()
            .position(|c| c.vm == vm && c.request == *request)?;
        Some(self.carried.remove(index).id)
    }

    /// Bounds the journal by the job's limits.
    pub(crate) fn limit(&mut self, limits: &Limits) {
        self.max_entries = limits.journal_entries;
        self.max_bytes = limits.journal_bytes;
    }

    pub fn replaying(&self) -> bool {
        self.replay.len() > 0
    }

    /// The position the next call takes.
    pub fn position(&self) -> usize {
        self.next
    }

    /// How many entries it holds (replayed or recorded, and left to replay).
    pub fn entries(&self) -> usize {
        self.next + self.replay.len()
    }

    pub fn sink(&self) -> Option<&Arc<dyn RunLog>> {
        self.sink.as_ref()
    }

    /// Matches `call` against the journal.
    pub fn replay<R: DeserializeOwned>(&mut self, call: &Call) -> wasmtime::Result<Replay<R>> {
        let Some(entry) = self.replay.next_if(|entry| &entry.call == call) else {
            return match self.replay.peek() {
                None => Ok(Replay::Live),
                Some(entry) => Err(Divergence {
                    position: self.next + 1,
                    expected: describe(&entry.call),
                    actual: describe(call),
                }
                .into()),
            };
        };
        if self.replay.len() == 0 {
            // The replay is over: its buffer goes too.
            self.replay = Vec::new().into_iter().peekable();
        }
        let seq = self.next;
        self.next += 1;
        self.bytes += entry_bytes(&entry.call, entry.reply.as_ref());
        match entry.reply {
            Some(value) => {
                let reply = serde_json::from_value(value).map_err(|e| CorruptEntry {
                    position: seq + 1,
                    detail: e.to_string(),
                })?;
                Ok(Replay::Reply(reply))
            }
            None => Ok(Replay::Intent(Intent { seq, entry })),
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
        let reply = serde_json::to_value(reply)?;
        let seq = self.admit(&call, Some(&reply))?;
        let entry = Entry {
            call,
            reply: Some(reply),
            at: now_ms(),
        };
        self.persist(seq, &entry, stream)?;
        self.next += 1;
        Ok(())
    }

    /// Appends an intent: a call with an outside effect, about to be made.
    /// An operation start's is on disk before the operation starts: after a
    /// power loss too, a resumed job finds it and asks the fabric instead of
    /// starting the operation again. A sleep's is not synced (if lost, the
    /// sleep starts over).
    pub async fn intent(&mut self, call: Call) -> wasmtime::Result<Intent> {
        let seq = self.admit(&call, None)?;
        let durable = call.starts_an_operation();
        let entry = Entry {
            call,
            reply: None,
            at: now_ms(),
        };
        match &self.sink {
            Some(spool) if durable => spool.append_intent(seq, &entry).await?,
            Some(spool) => spool.append(seq, &entry, None)?,
            None => {}
        }
        self.next += 1;
        Ok(Intent { seq, entry })
    }

    /// Completes `intent` with its reply. Always recorded, within the
    /// limits or not: what the intent started must be known; a journal past
    /// its limit fails the job at its next call.
    pub fn complete<R: Serialize>(&mut self, intent: Intent, reply: &R) -> wasmtime::Result<()> {
        let Intent { seq, mut entry } = intent;
        let reply = serde_json::to_value(reply)?;
        self.bytes += value_bytes(&reply);
        entry.reply = Some(reply);
        self.persist(seq, &entry, None)?;
        Ok(())
    }

    /// The position of a new entry for `call`, unless it would pass the
    /// journal's limits; counts its bytes.
    fn admit(&mut self, call: &Call, reply: Option<&Value>) -> wasmtime::Result<usize> {
        let bytes = entry_bytes(call, reply);
        self.room_for(bytes)?;
        self.bytes += bytes;
        Ok(self.next)
    }

    /// Fails as [`Journal::record`] would if a new entry of `bytes` (as
    /// [`entry_bytes`] counts them) would pass the journal's limits: for a
    /// reply whose size is known before it is made, and too large to make
    /// in vain (random bytes of the runbook's length).
    pub(crate) fn room_for(&self, bytes: usize) -> Result<(), JournalLimitExceeded> {
        if self.next >= self.max_entries {
            return Err(JournalLimitExceeded::Entries {
                limit: self.max_entries,
            });
        }
        if self.bytes.saturating_add(bytes) > self.max_bytes {
            return Err(JournalLimitExceeded::Bytes {
                limit: self.max_bytes,
                used: self.bytes,
                call: bytes,
            });
        }
        Ok(())
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

/// What an entry takes in the journal, about: its strings, its reply as
/// JSON, and a little for the rest. Counted without serialising it: a
/// call's strings are a few lengths, and a reply that is large cost more to
/// make than to count.
pub(crate) fn entry_bytes(call: &Call, reply: Option<&Value>) -> usize {
    let strings = match call {
        Call::ListItems
        | Call::Now
        | Call::Sleep { .. }
        | Call::WallClock
        | Call::MonotonicClock
        | Call::Timer { .. }
        | Call::Ready { .. }
        | Call::Random { .. } => 0,
        // A number (or `null`) and a comma each.
        Call::Poll { until } => until.len() * (NUMBER + 1),
        Call::GetItem { vm } => vm.len(),
        Call::Attach { id } | Call::Status { id } => id.len(),
        Call::Wait { ids } => ids.iter().map(|id| id.len() + 3).sum(),
        Call::Log { text, .. } => text.len(),
        Call::Progress { activity, .. } => activity.len(),
        Call::Approval { prompt } => prompt.len(),
        // Rare, and slow anyway (its intent is synced): counted exactly.
        Call::Start { vm, request } => vm.len() + json_len(request),
        Call::Http { request } => json_len(request),
        Call::Azure { request } => json_len(request),
    };
    FRAME + strings + reply.map_or(0, value_bytes)
}

/// What an entry takes besides its strings and its reply: the call's name,
/// its time, a number or two, and the JSON around them.
pub(crate) const FRAME: usize = 48;

/// At most 20 digits and a sign.
const NUMBER: usize = 21;

/// The length of `value` in JSON, without escapes, counted as it is walked.
fn value_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => NUMBER,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| value_bytes(v) + 1).sum::<usize>(),
        Value::Object(fields) => {
            2 + fields
                .iter()
                .map(|(k, v)| k.len() + 4 + value_bytes(v))
                .sum::<usize>()
        }
    }
}

/// The length of `value` serialised as JSON, written nowhere.
fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, nor serialising a request.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
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
