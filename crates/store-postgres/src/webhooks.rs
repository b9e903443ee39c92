//! Webhooks in PostgreSQL: each with the modules it runs, the alerts it
//! received with the jobs each started (or the busy job it met), and the
//! message ids of signed deliveries with their bodies' hashes and answers.
//!
//! Why a delivery takes its webhook's lock first: two servers receiving the
//! same alert or the same retried message at once must create one set of
//! jobs, and PostgreSQL's READ COMMITTED would let both find nothing
//! recorded. Deliveries to one webhook take turns; then the plans' locks
//! are taken (see `jobs`), in that order everywhere.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::db::{backend, decode, encode, from_millis, PostgresStore};
use crate::jobs::{lock_plans, place, WEBHOOK_LOCKS};
use drbook_core::store::{NewWebhookRow, Placed, StoreError};
use drbook_core::webhook::{NewDelivery, Recorded, StoredWebhook};

type Result<T> = std::result::Result<T, StoreError>;

pub(crate) const COLUMNS: &str =
    "name, token_hash, signing_secret, target, enabled, expires_ms, created_ms, created_by, last_used_ms";

/// A row of [`COLUMNS`], decoded.
pub(crate) fn webhook(row: &PgRow) -> Result<StoredWebhook> {
    let get = |e: sqlx::Error| backend(e);
    Ok(StoredWebhook {
        name: row.try_get("name").map_err(get)?,
        token_hash: row.try_get("token_hash").map_err(get)?,
        signing_secret: row.try_get("signing_secret").map_err(get)?,
        target: decode(
            "webhook target",
            &row.try_get::<String, _>("target").map_err(get)?,
        )?,
        enabled: row.try_get("enabled").map_err(get)?,
        expires: from_millis(row.try_get("expires_ms").map_err(get)?),
        created: from_millis(row.try_get("created_ms").map_err(get)?),
        created_by: row.try_get("created_by").map_err(get)?,
        last_used: row
            .try_get::<Option<i64>, _>("last_used_ms")
            .map_err(get)?
            .map(from_millis),
    })
}

pub(crate) async fn create(store: &PostgresStore, new: NewWebhookRow<'_>) -> Result<bool> {
    let w = new.webhook;
    let mut tx = store.pool.begin().await.map_err(backend)?;
    for module in &new.modules {
        crate::jobs::store_module(&mut tx, module.digest, module.bytes).await?;
        sqlx::query(
            "INSERT INTO webhook_modules (webhook, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&w.name)
        .bind(module.digest)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    let created = sqlx::query(
        "INSERT INTO webhooks (name, token_hash, signing_secret, target, enabled, expires_ms,
         created_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&w.name)
    .bind(&w.token_hash)
    .bind(&w.signing_secret)
    .bind(encode(&w.target))
    .bind(w.enabled)
    .bind(w.expires.timestamp_millis())
    .bind(w.created.timestamp_millis())
    .bind(&w.created_by)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(created.rows_affected() == 1)
}

/// Records a delivery and creates its jobs in one transaction: a retry of
/// its message, or its alert again, gets the first answer; a job of a busy
/// plan does what `on_busy` says.
pub(crate) async fn record_delivery(
    store: &PostgresStore,
    delivery: &NewDelivery<'_>,
) -> Result<Recorded> {
    let name = delivery.webhook;
    let mut tx = store.pool.begin().await.map_err(backend)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(WEBHOOK_LOCKS)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    let recorded = match delivery.message {
        None => record(&mut tx, delivery).await?,
        Some(message) => {
            sqlx::query("DELETE FROM webhook_seen WHERE webhook = $1 AND at_ms < $2")
                .bind(name)
                .bind(message.forget_before.timestamp_millis())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            let seen: Option<(String, String)> = sqlx::query_as(
                "SELECT body_sha256, answer FROM webhook_seen WHERE webhook = $1 AND message_id = $2",
            )
            .bind(name)
            .bind(message.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            match seen {
                Some((body, answer)) if body == message.body_sha256 => {
                    let (job_ids, busy) = decode("delivery answer", &answer)?;
                    return Ok(Recorded {
                        job_ids,
                        duplicate: true,
                        busy,
                    });
                }
                Some(_) => {
                    return Err(StoreError::MessageReused {
                        message_id: message.id.to_string(),
                    })
                }
                None => {}
            }
            let recorded = record(&mut tx, delivery).await?;
            sqlx::query(
                "INSERT INTO webhook_seen (webhook, message_id, at_ms, body_sha256, answer)
                 VALUES ($1, $2, drbook_now_ms(), $3, $4)",
            )
            .bind(name)
            .bind(message.id)
            .bind(message.body_sha256)
            .bind(encode(&(&recorded.job_ids, &recorded.busy)))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            recorded
        }
    };
    tx.commit().await.map_err(backend)?;
    Ok(recorded)
}

/// A delivery's alert and jobs, in the caller's transaction: the same alert
/// again gets the first delivery's answer.
async fn record(conn: &mut PgConnection, delivery: &NewDelivery<'_>) -> Result<Recorded> {
    let name = delivery.webhook;
    if let Some((alert_id, condition)) = delivery.alert {
        let earlier: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT job_ids, busy FROM alerts WHERE webhook = $1 AND alert_id = $2 AND condition = $3",
        )
        .bind(name)
        .bind(alert_id)
        .bind(condition)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?;
        if let Some((job_ids, busy)) = earlier {
            return Ok(Recorded {
                job_ids: decode("alert jobs", &job_ids)?,
                duplicate: true,
                busy: busy.map(|b| decode("alert busy plan", &b)).transpose()?,
            });
        }
    }
    lock_plans(conn, &delivery.jobs).await?;
    let mut placed = Placed::default();
    for job in &delivery.jobs {
        placed.add(&job.spec.job_id, place(conn, *job, delivery.on_busy).await?);
    }
    let Placed { job_ids, busy } = placed;
    if let Some((alert_id, condition)) = delivery.alert {
        let decision = match &busy {
            Some(busy) => format!("{}; {busy}", delivery.decision),
            None => delivery.decision.to_string(),
        };
        sqlx::query(
            "INSERT INTO alerts (webhook, alert_id, condition, decision, job_ids, received_ms, busy)
             VALUES ($1, $2, $3, $4, $5, drbook_now_ms(), $6)",
        )
        .bind(name)
        .bind(alert_id)
        .bind(condition)
        .bind(decision)
        .bind(encode(&job_ids))
        .bind(busy.as_ref().map(encode))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    sqlx::query("UPDATE webhooks SET last_used_ms = drbook_now_ms() WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(Recorded {
        job_ids,
        duplicate: false,
        busy,
    })
}
