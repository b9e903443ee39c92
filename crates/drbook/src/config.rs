//! `drbook.toml`: which fabric and which job store this host uses, and their
//! settings. Looked up as `<data-dir>/drbook.toml` unless `--config FILE` (or
//! `DRBOOK_CONFIG`) names one; a missing file means the defaults. Every key
//! can be overridden by an environment variable, and every variable by a
//! flag (see `Global`).
//!
//! ```toml
//! [fabric]
//! kind = "simulator"     # the embedded Site Recovery simulator (default), or "azure"
//! speed = 600            # the simulator's time scale: a factor, or "instant"
//!
//! # kind = "azure": Azure Site Recovery over ARM (drbook-fabric-azure)
//! subscription = "00000000-0000-0000-0000-000000000000"
//! resource-group = "dr-rg"
//! vault = "dr-vault"                        # the Recovery Services vault
//! api-version = "2025-08-01"                # default
//! arm-endpoint = "https://management.azure.com"   # default; a sovereign cloud's, an emulator's
//! credential = "chain"   # default; or workload-identity, managed-identity,
//!                        # client-secret, azure-cli, token-endpoint, or a list of them
//! tenant-id = "..."      # client secret, workload identity, Azure CLI (else AZURE_TENANT_ID)
//! client-id = "..."      # client secret, workload identity, a user-assigned identity (else AZURE_CLIENT_ID)
//! client-secret-file = "/run/secrets/drbook"  # else AZURE_CLIENT_SECRET; never in this file
//! token-endpoint = "http://127.0.0.1:8081/msi/token"  # the token-endpoint credential (an emulator's)
//! ca-file = "/tmp/arm-emulator-ca.pem"      # extra roots to trust (an emulator's CA)
//!
//! [store]
//! kind = "sqlite"        # the job store (default), or "postgres"
//! path = "/var/lib/drbook"   # sqlite: the directory of jobs.db; default: the data dir
//! # kind = "postgres" (drbook-store-postgres): one store for several hosts
//! url = "postgres://drbook@db.example:5432/drbook"   # a URL here, in DRBOOK_STORE_URL or --store-url
//!                        # makes "postgres" the default kind; keep a password out of this
//!                        # file (DRBOOK_STORE_URL, or PostgreSQL's ~/.pgpass)
//!
//! # Runbook registries (oci:// references, drbook-module-oci). Plain HTTP is
//! # spoken only to loopback hosts and to the registries listed here.
//! [registries]
//! insecure = ["reg.lab:5000"]   # host:port, or a host for every port
//!
//! # The trust policy (drbook_signing::policy). Without `[trust]`, modules run
//! # unchecked, recorded as admitted with no policy; with it, a module must be
//! # signed as its rule requires (or run with --allow-unsigned, recorded).
//! [trust]
//! file = "trust.toml"    # the keys below in a file of their own (no `trust.` prefix), or:
//! [trust.organisations.platform]
//! keys = ["keys/platform.pub", { file = "keys/old.pub", expires = 2026-06-30 }]
//! [trust.organisations.security-review]
//! keys = ["keys/review.pub"]         # paths are relative to the file they are in
//! [[trust.rules]]
//! name = "shared"                    # what jobs record as the rule that admitted them
//! runbooks = ["failover_plan", "dr_*"]   # file names without .wasm, or globs; the first matching rule decides
//! require = ["platform", "security-review"]   # one key of each (name one twice for two keys)
//! operations = ["test-failover", "test-failover-cleanup"]   # optional: the most its modules may start
//! require-manifest = true              # optional: refuse its modules without a capability manifest
//! http = ["https://*.contoso.com/", "http://127.0.0.1:8080/"]   # optional: the most HTTP destinations its modules may reach
//! azure = ["/subscriptions/SUB/resourceGroups/dns/*"]   # optional: the most Azure resources its modules may call
//!
//! # `drbook serve`'s TLS (else --tls-cert/--tls-key, or --tls-self-signed).
//! [serve]
//! tls-cert = "tls/drbook.pem"   # the certificate chain, PEM (paths relative to this file)
//! tls-key = "tls/drbook.key"    # its private key, PEM
//!
//! # Signing in to the console through OpenID Connect (drbook-triggers' `oidc`);
//! # API tokens keep working beside it.
//! [oidc]
//! issuer = "https://login.microsoftonline.com/<tenant>/v2.0"   # exactly the ID tokens' `iss`
//! client-id = "<application (client) id>"
//! client-secret-env = "DRBOOK_OIDC_SECRET"   # or client-secret-file = "/run/secrets/oidc"; never in this file
//! redirect-url = "https://drbook.example.com/ui/callback"   # as registered with the provider
//! ca-file = "issuer-ca.pem"    # optional: extra roots for the provider's TLS
//! [[oidc.roles]]               # a person's scopes: every mapping their claims match
//! claim = "groups"             # a list claim holds the value, a string claim equals it
//! value = "dr-approvers"       # Entra ID's groups are object ids
//! scopes = ["viewer", "approver"]
//!
//! # The console's and the API's rules.
//! [console]
//! four-eyes = true   # whoever started a job may not decide its manual step (or serve --four-eyes)
//!
//! # Evidence reports (`drbook report`, drbook-report).
//! [report]
//! key = "keys/reports"   # the ed25519 private key that signs reports (OpenSSH or PEM);
//!                        # default: <data-dir>/report-key, made on first use (0600)
//! chromium = "/usr/bin/chromium"   # what prints PDFs; default: chromium (or chrome) on PATH
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

use drbook_core::TimeScale;
use drbook_fabric_azure::{AzureConfig, CredentialConfig, CredentialKind};
use drbook_signing::{Organisation, PublicKey, Rule, TrustPolicy, TrustedKey};

/// The file's name in the data directory.
pub const FILE_NAME: &str = "drbook.toml";

/// A configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    fabric: FabricSection,
    #[serde(default)]
    store: StoreSection,
    trust: Option<TrustSection>,
    #[serde(default)]
    registries: RegistriesSection,
    #[serde(default)]
    report: ReportSection,
    #[serde(default)]
    serve: ServeSection,
    oidc: Option<OidcSection>,
    #[serde(default)]
    console: ConsoleSection,
}

/// `[oidc]`: signing in through an OpenID Connect provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct OidcSection {
    issuer: String,
    #[serde(alias = "client_id")]
    client_id: String,
    #[serde(alias = "client_secret_env")]
    client_secret_env: Option<String>,
    #[serde(alias = "client_secret_file")]
    client_secret_file: Option<PathBuf>,
    #[serde(alias = "redirect_url")]
    redirect_url: String,
    #[serde(alias = "ca_file")]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    roles: Vec<drbook_triggers::RoleMapping>,
}

/// `[console]`: rules of the console and the API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConsoleSection {
    #[serde(default, alias = "four_eyes")]
    four_eyes: bool,
}

/// `[serve]`: `drbook serve`'s certificate.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ServeSection {
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

/// `[report]`: how evidence reports are signed and printed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportSection {
    key: Option<PathBuf>,
    chromium: Option<PathBuf>,
}

/// `[registries]`: how runbook registries are reached.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistriesSection {
    /// Registries spoken to over plain HTTP although not on loopback.
    #[serde(default)]
    insecure: Vec<String>,
}

/// `[trust]`: the policy itself, or `file`, which holds it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustSection {
    file: Option<PathBuf>,
    #[serde(default)]
    organisations: std::collections::BTreeMap<String, OrganisationSection>,
    #[serde(default)]
    rules: Vec<RuleSection>,
}

/// A policy as written, in `[trust]` or in the file it names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyKeys {
    #[serde(default)]
    organisations: std::collections::BTreeMap<String, OrganisationSection>,
    #[serde(default)]
    rules: Vec<RuleSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationSection {
    /// Each a path, or `{ file = PATH, expires = DATE }`.
    keys: Vec<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSection {
    name: String,
    runbooks: Vec<String>,
    require: Vec<String>,
    /// The most its modules may start, by kebab-case names.
    operations: Option<Vec<String>>,
    #[serde(default, rename = "require-manifest")]
    require_manifest: bool,
    /// The most HTTP destinations its modules may reach, as URL prefixes.
    http: Option<Vec<String>>,
    /// The most Azure resources its modules may call, as resource id patterns.
    azure: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FabricSection {
    kind: Option<String>,
    /// A factor (`600`) or `"instant"`.
    speed: Option<toml::Value>,
    subscription: Option<String>,
    resource_group: Option<String>,
    vault: Option<String>,
    api_version: Option<String>,
    arm_endpoint: Option<String>,
    /// A credential's name, `"chain"`, or a list of names.
    credential: Option<toml::Value>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    client_secret_file: Option<PathBuf>,
    token_endpoint: Option<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    kind: Option<String>,
    path: Option<PathBuf>,
    url: Option<String>,
}

/// What flags and environment variables said, each `None` when not given.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub fabric: Option<String>,
    pub speed: Option<TimeScale>,
    pub store: Option<String>,
    pub store_path: Option<PathBuf>,
    pub store_url: Option<String>,
    pub azure: AzureOverrides,
}

/// The azure backend's flags (`--azure-*`, `--arm-endpoint`) and their
/// environment variables (`DRBOOK_AZURE_*`, `DRBOOK_ARM_ENDPOINT`).
#[derive(Debug, Default, Clone)]
pub struct AzureOverrides {
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
    pub vault: Option<String>,
    pub api_version: Option<String>,
    pub arm_endpoint: Option<String>,
    pub credential: Option<String>,
    pub ca_file: Option<PathBuf>,
}

/// The fabric this host drives.
#[derive(Debug, Clone, PartialEq)]
pub enum FabricChoice {
    Simulator {
        time_scale: TimeScale,
    },
    /// Azure Site Recovery over ARM; its audit log is in the data dir.
    Azure(Box<AzureConfig>),
}

/// The job store this host uses.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreChoice {
    /// `jobs.db` (and its spool) in this directory.
    Sqlite { dir: PathBuf },
    /// The database at this URL (it may hold a password: never print it,
    /// print the store's `location()`).
    Postgres { url: String },
}

const URL_FOR_SQLITE: &str = "[store] url (or DRBOOK_STORE_URL, --store-url) is a PostgreSQL \
     store's, and [store] kind is `sqlite`: set kind = \"postgres\", or drop the url";

const POSTGRES_WITHOUT_URL: &str = "[store] kind = \"postgres\" needs the database's URL: [store] \
     url = \"postgres://USER@HOST:PORT/DATABASE\", DRBOOK_STORE_URL or --store-url";

/// The resolved configuration: flags over environment over file over
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub fabric: FabricChoice,
    pub store: StoreChoice,
    /// The trust policy, if `[trust]` is there: see the module docs.
    pub trust: Option<TrustPolicy>,
    /// `[registries] insecure`: registries reached over plain HTTP although
    /// not on loopback.
    pub insecure_registries: Vec<String>,
    /// `[report]`: the key that signs reports, and the browser that prints
    /// their PDFs (paths relative to the configuration file).
    pub report: ReportConfig,
    /// `[serve] tls-cert` and `tls-key` (relative to the configuration
    /// file), when both are set.
    pub serve_tls: Option<(PathBuf, PathBuf)>,
    /// `[oidc]`, its paths relative to the configuration file; the secret
    /// is read where it is used (`drbook serve`).
    pub oidc: Option<OidcSettings>,
    /// `[console] four-eyes`.
    pub four_eyes: bool,
    /// The file it was read from, if there was one.
    pub file: Option<PathBuf>,
}

/// `[oidc]`, resolved but for its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub secret: SecretSource,
    pub redirect_url: String,
    pub ca_file: Option<PathBuf>,
    pub roles: Vec<drbook_triggers::RoleMapping>,
}

/// Where a secret is read from: never the configuration file itself.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// `[report]`, resolved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportConfig {
    /// `None`: `<data-dir>/report-key`, made on first use.
    pub key: Option<PathBuf>,
    /// `None`: found on PATH.
    pub chromium: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration {} is not valid: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
}

impl Config {
    /// Resolves the configuration of `data_dir`: `file` if given (it must
    /// exist), else `<data_dir>/drbook.toml` if it exists.
    pub fn load(
        data_dir: &Path,
        file: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let (path, required) = match file {
            Some(path) => (path.to_path_buf(), true),
            None => (data_dir.join(FILE_NAME), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let written: File = match &text {
            Some(text) => toml::from_str(text).map_err(|e| ConfigError::Invalid {
                path: path.clone(),
                detail: e.message().to_string(),
            })?,
            None => File::default(),
        };
        let invalid = |detail: String| ConfigError::Invalid {
            path: path.clone(),
            detail,
        };

        let speed = match (overrides.speed, &written.fabric.speed) {
            (Some(speed), _) => speed,
            (None, Some(value)) => {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                text.parse::<TimeScale>()
                    .map_err(|e| invalid(format!("[fabric] speed: {e}")))?
            }
            (None, None) => TimeScale::default(),
        };
        let fabric_kind = overrides
            .fabric
            .clone()
            .or(written.fabric.kind.clone())
            .unwrap_or_else(|| "simulator".to_string());
        let fabric = match fabric_kind.as_str() {
            "simulator" => FabricChoice::Simulator { time_scale: speed },
            "azure" => FabricChoice::Azure(Box::new(
                azure(&written.fabric, &overrides.azure, data_dir).map_err(invalid)?,
            )),
            other => {
                return Err(invalid(format!(
                    "[fabric] kind `{other}` is not one this build has; use `simulator` or `azure`"
                )))
            }
        };

        let store_url = overrides.store_url.clone().or(written.store.url);
        let store_kind = overrides
            .store
            .clone()
            .or(written.store.kind)
            .unwrap_or_else(|| match store_url {
                Some(_) => "postgres".to_string(),
                None => "sqlite".to_string(),
            });
        let store = match store_kind.as_str() {
            "sqlite" if store_url.is_some() => return Err(invalid(URL_FOR_SQLITE.to_string())),
            "postgres" => StoreChoice::Postgres {
                url: store_url.ok_or_else(|| invalid(POSTGRES_WITHOUT_URL.to_string()))?,
            },
            "sqlite" => StoreChoice::Sqlite {
                dir: overrides
                    .store_path
                    .clone()
                    .or(written.store.path)
                    .unwrap_or_else(|| data_dir.to_path_buf()),
            },
            other => {
                return Err(invalid(format!(
                    "[store] kind `{other}` is not one this build has; use `sqlite` or `postgres`"
                )))
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let trust = match written.trust {
            None => None,
            Some(section) => Some(trust(section, base).map_err(invalid)?),
        };
        let report = ReportConfig {
            key: written.report.key.map(|key| base.join(key)),
            chromium: written.report.chromium.map(|c| base.join(c)),
        };
        let serve_tls = match (written.serve.tls_cert, written.serve.tls_key) {
            (Some(cert), Some(key)) => Some((base.join(cert), base.join(key))),
            (None, None) => None,
            _ => return Err(invalid(
                "[serve] needs both tls-cert and tls-key (a certificate and its key), or neither"
                    .to_string(),
            )),
        };
        let oidc = written
            .oidc
            .map(|section| oidc(section, base))
            .transpose()
            .map_err(invalid)?;
        Ok(Config {
            fabric,
            store,
            trust,
            insecure_registries: written.registries.insecure,
            report,
            serve_tls,
            oidc,
            four_eyes: written.console.four_eyes,
            file: text.map(|_| path),
        })
    }

    /// How fast the fabric's time runs (1 for a real fabric).
    pub fn time_scale(&self) -> TimeScale {
        match self.fabric {
            FabricChoice::Simulator { time_scale } => time_scale,
            FabricChoice::Azure(_) => TimeScale::Factor(1.0),
        }
    }
}

/// `[oidc]`, its paths relative to `base`.
fn oidc(section: OidcSection, base: &Path) -> Result<OidcSettings, String> {
    let secret = match (section.client_secret_env, section.client_secret_file) {
        (Some(var), None) => SecretSource::Env(var),
        (None, Some(file)) => SecretSource::File(base.join(file)),
        _ => {
            return Err("[oidc] needs the client secret's place, one of client-secret-env = \"DRBOOK_OIDC_SECRET\" \
                 or client-secret-file = \"/run/secrets/oidc\" (the secret itself never goes in this file)"
                .to_string())
        }
    };
    if section.roles.is_empty() {
        return Err("[oidc] maps no claim to scopes: add [[oidc.roles]] claim = \"groups\", value = \"dr-approvers\", \
             scopes = [\"viewer\", \"approver\"]"
            .to_string());
    }
    Ok(OidcSettings {
        issuer: section.issuer,
        client_id: section.client_id,
        secret,
        redirect_url: section.redirect_url,
        ca_file: section.ca_file.map(|f| base.join(f)),
        roles: section.roles,
    })
}

/// `[trust]`, or the file its `file` names; paths are relative to `base`,
/// the directory of the file they are written in.
fn trust(section: TrustSection, base: &Path) -> Result<TrustPolicy, String> {
    let written_inline = !section.organisations.is_empty() || !section.rules.is_empty();
    let (keys, base, what) = match section.file {
        Some(_) if written_inline => {
            return Err(
                "[trust] has `file` and a policy of its own; keep the policy in one place: \
                 either `file = \"trust.toml\"` alone, or organisations and rules here"
                    .into(),
            )
        }
        Some(file) => {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("[trust] file {}: cannot read it: {e}", path.display()))?;
            let keys: PolicyKeys = toml::from_str(&text).map_err(|e| {
                format!(
                    "[trust] file {}: {} (it holds `[organisations.NAME]` with `keys` and \
                     `[[rules]]` with `name`, `runbooks` and `require`)",
                    path.display(),
                    e.message()
                )
            })?;
            let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            (keys, dir, format!("trust file {}", path.display()))
        }
        None => (
            PolicyKeys {
                organisations: section.organisations,
                rules: section.rules,
            },
            base.to_path_buf(),
            "[trust]".to_string(),
        ),
    };
    let mut organisations = Vec::new();
    for (name, org) in keys.organisations {
        let keys = org
            .keys
            .iter()
            .map(|entry| trusted_key(entry, &base))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{what}: organisation `{name}`: {e}"))?;
        organisations.push(Organisation { name, keys });
    }
    let rules = keys
        .rules
        .into_iter()
        .map(|r| {
            let operations = r
                .operations
                .map(|names| {
                    names
                        .iter()
                        .map(|name| drbook_signing::manifest::operation(name))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(|e| format!("{what}: rule `{}`: `operations`: {e}", r.name))?;
            for pattern in r.http.iter().flatten() {
                drbook_core::outside::Pattern::parse(pattern)
                    .map_err(|e| format!("{what}: rule `{}`: `http`: {e}", r.name))?;
            }
            for pattern in r.azure.iter().flatten() {
                drbook_core::outside::azure::ResourcePattern::parse(pattern)
                    .map_err(|e| format!("{what}: rule `{}`: `azure`: {e}", r.name))?;
            }
            Ok(Rule {
                name: r.name,
                runbooks: r.runbooks,
                require: r.require,
                operations,
                require_manifest: r.require_manifest,
                http: r.http,
                azure: r.azure,
            })
        })
        .collect::<Result<_, String>>()?;
    TrustPolicy::new(organisations, rules).map_err(|e| format!("{what}: {e}"))
}

/// One of an organisation's `keys`: a path, or `{ file, expires }`.
fn trusted_key(entry: &toml::Value, base: &Path) -> Result<TrustedKey, String> {
    const FORM: &str =
        "each key is a public key file's path, or `{ file = \"PATH\", expires = 2027-01-01 }`";
    let (file, expires) = match entry {
        toml::Value::String(path) => (path.as_str(), None),
        toml::Value::Table(table) => {
            if let Some(other) = table
                .keys()
                .find(|k| !["file", "expires"].contains(&k.as_str()))
            {
                return Err(format!("unknown key `{other}`; {FORM}"));
            }
            let file = table
                .get("file")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| format!("a key without `file`; {FORM}"))?;
            (file, table.get("expires").map(expiry).transpose()?)
        }
        _ => return Err(FORM.to_string()),
    };
    let key = PublicKey::from_file(&base.join(file)).map_err(|e| e.to_string())?;
    Ok(TrustedKey { key, expires })
}

/// `expires`: a TOML date (midnight UTC) or date-time.
fn expiry(value: &toml::Value) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let text = match value {
        toml::Value::Datetime(at) => at.to_string(),
        toml::Value::String(text) => text.clone(),
        _ => String::new(),
    };
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|at| at.to_utc())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map_err(|_| {
            format!("expires `{value}` is not a date; write e.g. `expires = 2027-01-01` or `2027-01-01T12:00:00Z`")
        })
}

/// `[fabric]` for `kind = "azure"`: flags over the file over the defaults.
fn azure(
    file: &FabricSection,
    flags: &AzureOverrides,
    data_dir: &Path,
) -> Result<AzureConfig, String> {
    let required = |flag: &Option<String>, written: &Option<String>, key: &str, env: &str| {
        flag.clone()
            .or_else(|| written.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                format!("[fabric] kind = \"azure\" needs `{key}` (or --azure-{key}, {env})")
            })
    };
    let mut config = AzureConfig::new(
        required(
            &flags.subscription,
            &file.subscription,
            "subscription",
            "DRBOOK_AZURE_SUBSCRIPTION",
        )?,
        required(
            &flags.resource_group,
            &file.resource_group,
            "resource-group",
            "DRBOOK_AZURE_RESOURCE_GROUP",
        )?,
        required(&flags.vault, &file.vault, "vault", "DRBOOK_AZURE_VAULT")?,
        data_dir,
    );
    if let Some(version) = flags.api_version.clone().or(file.api_version.clone()) {
        config.api_version = version;
    }
    if let Some(endpoint) = flags.arm_endpoint.clone().or(file.arm_endpoint.clone()) {
        if !endpoint.starts_with("https://") {
            return Err(format!(
                "[fabric] arm-endpoint `{endpoint}` must be https: bearer tokens are never sent in the clear"
            ));
        }
        config.arm_endpoint = endpoint.trim_end_matches('/').to_string();
    }
    config.ca_file = flags.ca_file.clone().or(file.ca_file.clone());
    let names: Vec<String> = match (&flags.credential, &file.credential) {
        (Some(flag), _) => flag.split(',').map(|s| s.trim().to_string()).collect(),
        (None, Some(toml::Value::String(name))) => vec![name.clone()],
        (None, Some(toml::Value::Array(names))) => names
            .iter()
            .map(|n| {
                n.as_str()
                    .map(str::to_string)
                    .ok_or("[fabric] credential: a list of names")
            })
            .collect::<Result<_, _>>()?,
        (None, Some(_)) => return Err("[fabric] credential: a name or a list of names".into()),
        (None, None) => Vec::new(),
    };
    let mut kinds = Vec::new();
    for name in names.iter().filter(|n| n.as_str() != "chain") {
        kinds.push(CredentialKind::parse(name).ok_or_else(|| {
            format!(
                "[fabric] credential `{name}` is not one drbook has; use chain, workload-identity, \
                 managed-identity, client-secret, azure-cli or token-endpoint"
            )
        })?);
    }
    config.credential = CredentialConfig {
        kinds,
        tenant_id: file.tenant_id.clone(),
        client_id: file.client_id.clone(),
        client_secret_file: file.client_secret_file.clone(),
        token_endpoint: file.token_endpoint.clone(),
        token_endpoint_secret: None,
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: Option<&str>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = text {
            std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        }
        Config::load(dir.path(), None, overrides).map(|mut c| {
            // The temporary directory goes away: compare what is not a path.
            c.file = c.file.map(|_| PathBuf::from(FILE_NAME));
            if let FabricChoice::Azure(azure) = &mut c.fabric {
                azure.data_dir = PathBuf::from("<data-dir>");
            }
            if let StoreChoice::Sqlite { dir: d } = &mut c.store {
                if d == dir.path() {
                    *d = PathBuf::from("<data-dir>");
                }
            }
            c
        })
    }

    #[test]
    fn no_file_means_the_simulator_at_real_speed_and_sqlite_in_the_data_dir() {
        let config = load(None, &Overrides::default()).unwrap();
        assert_eq!(
            config,
            Config {
                fabric: FabricChoice::Simulator {
                    time_scale: TimeScale::Factor(1.0)
                },
                store: StoreChoice::Sqlite {
                    dir: PathBuf::from("<data-dir>")
                },
                trust: None,
                insecure_registries: Vec::new(),
                report: ReportConfig::default(),
                serve_tls: None,
                oidc: None,
                four_eyes: false,
                file: None,
            }
        );
    }

    #[test]
    fn oidc_is_read_with_its_roles_and_the_place_of_its_secret() {
        let text = "[console]\nfour-eyes = true\n[oidc]\nissuer = \"https://login.microsoftonline.com/t/v2.0\"\n\
                    client-id = \"app\"\nclient-secret-env = \"DRBOOK_OIDC_SECRET\"\n\
                    redirect-url = \"https://drbook.example.com/ui/callback\"\nca-file = \"ca.pem\"\n\
                    [[oidc.roles]]\nclaim = \"groups\"\nvalue = \"dr-approvers\"\nscopes = [\"viewer\", \"approver\"]\n";
        let config = load(Some(text), &Overrides::default()).unwrap();
        assert!(config.four_eyes);
        let oidc = config.oidc.expect("[oidc]");
        assert_eq!(
            oidc.secret,
            SecretSource::Env("DRBOOK_OIDC_SECRET".to_string())
        );
        assert!(oidc.ca_file.unwrap().ends_with("ca.pem"));
        assert_eq!(
            oidc.roles[0].scopes,
            [
                drbook_core::token::Scope::Viewer,
                drbook_core::token::Scope::Approver
            ]
        );

        let no_secret = text.replace("client-secret-env = \"DRBOOK_OIDC_SECRET\"\n", "");
        let refused = load(Some(&no_secret), &Overrides::default()).unwrap_err();
        assert!(
            refused.to_string().contains("client-secret-env"),
            "{refused}"
        );
        let secret_here = text.replace("client-secret-env", "client-secret");
        assert!(load(Some(&secret_here), &Overrides::default()).is_err());
        let no_roles = &text[..text.find("[[oidc.roles]]").unwrap()];
        let refused = load(Some(no_roles), &Overrides::default()).unwrap_err();
        assert!(refused.to_string().contains("[[oidc.roles]]"), "{refused}");
    }

    #[test]
    fn the_report_key_and_browser_are_read_relative_to_the_file() {
        let text = "[report]\nkey = \"keys/reports\"\nchromium = \"/opt/chromium/chrome\"\n";
        let report = load(Some(text), &Overrides::default()).unwrap().report;
        let key = report.key.expect("the key");
        assert!(
            key.is_absolute() && key.ends_with("keys/reports"),
            "{key:?}"
        );
        assert_eq!(report.chromium, Some(PathBuf::from("/opt/chromium/chrome")));
        let report = load(None, &Overrides::default()).unwrap().report;
        assert_eq!(report, ReportConfig::default());
        let err = load(Some("[report]\nsigner = \"me\"\n"), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `signer`"), "{err}");
    }

    #[test]
    fn registries_listed_as_insecure_are_read_and_an_unknown_key_is_refused() {
        let text = "[registries]\ninsecure = [\"reg.lab:5000\", \"10.0.0.7\"]\n";
        let config = load(Some(text), &Overrides::default()).unwrap();
        assert_eq!(config.insecure_registries, ["reg.lab:5000", "10.0.0.7"]);
        let err = load(Some("[registries]\nplain = true\n"), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `plain`"), "{err}");
    }

    #[test]
    fn the_file_is_read_and_overrides_win_over_it() {
        let text = "[fabric]\nkind = \"simulator\"\nspeed = 600\n[store]\npath = \"/srv/drbook\"\n";
        let config = load(Some(text), &Overrides::default()).unwrap();
        assert_eq!(config.time_scale(), TimeScale::Factor(600.0));
        assert_eq!(
            config.store,
            StoreChoice::Sqlite {
                dir: PathBuf::from("/srv/drbook")
            }
        );
        assert_eq!(config.file, Some(PathBuf::from(FILE_NAME)));

        let overrides = Overrides {
            speed: Some(TimeScale::Instant),
            store_path: Some(PathBuf::from("/elsewhere")),
            ..Overrides::default()
        };
        let config = load(Some(text), &overrides).unwrap();
        assert_eq!(config.time_scale(), TimeScale::Instant);
        assert_eq!(
            config.store,
            StoreChoice::Sqlite {
                dir: PathBuf::from("/elsewhere")
            }
        );
        let instant = load(
            Some("[fabric]\nspeed = \"instant\"\n"),
            &Overrides::default(),
        );
        assert_eq!(instant.unwrap().time_scale(), TimeScale::Instant);
    }

    #[test]
    fn bad_files_name_the_key_and_the_fix() {
        let cases = [
            ("[fabric]\nkind = \"cloud\"\n", "use `simulator` or `azure`"),
            ("[fabric]\nkind = \"azure\"\n", "needs `subscription`"),
            (
                "[fabric]\nkind = \"azure\"\nsubscription = \"s\"\nresource-group = \"g\"\nvault = \"v\"\narm-endpoint = \"http://127.0.0.1:1\"\n",
                "must be https",
            ),
            (
                "[fabric]\nkind = \"azure\"\nsubscription = \"s\"\nresource-group = \"g\"\nvault = \"v\"\ncredential = \"password\"\n",
                "credential `password`",
            ),
            ("[store]\nkind = \"postgres\"\n", "needs the database's URL"),
            ("[store]\nkind = \"sqlite\"\nurl = \"postgres://h/d\"\n", "drop the url"),
            ("[fabric]\nspeed = -3\n", "[fabric] speed"),
            ("[fabric]\nsped = 3\n", "sped"),
            ("[stores]\n", "stores"),
            ("not toml", "drbook.toml is not valid"),
        ];
        for (text, expected) in cases {
            let error = load(Some(text), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let overrides = Overrides {
            store: Some("redis".into()),
            ..Overrides::default()
        };
        let error = load(None, &overrides).unwrap_err().to_string();
        assert!(error.contains("`redis`"), "{error}");
    }

    /// A URL anywhere makes the store PostgreSQL's; the flag's (or the
    /// environment's) wins over the file's.
    #[test]
    fn a_store_url_chooses_postgres() {
        let text = "[store]\nurl = \"postgres://drbook@db/jobs\"\n";
        let config = load(Some(text), &Overrides::default()).unwrap();
        let url = |u: &str| StoreChoice::Postgres { url: u.to_string() };
        assert_eq!(config.store, url("postgres://drbook@db/jobs"));
        let overrides = Overrides {
            store_url: Some("postgres://drbook@other/jobs".into()),
            ..Overrides::default()
        };
        let config = load(Some(text), &overrides).unwrap();
        assert_eq!(config.store, url("postgres://drbook@other/jobs"));
        let config = load(None, &overrides).unwrap();
        assert_eq!(config.store, url("postgres://drbook@other/jobs"));
    }

    #[test]
    fn the_azure_fabric_reads_every_key_and_flags_win() {
        let text = r#"
[fabric]
kind = "azure"
subscription = "sub-1"
resource-group = "dr-rg"
vault = "dr-vault"
api-version = "2024-10-01"
arm-endpoint = "https://management.usgovcloudapi.net/"
credential = ["workload-identity", "azure-cli"]
tenant-id = "tenant-1"
client-id = "client-1"
client-secret-file = "/run/secrets/drbook"
token-endpoint = "http://127.0.0.1:9/msi/token"
ca-file = "/tmp/ca.pem"
"#;
        let config = load(Some(text), &Overrides::default()).unwrap();
        let FabricChoice::Azure(azure) = &config.fabric else {
            panic!("{config:?}")
        };
        assert_eq!(
            azure.vault_path(),
            "/subscriptions/sub-1/resourceGroups/dr-rg/providers/Microsoft.RecoveryServices/vaults/dr-vault"
        );
        assert_eq!(azure.api_version, "2024-10-01");
        assert_eq!(azure.arm_endpoint, "https://management.usgovcloudapi.net");
        assert_eq!(
            azure.scope(),
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(
            azure.credential.kinds,
            [CredentialKind::WorkloadIdentity, CredentialKind::AzureCli]
        );
        assert_eq!(azure.credential.tenant_id.as_deref(), Some("tenant-1"));
        assert_eq!(azure.credential.client_id.as_deref(), Some("client-1"));
        assert_eq!(
            azure.credential.client_secret_file,
            Some(PathBuf::from("/run/secrets/drbook"))
        );
        assert_eq!(
            azure.credential.token_endpoint.as_deref(),
            Some("http://127.0.0.1:9/msi/token")
        );
        assert_eq!(azure.ca_file, Some(PathBuf::from("/tmp/ca.pem")));
        assert_eq!(azure.data_dir, PathBuf::from("<data-dir>"));
        assert_eq!(config.time_scale(), TimeScale::Factor(1.0));

        let overrides = Overrides {
            azure: AzureOverrides {
                vault: Some("other-vault".into()),
                arm_endpoint: Some("https://127.0.0.1:8443".into()),
                credential: Some("token-endpoint".into()),
                ..AzureOverrides::default()
            },
            ..Overrides::default()
        };
        let config = load(Some(text), &overrides).unwrap();
        let FabricChoice::Azure(azure) = &config.fabric else {
            panic!("{config:?}")
        };
        assert_eq!(
            (azure.vault.as_str(), azure.arm_endpoint.as_str()),
            ("other-vault", "https://127.0.0.1:8443")
        );
        assert_eq!(azure.credential.kinds, [CredentialKind::TokenEndpoint]);

        // Defaults: the public cloud, the newest stable version, the chain.
        let minimal = "[fabric]\nkind = \"azure\"\nsubscription = \"s\"\nresource-group = \"g\"\nvault = \"v\"\n";
        let config = load(Some(minimal), &Overrides::default()).unwrap();
        let FabricChoice::Azure(azure) = &config.fabric else {
            panic!("{config:?}")
        };
        assert_eq!(azure.arm_endpoint, "https://management.azure.com");
        assert_eq!(azure.api_version, "2025-08-01");
        assert!(azure.credential.kinds.is_empty(), "the chain");
    }

    /// The configuration of a data dir with two public keys in `keys/`,
    /// `extra` files and `text` as its drbook.toml.
    fn with_keys(text: &str, extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        for name in ["platform", "review"] {
            let key = drbook_signing::SigningKey::generate("").unwrap();
            let encoded = key.public_key().encode(drbook_signing::KeyFormat::OpenSsh);
            std::fs::write(
                dir.path().join(format!("keys/{name}.pub")),
                encoded.unwrap(),
            )
            .unwrap();
        }
        for (name, text) in extra {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        Config::load(dir.path(), None, &Overrides::default())
    }

    const POLICY: &str = r#"
[organisations.platform]
keys = ["keys/platform.pub"]
[organisations.security-review]
keys = [{ file = "keys/review.pub", expires = 2030-01-01 }]
[[rules]]
name = "shared"
runbooks = ["failover_plan", "dr_*"]
require = ["platform", "security-review"]
"#;

    /// What a policy decides for an unsigned `failover_plan` and an
    /// unsigned `other`, as text.
    fn decisions(policy: &TrustPolicy) -> (String, String) {
        let module = b"\0asm\x0d\x00\x01\x00".to_vec();
        let now = chrono::Utc::now();
        let say = |name: &str| match policy.check(name, name, &module, now) {
            Ok(admission) => format!("{admission:?}"),
            Err(e) => e.to_string(),
        };
        (say("failover_plan.wasm"), say("other.wasm"))
    }

    #[test]
    fn a_trust_policy_is_read_from_trust_or_from_the_file_it_names() {
        let inline = POLICY
            .replace("[organisations", "[trust.organisations")
            .replace("[[rules]]", "[[trust.rules]]");
        let config = with_keys(&inline, &[]);
        let policy = config.unwrap().trust.expect("[trust] is enforced");
        let (planned, other) = decisions(&policy);
        assert!(planned.contains("rule `shared`"), "{planned}");
        assert!(
            planned.contains("one key of `platform` and one key of `security-review`"),
            "{planned}"
        );
        assert!(other.contains("no rule"), "{other}");
        let rule = policy.rule_for("dr_drill.wasm").unwrap();
        assert_eq!(rule.require, ["platform", "security-review"]);

        let config = with_keys(
            "[trust]\nfile = \"trust.toml\"\n",
            &[("trust.toml", POLICY)],
        );
        let from_file = config.unwrap().trust.unwrap();
        assert_eq!(decisions(&from_file).0, planned);

        // An empty [trust] enforces a policy that admits nothing.
        let config = with_keys("[trust]\n", &[]);
        let (planned, _) = decisions(&config.unwrap().trust.unwrap());
        assert!(planned.contains("no rule"), "{planned}");
        // No [trust]: no policy.
        let config = with_keys("[fabric]\nkind = \"simulator\"\n", &[]);
        assert_eq!(config.unwrap().trust, None);
    }

    #[test]
    fn bad_trust_policies_name_the_problem_and_the_fix() {
        let cases = [
            (
                "[trust]\nfile = \"trust.toml\"\n[[trust.rules]]\nname = \"r\"\nruns = []\n",
                "runs",
            ),
            (
                "[trust]\nfile = \"trust.toml\"\n[trust.organisations.platform]\nkeys = []\n",
                "keep the policy in one place",
            ),
            ("[trust]\nfile = \"missing.toml\"\n", "missing.toml: cannot read it"),
            (
                "[trust.organisations.platform]\nkeys = [\"keys/nope.pub\"]\n",
                "organisation `platform`: key file",
            ),
            (
                "[trust.organisations.platform]\nkeys = [{ path = \"keys/platform.pub\" }]\n",
                "unknown key `path`",
            ),
            (
                "[trust.organisations.platform]\nkeys = [{ file = \"keys/platform.pub\", expires = \"soon\" }]\n",
                "expires `\"soon\"` is not a date",
            ),
            ("[trust.organisations.platform]\nkeys = [3]\n", "each key is a public key file's path"),
            (
                "[trust.organisations.platform]\nkeys = [\"keys/platform.pub\"]\n[[trust.rules]]\nname = \"r\"\nrunbooks = [\"*\"]\nrequire = [\"security\"]\n",
                "[trust]: rule `r` requires `security`, which is no organisation",
            ),
            ("[trust]\nfiles = \"x\"\n", "files"),
        ];
        for (text, expected) in cases {
            let config = with_keys(text, &[("trust.toml", "rules = 3\n")]);
            let error = config.unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let config = with_keys(
            "[trust]\nfile = \"trust.toml\"\n",
            &[("trust.toml", "rules = 3\n")],
        );
        let error = config.unwrap_err().to_string();
        assert!(error.contains("it holds `[organisations.NAME]`"), "{error}");
    }

    #[test]
    fn a_named_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let error = Config::load(dir.path(), Some(&missing), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot read the configuration"), "{error}");
        assert!(error.contains("nope.toml"), "{error}");
    }
}
