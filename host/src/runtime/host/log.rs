//! `log`: the job's streams.

use crate::runtime::bindings::log::{self, Level};
use crate::runtime::events::JobEvent;
use crate::runtime::state::JobState;
use crate::runtime::streams::Stream;

impl log::Host for JobState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let stream = match level {
            Level::Output => Stream::Output,
            Level::Warning => Stream::Warning,
            Level::Error => Stream::Error,
            Level::Verbose => Stream::Verbose,
        };
        self.streams.push(stream, message);
        Ok(())
    }

    async fn progress(&mut self, percent: u8, activity: String) -> wasmtime::Result<()> {
        let percent = percent.min(100);
        self.observer.notify(&JobEvent::Progress {
            percent,
            activity: activity.clone(),
        });
        self.streams
            .push(Stream::Progress, format!("{percent}% {activity}"));
        Ok(())
    }
}
