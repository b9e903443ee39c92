//! A local HTTP/1.1 server standing in for the world (an application's
//! health endpoint, an incident channel's webhook) in the CLI tests of
//! runbooks' outside calls: it records every connection and request it
//! gets. Included with `#[path]` by the tests that use it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the stand-in server saw: each connection, and each request as
/// `METHOD /path`; how many bytes of `/big` it wrote before the client left.
#[derive(Default)]
struct Seen {
    connections: usize,
    requests: Vec<String>,
    bodies: Vec<String>,
    big_written: u64,
}

/// A local HTTP/1.1 server with a behaviour per path: `/ok...` answers 200
/// with the path, `/missing` 404, `/redirect` 302 to `redirect_to`, `/hold` reads the
/// request and never answers, `/big` streams a 1 GiB body (written a chunk
/// at a time, never held), `/drip` sends its headers and then a byte every
/// 100 ms.
pub struct Stand {
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl Stand {
    pub fn start(redirect_to: &str) -> Stand {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (shared, redirect_to) = (seen.clone(), redirect_to.to_string());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                shared.lock().unwrap().connections += 1;
                let (seen, redirect_to) = (shared.clone(), redirect_to.clone());
                std::thread::spawn(move || serve(stream, &seen, &redirect_to));
            }
        });
        Stand { port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Each request as `METHOD /path`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().requests.clone()
    }

    /// Each request's body, in order.
    #[allow(dead_code)] // not every test that includes this reads bodies
    pub fn bodies(&self) -> Vec<String> {
        self.seen.lock().unwrap().bodies.clone()
    }

    /// How many bytes of `/big` it wrote before the client left.
    #[allow(dead_code)] // not every test that includes this asks
    pub fn big_written(&self) -> u64 {
        self.seen.lock().unwrap().big_written
    }

    #[allow(dead_code)] // not every test that includes this asks
    pub fn connections(&self) -> usize {
        self.seen.lock().unwrap().connections
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Seen>, redirect_to: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        {
            let mut seen = seen.lock().unwrap();
            seen.requests.push(format!("{method} {path}"));
            seen.bodies
                .push(String::from_utf8_lossy(&body).into_owned());
        }
        let answered = match path.as_str() {
            "/missing" => write!(
                stream,
                "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found"
            ),
            "/redirect" => write!(
                stream,
                "HTTP/1.1 302 Found\r\nlocation: {redirect_to}\r\ncontent-length: 0\r\n\r\n"
            ),
            "/hold" => {
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            "/big" => {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                    1u64 << 30
                );
                let chunk = vec![b'x'; 64 << 10];
                while stream.write_all(&chunk).is_ok() {
                    seen.lock().unwrap().big_written += chunk.len() as u64;
                }
                return;
            }
            "/drip" => {
                let _ = write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n");
                while stream.write_all(b"x").is_ok() {
                    std::thread::sleep(Duration::from_millis(100));
                }
                return;
            }
            _ => write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\nok {path}",
                path.len() + 3
            ),
        };
        if answered.is_err() {
            return;
        }
    }
}
