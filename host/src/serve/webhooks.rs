//! The registry of webhooks, in the job store (tables of schema 2, see
//! `jobs::store`). A webhook names what it runs by module digest and keeps
//! the module in the store, so a delivery only inserts job rows. Its token is
//! kept as a hash; its signing secret, when it has one, as is (the server must
//! recompute signatures).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::alert::MonitorCondition;
use super::auth;
use super::refusal::Refusal;
use super::rules::Rule;
use crate::fabric::Direction;
use crate::jobs::{JobStore, StoreError};
use crate::plan::{FailoverType, RecoveryPlan};
use crate::runtime::JobSpec;

/// The request that started a job, as the runbook sees it (Azure's
/// `WebhookData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookData {
    pub name: String,
    pub body: String,
    /// Lowercase names, in the order received, credentials left out.
    pub headers: Vec<(String, String)>,
}

/// One run a webhook (or one of its rules) starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunTarget {
    /// The runbook's file name.
    pub runbook: String,
    /// `sha256:<hex>` of its module, stored in the job store.
    pub digest: String,
    pub plan: RecoveryPlan,
    pub failover_type: FailoverType,
    pub direction: Direction,
    /// Fixed parameters: a caller cannot replace them.
    pub parameters: BTreeMap<String, String>,
}

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

/// An alert a webhook received, as recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRecord {
    pub alert_id: String,
    /// `Fired` or `Resolved`.
    pub condition: String,
    /// What was done with it: the runs started, or why it was ignored.
    pub decision: String,
    pub job_ids: Vec<String>,
    pub received: DateTime<Utc>,
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

/// How a delivery was recorded.
pub struct Recorded {
    pub job_ids: Vec<String>,
    /// The same alert was delivered before: these are the first delivery's.
    pub duplicate: bool,
}

/// The registry; cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    store: JobStore,
}

fn decode_err(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::Decode {
        what,
        detail: e.to_string(),
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

struct Row {
    token_hash: String,
    signing_secret: Option<String>,
    target: String,
    enabled: bool,
    expires_ms: i64,
    created_ms: i64,
    created_by: String,
    last_used_ms: Option<i64>,
}

const ROW: &str =
    "token_hash, signing_secret, target, enabled, expires_ms, created_ms, created_by, last_used_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        token_hash: r.get(0)?,
        signing_secret: r.get(1)?,
        target: r.get(2)?,
        enabled: r.get(3)?,
        expires_ms: r.get(4)?,
        created_ms: r.get(5)?,
        created_by: r.get(6)?,
        last_used_ms: r.get(7)?,
    })
}

impl Row {
    fn webhook(&self, name: &str) -> Result<Webhook, StoreError> {
        let target: Target =
            serde_json::from_str(&self.target).map_err(decode_err("webhook target"))?;
        Ok(Webhook {
            name: name.to_string(),
            run: target.run,
            rules: target.rules,
            signed: self.signing_secret.is_some(),
            enabled: self.enabled,
            expires: crate::jobs::from_millis(self.expires_ms),
            created: crate::jobs::from_millis(self.created_ms),
            created_by: self.created_by.clone(),
            last_used: self.last_used_ms.map(crate::jobs::from_millis),
        })
    }
}

impl Webhooks {
    pub fn new(store: JobStore) -> Self {
        Webhooks { store }
    }

    pub fn store(&self) -> &JobStore {
        &self.store
    }

    /// Creates a webhook with a fresh token (and signing secret).
    pub fn create(&self, new: NewWebhook, by: &str) -> Result<Created, WebhookError> {
        if !valid_name(&new.name) {
            return Err(WebhookError::InvalidName { name: new.name });
        }
        let token = auth::new_token();
        let signing_secret = new.signed.then(auth::new_signing_secret);
        let target = Target {
            run: new.run,
            rules: new.rules,
        };
        let now = Utc::now();
        let inserted = self.store.write(|tx| {
            for (digest, bytes) in &new.modules {
                tx.execute(
                    "INSERT OR IGNORE INTO modules (digest, bytes) VALUES (?1, ?2)",
                    params![digest, bytes],
                )?;
                tx.execute(
                    "INSERT OR IGNORE INTO webhook_modules (webhook, digest) VALUES (?1, ?2)",
                    params![new.name, digest],
                )?;
            }
            let n = tx.execute(
                "INSERT OR IGNORE INTO webhooks (name, token_hash, signing_secret, target, enabled, expires_ms,
                 created_ms, created_by) VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
                params![
                    new.name,
                    hex::encode(auth::hash_token(&token)),
                    signing_secret,
                    serde_json::to_string(&target).expect("a target serialises"),
                    crate::jobs::millis(new.expires),
                    crate::jobs::millis(now),
                    by
                ],
            )?;
            Ok(n == 1)
        })?;
        if !inserted {
            return Err(WebhookError::Exists { name: new.name });
        }
        Ok(Created {
            webhook: self.get(&new.name)?,
            token,
            signing_secret,
        })
    }

    fn row(&self, name: &str) -> Result<Option<Row>, StoreError> {
        let conn = self.store.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {ROW} FROM webhooks WHERE name = ?1"))?;
        Ok(stmt.query_row([name], row).optional()?)
    }

    pub fn get(&self, name: &str) -> Result<Webhook, WebhookError> {
        match self.row(name)? {
            Some(row) => Ok(row.webhook(name)?),
            None => Err(WebhookError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    pub fn list(&self) -> Result<Vec<Webhook>, WebhookError> {
        Ok(self.list_rows()?)
    }

    fn list_rows(&self) -> Result<Vec<Webhook>, StoreError> {
        let rows = {
            let conn = self.store.conn();
            let mut stmt =
                conn.prepare_cached(&format!("SELECT name, {ROW} FROM webhooks ORDER BY name"))?;
            let rows = stmt
                .query_map([], |r| {
                    let name: String = r.get(0)?;
                    let rest = Row {
                        token_hash: r.get(1)?,
                        signing_secret: r.get(2)?,
                        target: r.get(3)?,
                        enabled: r.get(4)?,
                        expires_ms: r.get(5)?,
                        created_ms: r.get(6)?,
                        created_by: r.get(7)?,
                        last_used_ms: r.get(8)?,
                    };
                    Ok((name, rest))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        rows.iter().map(|(name, row)| row.webhook(name)).collect()
    }

    /// Enables or disables a webhook; an expired one cannot be enabled.
    pub fn set_enabled(&self, name: &str, enabled: bool) -> Result<Webhook, WebhookError> {
        let webhook = self.get(name)?;
        if enabled && webhook.status(Utc::now()) == "expired" {
            return Err(WebhookError::Expired {
                name: name.to_string(),
            });
        }
        self.store.write(|tx| {
            tx.execute(
                "UPDATE webhooks SET enabled = ?2 WHERE name = ?1",
                params![name, enabled],
            )?;
            Ok(())
        })?;
        self.get(name)
    }

    /// Deletes a webhook with its alert records; its jobs stay.
    pub fn delete(&self, name: &str) -> Result<(), WebhookError> {
        let deleted = self.store.write(|tx| {
            let n = tx.execute("DELETE FROM webhooks WHERE name = ?1", [name])?;
            for table in ["webhook_modules", "alerts", "webhook_seen"] {
                tx.execute(&format!("DELETE FROM {table} WHERE webhook = ?1"), [name])?;
            }
            Ok(n)
        })?;
        if deleted == 0 {
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
    pub fn authenticate(&self, name: &str, token: &str) -> Result<Authorized, Refusal> {
        let row = self.row(name).map_err(|e| Refusal::Store(e.to_string()))?;
        let presented = auth::hash_token(token);
        let stored = row
            .as_ref()
            .and_then(|r| <[u8; 32]>::try_from(hex::decode(&r.token_hash).ok()?).ok());
        let matches = auth::same_hash(&presented, &stored.unwrap_or([0u8; 32]));
        let Some(row) = row else {
            return Err(Refusal::UnknownWebhook);
        };
        if !matches || stored.is_none() {
            return Err(Refusal::BadToken);
        }
        let webhook = row
            .webhook(name)
            .map_err(|e| Refusal::Store(e.to_string()))?;
        if Utc::now() >= webhook.expires {
            return Err(Refusal::Expired);
        }
        if !webhook.enabled {
            return Err(Refusal::Disabled);
        }
        Ok(Authorized {
            webhook,
            signing_secret: row.signing_secret,
        })
    }

    /// Records a signed delivery's message id; false if it was seen within
    /// `window` (a replay). Older ids are forgotten: their timestamps are
    /// refused anyway.
    pub fn first_delivery(
        &self,
        name: &str,
        message_id: &str,
        window: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let forget = now - chrono::Duration::from_std(window * 2).unwrap_or_default();
        self.store.write(|tx| {
            tx.prepare_cached("DELETE FROM webhook_seen WHERE webhook = ?1 AND at_ms < ?2")?
                .execute(params![name, crate::jobs::millis(forget)])?;
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO webhook_seen (webhook, message_id, at_ms) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![name, message_id, crate::jobs::millis(now)])?;
            Ok(n == 1)
        })
    }

    /// Records a delivery and creates its jobs, in one transaction: if the
    /// same alert (id and condition) was recorded before, nothing is created
    /// and the first delivery's job ids are returned.
    pub fn record(
        &self,
        name: &str,
        alert: Option<(&str, MonitorCondition)>,
        decision: &str,
        jobs: &[(&RunTarget, JobSpec)],
    ) -> Result<Recorded, StoreError> {
        let trigger = format!("webhook:{name}");
        self.store.write(|tx| {
            if let Some((alert_id, condition)) = alert {
                let earlier: Option<String> = tx
                    .prepare_cached(
                        "SELECT job_ids FROM alerts WHERE webhook = ?1 AND alert_id = ?2 AND condition = ?3",
                    )?
                    .query_row(params![name, alert_id, condition.as_str()], |r| r.get(0))
                    .optional()?;
                if let Some(earlier) = earlier {
                    return Ok(Recorded {
                        job_ids: serde_json::from_str(&earlier).map_err(decode_err("alert jobs"))?,
                        duplicate: true,
                    });
                }
            }
            let mut job_ids = Vec::with_capacity(jobs.len());
            for (target, spec) in jobs {
                crate::jobs::insert_job(tx, &spec.job_id, &target.digest, &target.runbook, spec, &trigger)?;
                job_ids.push(spec.job_id.clone());
            }
            let now = crate::jobs::millis(Utc::now());
            if let Some((alert_id, condition)) = alert {
                tx.prepare_cached(
                    "INSERT INTO alerts (webhook, alert_id, condition, decision, job_ids, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    name,
                    alert_id,
                    condition.as_str(),
                    decision,
                    serde_json::to_string(&job_ids).expect("ids serialise"),
                    now
                ])?;
            }
            tx.prepare_cached("UPDATE webhooks SET last_used_ms = ?2 WHERE name = ?1")?
                .execute(params![name, now])?;
            Ok(Recorded {
                job_ids,
                duplicate: false,
            })
        })
    }

    /// The latest `limit` alerts a webhook received, newest first, with what
    /// was decided and the jobs started (an audit of alert-driven runs).
    pub fn alerts(&self, name: &str, limit: usize) -> Result<Vec<AlertRecord>, WebhookError> {
        self.get(name)?;
        Ok(self.alert_rows(name, limit)?)
    }

    fn alert_rows(&self, name: &str, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let conn = self.store.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT alert_id, condition, decision, job_ids, received_ms FROM alerts WHERE webhook = ?1
             ORDER BY received_ms DESC, alert_id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![name, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, String>(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(alert_id, condition, decision, ids, received)| {
                Ok(AlertRecord {
                    alert_id,
                    condition,
                    decision,
                    job_ids: serde_json::from_str(&ids).map_err(decode_err("alert jobs"))?,
                    received: crate::jobs::from_millis(received),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_1_store_opens_and_gains_the_webhook_tables() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A store as schema 1 left it.
            let store = JobStore::open(dir.path()).unwrap();
            store
                .conn()
                .execute_batch(
                    "DROP TABLE webhooks; DROP TABLE webhook_modules; DROP TABLE alerts;
                     DROP TABLE webhook_seen; UPDATE meta SET value = '1' WHERE key = 'schema';",
                )
                .unwrap();
        }
        let store = JobStore::open(dir.path()).unwrap();
        let schema: String = store
            .conn()
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(schema, crate::jobs::SCHEMA_VERSION.to_string());
        assert!(Webhooks::new(store).list().unwrap().is_empty());
    }
}
