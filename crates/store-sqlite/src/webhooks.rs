//! Webhooks in SQLite (the tables of schema 2, with what schema 4 added):
//! each with the modules it runs, the alerts it received with the jobs each
//! started (or the busy job it met), and the message ids of signed
//! deliveries with their bodies' hashes and answers, for their retries.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};

use crate::db::{decode, encode, from_millis, millis, Result, SqliteStore};
use crate::jobs::place;
use drbook_core::store::{NewWebhookRow, Placed, StoreError};
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

    /// Records a delivery and creates its jobs in one transaction: a retry
    /// of its message, or its alert again, gets the first answer; a job of a
    /// busy plan does what `on_busy` says.
    pub(crate) fn record_delivery(&self, delivery: &NewDelivery<'_>) -> Result<Recorded> {
        self.write(|tx| {
            let Some(message) = delivery.message else {
                return record(tx, delivery);
            };
            let name = delivery.webhook;
            tx.prepare_cached("DELETE FROM webhook_seen WHERE webhook = ?1 AND at_ms < ?2")?
                .execute(params![name, millis(message.forget_before)])?;
            let seen: Option<(Option<String>, Option<String>)> = tx
                .prepare_cached(
                    "SELECT body_sha256, answer FROM webhook_seen WHERE webhook = ?1 AND message_id = ?2",
                )?
                .query_row(params![name, message.id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((body, answer)) = seen {
                // A message seen before this version kept answers has none.
                return match (body, answer) {
                    (Some(body), Some(answer)) if body == message.body_sha256 => {
                        let (job_ids, busy) = decode("delivery answer", &answer)?;
                        Ok(Recorded {
                            job_ids,
                            duplicate: true,
                            busy,
                        })
                    }
                    _ => Err(StoreError::MessageReused {
                        message_id: message.id.to_string(),
                    }
                    .into()),
                };
            }
            let recorded = record(tx, delivery)?;
            tx.prepare_cached(
                "INSERT INTO webhook_seen (webhook, message_id, at_ms, body_sha256, answer)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                name,
                message.id,
                millis(Utc::now()),
                message.body_sha256,
                encode(&(&recorded.job_ids, &recorded.busy))
            ])?;
            Ok(recorded)
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

/// A delivery's alert and jobs, in the caller's transaction: the same alert
/// again gets the first delivery's answer.
fn record(tx: &rusqlite::Transaction<'_>, delivery: &NewDelivery<'_>) -> Result<Recorded> {
    let name = delivery.webhook;
    if let Some((alert_id, condition)) = delivery.alert {
        let earlier: Option<(String, Option<String>)> = tx
            .prepare_cached(
                "SELECT job_ids, busy FROM alerts WHERE webhook = ?1 AND alert_id = ?2 AND condition = ?3",
            )?
            .query_row(params![name, alert_id, condition], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((job_ids, busy)) = earlier {
            return Ok(Recorded {
                job_ids: decode("alert jobs", &job_ids)?,
                duplicate: true,
                busy: busy.map(|b| decode("alert busy plan", &b)).transpose()?,
            });
        }
    }
    let mut placed = Placed::default();
    for job in &delivery.jobs {
        placed.add(&job.spec.job_id, place(tx, *job, delivery.on_busy)?);
    }
    let Placed { job_ids, busy } = placed;
    let now = millis(Utc::now());
    if let Some((alert_id, condition)) = delivery.alert {
        let decision = match &busy {
            Some(busy) => format!("{}; {busy}", delivery.decision),
            None => delivery.decision.to_string(),
        };
        tx.prepare_cached(
            "INSERT INTO alerts (webhook, alert_id, condition, decision, job_ids, received_ms, seq, busy)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                     (SELECT coalesce(max(seq), 0) + 1 FROM alerts WHERE webhook = ?1), ?7)",
        )?
        .execute(params![
            name,
            alert_id,
            condition,
            decision,
            encode(&job_ids),
            now,
            busy.as_ref().map(encode)
        ])?;
    }
    tx.prepare_cached("UPDATE webhooks SET last_used_ms = ?2 WHERE name = ?1")?
        .execute(params![name, now])?;
    Ok(Recorded {
        job_ids,
        duplicate: false,
        busy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::store::OnBusy;

    #[test]
    fn a_schema_1_store_opens_and_gains_the_webhook_tables_and_its_jobs_their_plans() {
        let dir = tempfile::tempdir().unwrap();
        let plan = drbook_core::plan::RecoveryPlan::parse(
            "name = \"Contoso\"\nprimary_region = \"EastUS\"\nrecovery_region = \"westus\"\n\
             [[groups]]\nname = \"g\"\nvms = [\"vm\"]\n",
            "test",
        )
        .unwrap();
        let spec = |id: &str| -> drbook_core::job::JobSpec {
            serde_json::from_value(serde_json::json!({
                "jobId": id, "plan": plan, "failoverType": "Planned",
                "direction": "PrimaryToRecovery", "parameters": {}
            }))
            .unwrap()
        };
        let (old, new) = (spec("old"), spec("new"));
        let job = |spec| drbook_core::job::NewJob {
            digest: "sha256:x",
            runbook: "r.wasm",
            spec,
        };
        {
            // A store as schema 1 left it, with a job not ended.
            let store = SqliteStore::open(dir.path()).unwrap();
            store.create(job(&old), b"module").unwrap();
            store
                .conn()
                .unwrap()
                .execute_batch(
                    "DROP TABLE webhooks; DROP TABLE webhook_modules; DROP TABLE alerts;
                     DROP TABLE webhook_seen; DROP INDEX jobs_plan_open; ALTER TABLE jobs DROP COLUMN plan_key;
                     ALTER TABLE jobs DROP COLUMN queued; ALTER TABLE jobs DROP COLUMN lease_renewed_ms;
                     DROP TABLE schedules; DROP TABLE schedule_ticks; ALTER TABLE jobs DROP COLUMN retries;
                     DROP TABLE api_tokens; DROP TABLE sessions;
                     UPDATE meta SET value = '1' WHERE key = 'schema';",
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
        // The old job's plan is known by the key every start uses.
        let busy = store
            .admit(job(&new), b"module", OnBusy::Refuse)
            .unwrap()
            .expect("the plan is busy with the old job");
        assert_eq!(busy.job, "old");
    }
}
