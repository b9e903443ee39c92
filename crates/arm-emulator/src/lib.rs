//! An ARM-compatible emulator of Azure Site Recovery: drbook's simulator
//! (`drbook_fabric_sim::Simulator`) behind the routes and JSON of
//! `Microsoft.RecoveryServices` replication, over HTTPS, so that the azure
//! backend (and Azure's own SDKs) can be tested offline.
//!
//! What it serves, on 127.0.0.1:
//! - HTTPS (a self-signed CA made at start, its PEM written to a file): the
//!   vault's routes under `/subscriptions/{sub}/resourceGroups/{rg}/providers/
//!   Microsoft.RecoveryServices/vaults/{vault}`: protected items (vault-wide
//!   list with `nextLink` paging, by container, one item), the item actions
//!   (POST, answered 202 with `Azure-AsyncOperation`, `Location` and
//!   `Retry-After`), recovery points, jobs (`replicationJobs`: one ASR job per
//!   simulator operation), and the operation status and result endpoints.
//!   Every ARM route needs a bearer token (for ARM's audience: the
//!   emulator's URL or the public cloud's) and a supported `api-version`.
//! - Entra ID's v2 token endpoint on the HTTPS port (`POST /{tenant}/oauth2/
//!   v2.0/token`: client secret, or workload identity's assertion), for the
//!   applications of the configuration; ARM refuses tokens of another tenant
//!   than the subscription's, and answers 403 to principals with no role.
//! - What a client reads before the vault, as the Azure CLI does: ARM's
//!   metadata of the cloud (`GET /metadata/endpoints?api-version=
//!   2022-09-01`, no token; login endpoint and audience are the emulator's),
//!   Entra's OpenID discovery (`GET /{tenant}/v2.0/.well-known/
//!   openid-configuration`), and `GET /subscriptions` (the subscription, to
//!   a principal of its tenant with a role).
//! - A DNS zone's A record sets and a Traffic Manager profile's endpoints
//!   (`Microsoft.Network`, PUT/GET/DELETE), kept in `arm-network.json`:
//!   what runbooks switch traffic with after a failover (`routes::network`).
//! - HTTP, on its own port: a managed-identity token endpoint in the style of
//!   App Service's (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`), which
//!   `azure_identity`'s `ManagedIdentityCredential` accepts over plain HTTP.
//!   The same endpoint is also served over HTTPS at `/msi/token`.
//! - Admin routes (`/admin/...`, guarded by the identity header's secret):
//!   counters, HTTP faults, the simulator's faults.
//!
//! Layout:
//! - `config`: [`Config`] and the HTTP faults ([`HttpFaults`]).
//! - `server`: [`Emulator`] (start in-process, read its URLs, counters,
//!   faults) and [`serve`]; the accept loops and dropped connections.
//! - `tls`: the certificate made at start.
//! - `auth`: bearer tokens, managed identity's token endpoint, ARM's 401
//!   and 403.
//! - `entra`: Entra ID's token endpoint.
//! - `routes`: parsing ARM paths (case-insensitively), the checks every ARM
//!   request meets, and the handlers; `routes::cloud` the cloud's metadata,
//!   OpenID discovery and the subscription list.
//! - `wire`: the simulator's read model as ASR's JSON.
//! - `error`: ARM's error bodies.
//! - `budget`: ARM's token buckets, when enforced.
//! - `counters`: what the tests read.

mod auth;
mod budget;
mod config;
mod counters;
mod entra;
mod error;
mod routes;
mod server;
pub mod tls;
mod wire;

pub use config::{
    App, AppCredential, Bucket, Budget, Config, HttpFaults, SimFault, MANAGED_IDENTITY_OBJECT_ID,
    SUPPORTED_API_VERSIONS,
};
pub use counters::{Counters, NetworkChange, Retry};
pub use entra::ASSERTION_TYPE;
pub use error::ArmError;
pub use server::{serve, Emulator, EmulatorError, Endpoints, DEFAULT_CLIENT_ID};
pub use wire::{job_scenario_name, JOB_NONE};
