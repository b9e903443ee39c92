//! `clock`: time from the host. Sleeps are scaled by the job's speed, like the
//! simulator's operations, and end at the job's deadline at the latest.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::runtime::bindings::clock;
use crate::runtime::state::JobState;

impl clock::Host for JobState {
    async fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0))
    }

    async fn sleep(&mut self, millis: u64) -> wasmtime::Result<()> {
        let simulated = chrono::Duration::milliseconds(millis.min(i64::MAX as u64) as i64);
        let wanted = self
            .speed
            .real(simulated)
            .to_std()
            .unwrap_or(Duration::ZERO);
        self.deadline.wait(tokio::time::sleep(wanted)).await
    }
}
