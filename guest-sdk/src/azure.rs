//! Azure resource calls, sent by the host with its own ARM credentials to
//! the resources the runbook's capability manifest grants
//! (`[package.metadata.drbook] azure = ["/subscriptions/{subscription}/
//! resourceGroups/*/providers/Microsoft.Network/dnszones/contoso.com/*"]`;
//! `wit/runbook.wit`'s `azure` has the rules). The host follows long-running
//! operations and retries what ARM throttles; each call is journaled, so a
//! resumed job is answered from the journal and a write is sent at most once
//! per job.
//!
//! ```no_run
//! use drbook_sdk::azure;
//!
//! # fn main() -> drbook_sdk::Result<()> {
//! let zone = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/dns\
//!             /providers/Microsoft.Network/dnsZones/contoso.com";
//! azure::dns::set_a_record(zone, "app", &["10.2.0.4"], 60)?;
//! # Ok(())
//! # }
//! ```

use crate::bindings::drbook::runbook::azure as wit;
pub use wit::{ArmStatus, AzureError, Method};

/// Sends `method` on `resource_id` (with `body` as JSON) and returns ARM's
/// final answer's body as JSON (`null` when ARM sent none).
pub fn send(
    method: Method,
    resource_id: &str,
    api_version: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, AzureError> {
    let response = wit::send(&wit::ResourceRequest {
        method,
        resource_id: resource_id.to_string(),
        api_version: api_version.to_string(),
        body: body.map(|b| b.to_string()),
    })?;
    if response.body.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&response.body).map_err(|e| {
        AzureError::Invalid(format!(
            "{resource_id}: ARM's answer ({}) is not JSON: {e}",
            response.status
        ))
    })
}

/// The error's kind as the WIT names it: `not-granted`, `status`, ...
pub fn kind(error: &AzureError) -> &'static str {
    match error {
        AzureError::NotGranted(_) => "not-granted",
        AzureError::Invalid(_) => "invalid",
        AzureError::NotConfigured(_) => "not-configured",
        AzureError::Status(_) => "status",
        AzureError::Unavailable(_) => "unavailable",
        AzureError::Failed(_) => "failed",
        AzureError::OutcomeUnknown(_) => "outcome-unknown",
        AzureError::NotSent(_) => "not-sent",
    }
}

/// The error's message, with its kind: `not granted: ...`.
pub fn describe(error: &AzureError) -> String {
    let (kind, message) = match error {
        AzureError::NotGranted(m) => ("not granted", m.clone()),
        AzureError::Invalid(m) => ("invalid request", m.clone()),
        AzureError::NotConfigured(m) => ("no ARM endpoint", m.clone()),
        AzureError::Status(s) => (
            "ARM refused it",
            format!("{} {}: {}", s.status, s.code, s.message),
        ),
        AzureError::Unavailable(m) => ("Azure unavailable", m.clone()),
        AzureError::Failed(m) => ("the operation failed", m.clone()),
        AzureError::OutcomeUnknown(m) => ("outcome unknown", m.clone()),
        AzureError::NotSent(m) => ("not sent", m.clone()),
    };
    format!("{kind}: {message}")
}

impl From<AzureError> for crate::Error {
    fn from(e: AzureError) -> Self {
        crate::Error::new(describe(&e))
    }
}

/// Azure DNS (api-version 2018-05-01).
pub mod dns {
    use super::{send, AzureError, Method};

    /// DNS's api-version.
    pub const API_VERSION: &str = "2018-05-01";

    /// Makes the A record set `name` of the zone `zone_id`
    /// (`/subscriptions/.../providers/Microsoft.Network/dnsZones/contoso.com`)
    /// hold exactly `ips`, with `ttl` seconds; returns the record set.
    pub fn set_a_record(
        zone_id: &str,
        name: &str,
        ips: &[&str],
        ttl: u32,
    ) -> Result<serde_json::Value, AzureError> {
        let records: Vec<_> = ips
            .iter()
            .map(|ip| serde_json::json!({ "ipv4Address": ip }))
            .collect();
        let body = serde_json::json!({ "properties": { "TTL": ttl, "ARecords": records } });
        let id = format!("{}/A/{name}", zone_id.trim_end_matches('/'));
        send(Method::Put, &id, API_VERSION, Some(&body))
    }

    /// The addresses the A record set `name` of `zone_id` holds.
    pub fn a_record(zone_id: &str, name: &str) -> Result<Vec<String>, AzureError> {
        let id = format!("{}/A/{name}", zone_id.trim_end_matches('/'));
        let set = send(Method::Get, &id, API_VERSION, None)?;
        Ok(set["properties"]["ARecords"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["ipv4Address"].as_str().map(str::to_string))
            .collect())
    }
}

/// Azure Traffic Manager (api-version 2022-04-01).
pub mod traffic_manager {
    use super::{send, AzureError, Method};

    /// Traffic Manager's api-version.
    pub const API_VERSION: &str = "2022-04-01";

    /// An endpoint's kind: an Azure resource's, or any address outside.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Kind {
        /// `target` is a resource id (a public IP, an App Service).
        Azure,
        /// `target` is a host name or an address.
        External,
    }

    /// Makes the endpoint `name` of the profile `profile_id`
    /// (`/subscriptions/.../providers/Microsoft.Network/trafficmanagerprofiles/app`)
    /// point at `target`, `enabled` or not, with `priority` (priority
    /// routing); returns the endpoint.
    pub fn set_endpoint(
        profile_id: &str,
        kind: Kind,
        name: &str,
        target: &str,
        enabled: bool,
        priority: u32,
    ) -> Result<serde_json::Value, AzureError> {
        let (segment, target_key) = match kind {
            Kind::Azure => ("azureEndpoints", "targetResourceId"),
            Kind::External => ("externalEndpoints", "target"),
        };
        let body = serde_json::json!({ "properties": {
            target_key: target,
            "endpointStatus": if enabled { "Enabled" } else { "Disabled" },
            "priority": priority,
        }});
        let id = format!("{}/{segment}/{name}", profile_id.trim_end_matches('/'));
        send(Method::Put, &id, API_VERSION, Some(&body))
    }
}
