//! A real registry for tests (feature `dev-registry`): Debian's
//! `docker-registry` (CNCF distribution) on 127.0.0.1, in a temporary root,
//! optionally behind htpasswd users, reached through a small proxy that
//! records every request line before passing it on. A request is recorded
//! before its answer leaves, so once a command has its answer the record
//! has the request: counting needs no waiting. Stopped (the registry killed,
//! the proxy's port closed: connection refused) by [`DevRegistry::stop`] or
//! when dropped.
//!
//! Without the binary the fixture panics with how to install it: a test
//! that needs a registry fails, it is never skipped.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = "docker-registry";

/// A running registry; see the module docs.
pub struct DevRegistry {
    child: Option<Child>,
    root: tempfile::TempDir,
    /// `127.0.0.1:<port>`: the proxy's address, what references name.
    address: String,
    requests: Arc<Mutex<Vec<String>>>,
    stopped: Arc<AtomicBool>,
}

impl DevRegistry {
    /// A registry anyone may push to and pull from.
    pub fn start() -> DevRegistry {
        DevRegistry::launch(&[])
    }

    /// A registry that wants one of `users` (name, password) for everything.
    pub fn with_users(users: &[(&str, &str)]) -> DevRegistry {
        DevRegistry::launch(users)
    }

    fn launch(users: &[(&str, &str)]) -> DevRegistry {
        let root = tempfile::tempdir().expect("a temporary root for the registry");
        let backend = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{backend}\n  secret: drbook-tests\n",
            root.path().join("data").display()
        );
        if !users.is_empty() {
            let htpasswd: String = users
                .iter()
                .map(|(user, password)| {
                    let hash = bcrypt::hash(password, 5).expect("bcrypt hashes a password");
                    format!("{user}:{hash}\n")
                })
                .collect();
            let file = root.path().join("htpasswd");
            std::fs::write(&file, htpasswd).expect("writing the htpasswd file");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: drbook-tests\n    path: {}\n",
                file.display()
            ));
        }
        let config_file = root.path().join("config.yml");
        std::fs::write(&config_file, config).expect("writing the registry's config");
        let log = std::fs::File::create(root.path().join("registry.log")).expect("a log file");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file again"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{BINARY}` ({e}): the registry tests need Debian's CNCF distribution \
                     registry; install it with `apt-get update -qq && apt-get install -y -qq docker-registry` \
                     (scripts/test.sh and .ci/run do)"
                )
            });
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let address = listener.local_addr().expect("its address").to_string();
        let mut registry = DevRegistry {
            child: Some(child),
            root,
            address,
            requests: Arc::default(),
            stopped: Arc::default(),
        };
        registry.wait_until_up(backend);
        let (requests, stopped) = (registry.requests.clone(), registry.stopped.clone());
        std::thread::spawn(move || proxy(listener, backend, requests, stopped));
        registry
    }

    /// Waits for the registry's `GET /v2/` to answer (200, or 401 with users).
    fn wait_until_up(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{BINARY} exited ({status}) before answering: {}",
                    std::fs::read_to_string(self.root.path().join("registry.log"))
                        .unwrap_or_default()
                );
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = stream.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.0 401") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{BINARY} did not answer GET /v2/ within 30 s: {}",
                std::fs::read_to_string(self.root.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `oci://127.0.0.1:<port>/<path>`.
    pub fn reference(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.address)
    }

    /// Every request line so far (`GET /v2/dr/x/manifests/v1 HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("the request log").clone()
    }

    /// Where the registry keeps blob `digest` (`sha256:<hex>`) on disk.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.root
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's root directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Kills the registry and closes its port: what follows is refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.stopped.swap(true, Ordering::SeqCst) {
            // Wakes the proxy's accept, which then drops its listener.
            let _ = TcpStream::connect(&self.address);
        }
    }
}

impl Drop for DevRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Accepts until stopped; each connection is piped to the registry, its
/// request lines recorded on the way.
fn proxy(
    listener: TcpListener,
    backend: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stopped: Arc<AtomicBool>,
) {
    for client in listener.incoming() {
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", backend)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let (client_in, server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let requests = requests.clone();
        std::thread::spawn(move || upstream(client_in, server_out, requests));
        std::thread::spawn(move || pipe(server, client));
    }
}

/// Client to registry, recording each request line before passing it on.
fn upstream(mut from: TcpStream, mut to: TcpStream, requests: Arc<Mutex<Vec<String>>>) {
    const METHODS: [&str; 6] = ["GET ", "HEAD ", "POST ", "PUT ", "PATCH ", "DELETE "];
    let mut line = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            line.push(b);
            if line.ends_with(b"\r\n") {
                let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
                if METHODS.iter().any(|m| text.starts_with(m)) && text.ends_with(" HTTP/1.1") {
                    requests.lock().expect("the request log").push(text);
                }
                line.clear();
            } else if line.len() > 8192 {
                line.clear();
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
}
