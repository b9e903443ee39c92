//! How an emulator runs: the vault it pretends to be, its paging, its tokens
//! (and the Entra ID applications that may get one), and the faults it
//! injects on demand.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The stable api-versions of Site Recovery from 2024 on (the folders of
/// `specification/recoveryservicessiterecovery/.../SiteRecovery/stable/`),
/// oldest first. Any other value is refused with ARM's 400.
pub const SUPPORTED_API_VERSIONS: &[&str] = &[
    "2024-01-01",
    "2024-02-01",
    "2024-04-01",
    "2024-10-01",
    "2025-01-01",
    "2025-02-01",
    "2025-08-01",
    "2026-01-01",
    "2026-02-01",
    "2026-05-01",
];

/// Everything an emulator is started with.
#[derive(Debug, Clone)]
pub struct Config {
    pub subscription: String,
    pub resource_group: String,
    pub vault: String,
    /// 127.0.0.1's port for HTTPS (0: any free port).
    pub port: u16,
    /// The port of the plain-HTTP token endpoint (0: any free port).
    pub identity_port: u16,
    /// Items (and jobs) per page of a list; the rest follows `nextLink`.
    pub page_size: usize,
    /// How long a token from the token endpoint is good for.
    pub token_lifetime: Duration,
    /// `Retry-After` (seconds) on the 202 of an action and while an
    /// operation runs; `None`: the simulator's poll interval (about 30
    /// simulated seconds, 0 at instant speed, at most 2), as Azure says
    /// when its jobs are worth polling again.
    pub retry_after_secs: Option<u32>,
    /// The secret of `IDENTITY_HEADER`; a random one when `None`.
    pub identity_secret: Option<String>,
    pub faults: HttpFaults,
    /// ARM's request budget, enforced (429 when spent); `None`: unlimited.
    pub budget: Option<Budget>,
    /// The vault's recovery plans (`replicationRecoveryPlans`), from
    /// drbook plan files.
    pub recovery_plans: Vec<drbook_core::plan::RecoveryPlan>,
    /// The Entra ID tenant of the subscription: ARM refuses a token issued
    /// in any other (401 `InvalidAuthenticationTokenTenant`). Managed
    /// identity's tokens are this tenant's.
    pub tenant: String,
    /// The applications Entra ID's token endpoint knows (`POST
    /// /{tenant}/oauth2/v2.0/token` on the HTTPS port). None: one app in
    /// [`Config::tenant`] with a random secret, named in
    /// `Endpoints::apps`, so that `drbook fabric serve-arm` always has one
    /// to print.
    pub apps: Vec<App>,
    /// Object ids of principals (apps, or [`MANAGED_IDENTITY_OBJECT_ID`])
    /// with no role on the vault: every ARM request of theirs is answered
    /// ARM's 403 `AuthorizationFailed`, as a missing role assignment is.
    pub without_role: Vec<String>,
}

/// The principal managed identity's tokens are issued to.
pub const MANAGED_IDENTITY_OBJECT_ID: &str = "00000000-0000-0000-0000-00000000e0e0";

/// An application registered in Entra ID (a service principal), as the
/// token endpoint checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub tenant: String,
    pub client_id: String,
    /// The service principal's object id: the `oid` of its tokens, what
    /// [`Config::without_role`] and ARM's 403 name.
    pub object_id: String,
    pub credential: AppCredential,
}

/// How an application proves itself to the token endpoint.
#[derive(Clone, PartialEq)]
pub enum AppCredential {
    /// `client_secret` must equal it (wrong: `AADSTS7000215`).
    Secret(String),
    /// Workload identity: a `client_assertion` (type
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`) equal to
    /// this file's content, read at each request so that a rotated file
    /// counts. Entra verifies a federated token's signature against its
    /// issuer's keys (the cluster's OIDC issuer) and its subject against
    /// the app's federated credential; the emulator has no issuer, so the
    /// file's exact content is the credential, and what
    /// `AZURE_FEDERATED_TOKEN_FILE` names for the client.
    FederatedTokenFile(PathBuf),
}

impl std::fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppCredential::Secret(_) => f.write_str("Secret(<redacted>)"),
            AppCredential::FederatedTokenFile(path) => {
                f.debug_tuple("FederatedTokenFile").field(path).finish()
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            subscription: "00000000-0000-0000-0000-000000000000".to_string(),
            resource_group: "drbook-simulator".to_string(),
            vault: "drbook-simulator".to_string(),
            port: 0,
            identity_port: 0,
            page_size: 100,
            token_lifetime: Duration::from_secs(3600),
            retry_after_secs: None,
            identity_secret: None,
            faults: HttpFaults::default(),
            budget: None,
            recovery_plans: Vec::new(),
            tenant: "00000000-0000-0000-0000-0000000000e1".to_string(),
            apps: Vec::new(),
            without_role: Vec::new(),
        }
    }
}

/// Faults of the HTTP layer, on top of the simulator's own. Counting is over
/// the ARM requests that passed authentication and the api-version check,
/// in the order they arrived; the token endpoint and admin routes never
/// fail. Settable at start and at any time (`Emulator::set_faults`,
/// `PUT /admin/faults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpFaults {
    /// Every Nth ARM request is answered 429 `TooManyRequests` with
    /// `Retry-After`, and not served.
    pub throttle_every: Option<u32>,
    /// The `Retry-After` (seconds) of those 429s.
    pub throttle_retry_after_secs: u32,
    /// When set, those 429s also say `x-ms-retry-after-ms` (the header
    /// Azure's SDKs read before `Retry-After`): a wait shorter than a whole
    /// second, so that a test of many throttled requests stays quick.
    pub throttle_retry_after_ms: Option<u32>,
    /// Every Nth ARM request is answered with `error_status` and not served.
    pub error_every: Option<u32>,
    /// 500, 502, 503 or 504 (500 when unset).
    pub error_status: Option<u16>,
    /// Every ARM request waits this long (milliseconds) before it is served.
    pub delay_ms: u64,
    /// The next this many action POSTs are applied (the operation starts)
    /// and then their connection is closed without an answer.
    pub drop_next_posts: u32,
    /// Every Nth action POST is applied and its connection closed without
    /// an answer.
    pub drop_post_every: Option<u32>,
    /// Every write of a network resource (a DNS record set's or a Traffic
    /// Manager endpoint's PUT or DELETE) waits this long (milliseconds)
    /// after it arrived, before it is applied: a write a client can be
    /// killed during.
    pub network_write_delay_ms: u64,
}

/// ARM's throttling: a token bucket per kind of request, refilled
/// continuously. A request that finds its bucket empty is answered 429
/// `TooManyRequests` with the `Retry-After` (whole seconds, rounded up)
/// until the next token; every ARM answer carries what is left in
/// `x-ms-ratelimit-remaining-subscription-reads` / `-writes`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// GETs.
    pub reads: Bucket,
    /// POSTs (and any other method).
    pub writes: Bucket,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub capacity: u32,
    pub refill_per_second: f64,
}

impl Budget {
    /// ARM's limits per subscription and principal since 2024: reads 250
    /// refilled at 25/s, writes 200 refilled at 10/s.
    pub const ARM: Budget = Budget {
        reads: Bucket {
            capacity: 250,
            refill_per_second: 25.0,
        },
        writes: Bucket {
            capacity: 200,
            refill_per_second: 10.0,
        },
    };
}

/// One of the simulator's own faults (`drbook_fabric_sim::Fault`), as the
/// admin route takes it: `{"failNext":"vm"}`, `{"failPercent":20}`,
/// `{"regionDown":"eastus"}`, `{"regionUp":"eastus"}`,
/// `{"degrade":{"vm":"sql-01","health":"Critical"}}`, `"clear"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SimFault {
    FailNext(String),
    FailPercent(u8),
    RegionDown(String),
    RegionUp(String),
    Degrade {
        vm: String,
        health: drbook_core::fabric::Health,
    },
    Clear,
}

impl From<SimFault> for drbook_fabric_sim::Fault {
    fn from(fault: SimFault) -> Self {
        use drbook_fabric_sim::Fault;
        match fault {
            SimFault::FailNext(vm) => Fault::FailNext { vm },
            SimFault::FailPercent(percent) => Fault::FailPercent(percent),
            SimFault::RegionDown(region) => Fault::RegionDown(region),
            SimFault::RegionUp(region) => Fault::RegionUp(region),
            SimFault::Degrade { vm, health } => Fault::Degrade { vm, health },
            SimFault::Clear => Fault::Clear,
        }
    }
}
