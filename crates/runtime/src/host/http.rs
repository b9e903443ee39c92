//! `http`: outside calls, granted, bounded and journaled (see the interface's
//! docs in `wit/runbook.wit`).
//!
//! Order of a live call: the request is checked against its bounds, then
//! against the job's grant (`drbook_core::outside::check`: the module's
//! manifest filled from the job, the trust policy's caps, literal addresses
//! that are not public) before any name is looked up; then it takes the
//! course of every outside call (`outside`: a refusal journaled as the
//! reply, a write a durable intent sent once, a read sent and journaled with
//! its response).
//! Names are resolved by [`PublicOnly`], which refuses a name with any
//! address that is not public and hands the client the addresses it
//! checked: the connection goes to a checked address, never to a second
//! lookup's (DNS rebinding). No proxy is used (it would resolve the name
//! itself), no redirect followed, no request retried.
//!
//! A replay answers from the journal; a write's intent met without its
//! reply (the host died while it was out) is answered `outcome-unknown`,
//! recorded, and never sent again.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::outside::{Outside, OutsideError};
use crate::bindings::http as wit;
use crate::limits::human_bytes;
use crate::state::InstanceState;
use drbook_core::journal::Call;
use drbook_core::outside::{
    self, is_public, shown_url, Body, HttpError, Method, RequestSummary, Response, SECRET_HEADERS,
};

/// A request's URL, at most.
const MAX_URL: usize = 8 << 10;
/// Headers of a request or a response, at most, in count and bytes.
const MAX_HEADERS: usize = 64;
const MAX_HEADER_BYTES: usize = 16 << 10;
/// A request's body, and a response's, at most.
const MAX_BODY: usize = 1 << 20;
/// The whole exchange's bound when the runbook names none, and at most.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Connecting (the lookup, TCP and TLS) at most.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Headers the host writes itself: a runbook's would contradict what is
/// sent, or smuggle a second request.
const HOST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

/// What runbooks' outside calls go through: the host's HTTP client (one
/// per runtime, its connections pooled, made on first use), the Azure
/// resources port when this host has an ARM endpoint, and whether this
/// runtime runs dry runs, whose writes are journaled and not sent.
#[derive(Clone, Default)]
pub struct OutsideCalls {
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    pub(crate) resources: Option<Arc<dyn drbook_core::outside::azure::Resources>>,
    pub(crate) dry_run: bool,
}

impl OutsideCalls {
    fn client(&self) -> Result<&reqwest::Client, HttpError> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .dns_resolver(Arc::new(PublicOnly))
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    .retry(reqwest::retry::never())
                    .connect_timeout(CONNECT_TIMEOUT)
                    .http1_max_headers(MAX_HEADERS + 1)
                    .build()
                    .map_err(|e| format!("the host's HTTP client cannot start: {e}"))
            })
            .as_ref()
            .map_err(|e| HttpError::Connection(e.clone()))
    }
}

/// A name that resolves to an address that is not public.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{host}` resolves to {addr}, which is not a public address (loopback, link-local, private \
     or a cloud's metadata endpoint); a grant reaches such an address only by naming it \
     (`http://{addr}:PORT/`), not through a name"
)]
struct NotPublic {
    host: String,
    addr: IpAddr,
}

/// The resolver of the host's client: the system's, refusing a name any of
/// whose addresses is not public, so that what the client connects to is
/// what was checked.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(Box::new(NotPublic {
                    host,
                    addr: bad.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

type Sent = wasmtime::Result<Result<wit::Response, wit::HttpError>>;

impl wit::Host for InstanceState {
    async fn send(&mut self, req: wit::Request) -> Sent {
        let request = match Request::of(req) {
            Ok(request) => request,
            Err(e) => return Ok(Err(e.into())),
        };
        let method = request.method;
        let shown = format!("{method} {}", request.shown);
        let outside = Outside {
            call: Call::Http {
                request: request.summary(),
            },
            write: !method.is_read(),
            shown: &shown,
        };
        let url = request.url.clone();
        let check = |spec: &_| {
            outside::check(spec, method, &url)
                .map(|_| ())
                .map_err(|refused| refused.message)
        };
        let reply: Result<Response, HttpError> = self
            .outside_call(outside, check, |live| async move {
                exchange(&live.outside, request).await
            })
            .await?;
        Ok(reply.map(into_wit).map_err(Into::into))
    }
}

impl OutsideError for HttpError {
    fn not_granted(message: String) -> Self {
        HttpError::NotGranted(message)
    }
    fn outcome_unknown(message: String) -> Self {
        HttpError::OutcomeUnknown(message)
    }
    fn not_sent(message: String) -> Self {
        HttpError::NotSent(message)
    }
    fn is_not_granted(&self) -> bool {
        matches!(self, HttpError::NotGranted(_))
    }
}

fn into_wit(response: Response) -> wit::Response {
    wit::Response {
        status: response.status,
        headers: response.headers,
        body: response.body.into_bytes(),
    }
}

impl From<HttpError> for wit::HttpError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::NotGranted(m) => wit::HttpError::NotGranted(m),
            HttpError::Invalid(m) => wit::HttpError::Invalid(m),
            HttpError::Timeout(m) => wit::HttpError::Timeout(m),
            HttpError::TooLarge(m) => wit::HttpError::TooLarge(m),
            HttpError::Connection(m) => wit::HttpError::Connection(m),
            HttpError::OutcomeUnknown(m) => wit::HttpError::OutcomeUnknown(m),
            HttpError::NotSent(m) => wit::HttpError::NotSent(m),
        }
    }
}

/// A runbook's request, checked against the bounds.
struct Request {
    method: Method,
    url: url::Url,
    /// The URL without its query: what messages show.
    shown: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    timeout_ms: Option<u32>,
}

impl Request {
    fn of(req: wit::Request) -> Result<Request, HttpError> {
        let invalid = |m: String| HttpError::Invalid(m);
        if req.url.len() > MAX_URL {
            return Err(invalid(format!(
                "the URL is {} long, past the host's {}",
                human_bytes(req.url.len()),
                human_bytes(MAX_URL)
            )));
        }
        let url = url::Url::parse(&req.url)
            .map_err(|e| invalid(format!("`{}` is not a URL: {e}", cut_url(&req.url))))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "`{}`: only http:// and https:// are sent",
                shown_url(&url)
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(format!(
                "`{}` has credentials in it; send them in a header (`authorization`)",
                shown_url(&url)
            )));
        }
        let bytes: usize = req.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        if req.headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
            return Err(invalid(format!(
                "{} request headers of {} in all, past the host's {MAX_HEADERS} and {}",
                req.headers.len(),
                human_bytes(bytes),
                human_bytes(MAX_HEADER_BYTES)
            )));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &req.headers {
            let parsed = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{}` is not a header name", cut_url(name))))?;
            if HOST_HEADERS.contains(&parsed.as_str()) || parsed.as_str().starts_with("proxy-") {
                return Err(invalid(format!(
                    "the header `{parsed}` is the host's to write; leave it out"
                )));
            }
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("the value of `{parsed}` is not a header value")))?;
            headers.append(parsed, value);
        }
        if req.body.len() > MAX_BODY {
            return Err(invalid(format!(
                "the body is {}, past the host's {}",
                human_bytes(req.body.len()),
                human_bytes(MAX_BODY)
            )));
        }
        let method = match req.method {
            wit::Method::Get => Method::Get,
            wit::Method::Head => Method::Head,
            wit::Method::Post => Method::Post,
            wit::Method::Put => Method::Put,
            wit::Method::Patch => Method::Patch,
            wit::Method::Delete => Method::Delete,
        };
        Ok(Request {
            method,
            shown: shown_url(&url),
            url,
            headers,
            body: req.body,
            timeout_ms: req.timeout_ms,
        })
    }

    /// What the journal holds of it: credentials as digests, the body as
    /// its length and digest.
    fn summary(&self) -> RequestSummary {
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if SECRET_HEADERS.contains(&name.as_str()) {
                    sha256(value.as_bytes())
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_string(), value)
            })
            .collect();
        RequestSummary {
            method: self.method,
            url: self.url.to_string(),
            headers,
            body_bytes: self.body.len(),
            body_sha256: (!self.body.is_empty()).then(|| sha256(&self.body)),
            timeout_ms: self.timeout_ms.map(u64::from),
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout_ms
            .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.into()))
            .min(MAX_TIMEOUT)
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A guest's text quoted in a message, at most 200 bytes of it.
fn cut_url(text: &str) -> String {
    crate::limits::cut(text.to_string(), 200)
}

/// Sends `request` and reads its response within its timeout and bounds.
async fn exchange(outside: &OutsideCalls, request: Request) -> Result<Response, HttpError> {
    let client = outside.client()?;
    let timeout = request.timeout();
    let shown = request.shown.clone();
    let method = request.method;
    let mut builder = client
        .request(
            match method {
                Method::Get => reqwest::Method::GET,
                Method::Head => reqwest::Method::HEAD,
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
                Method::Patch => reqwest::Method::PATCH,
                Method::Delete => reqwest::Method::DELETE,
            },
            request.url,
        )
        .headers(request.headers);
    if !request.body.is_empty() {
        builder = builder.body(request.body);
    }
    let exchange = async {
        let response = builder
            .send()
            .await
            .map_err(|e| failed(method, &shown, &e))?;
        let status = response.status().as_u16();
        let header_bytes: usize = response
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        if response.headers().len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
            return Err(HttpError::TooLarge(format!(
                "{method} {shown}: the response has {} headers of {} in all, past the host's \
                 {MAX_HEADERS} and {}",
                response.headers().len(),
                human_bytes(header_bytes),
                human_bytes(MAX_HEADER_BYTES)
            )));
        }
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_string(), value)
            })
            .collect();
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(method, &shown, &e))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(HttpError::TooLarge(format!(
                    "{method} {shown}: the response is larger than {MAX_BODY} bytes ({}), the \
                     host's cap; drbook stopped reading it there",
                    human_bytes(MAX_BODY)
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body: Body::from_bytes(body),
        })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(reply) => reply,
        Err(_) => Err(HttpError::Timeout(format!(
            "{method} {shown}: no whole answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// What a failed exchange tells the runbook: a name that resolved to an
/// address that is not public is refused as a grant is.
fn failed(method: Method, shown: &str, error: &reqwest::Error) -> HttpError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(not_public) = e.downcast_ref::<NotPublic>() {
            return HttpError::NotGranted(format!(
                "{method} {shown} is not granted to this job's module: {not_public} (rule \
                 `module-manifest`)"
            ));
        }
        source = e.source();
    }
    let kind = if error.is_timeout() {
        return HttpError::Timeout(format!("{method} {shown}: connecting timed out ({error})"));
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        chain.push_str(": ");
        chain.push_str(&e.to_string());
        source = e.source();
    }
    HttpError::Connection(format!("{method} {shown} {kind}: {chain}"))
}
