//! drbook's Azure backend: Azure Site Recovery over the ARM REST API, behind
//! the [`Fabric`](drbook_core::fabric::Fabric) port, with Entra ID
//! credentials from `azure_identity`. It passes the same conformance suite
//! as the simulator, against the ARM emulator.
//!
//! Layout:
//! - `config`: what `[fabric] kind = "azure"` resolves to.
//! - `credential`: the credential chain and its tokens; a token's claims.
//! - `client`: the ARM client (api-version, retries, `Retry-After`, 401).
//! - `budget`: the process's per-subscription request budget.
//! - `wire`: ARM's JSON, as the REST specification spells it.
//! - `map`: ARM's shapes onto drbook's read model.
//! - `request`: prechecks, action bodies and client request ids.
//! - `audit`: the backend's local audit log (refusals, intents, starts).
//! - `recovery_plans`: Site Recovery's recovery plans read as drbook plans.
//! - `job_list`: the vault's Site Recovery jobs, for `drbook fabric jobs`.
//! - `fabric_impl`: [`AzureFabric`], the port.
//! - `item_reads`: item reads shared by concurrent callers (a vault list
//!   for many GETs).
//! - `resources`: [`ArmResources`], runbooks' Azure resource calls (the
//!   `Resources` port): LROs followed, writes sent once.
//! - `error`: [`ArmError`].

mod audit;
mod budget;
mod client;
mod config;
mod credential;
mod error;
mod fabric_impl;
mod item_reads;
mod job_list;
pub mod map;
pub mod recovery_plans;
pub mod request;
mod resources;
pub mod wire;

pub use audit::{AuditLog, Record, FILE_NAME as AUDIT_FILE};
pub use budget::{Budget, Kind as BudgetKind, Limits, Waited};
pub use client::{
    error_of, http_client, retry_after, Answer, ArmClient, ArmSettings, Counters, PostError,
    RetryPolicy,
};
pub use config::{AzureConfig, DEFAULT_API_VERSION, DEFAULT_ARM_ENDPOINT};
pub use credential::{Claims, CredentialConfig, CredentialKind, Credentials, Redacted};
pub use error::ArmError;
pub use fabric_impl::{job_in_url, AzureFabric, OpenError};
pub use job_list::since_filter;
pub use recovery_plans::{ImportError, Imported};
pub use request::request_id;
pub use resources::ArmResources;
