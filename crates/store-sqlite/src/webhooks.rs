//! Webhooks in SQLite (the tables of schema 2): each with the modules it
//! runs, the alerts it received with the jobs each started, and the message
//! ids of signed deliveries within their replay window.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use crate::db::{decode, encode, from_millis, millis, Result, SqliteStore};
use crate::jobs::insert_job;
use drbook_core::store::NewWebhookRow;
use drbook_core::webhook::{AlertRecord, NewDelivery, Recorded, StoredWebhook};

const COLUMNS: &str =
    "name, token_hash, signing_secret, target, enabled, expires_ms, created_ms, created_by, last_used_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredWebhook, String)> {
    let target: String = r.get(3)?;
    let webhook = StoredWebhook {
        name: r.get(0)?,
        token_hash: r.get(1)?,
        signing_secret: r.get(2)?,
        target: serde_json::Value::Null,
        enabled: r.get(4)?,
        expires: from_millis(r.get(5)?),
        created: from_millis(r.get(6)?),
        created_by: r.get(7)?,
        last_used: r.get::<_, Option<i64>>(8)?.map(from_millis),
    };
    Ok((webhook, target))
}

/// A row with its target document decoded.
fn decoded((mut webhook, target): (StoredWebhook, String)) -> Result<StoredWebhook> {
    webhook.target = decode("webhook target", &target)?;
    Ok(webhook)
}

impl SqliteStore {
    pub(crate) fn create_webhook(&self, new: NewWebhookRow<'_>) -> Result<bool> {
        let w = new.webhook;
        self.write(|tx| {
            for module in &new.modules {
                tx.execute(
                    "INSERT OR IGNORE INTO modules (digest, bytes) VALUES (?1, ?2)",
                    params![module.digest, module.bytes],
                )?;
                tx.execute(
                    "INSERT OR IGNORE INTO webhook_modules (webhook, digest) VALUES (?1, ?2)",
                    params![w.name, module.digest],
                )?;
            }
            let n = tx.execute(
                "INSERT OR IGNORE INTO webhooks (name, token_hash, signing_secret, target, enabled, expires_ms,
                 created_ms, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    w.name,
                    w.token_hash,
                    w.signing_secret,
                    encode(&w.target),
                    w.enabled,
                    millis(w.expires),
                    millis(w.created),
                    w.created_by
                ],
            )?;
            Ok(n == 1)
        })
    }

    pub(crate) fn webhook(&self, name: &str) -> Result<Option<StoredWebhook>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM webhooks WHERE name = ?1"))?;
        let row = stmt.query_row([name], row).optional()?;
        row.map(decoded).transpose()
    }

    pub(crate) fn webhooks(&self) -> Result<Vec<StoredWebhook>> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY name"))?;
        let rows = stmt
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(decoded).collect()
    }

    pub(crate) fn set_webhook_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE webhooks SET enabled = ?2 WHERE name = ?1",
                params![name, enabled],
            )?;
            Ok(n == 1)
        })
    }

    pub(crate) fn delete_webhook(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM webhooks WHERE name = ?1", [name])?;
            for table in ["webhook_modules", "alerts", "webhook_seen"] {
                tx.execute(&format!("DELETE FROM {table} WHERE webhook = ?1"), [name])?;
            }
            Ok(n == 1)
        })
    }

    pub(crate) fn first_delivery(
        &self,
        name: &str,
        message_id: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM webhook_seen WHERE webhook = ?1 AND at_ms < ?2")?
                .execute(params![name, millis(forget_before)])?;
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO webhook_seen (webhook, message_id, at_ms) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![name, message_id, millis(now)])?;
            Ok(n == 1)
        })
    }

    pub(crate) fn record_delivery(&self, delivery: &NewDelivery<'_>) -> Result<Recorded> {
        let name = delivery.webhook;
        self.write(|tx| {
            if let Some((alert_id, condition)) = delivery.alert {
                let earlier: Option<String> = tx
                    .prepare_cached(
                        "SELECT job_ids FROM alerts WHERE webhook = ?1 AND alert_id = ?2 AND condition = ?3",
                    )?
                    .query_row(params![name, alert_id, condition], |r| r.get(0))
                    .optional()?;
                if let Some(earlier) = earlier {
                    return Ok(Recorded {
                        job_ids: decode("alert jobs", &earlier)?,
                        duplicate: true,
                    });
                }
            }
            let mut job_ids = Vec::with_capacity(delivery.jobs.len());
            for job in &delivery.jobs {
                insert_job(tx, *job)?;
                job_ids.push(job.spec.job_id.clone());
            }
            let now = millis(Utc::now());
            if let Some((alert_id, condition)) = delivery.alert {
                tx.prepare_cached(
                    "INSERT INTO alerts (webhook, alert_id, condition, decision, job_ids, received_ms, seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                             (SELECT coalesce(max(seq), 0) + 1 FROM alerts WHERE webhook = ?1))",
                )?
                .execute(params![
                    name,
                    alert_id,
                    condition,
                    delivery.decision,
                    encode(&job_ids),
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

    pub(crate) fn alerts(&self, name: &str, limit: usize) -> Result<Vec<AlertRecord>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT alert_id, condition, decision, job_ids, received_ms FROM alerts WHERE webhook = ?1
             ORDER BY received_ms DESC, seq DESC LIMIT ?2",
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
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(alert_id, condition, decision, ids, received)| {
                Ok(AlertRecord {
                    alert_id,
                    condition,
                    decision,
                    job_ids: decode("alert jobs", &ids)?,
                    received: from_millis(received),
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
            let store = SqliteStore::open(dir.path()).unwrap();
            store
                .conn()
                .unwrap()
                .execute_batch(
                    "DROP TABLE webhooks; DROP TABLE webhook_modules; DROP TABLE alerts;
                     DROP TABLE webhook_seen; UPDATE meta SET value = '1' WHERE key = 'schema';",
                )
                .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let schema: String = store
            .conn()
            .unwrap()
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(schema, crate::SCHEMA_VERSION.to_string());
        assert!(store.webhooks().unwrap().is_empty());
    }
}
