//! `drbook webhook`: create, list, enable, disable and delete webhooks, and
//! list the alerts one received. A webhook's URL carries its secret token and
//! is printed once, at creation; the job store keeps only a hash of the token.

use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Global, InputError, Outcome};
use drbook_core::module::Module;
use drbook_core::plan::check_against;
use drbook_core::webhook::AlertRecord;
use drbook_runtime::parse_duration;
use drbook_triggers::{
    LoadedRunbook, NewWebhook, RuleAction, RulesFile, Webhook, WebhookError, Webhooks,
};

#[derive(Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Create a webhook; prints its URL, with its secret token, once.
    Create(CreateArgs),
    /// List webhooks (never their tokens).
    List,
    /// Enable a disabled webhook (not an expired one).
    Enable { name: String },
    /// Disable a webhook: its URL is refused until it is enabled again.
    Disable { name: String },
    /// Delete a webhook and its alert records; its jobs stay.
    Delete { name: String },
    /// The alerts a webhook received, newest first: what was decided for
    /// each and the jobs it started.
    Alerts {
        name: String,
        /// How many, at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Args)]
struct CreateArgs {
    /// The webhook's name, in its URL: letters, digits, `-`, `_`, `.`.
    #[arg(long)]
    name: String,
    /// The runbook a delivery runs (stored in the job store now): a file or
    /// an `oci://` reference, whose tag is resolved now, once: every job the
    /// webhook starts runs the module it named at creation.
    #[arg(long)]
    runbook: String,
    /// The plan (read now), type, direction, inputs and grants of its jobs;
    /// the inputs are fixed: callers cannot change them.
    #[command(flatten)]
    job: super::run::JobArgs,
    /// How long the webhook lives: e.g. `365d`, `12h`.
    #[arg(long, default_value = "365d", value_parser = parse_expiry)]
    expires: Duration,
    /// A rules file mapping Azure Monitor alerts to runs (read now).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Also require a Standard Webhooks HMAC signature on every delivery;
    /// prints the signing secret once.
    #[arg(long)]
    signed: bool,
    /// For development: pin modules the trust policy refuses (unsigned, or
    /// not signed by the keys their rule requires), recorded on every job
    /// the webhook starts. A module changed after it was signed is refused
    /// even so.
    #[arg(long)]
    allow_unsigned: bool,
    /// Where `drbook serve` is reached, for the printed URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url_base: String,
}

fn parse_expiry(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("a webhook must live for some time; write e.g. `365d`".into());
    }
    Ok(d)
}

pub async fn run(global: &Global, args: WebhookArgs) -> anyhow::Result<Outcome> {
    let webhooks = Webhooks::new(super::open_store(global)?);
    let input = |e: WebhookError| -> anyhow::Error {
        match e {
            WebhookError::Store(e) => e.into(),
            other => InputError::new(other.to_string()).into(),
        }
    };
    match args.command {
        WebhookCommand::Create(args) => create(global, &webhooks, args).await,
        WebhookCommand::List => {
            let list = webhooks.list().await.map_err(input)?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_list(&list);
            }
            Ok(Outcome::Success)
        }
        WebhookCommand::Enable { name } => {
            webhooks.set_enabled(&name, true).await.map_err(input)?;
            eprintln!("webhook {name} enabled");
            Ok(Outcome::Success)
        }
        WebhookCommand::Disable { name } => {
            webhooks.set_enabled(&name, false).await.map_err(input)?;
            eprintln!("webhook {name} disabled");
            Ok(Outcome::Success)
        }
        WebhookCommand::Delete { name } => {
            webhooks.delete(&name).await.map_err(input)?;
            eprintln!("webhook {name} deleted");
            Ok(Outcome::Success)
        }
        WebhookCommand::Alerts { name, limit } => {
            let alerts = webhooks.alerts(&name, limit).await.map_err(input)?;
            if global.json {
                println!("{}", serde_json::to_string_pretty(&alerts)?);
            } else {
                print_alerts(&name, &alerts);
            }
            Ok(Outcome::Success)
        }
    }
}

async fn create(global: &Global, webhooks: &Webhooks, args: CreateArgs) -> anyhow::Result<Outcome> {
    let runtime = global.runtime(true)?;
    let trust = super::execute::trust(global)?;
    // Every module the webhook runs is held to the trust policy now, on its
    // bytes, before anything compiles it; its admission goes on each job it
    // starts, and those jobs are checked again when they load.
    let admit = |module: Module| super::pin::admit(&runtime, &trust, module, args.allow_unsigned);
    // A rules file's runbooks: files beside it, or registry references,
    // fetched on this command's runtime (resolve is synchronous).
    let load = |path: &Path| -> Result<LoadedRunbook, String> {
        let reference = path.display().to_string();
        let module = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(super::modules::fetch(global, &reference))
        })
        .map_err(|e| e.to_string())?;
        admit(module)
    };
    let pinned = super::pin::target(global, &args.runbook, &args.job, &admit).await?;
    let (run, items) = (pinned.run, pinned.items);
    let mut modules = vec![(run.digest.clone(), pinned.bytes)];
    let rules = match &args.rules {
        None => None,
        Some(path) => {
            let file = RulesFile::load(path).map_err(InputError::new)?;
            let (rules, loaded) = file.resolve(&run, load).map_err(InputError::new)?;
            for rule in &rules {
                if let RuleAction::Run(target) = &rule.action {
                    check_against(&target.plan, &items)
                        .map_err(|e| InputError::new(format!("rule `{}`: {e}", rule.name)))?;
                }
            }
            modules.extend(loaded.into_iter().map(|l| (l.digest, l.bytes)));
            Some(rules)
        }
    };
    let expires = chrono::Utc::now() + chrono::Duration::from_std(args.expires)?;
    let created = webhooks
        .create(
            NewWebhook {
                name: args.name,
                run,
                rules,
                expires,
                signed: args.signed,
                modules,
            },
            &format!("cli:{}", super::who()),
        )
        .await
        .map_err(|e| match e {
            WebhookError::Store(e) => anyhow::Error::from(e),
            other => InputError::new(other.to_string()).into(),
        })?;
    let url = format!("{}{}", args.url_base.trim_end_matches('/'), created.path());
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "name": created.webhook.name,
                "url": url,
                "signingSecret": created.signing_secret,
                "expires": created.webhook.expires,
            }))?
        );
    } else {
        println!(
            "webhook {} created; it expires {}",
            created.webhook.name,
            created.webhook.expires.format("%Y-%m-%d %H:%M UTC")
        );
        println!("URL (shown only now; it holds the secret token): {url}");
        if let Some(secret) = &created.signing_secret {
            println!("signing secret (shown only now; Standard Webhooks): {secret}");
        }
    }
    Ok(Outcome::Success)
}

fn print_alerts(name: &str, alerts: &[AlertRecord]) {
    if alerts.is_empty() {
        println!("webhook {name} has received no alert");
        return;
    }
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            let jobs = if a.job_ids.is_empty() {
                "-".to_string()
            } else {
                a.job_ids.join(",")
            };
            vec![
                a.received.format("%Y-%m-%d %H:%M:%S").to_string(),
                a.alert_id.clone(),
                a.condition.clone(),
                a.decision.clone(),
                jobs,
            ]
        })
        .collect();
    let headers = ["RECEIVED", "ALERT", "CONDITION", "DECISION", "JOBS"];
    println!("{}", super::table::render(&headers, &rows));
}

fn print_list(list: &[Webhook]) {
    let now = chrono::Utc::now();
    if list.is_empty() {
        println!("no webhooks; create one with `drbook webhook create`");
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|w| {
            vec![
                w.name.clone(),
                w.status(now).to_string(),
                w.run.runbook.clone(),
                w.run.plan.name.clone(),
                w.rules
                    .as_ref()
                    .map(|r| r.len().to_string())
                    .unwrap_or_else(|| "-".into()),
                w.expires.format("%Y-%m-%d %H:%M").to_string(),
                w.last_used
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    let headers = [
        "NAME",
        "STATUS",
        "RUNBOOK",
        "PLAN",
        "RULES",
        "EXPIRES",
        "LAST USED",
    ];
    println!("{}", super::table::render(&headers, &rows));
}
