//! `log`: the job's streams. Each line is journaled with the stream record it
//! wrote, in one transaction, so a resumed job's streams are whole and
//! without repeats. Lines and activities are cut to `caps::TEXT` first.

use crate::bindings::log::{self, Level};
use crate::events::JobEvent;
use crate::journal::Replay;
use crate::limits::{caps, cut};
use crate::state::InstanceState;
use drbook_core::journal::Call;
use drbook_core::journal::Stream;

impl InstanceState {
    fn write_stream(
        &mut self,
        stream: Stream,
        text: String,
        event: Option<JobEvent>,
    ) -> wasmtime::Result<()> {
        let call = match &event {
            Some(JobEvent::Progress { percent, activity }) => Call::Progress {
                percent: *percent,
                activity: activity.clone(),
            },
            _ => Call::Log {
                stream,
                text: text.clone(),
            },
        };
        match self.replay::<()>(&call)? {
            Replay::Live => {
                if let Some(event) = &event {
                    self.live.observer.notify(event);
                }
                let record = self.streams.record(stream, text);
                self.journal.record(call, &(), record.as_ref())
            }
            _ => {
                self.streams.remember(stream, text);
                Ok(())
            }
        }
    }
}

impl log::Host for InstanceState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let stream = match level {
            Level::Output => Stream::Output,
            Level::Warning => Stream::Warning,
            Level::Error => Stream::Error,
            Level::Verbose => Stream::Verbose,
        };
        self.write_stream(stream, cut(message, caps::TEXT), None)
    }

    async fn progress(&mut self, percent: u8, activity: String) -> wasmtime::Result<()> {
        let percent = percent.min(100);
        let activity = cut(activity, caps::TEXT);
        let text = format!("{percent}% {activity}");
        self.write_stream(
            Stream::Progress,
            text,
            Some(JobEvent::Progress { percent, activity }),
        )
    }
}
