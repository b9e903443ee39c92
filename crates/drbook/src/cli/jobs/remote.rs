//! `drbook --server URL jobs ...`: the same commands on a server's job
//! store, through its API, printed by the same functions as the local ones.
//! What needs the store itself (resume, retry, prune, a rerun run here with
//! `--wait`) is refused: run it on the server's host.

use std::time::Duration;

use super::{done, list, logs, show, Global, JobsCommand, Outcome, Source};
use crate::cli::remote::Remote;
use crate::cli::InputError;
use drbook_core::job::JobRecord;
use drbook_core::journal::Record;
use drbook_triggers::{Decided, Decision, Line, Stopped};

/// Times in a row a live stream may fail to open or drop before any event
/// came, before `jobs logs --follow` gives up.
const STREAM_TRIES: u32 = 30;

/// The pause before a live stream is opened again.
const STREAM_PAUSE: Duration = Duration::from_secs(1);

#[derive(serde::Deserialize)]
struct Page {
    jobs: Vec<JobRecord>,
}

pub(super) async fn run(
    global: &Global,
    server: &Remote,
    command: JobsCommand,
) -> anyhow::Result<Outcome> {
    let decide = |id: String, approved: bool, comment: String| async move {
        let body = serde_json::to_value(Decision { approved, comment })?;
        let decided: Decided = server
            .post(&format!("/api/v1/jobs/{id}/decision"), &body)
            .await?;
        done(decided)
    };
    match command {
        JobsCommand::List { status, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(status) = status {
                query.push(("status", format!("{status:?}")));
            }
            let page: Page = server.get("/api/v1/jobs", &query).await?;
            list(global, &page.jobs)
        }
        JobsCommand::Show { id } => {
            show(&server.get(&format!("/api/v1/jobs/{id}"), &[]).await?)
        }
        JobsCommand::Logs { id, follow } => {
            let source = Source::Remote(server);
            let job = source.get(&id).await?;
            logs(global, source, &job, follow).await
        }
        JobsCommand::Approve { id, comment } => decide(id, true, comment).await,
        JobsCommand::Reject { id, comment } => decide(id, false, comment).await,
        JobsCommand::Rerun { id, wait: false, .. } => {
            let path = format!("/api/v1/jobs/{id}/rerun");
            let rerun: JobRecord = server.post(&path, &serde_json::json!({})).await?;
            eprintln!(
                "job {} reruns job {id} from the top (module {}, the same plan and inputs), started by {}",
                rerun.id,
                rerun.digest,
                rerun.spec.trigger.started_by().unwrap_or("the server")
            );
            println!("{}", rerun.id);
            Ok(Outcome::Success)
        }
        JobsCommand::Stop { id } => {
            let path = format!("/api/v1/jobs/{id}/stop");
            let stopped: Stopped = server.post(&path, &serde_json::json!({})).await?;
            done(stopped)
        }
        _ => Err(InputError::new(
            "with --server, `drbook jobs` lists, shows, follows, approves, rejects, reruns (without --wait) and \
             stops jobs; resuming, retrying and pruning need the job store: run them on the server's host, \
             without --server",
        )
        .into()),
    }
}

/// Follows job `id`'s lines over the server's live stream
/// (`/api/v1/jobs/{id}/events`), each to `print`, until the job's end: a
/// connection that drops is opened again with the last line's number as
/// `Last-Event-ID`, so that no line is printed twice or lost.
pub(super) async fn follow(
    server: &Remote,
    id: &str,
    mut print: impl FnMut(i64, Record) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let path = format!("/api/v1/jobs/{id}/events");
    let mut after = 0;
    let mut tries = 0;
    loop {
        let dropped = match server.events(&path, after).await {
            Ok(mut response) => {
                let mut events = Events::default();
                loop {
                    let chunk = match response.chunk().await {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) => break "the server closed it".to_string(),
                        Err(e) => break e.to_string(),
                    };
                    // Something came (a line, or the keep-alive): the
                    // stream works.
                    tries = 0;
                    events.push(&chunk);
                    while let Some(event) = events.next() {
                        match event.kind.as_str() {
                            "line" => {
                                let line: Line =
                                    serde_json::from_str(&event.data).map_err(|e| {
                                        anyhow::anyhow!(
                                            "the server sent a line this drbook cannot read: {e}"
                                        )
                                    })?;
                                if line.seq > after {
                                    after = line.seq;
                                    print(line.seq, line.record)?;
                                }
                            }
                            "end" => return Ok(()),
                            "error" => anyhow::bail!(
                                "the server cannot read job {id}'s lines: {}",
                                event.data.escape_debug()
                            ),
                            _ => {}
                        }
                    }
                }
            }
            Err(e) if e.is::<InputError>() => return Err(e),
            Err(e) => format!("{e:#}"),
        };
        tries += 1;
        if tries >= STREAM_TRIES {
            anyhow::bail!(
                "job {id}'s live stream failed {STREAM_TRIES} times in a row (last: {dropped}); \
                 `drbook jobs logs {id}` prints what the server has"
            );
        }
        tokio::time::sleep(STREAM_PAUSE).await;
    }
}

/// One server-sent event: its `event` field (`message` if none) and its
/// `data` lines, joined.
#[derive(Debug, PartialEq)]
struct Event {
    kind: String,
    data: String,
}

/// Server-sent events read from chunks as they come.
#[derive(Default)]
struct Events {
    buffer: Vec<u8>,
}

impl Events {
    fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next whole event in what came; comments (the keep-alive) and
    /// `id:` fields are skipped (a line's number is in its data).
    fn next(&mut self) -> Option<Event> {
        loop {
            let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            let (mut kind, mut data) = (None, Vec::new());
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => kind = Some(value.to_string()),
                    "data" => data.push(value),
                    _ => {}
                }
            }
            if kind.is_some() || !data.is_empty() {
                return Some(Event {
                    kind: kind.unwrap_or_else(|| "message".to_string()),
                    data: data.join("\n"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_whole_across_chunks_and_comments_skipped() {
        let mut events = Events::default();
        events.push(b": keep-alive\n\nid: 1\nevent: line\ndata: {\"seq\"");
        assert_eq!(events.next(), None, "half an event is not one");
        events.push(b": 1}\n\nevent: end\ndata: a\ndata: b\n\n");
        let line = events.next().unwrap();
        assert_eq!(
            (line.kind.as_str(), line.data.as_str()),
            ("line", "{\"seq\": 1}")
        );
        let end = events.next().unwrap();
        assert_eq!((end.kind.as_str(), end.data.as_str()), ("end", "a\nb"));
        assert_eq!(events.next(), None);
    }
}
