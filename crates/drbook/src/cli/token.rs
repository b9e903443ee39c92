//! `drbook token`: the API tokens of `drbook serve`, in the job store (every
//! server on the store takes them). Made on the store's host: whoever can
//! open the local store is trusted already, which is how the first `admin`
//! token is made. A token's secret is printed once, at creation; the store
//! keeps its hash only, and `list` never shows either.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::{Global, InputError, Outcome};
use drbook_core::token::Scope;
use drbook_runtime::parse_duration;
use drbook_triggers::{scope_list, TokenError, TokenView, DEFAULT_TOKEN_LIFETIME};

#[derive(Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; prints its secret, once.
    Create {
        /// Its name, recorded as who decided or stopped what it was used
        /// for: letters, digits, `-`, `_`, `.`.
        #[arg(long)]
        name: String,
        /// What it may do, comma-separated: viewer (read everything),
        /// operator (+ stop jobs), approver (+ decide manual steps), admin
        /// (everything, webhooks and tokens too).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<Scope>,
        /// When it expires: a duration from now (`30d`, `12h`) or an RFC 3339
        /// time; default 90 days.
        #[arg(long, value_parser = parse_expiry)]
        expires: Option<DateTime<Utc>>,
    },
    /// List the tokens: name, scopes, created, expires, last used, revoked
    /// (never a secret).
    List,
    /// Revoke a token: refused from now on, by every server on the store.
    Revoke { name: String },
}

fn parse_expiry(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let d = parse_duration(text)
        .map_err(|e| format!("{e}; or give an RFC 3339 time such as 2027-01-31T00:00:00Z"))?;
    let d = chrono::Duration::from_std(d).map_err(|e| e.to_string())?;
    Ok(Utc::now() + d)
}

fn input(e: TokenError) -> anyhow::Error {
    match e {
        TokenError::Store(e) => e.into(),
        other => InputError::new(other.to_string()).into(),
    }
}

pub async fn run(global: &Global, args: TokenArgs) -> anyhow::Result<Outcome> {
    let store = super::open_store(global)?;
    let store = store.as_ref();
    match args.command {
        TokenCommand::Create {
            name,
            scope,
            expires,
        } => {
            let expires = expires.unwrap_or_else(|| Utc::now() + DEFAULT_TOKEN_LIFETIME);
            let made = drbook_triggers::create_token(store, &name, &scope, expires, &super::who())
                .await
                .map_err(input)?;
            if global.json {
                let view = TokenView::from(made.token);
                let out = serde_json::json!({ "token": view, "secret": made.secret });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{}", made.secret);
                eprintln!(
                    "token `{}` ({}), expires {}: the secret above is shown once; send it as \
                     `Authorization: Bearer <secret>`, or `drbook --server URL --token <secret>`",
                    made.token.name,
                    scope_list(&made.token.scopes),
                    made.token.expires.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        TokenCommand::List => {
            let tokens: Vec<TokenView> = store
                .tokens()
                .await?
                .into_iter()
                .map(TokenView::from)
                .collect();
            if global.json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(Outcome::Success);
            }
            let when = |t: Option<DateTime<Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".to_string())
            };
            let headers = [
                "NAME",
                "SCOPES",
                "CREATED",
                "BY",
                "EXPIRES",
                "LAST USED",
                "REVOKED",
            ];
            let rows: Vec<Vec<String>> = tokens
                .into_iter()
                .map(|t| {
                    vec![
                        t.name,
                        scope_list(&t.scopes),
                        when(Some(t.created)),
                        t.created_by,
                        when(Some(t.expires)),
                        when(t.last_used),
                        when(t.revoked),
                    ]
                })
                .collect();
            println!("{}", super::table::render(&headers, &rows));
        }
        TokenCommand::Revoke { name } => {
            drbook_triggers::revoke_token(store, &name)
                .await
                .map_err(input)?;
            println!("token `{name}` revoked: every server on this store refuses it from now on");
        }
    }
    Ok(Outcome::Success)
}
