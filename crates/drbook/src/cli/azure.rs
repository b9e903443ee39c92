//! `drbook azure check`: which principal and tenant the configured
//! credentials give, and whether the vault is readable, with the fix for
//! each failure. The token's claims are decoded, not verified (ARM verifies
//! them); the token itself is never printed.

use super::{Global, InputError, Outcome};
use crate::config::FabricChoice;
use clap::{Args, Subcommand};
use drbook_fabric_azure::{wire, ArmError, Claims, CredentialKind};

#[derive(Args)]
pub struct AzureArgs {
    #[command(subcommand)]
    command: AzureCommand,
}

#[derive(Subcommand)]
enum AzureCommand {
    /// Get a token, say whose it is, and read the vault's protected items.
    Check,
}

/// One line of the check: what was looked at, whether it is fine, and the
/// fix when it is not.
#[derive(serde::Serialize)]
struct Step {
    check: &'static str,
    ok: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

pub async fn run(global: &Global, args: AzureArgs) -> anyhow::Result<Outcome> {
    let AzureCommand::Check = args.command;
    let FabricChoice::Azure(config) = &global.config()?.fabric else {
        return Err(InputError::new(
            "`drbook azure check` checks the azure backend, and this host uses the simulator: \
             set [fabric] kind = \"azure\" with subscription, resource-group and vault in drbook.toml \
             (or pass --fabric azure --azure-subscription ... --azure-resource-group ... --azure-vault ...)",
        )
        .into());
    };
    let fabric = super::open_azure(config)?;
    let mut steps = Vec::new();
    let (claims, kind) = match fabric.arm().credentials().token().await {
        Ok((token, kind)) => {
            let claims = Claims::of(token.secret());
            let detail = match &claims {
                Some(c) => format!(
                    "{} from {} in tenant {}{}",
                    c.principal(),
                    kind.name(),
                    c.tid.as_deref().unwrap_or("(none named)"),
                    c.exp
                        .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
                        .map(|at| format!(", token valid until {}", at.to_rfc3339()))
                        .unwrap_or_default()
                ),
                None => format!(
                    "a token from {} (not a JWT: an emulator's? its principal cannot be named)",
                    kind.name()
                ),
            };
            steps.push(Step {
                check: "credential",
                ok: true,
                detail,
                fix: None,
            });
            (claims, kind)
        }
        Err(e) => {
            let detail = detail(&e);
            steps.push(Step {
                check: "credential",
                ok: false,
                fix: Some(credential_fix(&detail, &config.credential)),
                detail,
            });
            return report(global, &steps);
        }
    };
    let principal = claims
        .as_ref()
        .map(Claims::principal)
        .unwrap_or_else(|| "the principal".to_string());
    let vault = fabric.vault_path().to_string();
    let read = fabric
        .arm()
        .get(&format!("{vault}/replicationProtectedItems"))
        .await
        .and_then(|answer| answer.json::<wire::Page<wire::Item>>());
    steps.push(match read {
        Ok(page) => Step {
            check: "vault",
            ok: true,
            detail: format!(
                "{vault} is readable: {} protected items{}",
                page.value.len(),
                if page.next_link.is_some() {
                    " on the first page, more follow"
                } else {
                    ""
                }
            ),
            fix: None,
        },
        Err(e) => Step {
            check: "vault",
            ok: false,
            detail: detail(&e),
            fix: Some(fix(&e, &principal, claims.as_ref(), &kind, config)),
        },
    });
    report(global, &steps)
}

/// What went wrong, without the hint of `ArmError::Unauthenticated`'s
/// message, which sends the reader to this very command.
fn detail(err: &ArmError) -> String {
    match err {
        ArmError::Unauthenticated(why) => format!("not authenticated to Azure: {why}"),
        other => other.to_string(),
    }
}

/// What azure_identity says when the shell finds no `az`.
const AZ_MISSING: &str = "az not found on PATH";

/// Entra's code for a tenant it does not know.
const UNKNOWN_TENANT: &str = "AADSTS90002";

/// What to do about a credential that gave no token: Entra ID's refusal
/// (its AADSTS code, which `azure_identity` passes on) or the Azure CLI's,
/// else a setting that is missing, else how to get any credential. The first failure of the
/// chain that is understood decides.
fn credential_fix(error: &str, credential: &drbook_fabric_azure::CredentialConfig) -> String {
    let setting = |value: &Option<String>, var: &str, what: &str| {
        value
            .clone()
            .or_else(|| std::env::var(var).ok())
            .unwrap_or_else(|| format!("(the {what} of {var})"))
    };
    let client = setting(&credential.client_id, "AZURE_CLIENT_ID", "client id");
    let tenant = setting(&credential.tenant_id, "AZURE_TENANT_ID", "tenant");
    let fixes = [
        // The Azure CLI's failures, by what az (or the shell that runs it)
        // prints; ahead of Entra's codes, which its messages may carry too.
        (
            AZ_MISSING,
            "install the Azure CLI (https://learn.microsoft.com/cli/azure/install-azure-cli, or \
             `pip install azure-cli`) where drbook can find `az` on its PATH, and sign in with `az \
             login`; or choose another [fabric] credential"
                .to_string(),
        ),
        (
            "Please run 'az login'",
            "sign in to the Azure CLI as the user that runs drbook: `az login` (a user), `az login \
             --service-principal --username <app id> --password <secret> --tenant <tenant>`, or \
             `az login --identity`; for a cloud other than Azure's public one, `az cloud set --name \
             <cloud>` first"
                .to_string(),
        ),
        (
            // az's warning when it has no account in the tenant asked for
            // (`--tenant`, from [fabric] tenant-id or AZURE_TENANT_ID).
            "Could not retrieve credential from local cache",
            format!(
                "the Azure CLI is not signed in to tenant {tenant}, which drbook asks it for \
                 ([fabric] tenant-id or AZURE_TENANT_ID): sign in to it with `az login --tenant \
                 {tenant}` as a principal of that tenant, or leave tenant-id unset to use az's \
                 default account"
            ),
        ),
        (
            "AADSTS7000215",
            format!(
                "the client secret of application {client} is wrong or expired: set \
                 AZURE_CLIENT_SECRET (or the file of [fabric] client-secret-file) to the value of one \
                 of its current secrets (the value, not the secret's id; `az ad app credential list \
                 --id {client}` shows their expiry)"
            ),
        ),
        (
            UNKNOWN_TENANT,
            format!(
                "there is no tenant {tenant} in this cloud's Entra ID: set [fabric] tenant-id (or \
                 AZURE_TENANT_ID) to the tenant of the subscription (`az account show --query \
                 tenantId`)"
            ),
        ),
        (
            "AADSTS700016",
            format!(
                "application {client} is not registered in tenant {tenant}: check AZURE_CLIENT_ID \
                 (the app's client id) and AZURE_TENANT_ID (the subscription's tenant)"
            ),
        ),
        (
            "AADSTS7002",
            format!(
                "the federated token in AZURE_FEDERATED_TOKEN_FILE matches no federated credential \
                 of application {client}: add one for the pod's service account (the cluster's OIDC \
                 issuer, subject `system:serviceaccount:<namespace>:<name>`, audience \
                 api://AzureADTokenExchange)"
            ),
        ),
        (
            "no client secret",
            "set AZURE_CLIENT_SECRET, or [fabric] client-secret-file to a file holding the secret, \
             or choose another [fabric] credential"
                .to_string(),
        ),
    ];
    fixes
        .into_iter()
        // The chain tries az last: its absence says what to install only
        // when azure-cli was asked for, else the chain's fix below says more.
        .filter(|(marker, _)| !(*marker == AZ_MISSING && credential.kinds.is_empty()))
        .filter_map(|(marker, fix)| error.find(marker).map(|at| (at, marker, fix)))
        // A tenant Entra does not know is the cause, whatever came before
        // it (az warns that it has no account there, then finds none).
        .min_by_key(|(at, marker, _)| (*marker != UNKNOWN_TENANT, *at))
        .map(|(_, _, fix)| fix)
        .unwrap_or_else(|| {
            "sign in with `az login` (azure-cli), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and \
             AZURE_CLIENT_SECRET (client-secret), or run where a managed or workload identity is; \
             `[fabric] credential` says which to try"
                .to_string()
        })
}

/// What to do about a vault that cannot be read.
fn fix(
    err: &ArmError,
    principal: &str,
    claims: Option<&Claims>,
    kind: &CredentialKind,
    config: &drbook_fabric_azure::AzureConfig,
) -> String {
    let tenant = claims
        .and_then(|c| c.tid.clone())
        .unwrap_or_else(|| "its tenant".to_string());
    // ARM's 401 comes back as `Unauthenticated` (after one fresh token),
    // its code in the message.
    let wrong_tenant = match err {
        ArmError::Unauthenticated(message) => message.contains("InvalidAuthenticationTokenTenant"),
        ArmError::Status {
            status: 400 | 401,
            code,
            ..
        } => code.to_ascii_lowercase().contains("tenant"),
        _ => false,
    };
    if wrong_tenant {
        // ARM names the subscription's tenant as the issuer it wants.
        let message = err.to_string();
        let home = message
            .split("must match the tenant 'https://sts.windows.net/")
            .nth(1)
            .and_then(|rest| rest.split('/').next());
        if *kind == CredentialKind::AzureCli {
            let home = home.unwrap_or("<the subscription's tenant>");
            return format!(
                "the token is from tenant {tenant}, where the Azure CLI is signed in, which is not \
                 the tenant of subscription {}: sign in to the subscription's tenant with `az login \
                 --tenant {home}`, as a principal of it",
                config.subscription
            );
        }
        let home = home
            .map(|home| format!("the subscription's tenant, {home}"))
            .unwrap_or_else(|| "the subscription's tenant".to_string());
        return format!(
            "the token is from tenant {tenant}, which is not the tenant of subscription {}: set \
             [fabric] tenant-id (or AZURE_TENANT_ID) to {home}, with a principal of that tenant",
            config.subscription
        );
    }
    match err {
        ArmError::Unauthenticated(_) | ArmError::Status { status: 401, .. } => format!(
            "ARM refused the token: it is expired, revoked, or for another cloud than {}; \
             check [fabric] arm-endpoint and sign in again",
            config.arm_endpoint
        ),
        ArmError::Status { status: 403, .. } => format!(
            "{principal} has no role on the vault: grant it `Site Recovery Contributor` (or \
             `Site Recovery Reader` to read only) on {}",
            config.vault_path()
        ),
        ArmError::Status { status: 404, .. } => format!(
            "there is no vault `{}` in resource group `{}` of subscription `{}` that {principal} \
             can see (in {tenant}): check [fabric] subscription, resource-group and vault",
            config.vault, config.resource_group, config.subscription
        ),
        ArmError::Status { status: 400, .. } => format!(
            "check [fabric] api-version (`{}`): Site Recovery's stable versions from 2024 on",
            config.api_version
        ),
        ArmError::Config(_) => "fix the [fabric] settings named above".to_string(),
        _ => format!(
            "ARM at {} did not answer: check the network, a proxy, and [fabric] arm-endpoint",
            config.arm_endpoint
        ),
    }
}

fn report(global: &Global, steps: &[Step]) -> anyhow::Result<Outcome> {
    let ok = steps.iter().all(|s| s.ok);
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "ok": ok, "checks": steps }))?
        );
    } else {
        for step in steps {
            let mark = if step.ok { "ok  " } else { "FAIL" };
            println!("{mark} {:<10} {}", step.check, step.detail);
            if let Some(fix) = &step.fix {
                println!("     fix: {fix}");
            }
        }
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
