//! `azure`: Azure resource calls, granted, bounded and journaled (see the
//! interface's docs in `wit/runbook.wit`).
//!
//! A request is checked against its bounds, then takes the course of every
//! outside call (`outside`): the grant (`drbook_core::outside::azure::check`:
//! the manifest's `azure` filled from the job, the trust policy's caps)
//! before anything is sent, a write a durable intent sent once, a GET
//! journaled with its answer, replays answered from the journal. What sends
//! it is the runtime's [`Resources`] port: the azure backend's ARM client,
//! its credentials, LROs and retries (drbook-fabric-azure); a host without
//! one answers `not-configured`.

use crate::bindings::azure as wit;
use crate::limits::human_bytes;
use crate::state::InstanceState;
use drbook_core::journal::Call;
use drbook_core::outside::azure::{
    self, AzureError, ResourceRequest, ResourceResponse, Resources, MAX_BODY,
};
use drbook_core::outside::Method;

use super::outside::{Outside, OutsideError};

/// ARM's answer handed to a runbook, at most.
const MAX_ANSWER: usize = 1 << 20;

/// What a host without an ARM endpoint says.
const NOT_CONFIGURED: &str = "this host has no ARM endpoint to send Azure calls to: they go \
                              through the azure backend's ARM client and credentials; set \
                              `[fabric] kind = \"azure\"` (subscription, resource-group, vault, \
                              arm-endpoint, credential) in drbook.toml, or run the job on a host \
                              that has it";

type Sent = wasmtime::Result<Result<wit::ResourceResponse, wit::AzureError>>;

impl wit::Host for InstanceState {
    async fn send(&mut self, req: wit::ResourceRequest) -> Sent {
        let request = match request_of(req) {
            Ok(request) => request,
            Err(message) => return Ok(Err(AzureError::Invalid { message }.into())),
        };
        let method = request.method;
        let shown = format!("{method} {}", request.resource_id);
        let id = request.resource_id.clone();
        let outside = Outside {
            call: Call::Azure {
                request: request.clone(),
            },
            write: !method.is_read(),
            shown: &shown,
        };
        let check = |spec: &_| {
            azure::check(spec, method, &id)
                .map(|_| ())
                .map_err(|refused| refused.message)
        };
        let reply: Result<ResourceResponse, AzureError> = self
            .outside_call(outside, check, |live| async move {
                send(live.outside.resources.as_deref(), &request).await
            })
            .await?;
        Ok(reply
            .map(|r| wit::ResourceResponse {
                status: r.status,
                body: r.body,
            })
            .map_err(Into::into))
    }
}

/// Sends `request` through `resources`, its answer within the host's bound.
async fn send(
    resources: Option<&dyn Resources>,
    request: &ResourceRequest,
) -> Result<ResourceResponse, AzureError> {
    let Some(resources) = resources else {
        return Err(AzureError::NotConfigured {
            message: format!(
                "{} {}: {NOT_CONFIGURED}",
                request.method, request.resource_id
            ),
        });
    };
    let response = resources.send(request).await?;
    if response.body.len() > MAX_ANSWER {
        return Err(AzureError::Invalid {
            message: format!(
                "{} {}: ARM's answer is {}, past the host's {}",
                request.method,
                request.resource_id,
                human_bytes(response.body.len()),
                human_bytes(MAX_ANSWER)
            ),
        });
    }
    Ok(response)
}

/// A runbook's request, checked against the bounds, as the journal keeps it.
fn request_of(req: wit::ResourceRequest) -> Result<ResourceRequest, String> {
    azure::resource_id(&req.resource_id)?;
    let version = &req.api_version;
    if version.is_empty()
        || version.len() > 64
        || !version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    {
        return Err(format!(
            "`{}` is not an api-version: write the resource provider's, `2018-05-01` for DNS",
            crate::limits::cut(version.clone(), 200)
        ));
    }
    let method = match req.method {
        wit::Method::Get => Method::Get,
        wit::Method::Put => Method::Put,
        wit::Method::Post => Method::Post,
        wit::Method::Patch => Method::Patch,
        wit::Method::Delete => Method::Delete,
    };
    let body = match req.body {
        None => None,
        Some(_) if matches!(method, Method::Get | Method::Delete) => {
            return Err(format!("a {method} carries no body; leave it out"))
        }
        Some(text) if text.len() > MAX_BODY => {
            return Err(format!(
                "the body is {}, past the host's {}",
                human_bytes(text.len()),
                human_bytes(MAX_BODY)
            ))
        }
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| format!("the body is not JSON ({e}); ARM takes JSON"))?,
        ),
    };
    Ok(ResourceRequest {
        method,
        resource_id: req.resource_id,
        api_version: req.api_version,
        body,
    })
}

impl OutsideError for AzureError {
    fn not_granted(message: String) -> Self {
        AzureError::NotGranted { message }
    }
    fn outcome_unknown(message: String) -> Self {
        AzureError::OutcomeUnknown { message }
    }
    fn not_sent(message: String) -> Self {
        AzureError::NotSent { message }
    }
    fn is_not_granted(&self) -> bool {
        matches!(self, AzureError::NotGranted { .. })
    }
}

impl From<AzureError> for wit::AzureError {
    fn from(e: AzureError) -> Self {
        match e {
            AzureError::NotGranted { message } => wit::AzureError::NotGranted(message),
            AzureError::Invalid { message } => wit::AzureError::Invalid(message),
            AzureError::NotConfigured { message } => wit::AzureError::NotConfigured(message),
            AzureError::Status {
                status,
                code,
                message,
            } => wit::AzureError::Status(wit::ArmStatus {
                status,
                code,
                message,
            }),
            AzureError::Unavailable { message } => wit::AzureError::Unavailable(message),
            AzureError::Failed { message } => wit::AzureError::Failed(message),
            AzureError::OutcomeUnknown { message } => wit::AzureError::OutcomeUnknown(message),
            AzureError::NotSent { message } => wit::AzureError::NotSent(message),
        }
    }
}
