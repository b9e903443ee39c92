//! What reaches the server's log. Every line is escaped on its way to the
//! sink, so nothing a client sends (a percent-decoded webhook name, a
//! parameter, a value in an alert) can break a line or forge one such as
//! `serve: job X Completed`. Refusals, which a client can cause at will,
//! are logged at a bounded rate, with a count of the lines left out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the server's log lines go (stderr by default).
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// `text` on one line: control characters (CR, LF, ESC, ...) and Unicode's
/// line and paragraph separators as Rust escapes (`\n`, `\u{1b}`); the
/// rest as is.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// A sink that escapes every line before passing it to `sink`.
pub fn escaping(sink: LogSink) -> LogSink {
    Arc::new(move |line: &str| sink(&escape(line)))
}

/// At most `per_second` lines a second; the others are counted, and the
/// count is logged with the first line of a later second.
pub struct Bounded {
    per_second: u32,
    window: Mutex<Window>,
}

struct Window {
    started: Instant,
    lines: u32,
    suppressed: u64,
}

impl Bounded {
    pub fn new(per_second: u32) -> Self {
        Bounded {
            per_second,
            window: Mutex::new(Window {
                started: Instant::now(),
                lines: 0,
                suppressed: 0,
            }),
        }
    }

    pub fn log(&self, sink: &LogSink, line: &str) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.started.elapsed() >= Duration::from_secs(1) {
            if w.suppressed > 0 {
                sink(&format!(
                    "serve: {} refusal line(s) left out since {:.1}s ago (at most {} a second)",
                    w.suppressed,
                    w.started.elapsed().as_secs_f64(),
                    self.per_second
                ));
            }
            *w = Window {
                started: Instant::now(),
                lines: 0,
                suppressed: 0,
            };
        }
        if w.lines < self.per_second {
            w.lines += 1;
            sink(line);
        } else {
            w.suppressed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape("a\nserve: job X Completed\r\u{1b}[2J\u{2028}é"),
            "a\\nserve: job X Completed\\r\\u{1b}[2J\\u{2028}é"
        );
    }

    #[test]
    fn lines_beyond_the_rate_are_counted() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = lines.clone();
        let sink: LogSink = Arc::new(move |l: &str| seen.lock().unwrap().push(l.to_string()));
        let bounded = Bounded::new(2);
        for i in 0..5 {
            bounded.log(&sink, &format!("line {i}"));
        }
        assert_eq!(*lines.lock().unwrap(), ["line 0", "line 1"]);
        std::thread::sleep(Duration::from_millis(1050));
        bounded.log(&sink, "later");
        let lines = lines.lock().unwrap();
        assert!(
            lines[2].starts_with("serve: 3 refusal line(s) left out"),
            "{lines:?}"
        );
        assert_eq!(lines[3], "later");
    }
}
