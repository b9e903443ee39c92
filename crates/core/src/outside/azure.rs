//! Azure resource calls: ARM requests a runbook makes on resources its
//! grant names (a DNS zone's records, a Traffic Manager profile's
//! endpoints), sent by the host with its own ARM client and credentials
//! (the [`Resources`] port), so that the runbook never sees a token.
//!
//! A resource is granted by a [`ResourcePattern`]: a resource id whose
//! segments are compared without regard to case, as ARM compares them;
//! `*` as a whole segment is any one segment, and as the last one any
//! segments below (`/subscriptions/{subscription}/resourceGroups/*/providers/
//! Microsoft.Network/dnszones/contoso.com/*`: every record of the zone, in
//! any group). `{param}` placeholders are filled from the job as HTTP
//! patterns' are ([`super::fill`]). A call is allowed when a pattern of its
//! module's manifest holds its resource id and so does every `azure` cap of
//! the trust policy ([`check`]), before anything is sent.

use serde::{Deserialize, Serialize};

use super::{granted, Method, Nouns, Refused};
use crate::job::JobSpec;
use crate::scope::Rule;

/// A resource id, at most (ARM's own limit is lower for most types).
pub const MAX_RESOURCE_ID: usize = 1 << 10;
/// A request's JSON body, at most.
pub const MAX_BODY: usize = 64 << 10;

/// A resource id pattern, parsed: see the module's docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePattern {
    /// Lowercase; `None` is `*`.
    segments: Vec<Option<String>>,
}

/// A resource id pattern that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{pattern}` is not an Azure resource pattern: {problem}; write a resource id \
     (`/subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.Network/dnszones/ZONE/*`: `*` \
     for any one segment, last for any below, `{{param}}` for a job parameter)"
)]
pub struct ResourcePatternError {
    pub pattern: String,
    pub problem: String,
}

impl ResourcePattern {
    /// Reads a pattern without placeholders (fill them first:
    /// [`super::fill`]).
    pub fn parse(pattern: &str) -> Result<ResourcePattern, ResourcePatternError> {
        let error = |problem: &str| ResourcePatternError {
            pattern: pattern.to_string(),
            problem: problem.to_string(),
        };
        if pattern.contains(['{', '}']) {
            return Err(error("it holds a placeholder no parameter filled"));
        }
        let segments = segments(pattern).map_err(|p| error(&p))?;
        if !segments[0].eq_ignore_ascii_case("subscriptions") || segments.len() < 2 {
            return Err(error("it does not start with `/subscriptions/`"));
        }
        Ok(ResourcePattern {
            segments: segments
                .into_iter()
                .map(|s| (s != "*").then(|| s.to_ascii_lowercase()))
                .collect(),
        })
    }

    /// Whether `resource_id` is below this pattern: each segment equal (in
    /// any case) or `*`, a last `*` taking one segment or more.
    pub fn matches(&self, resource_id: &str) -> bool {
        let Ok(id) = segments(resource_id) else {
            return false;
        };
        let last_any = self.segments.last().is_some_and(Option::is_none);
        let fixed = if last_any {
            self.segments.len() - 1
        } else {
            self.segments.len()
        };
        let length_ok = if last_any {
            id.len() > fixed
        } else {
            id.len() == fixed
        };
        length_ok
            && self.segments[..fixed]
                .iter()
                .zip(&id)
                .all(|(want, got)| want.as_ref().is_none_or(|w| got.eq_ignore_ascii_case(w)))
    }
}

/// The segments of a resource id or pattern, or why it is none: it starts
/// with `/`, and has no empty segment, `.` or `..`, query, fragment or
/// character outside printable ASCII.
fn segments(id: &str) -> Result<Vec<&str>, String> {
    let rest = id
        .strip_prefix('/')
        .ok_or_else(|| "it does not start with `/`".to_string())?;
    if !id.bytes().all(|b| b.is_ascii_graphic()) || id.contains(['?', '#', '%', '\\']) {
        return Err(
            "it holds a space, a query, a fragment, an escape or a character outside ASCII"
                .to_string(),
        );
    }
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err("it has an empty segment, `.` or `..`".to_string());
    }
    Ok(segments)
}

/// A resource id as a runbook may send it, or why it is not one: what the
/// host checks before the grant.
pub fn resource_id(id: &str) -> Result<(), String> {
    if id.len() > MAX_RESOURCE_ID {
        return Err(format!(
            "the resource id is {} bytes, past the host's {MAX_RESOURCE_ID}",
            id.len()
        ));
    }
    let segments =
        segments(id).map_err(|problem| format!("`{id}` is not a resource id: {problem}"))?;
    if !segments[0].eq_ignore_ascii_case("subscriptions") || segments.contains(&"*") {
        return Err(format!(
            "`{id}` is not a resource id: it starts with `/subscriptions/` and names one resource \
             (no `*`)"
        ));
    }
    Ok(())
}

/// An ARM request as its journal entry holds it: all of it (it carries no
/// credentials: the host adds the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequest {
    pub method: Method,
    pub resource_id: String,
    pub api_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// ARM's final answer: after a long-running operation, the resource's
/// state (or the operation's result) when it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceResponse {
    pub status: u16,
    /// JSON text; empty when ARM answered none (a DELETE's 200).
    pub body: String,
}

/// Why an Azure call has no answer to act on, as the runbook sees it
/// (`azure-error` in the WIT) and the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum AzureError {
    /// Outside the module's grant or the policy's cap: nothing was sent.
    #[error("{message}")]
    NotGranted { message: String },
    /// A request the host does not send as given (a bad resource id, a
    /// body that is not JSON, a method ARM resources do not take).
    #[error("{message}")]
    Invalid { message: String },
    /// This host has no ARM endpoint and credentials to send it with.
    #[error("{message}")]
    NotConfigured { message: String },
    /// ARM refused it: its status, code and message.
    #[error("ARM answered {status} {code}: {message}")]
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// No answer after the host's retries (throttled, 5xx, no connection).
    #[error("{message}")]
    Unavailable { message: String },
    /// The long-running operation it started ended `Failed` or `Canceled`.
    #[error("{message}")]
    Failed { message: String },
    /// A write sent once before the host stopped whose answer was never
    /// journaled: drbook does not send it again.
    #[error("{message}")]
    OutcomeUnknown { message: String },
    /// A dry run recorded the write without sending it.
    #[error("{message}")]
    NotSent { message: String },
}

impl AzureError {
    /// Its kind, as the WIT and reports name it.
    pub fn kind(&self) -> &'static str {
        match self {
            AzureError::NotGranted { .. } => "not-granted",
            AzureError::Invalid { .. } => "invalid",
            AzureError::NotConfigured { .. } => "not-configured",
            AzureError::Status { .. } => "status",
            AzureError::Unavailable { .. } => "unavailable",
            AzureError::Failed { .. } => "failed",
            AzureError::OutcomeUnknown { .. } => "outcome-unknown",
            AzureError::NotSent { .. } => "not-sent",
        }
    }
}

/// The port the host sends runbooks' Azure calls through: the Azure
/// backend's ARM client and credentials (drbook-fabric-azure), whatever
/// fabric the job runs on.
#[async_trait::async_trait]
pub trait Resources: Send + Sync {
    /// Sends `request` once as far as its effect goes (a write is never
    /// repeated when its outcome may be known to ARM: only a 429 or a
    /// refused connection is retried), following a long-running operation
    /// to its end, and returns ARM's final answer.
    async fn send(&self, request: &ResourceRequest) -> Result<ResourceResponse, AzureError>;
}

/// Whether the job of `spec` may send `method` to `resource_id`: a pattern
/// of its module's manifest's `azure`, filled from the job, holds it, and
/// so does every `azure` cap of the trust policy pinned with it. The
/// granting pattern, filled, or the refusal naming what is missing.
pub fn check(spec: &JobSpec, method: Method, resource_id: &str) -> Result<String, Refused> {
    let refuse = |rule: Rule, why: String, fix: &str| Refused {
        rule,
        message: format!(
            "{method} {resource_id} is not granted to this job's module: {why} (rule `{rule}`); \
             to allow it, {fix}"
        ),
    };
    const DECLARE: &str = "its author declares it (`[package.metadata.drbook] azure = \
                           [\"RESOURCE-ID-PATTERN\"]` in Cargo.toml, or `drbook runbook grant \
                           FILE --azure RESOURCE-ID-PATTERN`) and signs the module again";
    let declared = spec
        .admission
        .as_ref()
        .and_then(|a| a.capabilities.manifest.as_ref())
        .map(|m| m.azure.as_slice())
        .unwrap_or_default();
    let matches = |text: &str| {
        ResourcePattern::parse(text)
            .map(|p| p.matches(resource_id).then_some(()))
            .map_err(|e| e.to_string())
    };
    let held = |p: &str| ResourcePattern::parse(p).is_ok_and(|p| p.matches(resource_id));
    let nouns = Nouns {
        none: "no Azure resource",
        listed: "Azure resources ",
        capped: "Azure resources",
        cap_key: "azure",
    };
    let (text, ()) = granted(
        spec,
        declared,
        matches,
        |cap| cap.azure.as_ref(),
        held,
        &nouns,
    )
    .map_err(|(rule, why, fix)| refuse(rule, why, fix.as_deref().unwrap_or(DECLARE)))?;
    Ok(text)
}

#[cfg(test)]
mod tests;
