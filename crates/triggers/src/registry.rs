//! The registry of webhooks, in the job store. A webhook names what it runs
//! by module digest and keeps the module in the store, so a delivery only
//! inserts job rows. Its token is kept as a hash; its signing secret, when it
//! has one, as is (the server must recompute signatures). What it runs (its
//! [`RunTarget`] and alert rules) is this module's document, which the store
//! keeps as it is.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::alert_rules::Rule;
use super::auth;
use super::refusal::Refusal;
use drbook_core::store::{JobStore, NewWebhookRow, StoreError};
use drbook_core::webhook::{AlertRecord, StoredWebhook, WebhookModule};

pub use drbook_core::job::RunTarget;

/// What the `target` column holds.
#[derive(Serialize, Deserialize)]
struct Target {
    run: RunTarget,
    #[serde(default)]
    rules: Option<Vec<Rule>>,
}

/// A webhook, without its secrets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub name: String,
    pub run: RunTarget,
    /// When set, alerts are mapped to runs by these rules.
    pub rules: Option<Vec<Rule>>,
    /// Whether deliveries must carry a Standard Webhooks signature.
    pub signed: bool,
    pub enabled: bool,
    pub expires: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub created_by: String,
    pub last_used: Option<DateTime<Utc>>,
}

impl Webhook {
    /// `enabled`, `disabled` or `expired`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if now >= self.expires {
            "expired"
        } else if self.enabled {
            "enabled"
        } else {
            "disabled"
        }
    }
}

/// A webhook to create.
pub struct NewWebhook {
    pub name: String,
    pub run: RunTarget,
    pub rules: Option<Vec<Rule>>,
    pub expires: DateTime<Utc>,
    pub signed: bool,
    /// Every module the webhook runs, `(digest, bytes)`.
    pub modules: Vec<(String, Vec<u8>)>,
}

/// A new webhook and its secrets: shown once, never stored in clear
/// (except the signing secret, which the server needs).
pub struct Created {
    pub webhook: Webhook,
    pub token: String,
    pub signing_secret: Option<String>,
}

impl Created {
    /// The path and query of the webhook's URL, token included.
    pub fn path(&self) -> String {
        format!("/webhooks/{}?token={}", self.webhook.name, self.token)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("a webhook named `{name}` exists; delete it first or pick another name")]
    Exists { name: String },
    #[error("no webhook named `{name}`; `drbook webhook list` lists them")]
    NotFound { name: String },
    #[error(
        "webhook `{name}` has expired and cannot be enabled again; create a new one (a new URL)"
    )]
    Expired { name: String },
    #[error("`{name}` is not a valid webhook name: use 1 to 64 letters, digits, `-`, `_` or `.`")]
    InvalidName { name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An authenticated webhook, ready to take a delivery.
pub struct Authorized {
    pub webhook: Webhook,
    pub signing_secret: Option<String>,
}

/// The registry of webhooks, over the job store; cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    store: Arc<dyn JobStore>,
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A stored webhook, without its secrets.
fn webhook(stored: &StoredWebhook) -> Result<Webhook, StoreError> {
    let target: Target =
        serde_json::from_value(stored.target.clone()).map_err(|e| StoreError::Decode {
            what: "webhook target",
            detail: e.to_string(),
        })?;
    Ok(Webhook {
        name: stored.name.clone(),
        run: target.run,
        rules: target.rules,
        signed: stored.signing_secret.is_some(),
        enabled: stored.enabled,
        expires: stored.expires,
        created: stored.created,
        created_by: stored.created_by.clone(),
        last_used: stored.last_used,
    })
}

impl Webhooks {
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        Webhooks { store }
    }

    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Creates a webhook with a fresh token (and signing secret).
    pub async fn create(&self, new: NewWebhook, by: &str) -> Result<Created, WebhookError> {
        if !valid_name(&new.name) {
            return Err(WebhookError::InvalidName { name: new.name });
        }
        let token = auth::new_token();
        let signing_secret = new.signed.then(auth::new_signing_secret);
        let target = Target {
            run: new.run,
            rules: new.rules,
        };
        let stored = StoredWebhook {
            name: new.name.clone(),
            token_hash: hex::encode(auth::hash_token(&token)),
            signing_secret: signing_secret.clone(),
            target: serde_json::to_value(&target).expect("a target serialises"),
            enabled: true,
            expires: new.expires,
            created: Utc::now(),
            created_by: by.to_string(),
            last_used: None,
        };
        let modules = new
            .modules
            .iter()
            .map(|(digest, bytes)| WebhookModule { digest, bytes })
            .collect();
        let row = NewWebhookRow {
            webhook: &stored,
            modules,
        };
        if !self.store.create_webhook(row).await? {
            return Err(WebhookError::Exists { name: new.name });
        }
        Ok(Created {
            webhook: webhook(&stored)?,
            token,
            signing_secret,
        })
    }

    pub async fn get(&self, name: &str) -> Result<Webhook, WebhookError> {
        match self.store.webhook(name).await? {
            Some(stored) => Ok(webhook(&stored)?),
            None => Err(WebhookError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    pub async fn list(&self) -> Result<Vec<Webhook>, WebhookError> {
        let stored = self.store.webhooks().await?;
        Ok(stored.iter().map(webhook).collect::<Result<_, _>>()?)
    }

    /// Enables or disables a webhook; an expired one cannot be enabled.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<Webhook, WebhookError> {
        let webhook = self.get(name).await?;
        if enabled && webhook.status(Utc::now()) == "expired" {
            return Err(WebhookError::Expired {
                name: name.to_string(),
            });
        }
        self.store.set_webhook_enabled(name, enabled).await?;
        self.get(name).await
    }

    /// Deletes a webhook with its alert records; its jobs stay.
    pub async fn delete(&self, name: &str) -> Result<(), WebhookError> {
        if !self.store.delete_webhook(name).await? {
            return Err(WebhookError::NotFound {
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// Checks `token` for webhook `name`. Unknown webhooks and bad tokens
    /// cost the same: one lookup, one hash, one constant-time comparison.
    /// Whether a webhook is disabled or expired is only looked at once the
    /// token matches.
    pub async fn authenticate(&self, name: &str, token: &str) -> Result<Authorized, Refusal> {
        let stored = self
            .store
            .webhook(name)
            .await
            .map_err(|e| Refusal::Store(e.to_string()))?;
        let presented = auth::hash_token(token);
        let hash = stored
            .as_ref()
            .and_then(|r| <[u8; 32]>::try_from(hex::decode(&r.token_hash).ok()?).ok());
        let matches = auth::same_hash(&presented, &hash.unwrap_or([0u8; 32]));
        let Some(stored) = stored else {
            return Err(Refusal::UnknownWebhook);
        };
        if !matches || hash.is_none() {
            return Err(Refusal::BadToken);
        }
        let webhook = webhook(&stored).map_err(|e| Refusal::Store(e.to_string()))?;
        if Utc::now() >= webhook.expires {
            return Err(Refusal::Expired);
        }
        if !webhook.enabled {
            return Err(Refusal::Disabled);
        }
        Ok(Authorized {
            webhook,
            signing_secret: stored.signing_secret,
        })
    }

    /// The latest `limit` alerts a webhook received, newest first, with what
    /// was decided and the jobs started (an audit of alert-driven runs).
    pub async fn alerts(&self, name: &str, limit: usize) -> Result<Vec<AlertRecord>, WebhookError> {
        self.get(name).await?;
        Ok(self.store.alerts(name, limit).await?)
    }
}
