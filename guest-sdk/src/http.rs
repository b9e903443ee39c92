//! Outside calls over HTTP, to the destinations the runbook's capability
//! manifest grants (`[package.metadata.drbook] http = ["https://host/path/"]`
//! in its Cargo.toml; `wit/runbook.wit`'s `http` has the rules). Each
//! exchange is journaled by the host: a resumed job gets the same answer
//! without a second request, and a write (`post_json`, [`send`] of a POST,
//! PUT, PATCH or DELETE) is sent at most once per job.
//!
//! ```no_run
//! use drbook_sdk::http;
//!
//! # fn main() -> drbook_sdk::Result<()> {
//! let health = http::get("https://app.contoso.com/health")?;
//! if !health.ok() {
//!     drbook_sdk::bail!("the application answers {}: {}", health.status, health.text());
//! }
//! let version = health.json()?["version"].as_str().unwrap_or("?").to_string();
//! http::post_json(
//!     "https://hooks.contoso.com/incident",
//!     &http::json!({ "text": format!("failed over; app {version} answers") }),
//! )?;
//! # Ok(())
//! # }
//! ```

use core::time::Duration;

use crate::bindings::drbook::runbook::http as wit;
/// JSON for bodies (serde_json's), so that a runbook needs no dependency
/// of its own for it.
pub use serde_json::{json, Value};
pub use wit::{HttpError, Method};

/// A request, built with [`Request::new`] and its setters, sent by [`send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
}

impl Request {
    pub fn new(method: Method, url: &str) -> Request {
        Request {
            method,
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The whole exchange's bound (the host's default is 10 s, its most 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = Some(timeout);
        self
    }
}

/// A response, of any status.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> crate::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .map_err(|e| crate::Error::new(format!("the response is not JSON: {e}")))
    }

    /// The first header of this name (compared in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request`: its response of any status, or why none came.
pub fn send(request: Request) -> Result<Response, HttpError> {
    let response = wit::send(&wit::Request {
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body,
        timeout_ms: request
            .timeout
            .map(|t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX)),
    })?;
    Ok(Response {
        status: response.status,
        headers: response.headers,
        body: response.body,
    })
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send(Request::new(Method::Get, url))
}

/// `POST url` with `body` as JSON (`content-type: application/json`).
pub fn post_json(url: &str, body: &serde_json::Value) -> Result<Response, HttpError> {
    send(
        Request::new(Method::Post, url)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
}

/// The error's kind as the WIT names it: `not-granted`, `timeout`, ...
pub fn kind(error: &HttpError) -> &'static str {
    match error {
        HttpError::NotGranted(_) => "not-granted",
        HttpError::Invalid(_) => "invalid",
        HttpError::Timeout(_) => "timeout",
        HttpError::TooLarge(_) => "too-large",
        HttpError::Connection(_) => "connection",
        HttpError::OutcomeUnknown(_) => "outcome-unknown",
        HttpError::NotSent(_) => "not-sent",
    }
}

/// The error's message, with its kind: `not granted: ...`.
pub fn describe(error: &HttpError) -> String {
    let (kind, message) = match error {
        HttpError::NotGranted(m) => ("not granted", m),
        HttpError::Invalid(m) => ("invalid request", m),
        HttpError::Timeout(m) => ("timed out", m),
        HttpError::TooLarge(m) => ("too large", m),
        HttpError::Connection(m) => ("connection failed", m),
        HttpError::OutcomeUnknown(m) => ("outcome unknown", m),
        HttpError::NotSent(m) => ("not sent", m),
    };
    format!("{kind}: {message}")
}

impl From<HttpError> for crate::Error {
    fn from(e: HttpError) -> Self {
        crate::Error::new(describe(&e))
    }
}
