//! What a job's journal and streams hold: every host call with its reply
//! (the journal, which makes a job resumable; the replay itself is the
//! runtime's), and the lines the runbook wrote (its streams, as Azure
//! Automation keeps them: Output, Warning, Error, Verbose, Progress).

use serde::{Deserialize, Serialize};
use std::time::SystemTime;

use crate::fabric::OperationRequest;
use crate::outside::azure::ResourceRequest;
use crate::outside::RequestSummary;

/// A host call, as journaled: its name and arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Call {
    ListItems,
    GetItem {
        vm: String,
    },
    Start {
        vm: String,
        request: OperationRequest,
    },
    Attach {
        id: String,
    },
    Status {
        id: String,
    },
    Wait {
        ids: Vec<String>,
    },
    Now,
    Sleep {
        millis: u64,
    },
    Log {
        stream: Stream,
        text: String,
    },
    Progress {
        percent: u8,
        activity: String,
    },
    Approval {
        prompt: String,
    },
    // What WASI hands a runbook (std's clocks, randomness and sleeps): the
    // live run's values, so that a replay hands it the same.
    /// `wasi:clocks/wall-clock.now`; the reply is nanoseconds since the epoch.
    WallClock,
    /// `wasi:clocks/monotonic-clock.now`; the reply is nanoseconds on the
    /// job's monotonic clock (since its first start).
    MonotonicClock,
    /// `monotonic-clock.subscribe-duration`: a timer of `nanos` from now;
    /// the reply is the time now, on the job's monotonic clock.
    Timer {
        nanos: u64,
    },
    /// `wasi:io/poll.poll` (and `pollable.block`, a poll of one): for each
    /// pollable, when its timer ends, or none for another pollable (a
    /// stream); the reply is the indices of those ready.
    Poll {
        until: Vec<Option<u64>>,
    },
    /// `pollable.ready`, which does not wait; the reply is whether it was.
    Ready {
        until: Option<u64>,
    },
    /// `wasi:random` (secure and insecure bytes and numbers, and the
    /// insecure seed): `len` random bytes, the reply in hex.
    Random {
        len: u64,
    },
    /// `http.send`: the request as summarised for the journal; the reply is
    /// the response or the error. A write (not GET or HEAD) is an intent
    /// first, durable before it is sent.
    Http {
        request: RequestSummary,
    },
    /// `azure.request`: the ARM request; the reply is ARM's final answer or
    /// the error. A write (not GET) is an intent first, durable before it
    /// is sent.
    Azure {
        request: ResourceRequest,
    },
}

impl Call {
    /// Whether the call has an effect outside the job that must never be
    /// made twice (an operation's start, an HTTP or Azure write): its intent is
    /// durable before the effect (see
    /// [`RunLog::append_intent`](crate::store::RunLog::append_intent)).
    pub fn starts_an_operation(&self) -> bool {
        match self {
            Call::Start { .. } => true,
            Call::Http { request } => !request.method.is_read(),
            Call::Azure { request } => !request.method.is_read(),
            _ => false,
        }
    }
}

/// One journal entry. `reply` is `None` for an intent not completed yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub call: Call,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<serde_json::Value>,
    /// When the entry was written (ms since the epoch): the job's logical time.
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stream {
    Output,
    Warning,
    Error,
    Verbose,
    Progress,
}

/// One line of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub stream: Stream,
    #[serde(with = "unix_millis")]
    pub time: SystemTime,
    pub text: String,
}

mod unix_millis {
    use serde::Deserialize;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub fn serialize<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        s.serialize_u64(millis)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_millis(u64::deserialize(d)?))
    }
}
