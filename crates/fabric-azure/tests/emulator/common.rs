//! An emulator over a fresh simulator at instant speed, and an azure
//! backend that trusts its CA and takes tokens from its token endpoint.

use drbook_arm_emulator::{Config, Emulator};
use drbook_core::TimeScale;
use drbook_fabric_azure::{
    AzureConfig, AzureFabric, CredentialConfig, CredentialKind, Redacted, RetryPolicy,
};
use drbook_fabric_sim::{demo_estate, Estate, Options, Simulator};
use std::path::Path;
use std::time::Duration;

/// The identity secret every test emulator uses.
pub const SECRET: &str = "drbook-test-identity-secret";

pub struct Env {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
}

pub fn estate(vms: usize) -> Estate {
    Estate::replicating("eastus", "westus", (0..vms).map(|i| format!("vm-{i:03}")))
}

/// An emulator of `estate` (the demo estate when `None`) with `config`, at
/// instant speed.
pub async fn start(estate: Option<Estate>, config: Config) -> Env {
    start_at(estate, config, TimeScale::Instant).await
}

/// [`start`] with the simulator at `speed`.
pub async fn start_at(estate: Option<Estate>, config: Config, speed: TimeScale) -> Env {
    let dir = tempfile::tempdir().expect("a temp dir");
    let estate = estate.unwrap_or_else(demo_estate);
    let sim = Simulator::init_with(&dir.path().join("sim"), &estate, false, Options::new(speed))
        .expect("a simulator");
    let config = Config {
        identity_secret: Some(SECRET.to_string()),
        ..config
    };
    let emu = Emulator::start(sim, config, dir.path())
        .await
        .expect("the emulator starts");
    Env { emu, dir }
}

/// Quick retries: the emulator's `Retry-After` (1 s) still rules.
pub fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 8,
        backoff: Duration::from_millis(20),
        max_wait: Duration::from_secs(5),
    }
}

/// The backend's configuration for `emu`, keeping its audit log in
/// `data_dir`.
pub fn config(emu: &Emulator, data_dir: &Path) -> AzureConfig {
    let ep = emu.endpoints();
    let mut config = AzureConfig::new(&ep.subscription, &ep.resource_group, &ep.vault, data_dir);
    config.arm_endpoint = ep.base_url.clone();
    config.ca_file = Some(ep.ca_pem_path.clone());
    config.credential = CredentialConfig {
        kinds: vec![CredentialKind::TokenEndpoint],
        token_endpoint: Some(ep.token_endpoint.clone()),
        token_endpoint_secret: Some(Redacted(SECRET.to_string())),
        ..CredentialConfig::default()
    };
    config.retry = retry();
    config.poll_interval = Duration::from_millis(50);
    config
}

impl Env {
    /// A backend over this emulator, as a process with `name`'s data dir.
    pub fn fabric(&self, name: &str) -> AzureFabric {
        AzureFabric::open(&config(&self.emu, &self.dir.path().join(name)))
            .expect("the backend opens")
    }
}
