//! A job's streams, as Azure Automation keeps them (Output, Warning, Error,
//! Verbose, Progress), fed by the `log` interface and by the runbook's stdout
//! (Output) and stderr (Error). The total is capped: a runbook that floods its
//! output loses the excess, not the host its memory.

use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::events::{JobEvent, Observer};
use drbook_core::journal::{Record, Stream};
use drbook_core::store::RunLog;

/// The streams of one job. A cheap clone: stdout, stderr and the `log`
/// interface all write into the same record list.
#[derive(Clone)]
pub struct Streams {
    inner: Arc<Mutex<Inner>>,
    observer: Observer,
    /// Where lines that are not journaled (stdout, stderr) are stored.
    sink: Option<Arc<dyn RunLog>>,
}

struct Inner {
    records: Vec<Record>,
    bytes: usize,
    cap: usize,
    truncated: bool,
    /// While a resumed job replays its journal, what it writes again was
    /// stored the first time: it is kept in memory only, and not shown.
    replaying: bool,
}

impl Streams {
    pub fn new(cap: usize, observer: Observer, sink: Option<Arc<dyn RunLog>>) -> Self {
        let inner = Inner {
            records: Vec::new(),
            bytes: 0,
            cap,
            truncated: false,
            replaying: false,
        };
        Streams {
            inner: Arc::new(Mutex::new(inner)),
            observer,
            sink,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_replaying(&self, replaying: bool) {
        self.lock().replaying = replaying;
    }

    /// Adds a line in memory, unless the cap is reached; the first line past
    /// the cap is replaced by a notice that the rest was dropped. Returns
    /// the record added.
    fn add(&self, stream: Stream, text: String) -> Option<Record> {
        let mut inner = self.lock();
        if inner.truncated {
            return None;
        }
        let record = if inner.bytes + text.len() > inner.cap {
            inner.truncated = true;
            let notice = format!(
                "output truncated: the runbook wrote more than its {} of streams; the rest was dropped",
                super::limits::human_bytes(inner.cap)
            );
            Record {
                stream: Stream::Warning,
                time: SystemTime::now(),
                text: notice,
            }
        } else {
            inner.bytes += text.len();
            Record {
                stream,
                time: SystemTime::now(),
                text,
            }
        };
        inner.records.push(record.clone());
        Some(record)
    }

    /// A line replayed from the journal: memory only.
    pub fn remember(&self, stream: Stream, text: String) {
        self.add(stream, text);
    }

    /// A live line whose storing is the caller's (it journals it): memory,
    /// and shown to the observer.
    pub fn record(&self, stream: Stream, text: String) -> Option<Record> {
        let record = self.add(stream, text)?;
        self.observer.notify(&JobEvent::Log(record.clone()));
        Some(record)
    }

    /// A line from stdout or stderr: memory, shown, and stored, unless the
    /// job is replaying.
    pub fn push(&self, stream: Stream, text: String) {
        if self.lock().replaying {
            self.add(stream, text);
            return;
        }
        if let Some(record) = self.record(stream, text) {
            if let Some(spool) = &self.sink {
                // A line that cannot be stored is still in memory and shown;
                // the job goes on (a lost lease ends it at its next call).
                let _ = spool.append_stream(&record);
            }
        }
    }

    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// A WASI output stream (stdout or stderr) that writes lines to `stream`.
    pub fn pipe(&self, stream: Stream) -> Pipe {
        Pipe {
            streams: self.clone(),
            stream,
            partial: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The text of the last lines written to `stream`, for failure reasons
    /// (a panic message is the last thing a Rust runbook writes to stderr).
    pub fn tail(&self, stream: Stream, lines: usize) -> Vec<String> {
        let inner = self.lock();
        let mut tail: Vec<String> = inner
            .records
            .iter()
            .rev()
            .filter(|r| r.stream == stream)
            .take(lines)
            .map(|r| r.text.clone())
            .collect();
        tail.reverse();
        tail
    }
}

/// stdout or stderr of a runbook: bytes are split into lines and pushed to
/// the job's streams. Writes never fail, so a runbook's `println!` cannot
/// panic on a full stream; past the cap its lines are dropped.
#[derive(Clone)]
pub struct Pipe {
    streams: Streams,
    stream: Stream,
    partial: Arc<Mutex<Vec<u8>>>,
}

impl Pipe {
    fn write_bytes(&self, bytes: &[u8]) {
        let mut partial = self.partial.lock().unwrap_or_else(|e| e.into_inner());
        partial.extend_from_slice(bytes);
        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1])
                .trim_end_matches('\r')
                .to_string();
            self.streams.push(self.stream, text);
        }
        // A runbook that writes an endless line must not grow it forever.
        if partial.len() > 64 * 1024 {
            let text = String::from_utf8_lossy(&partial).into_owned();
            partial.clear();
            self.streams.push(self.stream, text);
        }
    }

    /// Pushes what is left without a newline (at the end of the job).
    pub fn flush_partial(&self) {
        let mut partial = self.partial.lock().unwrap_or_else(|e| e.into_inner());
        if !partial.is_empty() {
            let text = String::from_utf8_lossy(&partial).into_owned();
            partial.clear();
            self.streams.push(self.stream, text);
        }
    }
}

impl OutputStream for Pipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for Pipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Pipe {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl IsTerminal for Pipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Pipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_caps_the_total() {
        let streams = Streams::new(10, Observer::none(), None);
        let pipe = streams.pipe(Stream::Output);
        pipe.write_bytes(b"abc\nde");
        pipe.write_bytes(b"f\n0123456789\nmore\n");
        let records = streams.records();
        assert_eq!(records[0].text, "abc");
        assert_eq!(records[1].text, "def");
        assert_eq!(records[2].stream, Stream::Warning);
        assert!(records[2].text.starts_with("output truncated"));
        assert_eq!(records.len(), 3, "nothing is kept past the cap");
    }
}
