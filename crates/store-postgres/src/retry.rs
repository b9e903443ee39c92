//! A failed job made to run again from its journal, as a new attempt
//! (`JobStore::retry`): its cut, its attempt and its state, in one
//! transaction. The job's row is locked first (a claim under way is waited
//! for, and one that comes after finds the job changed), then its plan's
//! lock is taken, as a start of the plan takes it, so that a retry and a
//! start of the same plan never both find it free.

use chrono::Utc;
use sqlx::Row;

use crate::db::{backend, decode, encode, PostgresStore};
use crate::jobs::{busy_with, lock_plan_keys, state};
use drbook_core::job::JobStatus;
use drbook_core::journal::Entry;
use drbook_core::retry::Attempt;
use drbook_core::store::{Busy, OnBusy, StoreError};

impl PostgresStore {
    pub(crate) async fn retry(
        &self,
        id: &str,
        by: &str,
        cut: usize,
    ) -> Result<Attempt, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let row = sqlx::query(
            "SELECT state, reason, retries, plan_key, spec::json #>> '{plan,name}' AS plan,
             CASE WHEN lease_until_ms > drbook_now_ms() THEN lease_owner END AS held_by
             FROM jobs WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NoSuchJob { id: id.to_string() })?;
        let text = |name: &str| -> Result<Option<String>, StoreError> {
            row.try_get(name).map_err(backend)
        };
        let status: JobStatus = decode("job state", &text("state")?.unwrap_or_default())?;
        let held_by = text("held_by")?;
        if status != JobStatus::Failed || held_by.is_some() {
            return Err(StoreError::NotFailed {
                job: id.to_string(),
                status,
                held_by,
            });
        }
        let key = text("plan_key")?.unwrap_or_default();
        lock_plan_keys(&mut tx, std::slice::from_ref(&key)).await?;
        if let Some(busy) = busy_with(&mut tx, &key).await? {
            return Err(StoreError::PlanBusy {
                job: id.to_string(),
                busy: Busy {
                    plan: text("plan")?.unwrap_or_default(),
                    job: busy,
                    on_busy: OnBusy::Refuse,
                },
            });
        }
        let dropped: Vec<String> = sqlx::query_scalar(
            "SELECT entry FROM journal WHERE job_id = $1 AND seq >= $2 ORDER BY seq",
        )
        .bind(id)
        .bind(cut as i64)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let dropped = dropped
            .iter()
            .map(|text| decode::<Entry>("journal entry", text))
            .collect::<Result<Vec<_>, _>>()?;
        for table in [
            "DELETE FROM journal WHERE job_id = $1 AND seq >= $2",
            "DELETE FROM decisions WHERE job_id = $1 AND journal_seq >= $2",
        ] {
            sqlx::query(table)
                .bind(id)
                .bind(cut as i64)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM journal WHERE job_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let streams_after: i64 =
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM streams WHERE job_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(backend)?;
        let mut attempts: Vec<Attempt> = text("retries")?
            .map(|a| decode("job attempts", &a))
            .transpose()?
            .unwrap_or_default();
        let attempt = Attempt {
            attempt: attempts.last().map_or(1, |a| a.attempt) + 1,
            by: by.to_string(),
            at: Utc::now(),
            previous_reason: text("reason")?,
            journal_from: kept as usize,
            streams_after,
            dropped,
        };
        attempts.push(attempt.clone());
        sqlx::query(
            "UPDATE jobs SET state = $2, reason = NULL, result = NULL, wake = NULL, stop_requested = NULL,
             ended_ms = NULL, lease_owner = NULL, lease_until_ms = NULL, retries = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(state(JobStatus::New))
        .bind(encode(&attempts))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        crate::notify::runnable(&mut tx).await?;
        tx.commit().await.map_err(backend)?;
        Ok(attempt)
    }
}
