//! Outside calls: what a runbook may reach beyond its fabric (HTTP here,
//! Azure resources in [`azure`]), the grants that allow it, and how an
//! exchange is journaled.
//!
//! A destination is granted by a [`Pattern`], written as a URL prefix:
//! `https://hooks.contoso.com/services/` (scheme, host, port, path prefix).
//! The host may be `*.contoso.com` (any name below it) and the port `*`
//! (any); `{name}` placeholders are filled from the job's parameters, so
//! that a module's manifest can say "the URL the job is given": `{notify-url}`
//! alone (the parameter's value is the pattern, a URL), or inside a pattern,
//! `https://{region}.status.contoso.com/` (the value then may hold only
//! letters, digits, `.`, `-` and `_`: it cannot add a path or a port).
//! `{vm}` is the job's scope: each VM of its plan, so
//! `http://{vm}.drill.contoso.test/health` grants one URL per VM. Grants of
//! Azure resources ([`azure`]) are filled and checked the same way
//! ([`granted`]): resource id patterns with placeholders and
//! `*` (`/subscriptions/{subscription}/.../dnszones/contoso.com/*`), in the
//! manifest's `azure` beside `http`.
//!
//! A request is allowed when it matches a pattern of its module's manifest
//! (filled from its job) and every HTTP cap of the trust policy
//! ([`check`]); loopback, link-local, private and metadata addresses
//! ([`is_public`]) only when the granting pattern names that address
//! itself (`http://127.0.0.1:8080/`): a name that resolves to one is refused
//! by the host, on the resolved address.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::job::JobSpec;
use crate::scope::Rule;

/// An HTTP method a runbook may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether sending it twice is harmless: a read. Every other request is
    /// sent at most once per job (its intent is durable before it is sent),
    /// and a dry run records it without sending it.
    pub fn is_read(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An HTTP request as its journal entry holds it: enough to tell a replay
/// that makes another request, and for an auditor, without secrets. Header
/// values that carry credentials are kept as their SHA-256 only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestSummary {
    pub method: Method,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body_bytes: usize,
    /// `sha256:<hex>` of the body, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// The timeout the runbook asked for, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// Headers whose values are credentials: journaled as their digest.
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "x-functions-key",
    "api-key",
];

/// An HTTP response as journaled and handed to the runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A body in the journal: as text when it is UTF-8 (what reports show),
/// else hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Body {
    Text(String),
    Hex(String),
}

impl Body {
    pub fn from_bytes(bytes: Vec<u8>) -> Body {
        match String::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Hex(hex::encode(e.into_bytes())),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Body::Text(text) => text.into_bytes(),
            // Written by `from_bytes`; a corrupt entry is handed as empty.
            Body::Hex(hex) => hex::decode(hex).unwrap_or_default(),
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Body::Text(text) => text.len(),
            Body::Hex(hex) => hex.len() / 2,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why an outside call failed, as the runbook sees it (`http-error` in the
/// WIT) and the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "message")]
pub enum HttpError {
    /// Outside the module's grant, the policy's cap, or to an address that
    /// is not public: nothing was sent, no name was looked up.
    #[error("{0}")]
    NotGranted(String),
    /// A request the host cannot send as given.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Timeout(String),
    /// The response passed a cap (its body, its headers).
    #[error("{0}")]
    TooLarge(String),
    /// No connection, a refused one, TLS, a broken answer.
    #[error("{0}")]
    Connection(String),
    /// A write sent before the host stopped whose answer was never
    /// recorded: drbook does not send it again.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// A dry run recorded the write without sending it.
    #[error("{0}")]
    NotSent(String),
}

impl HttpError {
    /// Its kind, as the WIT and reports name it.
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::NotGranted(_) => "not-granted",
            HttpError::Invalid(_) => "invalid",
            HttpError::Timeout(_) => "timeout",
            HttpError::TooLarge(_) => "too-large",
            HttpError::Connection(_) => "connection",
            HttpError::OutcomeUnknown(_) => "outcome-unknown",
            HttpError::NotSent(_) => "not-sent",
        }
    }
}

/// A destination pattern, parsed: see the module's docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    scheme: String,
    host: Host,
    /// `None`: any port (`*`).
    port: Option<u16>,
    /// Starts with `/`.
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    /// A name or an address, as the URL parser writes it (lowercase,
    /// punycode, IPv6 in brackets).
    Exact(String),
    /// `*.suffix`: any name that ends in `.suffix`.
    Below(String),
}

/// A pattern that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{pattern}` is not an HTTP destination: {problem}; write `https://host[:port][/path-prefix]` \
     (`*.host` for any name below it, `:*` for any port, `{{param}}` for a job parameter)"
)]
pub struct PatternError {
    pub pattern: String,
    pub problem: String,
}

impl Pattern {
    /// Reads a pattern without placeholders (fill them first: [`fill`]).
    pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
        let error = |problem: &str| PatternError {
            pattern: pattern.to_string(),
            problem: problem.to_string(),
        };
        if pattern.contains('{') || pattern.contains('}') {
            return Err(error("it holds a placeholder no parameter filled"));
        }
        let (scheme, rest) = pattern
            .split_once("://")
            .ok_or_else(|| error("it has no `://`"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(error("its scheme is neither `http` nor `https`"));
        }
        if rest.contains(['?', '#', '@']) {
            return Err(error(
                "it has a query, a fragment or credentials, which a grant does not name",
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        let port = match port {
            Some("*") => None,
            Some(port) => Some(
                port.parse()
                    .map_err(|_| error("its port is not a number"))?,
            ),
            None => Some(if scheme == "https" { 443 } else { 80 }),
        };
        let (below, name) = match host.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, host),
        };
        if name.is_empty() || name.contains('*') {
            return Err(error(
                "its host is empty or has `*` elsewhere than `*.` first",
            ));
        }
        // The URL parser's spelling of the host, so that it compares with
        // a request's (lowercase, punycode, canonical addresses).
        let url = url::Url::parse(&format!("{scheme}://{name}{path}"))
            .map_err(|e| error(&format!("it is not a URL ({e})")))?;
        let name = url.host_str().ok_or_else(|| error("it has no host"))?;
        if below && name.parse::<IpAddr>().is_ok() {
            return Err(error("`*.` goes before a name, not an address"));
        }
        Ok(Pattern {
            host: if below {
                Host::Below(name.to_string())
            } else {
                Host::Exact(name.to_string())
            },
            scheme,
            port,
            path: url.path().to_string(),
        })
    }

    /// Whether `url` is below this pattern: the same scheme, host (or a name
    /// below `*.`), port, and a path equal to its prefix or below it (a
    /// prefix `/api` holds `/api` and `/api/x`, not `/apix`).
    pub fn matches(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host_ok = match &self.host {
            Host::Exact(name) => host == name,
            Host::Below(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        };
        let path = url.path();
        let path_ok = path == self.path
            || (path.starts_with(&self.path)
                && (self.path.ends_with('/') || path[self.path.len()..].starts_with('/')));
        url.scheme() == self.scheme
            && host_ok
            && self
                .port
                .is_none_or(|port| url.port_or_known_default() == Some(port))
            && path_ok
    }

    /// Whether it names `addr` itself (not a name that may resolve to it):
    /// what lets a request reach an address that is not public.
    pub fn names_address(&self, addr: IpAddr) -> bool {
        match &self.host {
            Host::Exact(host) => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|named| named == addr),
            Host::Below(_) => false,
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = match &self.host {
            Host::Exact(host) => host.clone(),
            Host::Below(suffix) => format!("*.{suffix}"),
        };
        match self.port {
            Some(port) => write!(f, "{}://{host}:{port}{}", self.scheme, self.path),
            None => write!(f, "{}://{host}:*{}", self.scheme, self.path),
        }
    }
}

/// What filling a pattern's placeholders gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filled {
    /// The patterns it grants (one per VM of the plan for `{vm}`).
    Patterns(Vec<String>),
    /// A placeholder no parameter of the job fills: it grants nothing.
    Missing(String),
    /// A parameter's value that would widen the pattern.
    Unsafe { parameter: String, value: String },
}

/// `pattern` with its placeholders filled from `parameters`, and `{vm}` by
/// each of `vms`.
pub fn fill<'a>(
    pattern: &str,
    parameters: &BTreeMap<String, String>,
    vms: impl IntoIterator<Item = &'a str>,
) -> Filled {
    // A whole-pattern placeholder takes a URL as its value.
    let mut text = match placeholder_alone(pattern) {
        Some(name) if name != "vm" => match parameters.get(name) {
            Some(value) => value.trim().to_string(),
            None => return Filled::Missing(name.to_string()),
        },
        _ => pattern.to_string(),
    };
    let mut rest = text.as_str();
    let mut out = String::new();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        if name == "vm" {
            out.push_str("{vm}");
        } else {
            let Some(value) = parameters.get(name) else {
                return Filled::Missing(name.to_string());
            };
            if !safe_value(value) {
                return Filled::Unsafe {
                    parameter: name.to_string(),
                    value: value.clone(),
                };
            }
            out.push_str(value);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    text = out;
    if !text.contains("{vm}") {
        return Filled::Patterns(vec![text]);
    }
    Filled::Patterns(
        vms.into_iter()
            .filter(|vm| safe_value(vm))
            .map(|vm| text.replace("{vm}", &vm.to_ascii_lowercase()))
            .collect(),
    )
}

fn placeholder_alone(pattern: &str) -> Option<&str> {
    let name = pattern.trim().strip_prefix('{')?.strip_suffix('}')?;
    (!name.contains(['{', '}'])).then_some(name)
}

/// A value a placeholder inside a pattern may take: it cannot end the host,
/// add a port, a path segment, a query or credentials.
fn safe_value(value: &str) -> bool {
    !value.is_empty()
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Whether `addr` is on the public internet: not loopback, link-local (the
/// clouds' metadata endpoints among them: 169.254.169.254, fd00:ec2::254
/// is unique-local), private, shared (100.64/10), unspecified, multicast
/// or broadcast; IPv4 inside IPv6 is judged as IPv4.
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A request outside what its job's module is granted: the runbook's
/// `not-granted`, naming the grant that is missing and how to add it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub rule: Rule,
    pub message: String,
}

/// What a granted request may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The pattern of the module's manifest that granted it, filled.
    pub pattern: String,
    /// Whether it names the URL's address itself, which lets it be one that
    /// is not public (a literal address only: a name is checked on what it
    /// resolves to, and must be public).
    pub names_address: bool,
}

/// Whether the job of `spec` may send `method` to `url`: a pattern of its
/// module's manifest, filled from the job, holds it, and so does every
/// HTTP cap of the trust policy pinned with it; an address that is not
/// public only when the granting pattern names it. Checked before any name
/// is looked up.
pub fn check(spec: &JobSpec, method: Method, url: &url::Url) -> Result<Granted, Refused> {
    let shown = shown_url(url);
    let refuse = |rule: Rule, why: String, fix: &str| Refused {
        rule,
        message: format!(
            "{method} {shown} is not granted to this job's module: {why} (rule `{rule}`); to \
             allow it, {fix}"
        ),
    };
    const DECLARE: &str = "its author declares it (`[package.metadata.drbook] http = \
                           [\"URL-PREFIX\"]` in Cargo.toml, or `drbook runbook grant FILE --http \
                           URL-PREFIX`) and signs the module again";
    let capabilities = spec.admission.as_ref().map(|a| &a.capabilities);
    let declared = capabilities
        .and_then(|c| c.manifest.as_ref())
        .map(|m| m.http.as_slice())
        .unwrap_or_default();
    let matches = |text: &str| {
        Pattern::parse(text)
            .map(|p| p.matches(url).then_some(p))
            .map_err(|e| e.to_string())
    };
    let held = |p: &str| Pattern::parse(p).is_ok_and(|p| p.matches(url));
    let nouns = Nouns {
        none: "no HTTP destination",
        listed: "",
        capped: "HTTP destinations",
        cap_key: "http",
    };
    let (text, pattern) = granted(
        spec,
        declared,
        matches,
        |cap| cap.http.as_ref(),
        held,
        &nouns,
    )
    .map_err(|(rule, why, fix)| refuse(rule, why, fix.as_deref().unwrap_or(DECLARE)))?;
    let address = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok());
    let names_address = address.is_some_and(|a| pattern.names_address(a));
    if let Some(addr) = address.filter(|a| !is_public(*a) && !names_address) {
        return Err(refuse(
            Rule::ModuleManifest,
            format!(
                "{addr} is not a public address (loopback, link-local, private or a cloud's \
                 metadata endpoint), and the pattern that holds it (`{text}`) does not name it"
            ),
            "the grant names the address itself (`http://ADDRESS:PORT/`)",
        ));
    }
    Ok(Granted {
        pattern: text,
        names_address,
    })
}

/// Why no pattern of a manifest's list grants a call.
enum Ungranted {
    /// The list is empty.
    Nothing,
    /// Its patterns, filled from the job (at most 8, with why a pattern
    /// grants nothing), none of which holds the call.
    NoneHolds(String),
}

/// The first of `declared` (a manifest's patterns) that, filled from the
/// job of `spec` (its parameters, `{vm}` each VM of its plan), `matches`
/// reads and finds holding the call: its filled text and what `matches`
/// made of it. What every kind of outside call's grant is checked by.
fn granting<T>(
    spec: &JobSpec,
    declared: &[String],
    matches: impl Fn(&str) -> Result<Option<T>, String>,
) -> Result<(String, T), Ungranted> {
    if declared.is_empty() {
        return Err(Ungranted::Nothing);
    }
    let mut notes = Vec::new();
    for declared in declared {
        match fill(declared, &spec.parameters, spec.plan.vms()) {
            Filled::Missing(name) => notes.push(format!(
                "`{declared}` grants nothing without the job parameter `{name}` (`--param {name}=...`)"
            )),
            Filled::Unsafe { parameter, value } => notes.push(format!(
                "`{declared}` refuses the parameter `{parameter}`'s value `{value}`: inside a \
                 pattern a parameter holds only letters, digits, `.`, `-` and `_`"
            )),
            Filled::Patterns(patterns) => {
                for text in patterns {
                    match matches(&text) {
                        Ok(Some(found)) => return Ok((text, found)),
                        Ok(None) => notes.push(format!("`{text}`")),
                        Err(e) => notes.push(e),
                    }
                }
            }
        }
    }
    notes.truncate(8);
    Err(Ungranted::NoneHolds(notes.join(", ")))
}

/// The first cap of the trust policy pinned with the job of `spec` whose
/// list (`list` of it; `None`: that cap does not cap this kind of call)
/// holds no pattern that `held`: its rule's name and its list, shown.
fn capped(
    spec: &JobSpec,
    list: impl Fn(&crate::scope::PolicyCap) -> Option<&Vec<String>>,
    held: impl Fn(&str) -> bool,
) -> Option<(String, String)> {
    let caps = spec
        .admission
        .as_ref()
        .map(|a| a.capabilities.caps.as_slice())
        .unwrap_or_default();
    caps.iter().find_map(|cap| {
        let allowed = list(cap)?;
        (!allowed.iter().any(|p| held(p))).then(|| {
            let shown = if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            };
            (cap.rule.clone(), shown)
        })
    })
}

/// How a kind of outside call's refusals name what it is granted.
pub(crate) struct Nouns {
    /// `no HTTP destination`.
    pub none: &'static str,
    /// Before the manifest's patterns that do not hold the call (`Azure
    /// resources `), or nothing.
    pub listed: &'static str,
    /// `HTTP destinations`: what a cap caps.
    pub capped: &'static str,
    /// The cap's key in `[trust]` rules: `http`.
    pub cap_key: &'static str,
}

/// [`granting`] then [`capped`]: the granting pattern and what `matches`
/// made of it, or the rule that refuses, why, and its fix when it is not
/// the author's (a policy's: `None` is the manifest's, the caller's to say).
pub(crate) fn granted<T>(
    spec: &JobSpec,
    declared: &[String],
    matches: impl Fn(&str) -> Result<Option<T>, String>,
    list: impl Fn(&crate::scope::PolicyCap) -> Option<&Vec<String>>,
    held: impl Fn(&str) -> bool,
    nouns: &Nouns,
) -> Result<(String, T), (Rule, String, Option<String>)> {
    let found = granting(spec, declared, matches).map_err(|ungranted| {
        let why = match ungranted {
            Ungranted::Nothing => format!("the module's manifest grants {}", nouns.none),
            Ungranted::NoneHolds(notes) => format!(
                "the module's manifest grants {}{notes}, and none holds it",
                nouns.listed
            ),
        };
        (Rule::ModuleManifest, why, None)
    })?;
    if let Some((rule, allowed)) = capped(spec, list, held) {
        return Err((
            Rule::TrustPolicy,
            format!(
                "the trust policy's rule `{rule}` caps the modules it admits at {} {allowed}",
                nouns.capped
            ),
            Some(format!(
                "add it to that rule's `{}` in `[trust]`",
                nouns.cap_key
            )),
        ));
    }
    Ok(found)
}

/// `url` without its query and fragment, which may hold secrets (a
/// webhook's token): what messages and reports show.
pub fn shown_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

pub mod azure;

#[cfg(test)]
mod tests;
