//! Checks a runbook makes of what it recovered, beyond the fabric's state.
//!
//! ```no_run
//! use core::time::Duration;
//!
//! # fn main() -> drbook_sdk::Result<()> {
//! drbook_sdk::check::http_ok("http://10.1.0.4/health", Duration::from_secs(5))?;
//! # Ok(())
//! # }
//! ```

use core::time::Duration;

use crate::http::{self, Method, Request};

/// `GET url` answers 2xx within `timeout`: `Ok` with its status, else an
/// error that says what came instead (a status and the body's start, a
/// timeout, a refused grant).
pub fn http_ok(url: &str, timeout: Duration) -> crate::Result<u16> {
    let response = http::send(Request::new(Method::Get, url).timeout(timeout))
        .map_err(|e| crate::Error::from(e).context(format!("checking {url}")))?;
    if !response.ok() {
        let text = response.text();
        let start: String = text.chars().take(200).collect();
        crate::bail!("checking {url}: it answers {}: {start}", response.status);
    }
    Ok(response.status)
}
