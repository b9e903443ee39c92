//! The ARM client: one `reqwest` client over rustls, a bearer token from
//! [`Credentials`], the subscription's [`Budget`], and ARM's rules for
//! retrying. GETs are idempotent and retried on 429, 5xx and lost
//! connections; a POST starts an operation, so [`ArmClient::post`] retries
//! nothing itself and says instead whether the operation may have started
//! ([`PostError::Unknown`]), for the caller to find out before it tries
//! again.
//!
//! Nothing here logs a header or a body: the `Authorization` header is
//! marked sensitive, and events carry the method, the path and the status.

use crate::budget::{Budget, Kind};
use crate::credential::Credentials;
use crate::error::ArmError;
use crate::wire;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often and how long to retry what ARM throttles or fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts of one request in all, the first included.
    pub attempts: u32,
    /// The first backoff without a `Retry-After`; doubled each time.
    pub backoff: Duration,
    /// The longest single wait, whatever `Retry-After` says.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: `Retry-After` when ARM gave
    /// one, else exponential backoff, at most `max_wait`; then up to a fifth
    /// more at random. Requests throttled together are told the same wait:
    /// without the spread they all come back at the same moment, and the
    /// same ones meet the limit again (a 100-VM plan under a 429 every
    /// third request lost a read after eight attempts that way).
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self
            .backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let wait = retry_after.unwrap_or(backoff).min(self.max_wait);
        wait + wait.mul_f64(0.2 * unit_random())
    }
}

/// A number in [0, 1), different at each call: std's hasher keys are
/// random per thread and change with each `RandomState`. Enough to spread
/// retries; nothing secret depends on it.
fn unit_random() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// An answer ARM gave (2xx, or 202 for an accepted long-running operation).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ArmError> {
        serde_json::from_slice(&self.body).map_err(|e| ArmError::Body(e.to_string()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }
}

/// How long the answer asks to wait: `x-ms-retry-after-ms` or
/// `retry-after-ms` when given (read first, as Azure's own SDKs do), else
/// `Retry-After` in seconds (ARM's form) or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let millis = ["x-ms-retry-after-ms", "retry-after-ms"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok()?.trim().parse().ok());
    if let Some(millis) = millis {
        return Some(Duration::from_millis(millis));
    }
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

/// Why a POST has no answer to act on.
#[derive(Debug, Clone)]
pub enum PostError {
    /// A definite refusal: nothing was started.
    Refused(ArmError),
    /// Nothing was started: ARM throttled it (429) before it reached Site
    /// Recovery, or no connection was made. It may be sent again after the
    /// wait.
    NotStarted(Option<Duration>),
    /// The answer was lost (a dropped connection, a timeout) or was a 5xx:
    /// the operation may have started. Find out before sending it again.
    Unknown {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// What the client sent and met, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    pub gets: AtomicU64,
    pub posts: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub unauthorized: AtomicU64,
}

/// The settings of an [`ArmClient`].
#[derive(Debug, Clone)]
pub struct ArmSettings {
    /// `https://management.azure.com`, a sovereign cloud's, or an emulator's.
    pub endpoint: String,
    pub api_version: String,
    pub retry: RetryPolicy,
    /// Per request, connection included.
    pub timeout: Duration,
}

pub struct ArmClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    api_version: String,
    credentials: Arc<Credentials>,
    budget: Arc<Budget>,
    retry: RetryPolicy,
    counters: Counters,
}

/// A `reqwest` client over rustls that also trusts `extra_ca_pem` (an
/// emulator's self-signed CA), for ARM and for the credentials alike.
pub fn http_client(
    extra_ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<reqwest::Client, ArmError> {
    let builder = || {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("drbook/", env!("CARGO_PKG_VERSION")))
    };
    let Some(pem) = extra_ca_pem else {
        return builder()
            .build()
            .map_err(|e| ArmError::Config(format!("cannot build the HTTPS client: {e}")));
    };
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| ArmError::Config(format!("the CA file is not PEM certificates: {e}")))?;
    // Merged with the system's roots where the verifier can; an emulator's
    // tests need only its own.
    builder()
        .tls_certs_merge(certs.clone())
        .build()
        .or_else(|_| builder().tls_certs_only(certs).build())
        .map_err(|e| ArmError::Config(format!("cannot build the HTTPS client: {e}")))
}

impl ArmClient {
    pub fn new(
        settings: &ArmSettings,
        http: reqwest::Client,
        credentials: Arc<Credentials>,
        budget: Arc<Budget>,
    ) -> Result<Self, ArmError> {
        let endpoint = reqwest::Url::parse(&settings.endpoint).map_err(|e| {
            ArmError::Config(format!(
                "[fabric] arm-endpoint `{}` is not a URL: {e}",
                settings.endpoint
            ))
        })?;
        if endpoint.scheme() != "https" {
            return Err(ArmError::Config(format!(
                "[fabric] arm-endpoint `{}` must be https: a bearer token is never sent in the clear",
                settings.endpoint
            )));
        }
        Ok(ArmClient {
            http,
            endpoint,
            api_version: settings.api_version.clone(),
            credentials,
            budget,
            retry: settings.retry,
            counters: Counters::default(),
        })
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// `path` under the endpoint with the api-version, or an absolute URL
    /// (a `nextLink`, an `Azure-AsyncOperation`) as it is, if it is on the
    /// endpoint's host: the bearer token goes nowhere else.
    pub fn url(&self, path: &str) -> Result<reqwest::Url, ArmError> {
        let mut url = if path.starts_with("https://") || path.starts_with("http://") {
            let url = reqwest::Url::parse(path)
                .map_err(|e| ArmError::Body(format!("`{path}` is not a URL: {e}")))?;
            if url.scheme() != "https"
                || url.host_str() != self.endpoint.host_str()
                || url.port_or_known_default() != self.endpoint.port_or_known_default()
            {
                return Err(ArmError::Body(format!(
                    "ARM pointed at `{}`, which is not {}; not following it",
                    url.origin().ascii_serialization(),
                    self.endpoint.origin().ascii_serialization()
                )));
            }
            url
        } else {
            let base = self.endpoint.as_str().trim_end_matches('/');
            reqwest::Url::parse(&format!("{base}{path}"))
                .map_err(|e| ArmError::Config(format!("bad ARM path `{path}`: {e}")))?
        };
        if !url.query_pairs().any(|(k, _)| k == "api-version") {
            url.query_pairs_mut()
                .append_pair("api-version", &self.api_version);
        }
        Ok(url)
    }

    /// One request, with a token, within the budget. `Err` is a transport
    /// failure: no answer.
    async fn send(
        &self,
        method: Method,
        url: &reqwest::Url,
        body: Option<&serde_json::Value>,
        request_id: Option<&str>,
    ) -> Result<Result<Answer, reqwest::Error>, ArmError> {
        let kind = if method == Method::GET {
            Kind::Read
        } else {
            Kind::Write
        };
        self.budget.acquire(kind).await;
        let (token, _) = self.credentials.token().await?;
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(token.secret());
        if let Some(id) = request_id {
            request = request
                .header("x-ms-client-request-id", id)
                .header("x-ms-return-client-request-id", "true");
        }
        request = match body {
            Some(body) => request.json(body),
            None if method == Method::POST => request.header("content-length", "0"),
            None => request,
        };
        let counter = if method == Method::GET {
            &self.counters.gets
        } else {
            &self.counters.posts
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Ok(Err(e)),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        tracing::debug!(method = %method, path = url.path(), status, "ARM");
        Ok(response.bytes().await.map(|body| Answer {
            status,
            headers,
            body,
        }))
    }

    /// GET, retried on 429, 5xx and lost connections as ARM asks, with one
    /// fresh token after a 401.
    pub async fn get(&self, path: &str) -> Result<Answer, ArmError> {
        let url = self.url(path)?;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = match self.send(Method::GET, &url, None, None).await? {
                Ok(answer) => answer,
                Err(e) => {
                    if attempt >= self.retry.attempts {
                        return Err(ArmError::Unavailable(format!(
                            "GET {}: {} after {attempt} attempts",
                            url.path(),
                            e.without_url()
                        )));
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.retry.wait(attempt, None)).await;
                    continue;
                }
            };
            match answer.status {
                200..=299 => return Ok(answer),
                401 if !refreshed => {
                    refreshed = true;
                    self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
                    self.credentials.refresh().await;
                }
                401 => {
                    self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
                    return Err(ArmError::Unauthenticated(error_of(&answer).to_string()));
                }
                429 | 500..=599 => {
                    if answer.status == 429 {
                        self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    if attempt >= self.retry.attempts {
                        return Err(ArmError::Unavailable(format!(
                            "GET {}: {} after {attempt} attempts",
                            url.path(),
                            error_of(&answer)
                        )));
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = self.retry.wait(attempt, answer.retry_after());
                    tracing::debug!(status = answer.status, ?wait, "ARM asks to retry");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(error_of(&answer)),
            }
        }
    }

    /// GET and parse.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ArmError> {
        self.get(path).await?.json()
    }

    /// Every item of a list, following `nextLink`.
    pub async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, ArmError> {
        Ok(self.list_pages(path).await?.0)
    }

    /// [`Self::list`], and how many pages (GETs) it took.
    pub async fn list_pages<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(Vec<T>, usize), ArmError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_string());
        let mut pages = 0;
        while let Some(link) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(ArmError::Body(format!("{path}: more than 10,000 pages")));
            }
            let page: wire::Page<T> = self.get_json(&link).await?;
            items.extend(page.value);
            next = page.next_link.filter(|l| !l.is_empty());
        }
        Ok((items, pages))
    }

    /// POST once, sending `request_id` as `x-ms-client-request-id`. One
    /// fresh token after a 401 (the request was refused before anything
    /// started); anything else is the caller's to decide.
    pub async fn post(
        &self,
        path: &str,
        body: Option<&serde_json::Value>,
        request_id: &str,
    ) -> Result<Answer, PostError> {
        self.write(Method::POST, path, body, request_id).await
    }

    /// [`Self::post`] for any write (PUT, PATCH, DELETE too): sent once,
    /// what it met said as a [`PostError`].
    pub async fn write(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        request_id: &str,
    ) -> Result<Answer, PostError> {
        let url = self.url(path).map_err(PostError::Refused)?;
        let mut refreshed = false;
        loop {
            let answer = match self
                .send(method.clone(), &url, body, Some(request_id))
                .await
                .map_err(PostError::Refused)?
            {
                Ok(answer) => answer,
                Err(e) => {
                    // The request may have reached ARM before the connection
                    // went: never assume it did not.
                    let reason = if e.is_connect() {
                        // Refused before a byte was sent: nothing started.
                        return Err(PostError::NotStarted(None));
                    } else {
                        e.without_url().to_string()
                    };
                    return Err(PostError::Unknown {
                        reason,
                        retry_after: None,
                    });
                }
            };
            return match answer.status {
                200..=299 => Ok(answer),
                401 if !refreshed => {
                    refreshed = true;
                    self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
                    self.credentials.refresh().await;
                    continue;
                }
                401 => Err(PostError::Refused(ArmError::Unauthenticated(
                    error_of(&answer).to_string(),
                ))),
                429 => {
                    self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    Err(PostError::NotStarted(answer.retry_after()))
                }
                500..=599 => Err(PostError::Unknown {
                    reason: error_of(&answer).to_string(),
                    retry_after: answer.retry_after(),
                }),
                _ => Err(PostError::Refused(error_of(&answer))),
            };
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    pub fn note_retry(&self) {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
    }
}

/// ARM's error body as an [`ArmError`]; a body that is not one keeps the
/// status and its reason.
pub fn error_of(answer: &Answer) -> ArmError {
    let body: wire::ErrorBody = serde_json::from_slice(&answer.body).unwrap_or_default();
    let reason = StatusCode::from_u16(answer.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    // ASR puts its own error in the first detail at times; its message is
    // the one that says what to do.
    let detail = body
        .error
        .details
        .iter()
        .find(|d| !d.message.is_empty())
        .map(|d| format!(" ({}: {})", d.code, d.message))
        .unwrap_or_default();
    ArmError::Status {
        status: answer.status,
        code: if body.error.code.is_empty() {
            reason.to_string()
        } else {
            body.error.code.clone()
        },
        message: if body.error.message.is_empty() {
            format!("HTTP {} {reason}{detail}", answer.status)
        } else {
            format!("{}{detail}", body.error.message)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_honour_retry_after_within_the_cap_else_back_off() {
        let policy = RetryPolicy {
            attempts: 6,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        };
        let spread = |attempt, retry_after, base: Duration| {
            let waits: Vec<Duration> = (0..50).map(|_| policy.wait(attempt, retry_after)).collect();
            assert!(
                waits.iter().all(|w| *w >= base && *w <= base.mul_f64(1.2)),
                "{base:?}: {waits:?}"
            );
            assert!(waits.iter().any(|w| *w != waits[0]), "spread: {waits:?}");
        };
        spread(1, Some(Duration::from_secs(7)), Duration::from_secs(7));
        spread(1, Some(Duration::from_secs(600)), Duration::from_secs(60));
        spread(1, None, Duration::from_millis(500));
        spread(3, None, Duration::from_secs(2));
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "12".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a date past");
        headers.insert("x-ms-retry-after-ms", "250".parse().unwrap());
        assert_eq!(
            retry_after(&headers),
            Some(Duration::from_millis(250)),
            "milliseconds first, as Azure's SDKs read them"
        );
    }
}
