//! `drbook jobs logs ID --follow`, on the local job store and through a
//! server's live stream (`--server`), on a job that a real `drbook serve`
//! runs: the lines the job writes after the command started arrive, each
//! once, and the command exits with the job's end. The remote one goes
//! through a proxy that drops its first stream after one line: it resumes
//! with `Last-Event-ID`, losing and repeating nothing.

mod common;
mod runbooks;

use common::{drbook, exits, serve, wait_for};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the test waits for what is due before it fails (it measures
/// nothing).
const PATIENCE: Duration = Duration::from_secs(60);

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command started with its stdout read line by line as it comes.
struct Following {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Following {
    fn start(mut command: Command) -> Following {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Following { child, lines }
    }

    /// The next line it printed.
    fn line(&self) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .expect("a line within the test's patience")
    }

    /// Waits for it to exit: its exit code, and every line it printed
    /// after those taken.
    fn exit(mut self) -> (Option<i32>, Vec<String>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "it still follows a job that ended"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr);
        (status.code(), self.lines.iter().collect(), stderr)
    }
}

/// A TCP proxy to `upstream` on 127.0.0.1 that keeps the requests it saw
/// and drops the first connection that streams events after it forwarded
/// its first line.
struct Proxy {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    dropped: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let dropped = Arc::new(AtomicBool::new(false));
        let (seen, cut) = (requests.clone(), dropped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect(&upstream).unwrap();
                let streams = Arc::new(AtomicBool::new(false));
                let (mut from, mut to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (seen, streaming) = (seen.clone(), streams.clone());
                std::thread::spawn(move || {
                    let mut buffer = [0; 16 * 1024];
                    while let Ok(n @ 1..) = from.read(&mut buffer) {
                        let request = String::from_utf8_lossy(&buffer[..n]).into_owned();
                        if request.contains("/events ") {
                            streaming.store(true, Ordering::SeqCst);
                        }
                        seen.lock().unwrap().push(request);
                        if to.write_all(&buffer[..n]).is_err() {
                            return;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
                let cut = cut.clone();
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server, client);
                    let mut buffer = [0; 16 * 1024];
                    while let Ok(n @ 1..) = from.read(&mut buffer) {
                        // Marked cut before the client can read what it is
                        // sent, so that the test sees the mark once it has
                        // the lines.
                        let line = String::from_utf8_lossy(&buffer[..n]).contains("event: line");
                        let cut_here = line
                            && streams.load(Ordering::SeqCst)
                            && !cut.swap(true, Ordering::SeqCst);
                        if to.write_all(&buffer[..n]).is_err() {
                            return;
                        }
                        if cut_here {
                            let _ = to.shutdown(Shutdown::Both);
                            let _ = from.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        Proxy {
            url,
            requests,
            dropped,
        }
    }
}

#[test]
fn logs_follow_a_running_job_here_and_through_a_server_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("drbook.toml"), "[fabric]\nspeed = \"instant\"\n").unwrap();
    exits(drbook(dir), &["fabric", "init", "--demo"], 0);
    let plan = dir.join("manual.toml");
    std::fs::write(
        &plan,
        "name = \"manual\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n\
         pre = [{ name = \"dns\", manual = \"Switch DNS to westus\" }]\n",
    )
    .unwrap();
    let made = exits(
        drbook(dir),
        &["token", "create", "--name", "tail", "--scope", "viewer"],
        0,
    );
    let viewer = text(&made).trim().to_string();
    let (_server, url) = serve(drbook(dir).args(["serve", "--listen", "127.0.0.1:0"]));
    let proxy = Proxy::start(&url);

    // A job the server's worker runs until it waits for a person.
    let runbook = runbooks::failover_plan();
    let run = [
        "run",
        runbook.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--detach",
    ];
    let job = text(&exits(drbook(dir), &run, 0)).trim().to_string();
    wait_for(dir, &job, "Suspended");
    let before = text(&exits(drbook(dir), &["jobs", "logs", &job], 0));
    let before: Vec<&str> = before.lines().collect();
    assert!(
        !before.is_empty(),
        "the job wrote lines before its manual step"
    );

    // Both follow it: the lines so far, then they wait.
    let mut local = drbook(dir);
    local.args(["jobs", "logs", &job, "--follow"]);
    let local = Following::start(local);
    let mut remote = drbook(&tempfile::tempdir().unwrap().keep());
    remote.args(["--server", &proxy.url, "--token", &viewer]);
    remote.args(["jobs", "logs", &job, "--follow"]);
    let remote = Following::start(remote);
    for follower in [&local, &remote] {
        for line in &before {
            assert_eq!(follower.line(), *line);
        }
    }
    assert!(
        proxy.dropped.load(Ordering::SeqCst),
        "the proxy dropped the remote stream after its first line"
    );

    // The step is approved: the job runs on to its end, and so do they.
    let approved = exits(drbook(dir), &["jobs", "approve", &job], 0);
    assert!(text(&approved).contains("approved"));
    wait_for(dir, &job, "Completed");
    let whole = text(&exits(drbook(dir), &["jobs", "logs", &job], 0));
    let after: Vec<String> = whole
        .lines()
        .skip(before.len())
        .map(str::to_string)
        .collect();
    assert!(!after.is_empty(), "the job wrote lines after the approval");
    for (name, follower) in [("local", local), ("remote", remote)] {
        let (code, rest, stderr) = follower.exit();
        assert_eq!(
            code,
            Some(0),
            "the {name} follow exits 0 at the job's end: {stderr}"
        );
        assert_eq!(
            rest, after,
            "the {name} follow prints the later lines, each once"
        );
    }

    // The remote follow came back after the drop, resuming after the lines
    // it had (at least the one the proxy let through).
    let requests = proxy.requests.lock().unwrap();
    let resumed_after = |request: &str| -> i64 {
        let header = request
            .lines()
            .find_map(|l| l.strip_prefix("last-event-id: "));
        header
            .unwrap_or_else(|| panic!("no Last-Event-ID: {request}"))
            .trim()
            .parse()
            .unwrap()
    };
    let streams: Vec<i64> = requests
        .iter()
        .filter(|r| r.contains("/events "))
        .map(|r| resumed_after(r))
        .collect();
    assert!(
        streams.len() >= 2,
        "the stream was opened again: {streams:?}"
    );
    assert_eq!(streams[0], 0, "the first stream starts at the first line");
    assert!(
        (1..=before.len() as i64).contains(&streams[1]),
        "the stream opened again resumes after the lines printed: {streams:?}"
    );
    assert!(
        requests.iter().all(|r| !r.contains("/streams")),
        "the remote follow reads the live stream, not pages of lines"
    );
}
