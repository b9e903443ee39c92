//! What the handlers share, and the marks they leave for the server.

use crate::auth::Tokens;
use crate::budget::Buckets;
use crate::config::HttpFaults;
use crate::counters::Live;
use crate::wire::Vault;
use drbook_fabric_sim::Simulator;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub sim: Simulator,
    pub vault: Vault,
    /// `https://127.0.0.1:<port>`: the base of `nextLink` and LRO links.
    pub base_url: String,
    pub page_size: usize,
    /// `None`: the simulator's poll interval, in whole seconds.
    pub retry_after_secs: Option<u32>,
    pub tokens: Tokens,
    pub counters: Live,
    pub faults: Mutex<HttpFaults>,
    pub budget: Buckets,
    /// What `replicationRecoveryPlans` serves.
    pub recovery_plans: Vec<drbook_core::plan::RecoveryPlan>,
    /// The network resources (DNS records, Traffic Manager endpoints).
    pub network: super::Network,
    /// The subscription's tenant, the apps of the Entra token endpoint,
    /// and the principals with no role (`Config`'s).
    pub tenant: String,
    pub apps: Vec<crate::config::App>,
    pub without_role: Vec<String>,
    /// ARM requests that passed the checks, for the every-Nth faults.
    pub(super) arm_seq: AtomicU64,
    /// Operations started by a POST, for `drop_post_every`.
    pub(super) post_seq: AtomicU64,
    /// Operation id → the `x-ms-client-request-id` of the POST that
    /// started it (also recoverable from the simulator's initiator), or
    /// `None` for an operation started otherwise (`drbook fabric op`).
    pub(super) client_ids: Mutex<HashMap<String, Option<String>>>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sim: Simulator,
        vault: Vault,
        base_url: String,
        page_size: usize,
        retry_after_secs: Option<u32>,
        tokens: Tokens,
        faults: HttpFaults,
    ) -> Self {
        Shared {
            sim,
            vault,
            base_url,
            page_size: page_size.max(1),
            retry_after_secs,
            tokens,
            counters: Live::default(),
            faults: Mutex::new(faults),
            budget: Buckets::default(),
            recovery_plans: Vec::new(),
            network: super::Network::in_memory(),
            tenant: String::new(),
            apps: Vec::new(),
            without_role: Vec::new(),
            arm_seq: AtomicU64::new(0),
            post_seq: AtomicU64::new(0),
            client_ids: Mutex::new(HashMap::new()),
        }
    }

    pub fn faults(&self) -> HttpFaults {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_faults(&self, faults: HttpFaults) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// What managed identity's tokens are issued to (for ARM, until the
    /// token endpoint names the resource asked for).
    pub fn managed_identity(&self) -> crate::auth::Grant {
        crate::auth::Grant {
            tenant: self.tenant.clone(),
            object_id: crate::config::MANAGED_IDENTITY_OBJECT_ID.to_string(),
            audience: self.base_url.clone(),
        }
    }

    /// Whom the request's token was issued to, if it is valid and for ARM
    /// (any tenant: ARM's tenant-level routes take them all).
    pub fn authenticate(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<crate::auth::Grant, crate::auth::Refused> {
        let grant = self.tokens.check(headers)?;
        grant.for_arm(&self.base_url)?;
        Ok(grant)
    }
}

/// Marks a response whose connection is to be closed instead of answered
/// (the server's connection loop reads it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropConnection;

/// The initiator the simulator records for a POST: the client's request
/// id, so that the job's `activityId` is known after a restart too.
pub(super) const INITIATOR_PREFIX: &str = "arm:";
