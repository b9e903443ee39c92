//! A job's live streams over server-sent events, read by a real HTTP client
//! from a real server while the job's run writes them: lines arrive as they
//! are written, a client that reconnects with `Last-Event-ID` gets the rest
//! (none twice, none lost), the job's end closes the stream, and the
//! streams served at once are bounded.

mod common;

use chrono::{TimeDelta, Utc};
use common::Served;
use drbook_core::job::JobStatus;
use drbook_core::journal::{Record, Stream};
use drbook_core::store::RunEnd;
use drbook_core::token::Scope;
use drbook_triggers::{create_token, ServeOptions};
use std::time::{Duration, SystemTime};

/// How long a test waits for an event before it fails (it does not measure
/// how fast events come: that is the benchmark's).
const PATIENCE: Duration = Duration::from_secs(30);

/// One server-sent event: its `id`, `event` and `data` fields.
#[derive(Debug, Default, PartialEq)]
struct Event {
    id: Option<String>,
    event: String,
    data: String,
}

/// An open event stream, read a chunk at a time.
struct Reader {
    response: reqwest::Response,
    buffer: String,
}

impl Reader {
    /// The next event; `None` when the server has closed the stream.
    /// Comments (the keep-alive) are skipped.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                for line in block.lines() {
                    match line.split_once(':') {
                        Some(("id", v)) => event.id = Some(v.trim_start().to_string()),
                        Some(("event", v)) => event.event = v.trim_start().to_string(),
                        Some(("data", v)) => event.data.push_str(v.trim_start()),
                        _ => {}
                    }
                }
                if !event.event.is_empty() {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("an event within the test's patience")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The text of the next event, which must be a line.
    async fn line(&mut self) -> (String, String) {
        let event = self.next().await.expect("a line, not the stream's end");
        assert_eq!(event.event, "line", "{event:?}");
        let line: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        let id = event.id.expect("a line has an id");
        assert_eq!(line["seq"].to_string(), id, "the id is the line's number");
        (id, line["record"]["text"].as_str().unwrap().to_string())
    }
}

/// A client of one job's stream.
struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Client {
    /// Opens the stream, after line `last` if given.
    async fn open(&self, last: Option<&str>) -> reqwest::Response {
        self.open_with("", last).await
    }

    /// Opens the stream with `query` (`?after=N`), `last` as `Last-Event-ID`.
    async fn open_with(&self, query: &str, last: Option<&str>) -> reqwest::Response {
        let url = format!("{}{query}", self.url);
        let mut request = self.http.get(url).bearer_auth(&self.token);
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        request.send().await.unwrap()
    }

    /// Opens it (as [`Client::open_with`]) once the server has freed its one slot,
    /// which a stream the test dropped holds until the server notices.
    async fn reopen(&self, query: &str, last: Option<&str>) -> Reader {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let response = self.open_with(query, last).await;
            if response.status() != 503 {
                assert_eq!(response.status(), 200);
                return Reader {
                    response,
                    buffer: String::new(),
                };
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the slot stays taken"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn record(text: &str) -> Record {
    Record {
        stream: Stream::Output,
        time: SystemTime::now(),
        text: text.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_arrive_as_written_and_a_resumed_stream_neither_repeats_nor_loses_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let far = Utc::now() + TimeDelta::days(1);
    let viewer = create_token(store.as_ref(), "watcher", &[Scope::Viewer], far, "test")
        .await
        .unwrap()
        .secret;
    let plan = "name = \"events\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n";
    let trigger = serde_json::json!({ "kind": "commandLine", "user": "test" });
    let (job, run) = common::running_job(store.as_ref(), "r.wasm", plan, trigger).await;
    let options = ServeOptions {
        max_streams: 1,
        ..ServeOptions::default()
    };
    let served = Served::start(store.clone(), sim, options).await;
    let client = Client {
        http: reqwest::Client::new(),
        url: format!("{}/api/v1/jobs/{job}/events", served.base),
        token: viewer.clone(),
    };

    // Each line arrives after it is written, in order.
    let response = client.open(None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "what an EventSource reads"
    );
    let mut first = Reader {
        response,
        buffer: String::new(),
    };
    run.append_stream(&record("one")).unwrap();
    assert_eq!(first.line().await.1, "one");
    run.append_stream(&record("two")).unwrap();
    let (two, text) = first.line().await;
    assert_eq!(text, "two");

    // One stream at a time here: a second is refused while it is open.
    let refused = client.open(None).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    drop(first);

    // Lines written while no one listens; the client comes back with the
    // id of the last line it got (its slot may take a moment to free).
    run.append_stream(&record("three")).unwrap();
    run.append_stream(&record("four")).unwrap();
    let mut again = client.reopen("", Some(&two)).await;
    assert_eq!(again.line().await.1, "three");
    assert_eq!(again.line().await.1, "four");
    run.append_stream(&record("<five>")).unwrap();
    assert_eq!(again.line().await.1, "<five>");

    // The job's end is the stream's.
    run.end(RunEnd::Finished {
        status: JobStatus::Completed,
        reason: None,
        result: &serde_json::json!({}),
    })
    .await
    .unwrap();
    let end = again.next().await.expect("the end event");
    assert_eq!(end.event, "end", "{end:?}");
    let end: serde_json::Value = serde_json::from_str(&end.data).unwrap();
    assert_eq!(end["status"], "Completed");
    assert!(again.next().await.is_none(), "the stream closes");
    drop(again);

    // An ended job's stream from the start: every line once, then its end.
    let mut whole = client.reopen("", Some("0")).await;
    let mut texts = Vec::new();
    while let Some(event) = whole.next().await {
        if event.event == "line" {
            let line: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            texts.push(line["record"]["text"].as_str().unwrap().to_string());
        } else {
            assert_eq!(event.event, "end");
        }
    }
    assert_eq!(texts, ["one", "two", "three", "four", "<five>"]);
    drop(whole);

    // A page that rendered the lines up to 3 asks for those after (`after`).
    let mut rest = client.reopen("?after=3", None).await;
    assert_eq!(rest.line().await.1, "four");

    // A Last-Event-ID that is no line's number, and a job that is not.
    let bad = client.open(Some("two")).await;
    assert_eq!(bad.status(), 400);
    let why = bad.text().await.unwrap();
    assert!(why.contains("Last-Event-ID"), "{why}");
    let none = client
        .http
        .get(format!("{}/api/v1/jobs/job-none/events", served.base))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);
    let log = served.log.lock().unwrap().join("\n");
    assert!(log.contains("too_many_streams"), "{log}");
    assert!(!log.contains(&viewer), "the log holds the token");
    served.stop().await;
}

/// The value of gauge `name` in the server's `/metrics`.
async fn gauge(client: &Client, base: &str, name: &str) -> u64 {
    let text = client
        .http
        .get(format!("{base}/metrics"))
        .bearer_auth(&client.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"));
    value.parse().unwrap()
}

/// Waits until gauge `name` reads `value`.
async fn gauge_reaches(client: &Client, base: &str, name: &str, value: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = gauge(client, base, name).await;
        if now == value {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stays {now}, not {value}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every line a stream sends until its `end`, each checked to come after
/// the one before (none twice), and the end's status.
async fn until_end(reader: &mut Reader) -> (Vec<String>, String) {
    let mut texts = Vec::new();
    let mut last = 0;
    loop {
        let event = reader.next().await.expect("lines, then the end event");
        if event.event == "end" {
            let end: serde_json::Value = serde_json::from_str(&event.data).unwrap();
            assert!(reader.next().await.is_none(), "the stream closes");
            return (texts, end["status"].as_str().unwrap().to_string());
        }
        assert_eq!(event.event, "line", "{event:?}");
        let seq: i64 = event.id.as_deref().unwrap().parse().unwrap();
        assert!(
            seq > last,
            "line {seq} after line {last}: sent twice or out of order"
        );
        last = seq;
        let line: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        texts.push(line["record"]["text"].as_str().unwrap().to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_one_job_share_one_watcher_and_each_gets_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let far = Utc::now() + TimeDelta::days(1);
    let viewer = create_token(store.as_ref(), "watchers", &[Scope::Viewer], far, "test")
        .await
        .unwrap()
        .secret;
    let plan = "name = \"shared\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n";
    let trigger = serde_json::json!({ "kind": "commandLine", "user": "test" });
    let (job, run) = common::running_job(store.as_ref(), "r.wasm", plan, trigger).await;
    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let base = served.base.clone();
    let client = Client {
        http: reqwest::Client::new(),
        url: format!("{base}/api/v1/jobs/{job}/events"),
        token: viewer.clone(),
    };
    assert_eq!(gauge(&client, &base, "drbook_event_watchers").await, 0);

    // Four clients from the start; each line reaches each of them.
    let mut early = Vec::new();
    for _ in 0..4 {
        early.push(client.reopen("", None).await);
    }
    let mut written = Vec::new();
    for n in 0..30 {
        let text = format!("line {n}");
        run.append_stream(&record(&text)).unwrap();
        written.push(text);
        if n % 10 == 9 {
            for reader in &mut early {
                for text in &written[n - 9..=n] {
                    assert_eq!(&reader.line().await.1, text);
                }
            }
        }
    }
    assert_eq!(gauge(&client, &base, "drbook_event_streams").await, 4);
    assert_eq!(
        gauge(&client, &base, "drbook_event_watchers").await,
        1,
        "one poll of the job for its four streams"
    );

    // A client joining late gets the lines before it from the store, then
    // the live ones, none twice; one resuming after line 25 gets the rest.
    let mut late = client.reopen("", None).await;
    let mut resumed = client.reopen("", Some("25")).await;
    for n in 30..40 {
        let text = format!("line {n}");
        run.append_stream(&record(&text)).unwrap();
        written.push(text);
    }
    run.end(RunEnd::Finished {
        status: JobStatus::Completed,
        reason: None,
        result: &serde_json::json!({}),
    })
    .await
    .unwrap();
    for reader in &mut early {
        let (texts, status) = until_end(reader).await;
        assert_eq!(
            texts,
            written[30..],
            "an early client's lines after the first 30"
        );
        assert_eq!(status, "Completed");
    }
    let (texts, status) = until_end(&mut late).await;
    assert_eq!(texts, written, "the late client: every line, once");
    assert_eq!(status, "Completed");
    let (texts, _) = until_end(&mut resumed).await;
    assert_eq!(texts, written[25..], "resumed after line 25");
    drop((early, late, resumed));
    gauge_reaches(&client, &base, "drbook_event_watchers", 0).await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_watcher_ends_when_its_last_client_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sim) = common::store(dir.path());
    let far = Utc::now() + TimeDelta::days(1);
    let viewer = create_token(store.as_ref(), "leaver", &[Scope::Viewer], far, "test")
        .await
        .unwrap()
        .secret;
    let plan = "name = \"left\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
                [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n";
    let trigger = serde_json::json!({ "kind": "commandLine", "user": "test" });
    let (job, run) = common::running_job(store.as_ref(), "r.wasm", plan, trigger).await;
    let served = Served::start(store.clone(), sim, ServeOptions::default()).await;
    let base = served.base.clone();
    let client = Client {
        http: reqwest::Client::new(),
        url: format!("{base}/api/v1/jobs/{job}/events"),
        token: viewer,
    };
    let mut first = client.reopen("", None).await;
    let mut second = client.reopen("", None).await;
    run.append_stream(&record("before")).unwrap();
    assert_eq!(first.line().await.1, "before");
    assert_eq!(second.line().await.1, "before");
    assert_eq!(gauge(&client, &base, "drbook_event_watchers").await, 1);

    // One leaves: the other's watcher goes on.
    drop(first);
    run.append_stream(&record("after one left")).unwrap();
    assert_eq!(second.line().await.1, "after one left");
    assert_eq!(gauge(&client, &base, "drbook_event_watchers").await, 1);

    // The last leaves while the job runs on: its watcher ends. The server
    // notices a closed connection as it writes to it: the job writes on
    // until it has.
    drop(second);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut alone = 0;
    while gauge(&client, &base, "drbook_event_watchers").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher outlives its last client"
        );
        run.append_stream(&record(&format!("to no one {alone}")))
            .unwrap();
        alone += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gauge_reaches(&client, &base, "drbook_event_streams", 0).await;

    // A new client starts a new watcher, and gets every line.
    let mut again = client.reopen("", None).await;
    assert_eq!(again.line().await.1, "before");
    assert_eq!(again.line().await.1, "after one left");
    for n in 0..alone {
        assert_eq!(again.line().await.1, format!("to no one {n}"));
    }
    run.append_stream(&record("live again")).unwrap();
    assert_eq!(again.line().await.1, "live again");
    assert_eq!(gauge(&client, &base, "drbook_event_watchers").await, 1);
    served.stop().await;
}
