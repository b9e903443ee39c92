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
//! What a client can cost is bounded: at most `max_streams` streams are
//! open at once (more get 503 and `Retry-After`), and a stream holds at
//! most [`BATCH`] lines read ahead. It reads the next ones only when the
//! client has taken those (the body is pulled, not pushed), so a client
//! that stops reading costs its buffer and its connection, no more. A stream
//! asks the store for new lines every [`POLL`] while none come (a read is
//! bounded by the job's own output limit, `Limits::output_bytes`); streams end
//! when the server shuts down, so shutdown does not wait for them.

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use drbook_core::journal::Record;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::api::{store_refusal, Line};
use super::refusal::Refusal;
use super::server::Server;

/// Streams served at once by default.
pub const MAX_STREAMS: usize = 256;

/// Lines a stream reads ahead of its client, at most.
pub const BATCH: usize = 256;

/// How often a stream asks the store for lines while none come: well
/// under the 100 ms a line may take to reach a browser.
pub const POLL: Duration = Duration::from_millis(50);

/// The server's open streams: their slots, and the signal that ends them.
pub(crate) struct Streams {
    slots: Arc<Semaphore>,
    max: usize,
    closing: watch::Sender<bool>,
}

impl Streams {
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Streams {
            slots: Arc::new(Semaphore::new(max)),
            max,
            closing: watch::Sender::new(false),
        }
    }

    /// Ends every stream (at its next poll) and refuses new ones.
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
        self.slots.close();
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
    let follow = Follow {
        server: server.clone(),
        closing: streams.closing.subscribe(),
        id,
        after,
        ahead: VecDeque::new(),
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
    id: String,
    /// The number of the last line sent.
    after: i64,
    ahead: VecDeque<(i64, Record)>,
    /// The `end` event was sent.
    ended: bool,
    _slot: OwnedSemaphorePermit,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some((seq, record)) = self.ahead.pop_front() {
                self.after = seq;
                let line = Line { seq, record };
                let event = Event::default().id(seq.to_string()).event("line");
                let event = event.json_data(&line).unwrap_or_else(|_| Event::default());
                return Some((Ok(event), self));
            }
            if self.ended || *self.closing.borrow() {
                return None;
            }
            match self.read().await {
                Ok(Some(end)) => {
                    self.ended = true;
                    return Some((Ok(end), self));
                }
                Ok(None) => {}
                Err(why) => {
                    self.ended = true;
                    return Some((Ok(Event::default().event("error").data(why)), self));
                }
            }
            if self.ahead.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = self.closing.changed() => return None,
                }
            }
        }
    }

    /// Reads the lines after the last one sent; the `end` event if the job
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
        self.ahead.extend(lines.into_iter().take(BATCH));
        Ok(None)
    }
}
