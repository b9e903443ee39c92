//! The settings of the azure backend: `[fabric] kind = "azure"` in
//! `drbook.toml` (the CLI reads the file; this is what it resolves to).

use crate::budget::Limits;
use crate::client::RetryPolicy;
use crate::credential::CredentialConfig;
use std::path::PathBuf;
use std::time::Duration;

/// Azure's public cloud.
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";
/// The newest stable Site Recovery api-version (arm-notes).
pub const DEFAULT_API_VERSION: &str = "2025-08-01";

#[derive(Debug, Clone, PartialEq)]
pub struct AzureConfig {
    pub subscription: String,
    pub resource_group: String,
    /// The Recovery Services vault holding the protected items.
    pub vault: String,
    pub api_version: String,
    /// ARM's base URL: the public cloud's, a sovereign cloud's, or an
    /// emulator's. Must be https.
    pub arm_endpoint: String,
    pub credential: CredentialConfig,
    /// Extra roots to trust (PEM): an emulator's self-signed CA.
    pub ca_file: Option<PathBuf>,
    /// Where the backend keeps its audit log.
    pub data_dir: PathBuf,
    pub limits: Limits,
    pub retry: RetryPolicy,
    /// One HTTP request's limit.
    pub timeout: Duration,
    /// How long a poller waits between polls when Azure says nothing
    /// (`Retry-After`); ASR's jobs take minutes.
    pub poll_interval: Duration,
}

impl AzureConfig {
    /// A configuration with the defaults for everything the vault does not
    /// name.
    pub fn new(
        subscription: impl Into<String>,
        resource_group: impl Into<String>,
        vault: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        AzureConfig {
            subscription: subscription.into(),
            resource_group: resource_group.into(),
            vault: vault.into(),
            api_version: DEFAULT_API_VERSION.to_string(),
            arm_endpoint: DEFAULT_ARM_ENDPOINT.to_string(),
            credential: CredentialConfig::default(),
            ca_file: None,
            data_dir: data_dir.into(),
            limits: Limits::ARM,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(15),
        }
    }

    /// The vault's ARM path.
    pub fn vault_path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.RecoveryServices/vaults/{}",
            self.subscription, self.resource_group, self.vault
        )
    }

    /// The token scope of the ARM endpoint: `https://management.azure.com/.default`
    /// for the public cloud.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.arm_endpoint.trim_end_matches('/'))
    }
}
