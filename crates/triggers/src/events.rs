//! A job's stream lines live, as server-sent events:
//! `GET /api/v1/jobs/{id}/events`, what a browser's `EventSource` reads.
//!
//! Each line is one event: `id:` its number in the job's streams, `event:
//! line`, `data:` the line as `GET .../streams` gives it. A client that
//! reconnects sends the last id it got as `Last-Event-ID` (an `EventSource`
//! does so by itself) and gets the lines after it: none twice, none lost,
//! as the numbers are the store's. Once the job has ended and every line
//! is sent, one `event: end` carries its status and reason, and the stream
//! closes.
//!
//! One poll per job, however many clients: the streams of a job share one
//! watcher (a task, started by its first client, ended at its last client's
//! leaving, at the job's end or at shutdown) that asks the store for new
//! lines every [`POLL`] and sends them to every client (a broadcast of
//! [`WATCH_BUFFER`] batches). A client starts by reading the store itself,
//! from its `Last-Event-ID`, having subscribed first, then takes from each
//! batch the lines after its own position; one that fell behind the buffer
//! or cannot follow on from a batch reads the store again by its own
//! position. Numbers, not the broadcast, say what a client has: none twice,
//! none lost.
//!
//! What a client can cost is bounded: at most `max_streams` streams are
//! open at once (more get 503 and `Retry-After`), and a stream holds at
//! most [`BATCH`] lines read ahead. It takes the next ones only when the
//! client has taken those (the body is pulled, not pushed), so a client
//! that stops reading costs its buffer and its connection, no more (a
//! read is bounded by the job's own output limit, `Limits::output_bytes`);
//! streams end when the server shuts down, so shutdown does not wait for
//! them. `/metrics` shows the streams open and the jobs watched.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use drbook_core::journal::Record;
use drbook_core::store::StoreError;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, watch, OwnedSemaphorePermit, Semaphore};

use super::api::{store_refusal, Line};
use super::refusal::Refusal;
use super::server::Server;

/// Streams served at once by default.
pub const MAX_STREAMS: usize = 256;

/// Lines a stream reads ahead of its client, at most.
pub const BATCH: usize = 256;

/// How often a job's watcher asks the store for lines while none come:
/// well under the 100 ms a line may take to reach a browser.
pub const POLL: Duration = Duration::from_millis(50);

/// Batches a job's watcher keeps for clients slower than it, at most: a
/// client further behind reads the store itself.
const WATCH_BUFFER: usize = 16;

/// The server's open streams: their slots, the job watchers they share,
/// and the signal that ends them.
pub(crate) struct Streams {
    slots: Arc<Semaphore>,
    max: usize,
    closing: watch::Sender<bool>,
    /// The watcher of each job streamed now (see [`Watcher`]).
    watchers: Arc<Watchers>,
}

/// Each job's watcher, by job id: what its clients subscribe to.
type Watchers = Mutex<HashMap<String, broadcast::Sender<Arc<Batch>>>>;

impl Streams {
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Streams {
            slots: Arc::new(Semaphore::new(max)),
            max,
            closing: watch::Sender::new(false),
            watchers: Default::default(),
        }
    }

    /// Ends every stream (at its next poll) and refuses new ones.
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
        self.slots.close();
    }

    /// A subscription to job `id`'s watcher, started if the job has none.
    /// Under the map's lock, as the watcher's check for its last client:
    /// a client either subscribes to a watcher that goes on, or starts one.
    /// A new watcher starts at `after`, the position of its first client.
    fn subscribe(&self, server: &Server, id: &str, after: i64) -> broadcast::Receiver<Arc<Batch>> {
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = watchers.get(id) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(WATCH_BUFFER);
        watchers.insert(id.to_string(), sender.clone());
        let watcher = Watcher {
            server: server.clone(),
            id: id.to_string(),
            sender,
            watchers: Arc::downgrade(&self.watchers),
            closing: self.closing.subscribe(),
        };
        tokio::spawn(watcher.run(after));
        receiver
    }

    /// The streams open and the jobs watched, as `/metrics` gauges.
    pub(crate) fn gauges(&self) -> String {
        let open = self.max - self.slots.available_permits().min(self.max);
        let watched = self
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        format!(
            "# HELP drbook_event_streams Live streams (server-sent events) open.\n\
             # TYPE drbook_event_streams gauge\ndrbook_event_streams {open}\n\
             # HELP drbook_event_watchers Jobs whose lines are polled for live streams (one poll each, \
             shared by their streams).\n# TYPE drbook_event_watchers gauge\ndrbook_event_watchers {watched}\n"
        )
    }
}

/// What a job's watcher read at one poll, sent to every client of the job.
#[derive(Debug)]
enum Batch {
    /// The lines after `after`, in order (at most [`BATCH`]).
    Lines {
        after: i64,
        lines: Vec<(i64, Record)>,
    },
    /// The job has ended and every line was sent, or the store could not
    /// be read: each client reads the store itself, by its own position,
    /// and ends as the read says.
    Read,
}

/// The one poll of a job's lines that all its clients share: it reads the
/// store every [`POLL`] and sends what it read to every client, each of
/// which takes the lines after its own position. It ends when the job has
/// ended, when its last client has left (checked at each poll, under the
/// map's lock), and at shutdown.
struct Watcher {
    server: Server,
    id: String,
    sender: broadcast::Sender<Arc<Batch>>,
    watchers: Weak<Watchers>,
    closing: watch::Receiver<bool>,
}

impl Watcher {
    /// Watches from line `after` on.
    async fn run(mut self, mut after: i64) {
        let store = self.server.store();
        loop {
            if self.alone() || *self.closing.borrow() {
                return;
            }
            // The job's state first: a job that had ended then has written
            // every line the read that follows returns.
            let read = async {
                let job = store.get(&self.id).await?;
                Ok::<_, StoreError>((job.is_terminal(), store.streams(&self.id, after).await?))
            };
            match read.await {
                Ok((ended, lines)) if lines.is_empty() => {
                    if ended {
                        let _ = self.sender.send(Arc::new(Batch::Read));
                        self.leave();
                        return;
                    }
                }
                Ok((_, lines)) => {
                    let mut lines = lines.into_iter().peekable();
                    while lines.peek().is_some() {
                        let lines: Vec<_> = lines.by_ref().take(BATCH).collect();
                        let from = after;
                        after = lines.last().map_or(after, |(seq, _)| *seq);
                        let batch = Batch::Lines { after: from, lines };
                        let _ = self.sender.send(Arc::new(batch));
                    }
                }
                Err(e) => {
                    tracing::debug!("watching job {}: {e}", self.id.escape_debug());
                    let _ = self.sender.send(Arc::new(Batch::Read));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = self.closing.changed() => return,
            }
        }
    }

    /// Whether the last client has left; if so the watcher is taken out of
    /// the map (under its lock: no client subscribes meanwhile).
    fn alone(&self) -> bool {
        let Some(watchers) = self.watchers.upgrade() else {
            return true;
        };
        let mut watchers = watchers.lock().unwrap_or_else(|e| e.into_inner());
        if self.sender.receiver_count() > 0 {
            return false;
        }
        remove(&mut watchers, &self.id, &self.sender);
        true
    }

    /// Takes the watcher out of the map (the job has ended).
    fn leave(&self) {
        if let Some(watchers) = self.watchers.upgrade() {
            let mut watchers = watchers.lock().unwrap_or_else(|e| e.into_inner());
            remove(&mut watchers, &self.id, &self.sender);
        }
    }
}

/// Removes job `id`'s watcher from `watchers` if it is `sender`'s (not one
/// started after it).
fn remove(
    watchers: &mut HashMap<String, broadcast::Sender<Arc<Batch>>>,
    id: &str,
    sender: &broadcast::Sender<Arc<Batch>>,
) {
    if watchers.get(id).is_some_and(|s| s.same_channel(sender)) {
        watchers.remove(id);
    }
}

/// `?after=N`: where a stream starts when no `Last-Event-ID` is sent (a
/// page that rendered the lines up to N).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Start {
    /// The last line the client has; `Last-Event-ID` wins over it.
    #[serde(default)]
    after: i64,
}

/// The line after which a stream starts: `Last-Event-ID`'s, or `after`.
fn resumed_after(headers: &HeaderMap, after: i64) -> Result<i64, Refusal> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(after.max(0));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            Refusal::Malformed(
                "`Last-Event-ID` must be the id of an event of this stream (a line's number, 0 or more); \
                 send none to start from the first line"
                    .to_string(),
            )
        })
}

#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "The job's id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "The last line received: resume after it"),
        Start),
    responses((status = 200, description = "Server-sent events: `line` (id: the line's number; data: a Line), \
        then `end` (data: the job's status and reason) once the job has ended", body = String,
        content_type = "text/event-stream"),
        (status = 400, description = "A bad Last-Event-ID"),
        (status = 404, description = "No such job"),
        (status = 503, description = "Too many streams are open")))]
pub(crate) async fn events(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(Start { after }): Query<Start>,
    headers: HeaderMap,
) -> Response {
    let what = format!("GET /api/v1/jobs/{id}/events");
    let after = match resumed_after(&headers, after) {
        Ok(after) => after,
        Err(refusal) => return server.refuse(peer.ip(), &what, refusal),
    };
    if let Err(e) = server.store().get(&id).await {
        return store_refusal(e).into_response();
    }
    let streams = server.streams();
    let Ok(slot) = streams.slots.clone().try_acquire_owned() else {
        let refusal = Refusal::TooManyStreams(streams.max);
        return server.refuse(peer.ip(), &what, refusal);
    };
    // Subscribed before the client's first read of the store: what the
    // watcher sends from now on is newer than that read, so nothing falls
    // between them.
    let watched = streams.subscribe(&server, &id, after);
    let follow = Follow {
        server: server.clone(),
        closing: streams.closing.subscribe(),
        watched,
        id,
        after,
        ahead: VecDeque::new(),
        behind: true,
        ended: false,
        _slot: slot,
    };
    Sse::new(futures::stream::unfold(follow, Follow::next))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// One client's stream: where it is, and what it has read ahead.
struct Follow {
    server: Server,
    closing: watch::Receiver<bool>,
    /// The job's watcher.
    watched: broadcast::Receiver<Arc<Batch>>,
    id: String,
    /// The number of the last line sent (or read ahead).
    after: i64,
    ahead: VecDeque<(i64, Record)>,
    /// The client reads the store itself before it takes the watcher's
    /// lines again: at its start, after it fell behind the watcher's buffer
    /// or missed lines, and at the job's end.
    behind: bool,
    /// The `end` event was sent.
    ended: bool,
    _slot: OwnedSemaphorePermit,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some((seq, record)) = self.ahead.pop_front() {
                let line = Line { seq, record };
                let event = Event::default().id(seq.to_string()).event("line");
                let event = event.json_data(&line).unwrap_or_else(|_| Event::default());
                return Some((Ok(event), self));
            }
            if self.ended || *self.closing.borrow() {
                return None;
            }
            if self.behind {
                match self.read().await {
                    Ok(Some(end)) => {
                        self.ended = true;
                        return Some((Ok(end), self));
                    }
                    Ok(None) => continue,
                    Err(why) => {
                        self.ended = true;
                        return Some((Ok(Event::default().event("error").data(why)), self));
                    }
                }
            }
            tokio::select! {
                batch = self.watched.recv() => self.take(batch),
                _ = self.closing.changed() => return None,
            }
        }
    }

    /// Takes what the watcher sent: the lines after the client's position,
    /// or, if it cannot follow on from them (it missed some, fell behind
    /// the buffer, or the job ended), a read of its own.
    fn take(&mut self, batch: Result<Arc<Batch>, broadcast::error::RecvError>) {
        match batch.as_deref() {
            Ok(Batch::Lines { after, lines }) if *after <= self.after => {
                let new = lines.iter().filter(|(seq, _)| *seq > self.after);
                self.ahead.extend(new.cloned());
                self.after = self.ahead.back().map_or(self.after, |(seq, _)| *seq);
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.behind = true,
            // The watcher is gone (the job ended as the client came): the
            // client reads the store, and watches with a new one.
            Err(broadcast::error::RecvError::Closed) => {
                let streams = self.server.streams();
                self.watched = streams.subscribe(&self.server, &self.id, self.after);
                self.behind = true;
            }
        }
    }

    /// Reads the lines after the client's position, at most [`BATCH`]
    /// (it stays behind while there are more); the `end` event if the job
    /// has ended and there are none. The job's state is read first: a job
    /// that had ended then has written every line the read that follows
    /// returns.
    async fn read(&mut self) -> Result<Option<Event>, String> {
        let store = self.server.store();
        let job = store.get(&self.id).await.map_err(|e| e.to_string())?;
        let lines = store
            .streams(&self.id, self.after)
            .await
            .map_err(|e| e.to_string())?;
        if lines.is_empty() && job.is_terminal() {
            let end = serde_json::json!({ "status": job.state, "reason": job.reason });
            return Ok(Some(Event::default().event("end").data(end.to_string())));
        }
        self.behind = lines.len() > BATCH || job.is_terminal();
        self.ahead.extend(lines.into_iter().take(BATCH));
        self.after = self.ahead.back().map_or(self.after, |(seq, _)| *seq);
        Ok(None)
    }
}
