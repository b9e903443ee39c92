//! `clock`: time from the host. Sleeps are scaled by the job's time scale, like the
//! simulator's operations, end at the job's deadline at the latest (which
//! ends the job), and are
//! journaled as intents: a job resumed mid-sleep sleeps only what is left,
//! and a long sleep unloads the instance until it ends.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::bindings::clock;
use crate::job::Unload;
use crate::journal::{now_ms, Replay};
use crate::limits::until;
use crate::state::InstanceState;
use drbook_core::job::Wake;
use drbook_core::journal::Call;

impl clock::Host for InstanceState {
    async fn now(&mut self) -> wasmtime::Result<u64> {
        self.journaled(Call::Now, |_| async { Ok(now_ms().max(0) as u64) })
            .await
    }

    async fn sleep(&mut self, millis: u64) -> wasmtime::Result<()> {
        let call = Call::Sleep { millis };
        let (intent, since) = match self.replay::<()>(&call)? {
            Replay::Reply(()) => return Ok(()),
            Replay::Intent(intent) => {
                let at = intent.at();
                (intent, at)
            }
            Replay::Live => (self.journal.intent(call).await?, now_ms()),
        };
        // `millis` is the guest's: any number may come, up to `u64::MAX`. A
        // wake time past what a date holds is past the deadline too.
        let simulated = TimeDelta::milliseconds(i64::try_from(millis).unwrap_or(i64::MAX));
        let length = self.time_scale.real(simulated).max(TimeDelta::zero());
        let wake = DateTime::from_timestamp_millis(since)
            .and_then(|since| since.checked_add_signed(length));
        match self.hold(wake)? {
            Some(left) => self.live.wait(tokio::time::sleep(left)).await?,
            // The deadline ends the wait, and the job, when it comes.
            None => return self.live.wait(std::future::pending()).await,
        }
        self.journal.complete(intent, &())
    }
}

impl InstanceState {
    /// How long a wait until `wake` (`None`: forever), a sleep or a WASI
    /// timer, may hold the instance: `None` when the deadline comes first
    /// (the wait lasts until it, and ends the job). A wait longer than
    /// `unload_after` unloads the instance until it ends (the error).
    pub(crate) fn hold(&self, wake: Option<DateTime<Utc>>) -> wasmtime::Result<Option<Duration>> {
        let deadline = self.live.deadline;
        let wake = wake.filter(|wake| *wake < deadline.wall);
        let (at, reason) = match wake {
            Some(at) => (at, format!("sleeping until {at}")),
            None => (
                deadline.wall,
                format!("sleeping until its deadline, {}", deadline.wall),
            ),
        };
        let left = until(at);
        if let Some(after) = self.live.unload_after {
            if left > after {
                return Err(Unload::waiting(Wake::Time { at }, reason).into());
            }
        }
        Ok(wake.map(|_| left))
    }
}
