//! `clock`: time from the host. Sleeps are scaled by the job's time scale, like the
//! simulator's operations, end at the job's deadline at the latest, and are
//! journaled as intents: a job resumed mid-sleep sleeps only what is left,
//! and a long sleep unloads the instance until it ends.

use std::time::Duration;

use crate::bindings::clock;
use crate::job::Unload;
use crate::journal::{now_ms, Replay};
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
        let (seq, since) = match self.replay::<()>(&call)? {
            Replay::Reply(()) => return Ok(()),
            Replay::Intent { seq, at } => (seq, at),
            Replay::Live => (self.journal.intent(call).await?, now_ms()),
        };
        let simulated = chrono::Duration::milliseconds(millis.min(i64::MAX as u64) as i64);
        let length = self
            .time_scale
            .real(simulated)
            .to_std()
            .unwrap_or(Duration::ZERO);
        let wake_ms = since + length.as_millis() as i64;
        let left = Duration::from_millis((wake_ms - now_ms()).max(0) as u64);
        if let Some(after) = self.live.unload_after {
            if left > after {
                let at = chrono::DateTime::from_timestamp_millis(wake_ms).unwrap_or_default();
                return Err(
                    Unload::waiting(Wake::Time { at }, format!("sleeping until {at}")).into(),
                );
            }
        }
        self.live.wait(tokio::time::sleep(left)).await?;
        self.journal.complete(seq, &())
    }
}
