//! `drbook fabric serve-arm`: the data directory's simulator behind Site
//! Recovery's ARM routes, over HTTPS on 127.0.0.1, with a managed-identity
//! token endpoint and Entra ID's (one app with a client secret, printed):
//! what the azure backend (or Azure's SDKs, or curl) can be pointed at
//! instead of `https://management.azure.com`. Faults of the HTTP layer are
//! flags; the simulator's own stay `drbook fabric fault`'s.

use super::{Global, Outcome};
use clap::Args;
use drbook_arm_emulator::{serve, AppCredential, Budget, Config, Endpoints, HttpFaults};
use drbook_core::plan::RecoveryPlan;
use drbook_runtime::parse_duration;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArmArgs {
    /// The HTTPS port on 127.0.0.1 (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// The port of the plain-HTTP token endpoint (0: any free port).
    #[arg(long, default_value_t = 0)]
    identity_port: u16,

    /// The subscription, resource group and vault the emulator pretends to be.
    #[arg(long, default_value = "00000000-0000-0000-0000-000000000000")]
    subscription: String,
    #[arg(long, default_value = "drbook-simulator")]
    resource_group: String,
    #[arg(long, default_value = "drbook-simulator")]
    vault: String,

    /// Items and jobs per page of a list; the rest follows `nextLink`.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    page_size: u32,

    /// How long the tokens of the token endpoint are good for.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    token_lifetime: Duration,

    /// The `Retry-After` (seconds) of an action's 202 and of a running operation; by default
    /// about 30 simulated seconds at the fabric's speed (0 at `--speed instant`, at most 2).
    #[arg(long)]
    retry_after: Option<u32>,

    /// The secret clients send in X-IDENTITY-HEADER (IDENTITY_HEADER); random when unset.
    #[arg(long, env = "DRBOOK_ARM_IDENTITY_HEADER", hide_env_values = true)]
    identity_header: Option<String>,

    /// Fault: every Nth ARM request is answered 429 with Retry-After.
    #[arg(long)]
    throttle_every: Option<u32>,

    /// The Retry-After (seconds) of those 429s.
    #[arg(long, default_value_t = 1)]
    throttle_retry_after: u32,

    /// Fault: every Nth ARM request is answered with a 5xx (`--error-status`).
    #[arg(long)]
    error_every: Option<u32>,

    /// The status of those errors: 500, 502, 503 or 504.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(500..=599))]
    error_status: u16,

    /// Fault: every ARM request waits this long first (e.g. `250ms`).
    #[arg(long, value_parser = parse_duration)]
    delay: Option<Duration>,

    /// Fault: every Nth action POST is applied, then its connection is closed without an answer.
    #[arg(long)]
    drop_post_every: Option<u32>,

    /// Enforce ARM's request budget: reads 250 refilled at 25/s, writes 200 at 10/s (429 when spent).
    #[arg(long)]
    arm_budget: bool,
}

pub async fn run(global: &Global, args: ServeArmArgs) -> anyhow::Result<Outcome> {
    let sim = crate::cli::open_fabric(global)?;
    let data_dir = global.data_dir()?;
    let config = Config {
        subscription: args.subscription,
        resource_group: args.resource_group,
        vault: args.vault,
        port: args.port,
        identity_port: args.identity_port,
        page_size: args.page_size as usize,
        token_lifetime: args.token_lifetime,
        retry_after_secs: args.retry_after,
        identity_secret: args.identity_header,
        faults: HttpFaults {
            throttle_every: args.throttle_every,
            throttle_retry_after_secs: args.throttle_retry_after,
            throttle_retry_after_ms: None,
            error_every: args.error_every,
            error_status: Some(args.error_status),
            delay_ms: args.delay.map_or(0, |d| d.as_millis() as u64),
            drop_next_posts: 0,
            drop_post_every: args.drop_post_every,
            network_write_delay_ms: 0,
        },
        budget: args.arm_budget.then_some(Budget::ARM),
        recovery_plans: recovery_plans(&data_dir),
        ..Config::default()
    };
    let json = global.json;
    let ready = |endpoints: &Endpoints| {
        if json {
            println!("{}", endpoints_json(endpoints));
        } else {
            print_endpoints(endpoints, &data_dir);
        }
        // Whoever reads a pipe waits for these lines.
        let _ = std::io::Write::flush(&mut std::io::stdout());
    };
    serve(
        sim,
        config,
        &data_dir,
        ready,
        crate::cli::serve::shutdown_signal(),
    )
    .await?;
    Ok(Outcome::Success)
}

/// The plan files in `<data-dir>/plans/`, served as the vault's recovery
/// plans; one that does not parse is left out, with a warning.
fn recovery_plans(data_dir: &std::path::Path) -> Vec<RecoveryPlan> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("plans")) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| match RecoveryPlan::load(&path) {
            Ok(plan) => Some(plan),
            Err(e) => {
                eprintln!(
                    "serve-arm: {} is not served as a recovery plan: {e}",
                    path.display()
                );
                None
            }
        })
        .collect()
}

fn endpoints_json(ep: &Endpoints) -> serde_json::Value {
    serde_json::json!({
        "armEndpoint": ep.base_url,
        "caFile": ep.ca_pem_path,
        "tokenEndpoint": ep.token_endpoint,
        "identityHeader": ep.identity_header,
        "subscription": ep.subscription,
        "resourceGroup": ep.resource_group,
        "vault": ep.vault,
        "vaultId": ep.vault_id,
        "authorityHost": ep.authority_host,
        "tenant": ep.tenant,
        "env": ep.env().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "clientSecretEnv": client_secret_env(ep).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
    })
}

/// The environment of the client-secret credential for the emulator's
/// first app with a secret (`azure_identity` reads `AZURE_AUTHORITY_HOST`
/// from `env()`): what a developer tries `credential = "client-secret"`
/// with.
fn client_secret_env(ep: &Endpoints) -> Vec<(&'static str, String)> {
    ep.apps
        .iter()
        .find_map(|app| match &app.credential {
            AppCredential::Secret(secret) => Some(vec![
                ("AZURE_TENANT_ID", app.tenant.clone()),
                ("AZURE_CLIENT_ID", app.client_id.clone()),
                ("AZURE_CLIENT_SECRET", secret.clone()),
            ]),
            AppCredential::FederatedTokenFile(_) => None,
        })
        .unwrap_or_default()
}

fn print_endpoints(ep: &Endpoints, data_dir: &std::path::Path) {
    println!(
        "ARM emulator of the simulator in {}\n\
         \n  ARM endpoint    {}\
         \n  vault           {}\
         \n  CA certificate  {}\
         \n  token endpoint  {} (managed identity, App Service protocol)\
         \n  Entra ID        {}/{}/oauth2/v2.0/token (client secret; the subscription's tenant)\
         \n  admin           {}/admin/counters, /admin/faults, /admin/sim-fault (X-IDENTITY-HEADER)\
         \n\nFor a client in another shell:\n",
        data_dir.display(),
        ep.base_url,
        ep.vault_id,
        ep.ca_pem_path.display(),
        ep.token_endpoint,
        ep.authority_host,
        ep.tenant,
        ep.base_url,
    );
    for (name, value) in ep.env() {
        println!("export {name}={}", shell_quote(&value));
    }
    println!("\nFor credential = \"client-secret\" (with AZURE_AUTHORITY_HOST above):\n");
    for (name, value) in client_secret_env(ep) {
        println!("export {name}={}", shell_quote(&value));
    }
    println!("\nCtrl-C stops it.");
}

/// Single-quoted for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}
