//! The few `Microsoft.Network` resources runbooks switch traffic with
//! after a failover, enough to test against: a DNS zone's A record sets
//! (`dnsZones/{zone}/A/{name}`, api-version 2018-05-01) and a Traffic
//! Manager profile's endpoints (`trafficmanagerprofiles/{profile}/
//! azureEndpoints|externalEndpoints/{name}`, 2022-04-01), each PUT, GET and
//! DELETE, in the REST specification's JSON. Zones and profiles are not
//! resources of their own here: any name holds records and endpoints, in
//! any resource group of the subscription.
//!
//! The resources are kept in `arm-network.json` beside the simulator's
//! database (written whole, through a temporary file, on each change), so
//! that they outlive the emulator as its estate does; the counters name
//! each request (`dnsRecordSets.put`, `trafficManagerEndpoints.get`, ...)
//! and keep each change applied ([`crate::Counters::network`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::path::is;
use crate::counters::NetworkChange;
use crate::error::ArmError;

/// The file the resources are kept in.
pub const FILE: &str = "arm-network.json";

/// A `Microsoft.Network` resource this emulator serves, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NetworkPath {
    pub(super) subscription: String,
    kind: Kind,
    /// The resource id as ARM spells it back.
    id: String,
    name: String,
    /// The zone, for a record set's `fqdn`.
    parent: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ARecordSet,
    AzureEndpoint,
    ExternalEndpoint,
}

impl Kind {
    fn route(self) -> &'static str {
        match self {
            Kind::ARecordSet => "dnsRecordSets",
            _ => "trafficManagerEndpoints",
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Kind::ARecordSet => "Microsoft.Network/dnszones/A",
            Kind::AzureEndpoint => "Microsoft.Network/trafficManagerProfiles/azureEndpoints",
            Kind::ExternalEndpoint => "Microsoft.Network/trafficManagerProfiles/externalEndpoints",
        }
    }
}

impl NetworkPath {
    /// The counters' name of its requests' route.
    pub(super) fn route_name(&self, method: &Method) -> String {
        format!(
            "{}.{}",
            self.kind.route(),
            method.as_str().to_ascii_lowercase()
        )
    }

    /// The api-versions it takes.
    pub(super) fn api_versions(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::ARecordSet => &["2018-05-01"],
            _ => &["2022-04-01"],
        }
    }

    fn key(&self) -> String {
        self.id.to_ascii_lowercase()
    }
}

/// `path` as a network resource of this emulator, if it is one.
pub(super) fn parse(path: &str) -> Option<NetworkPath> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let [subs, subscription, groups, group, providers, network, parent_type, parent, child_type, name] =
        segs[..]
    else {
        return None;
    };
    if !(is(subs, "subscriptions")
        && is(groups, "resourceGroups")
        && is(providers, "providers")
        && is(network, "Microsoft.Network"))
    {
        return None;
    }
    let kind = if is(parent_type, "dnsZones") && is(child_type, "A") {
        Kind::ARecordSet
    } else if is(parent_type, "trafficManagerProfiles") && is(child_type, "azureEndpoints") {
        Kind::AzureEndpoint
    } else if is(parent_type, "trafficManagerProfiles") && is(child_type, "externalEndpoints") {
        Kind::ExternalEndpoint
    } else {
        return None;
    };
    let (parent_seg, child_seg) = match kind {
        Kind::ARecordSet => ("dnsZones", "A"),
        Kind::AzureEndpoint => ("trafficManagerProfiles", "azureEndpoints"),
        Kind::ExternalEndpoint => ("trafficManagerProfiles", "externalEndpoints"),
    };
    Some(NetworkPath {
        subscription: subscription.to_string(),
        id: format!(
            "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/\
             {parent_seg}/{parent}/{child_seg}/{name}"
        ),
        name: name.to_string(),
        parent: parent.to_string(),
        kind,
    })
}

/// The resources, by lowercase id, and the file they are kept in.
pub(crate) struct Network {
    file: Option<PathBuf>,
    resources: Mutex<BTreeMap<String, Value>>,
}

impl Network {
    /// In memory only.
    pub(crate) fn in_memory() -> Network {
        Network {
            file: None,
            resources: Mutex::default(),
        }
    }

    /// Kept in `dir/arm-network.json`, read from it if it is there (an
    /// unreadable file is started afresh, with a warning: it is a test
    /// double's state).
    pub(crate) fn open(dir: &Path) -> Network {
        let file = dir.join(FILE);
        let resources = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %file.display(), "ignoring the emulator's network resources: {e}");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Network {
            file: Some(file),
            resources: Mutex::new(resources),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.resources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The resource at `id` (any case), as ARM would answer a GET.
    pub(crate) fn get(&self, id: &str) -> Option<Value> {
        self.lock().get(&id.to_ascii_lowercase()).cloned()
    }

    fn save(&self, resources: &BTreeMap<String, Value>) -> Result<(), ArmError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let temporary = file.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(resources).unwrap_or_default();
        std::fs::write(&temporary, bytes)
            .and_then(|()| std::fs::rename(&temporary, file))
            .map_err(|e| {
                ArmError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    format!("the emulator cannot keep its network resources: {e}"),
                )
            })
    }

    /// Serves `method` on `path` with `body`; a change applied is `Some`.
    pub(super) fn serve(
        &self,
        path: &NetworkPath,
        method: &Method,
        body: &[u8],
    ) -> Result<(Response, Option<NetworkChange>), ArmError> {
        let key = path.key();
        let change = |method: &str, resource: Option<Value>| NetworkChange {
            method: method.to_string(),
            id: path.id.clone(),
            resource,
        };
        match *method {
            Method::GET => match self.get(&key) {
                Some(resource) => Ok((Json(resource).into_response(), None)),
                None => Err(not_found(path)),
            },
            Method::PUT => {
                let input: Value = serde_json::from_slice(body).map_err(|e| {
                    ArmError::bad_request(
                        "InvalidRequestContent",
                        format!(
                            "The request content was invalid and could not be deserialized: {e}"
                        ),
                    )
                })?;
                let resource = resource(path, &input)?;
                let mut resources = self.lock();
                let created = resources.insert(key, resource.clone()).is_none();
                self.save(&resources)?;
                let status = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                Ok((
                    (status, Json(resource.clone())).into_response(),
                    Some(change("PUT", Some(resource))),
                ))
            }
            Method::DELETE => {
                let mut resources = self.lock();
                if resources.remove(&key).is_none() {
                    return Ok((StatusCode::NO_CONTENT.into_response(), None));
                }
                self.save(&resources)?;
                Ok((StatusCode::OK.into_response(), Some(change("DELETE", None))))
            }
            _ => Err(super::handlers::method_not_allowed(method)),
        }
    }
}

fn not_found(path: &NetworkPath) -> ArmError {
    let message = match path.kind {
        Kind::ARecordSet => format!(
            "The resource record '{}' does not exist in resource group of zone '{}'.",
            path.name, path.parent
        ),
        _ => format!(
            "The endpoint '{}' does not exist in Traffic Manager profile '{}'.",
            path.name, path.parent
        ),
    };
    ArmError::not_found("NotFound", message)
}

/// The resource a PUT of `input` makes, in the specification's shape: its
/// `id`, `name`, `type`, an `etag` for record sets, and `properties` as
/// given with what ARM adds (a record set's `fqdn`; an endpoint's monitor
/// status).
fn resource(path: &NetworkPath, input: &Value) -> Result<Value, ArmError> {
    let invalid = |message: String| ArmError::bad_request("BadRequest", message);
    let mut properties = input
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| invalid("The request has no `properties` object.".to_string()))?;
    let mut resource = json!({
        "id": path.id,
        "name": path.name,
        "type": path.kind.type_name(),
    });
    match path.kind {
        Kind::ARecordSet => {
            let records = properties
                .get("ARecords")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    invalid(
                        "The record set has no `ARecords` list; an A record set holds them.".into(),
                    )
                })?;
            for record in records {
                let address = record["ipv4Address"].as_str().unwrap_or_default();
                if address.parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(invalid(format!(
                        "The IPv4 address '{address}' of an A record is not valid."
                    )));
                }
            }
            if !properties.get("TTL").is_some_and(Value::is_u64) {
                return Err(invalid(
                    "The record set's `TTL` must be a number of seconds.".into(),
                ));
            }
            properties.insert(
                "fqdn".into(),
                json!(format!("{}.{}.", path.name, path.parent)),
            );
            resource["etag"] = json!(crate::auth::random_guid());
        }
        Kind::AzureEndpoint | Kind::ExternalEndpoint => {
            let target = if path.kind == Kind::AzureEndpoint {
                "targetResourceId"
            } else {
                "target"
            };
            if !properties.get(target).is_some_and(Value::is_string) {
                return Err(invalid(format!("The endpoint has no `{target}`.")));
            }
            properties
                .entry("endpointStatus")
                .or_insert_with(|| json!("Enabled"));
            properties.insert("endpointMonitorStatus".into(), json!("CheckingEndpoint"));
        }
    }
    resource["properties"] = Value::Object(properties);
    Ok(resource)
}
