//! A runbook that sends what its job's parameters say, to test the host's
//! grants, bounds and journal of outside calls: `requests` is a list of
//! `METHOD URL` separated by `;` (`GET http://127.0.0.1:8080/health; POST
//! https://b.test/hook`), sent in order; `timeout-ms` bounds each. It
//! returns a JSON array with one object per request: `status` and `body`,
//! or `error` (the error's kind) and `message`. Its grant is written by each
//! test (`drbook runbook grant --http`); built, it has none.

use core::time::Duration;

use drbook_sdk::http::{self, Method, Request};
use drbook_sdk::prelude::*;
use serde_json::{json, Value};

drbook_sdk::runbook!(run);

fn run(ctx: &Context) -> Result<String> {
    let timeout = ctx
        .param("timeout-ms")
        .map(|t| {
            t.parse::<u64>()
                .map_err(|e| Error::new(format!("timeout-ms: {e}")))
        })
        .transpose()?;
    let mut results = Vec::new();
    for request in ctx.param("requests").unwrap_or_default().split(';') {
        let request = request.trim();
        if request.is_empty() {
            continue;
        }
        let (method, url) = request
            .split_once(' ')
            .ok_or_else(|| Error::new(format!("`{request}` is not `METHOD URL`")))?;
        let method = match method {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            other => bail!("`{other}` is not a method"),
        };
        let mut request = Request::new(method, url.trim());
        if !matches!(method, Method::Get | Method::Head) {
            request = request
                .header("content-type", "application/json")
                .body(json!({ "job": ctx.job_id() }).to_string());
        }
        if let Some(ms) = timeout {
            request = request.timeout(Duration::from_millis(ms));
        }
        results.push(match http::send(request) {
            Ok(response) => json!({ "status": response.status, "body": response.text() }),
            Err(e) => json!({ "error": http::kind(&e), "message": http::describe(&e) }),
        });
    }
    Ok(Value::Array(results).to_string())
}
