//! A failed job made to run again from its journal, as a new attempt
//! (`JobStore::retry`): its cut, its attempt and its state, in one
//! transaction.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};

use crate::db::{decode, encode, millis, Result, SqliteStore};
use crate::jobs::busy_with;
use crate::spool;
use drbook_core::job::JobStatus;
use drbook_core::journal::Entry;
use drbook_core::retry::Attempt;
use drbook_core::store::{Busy, OnBusy, StoreError};

/// What the retry reads of the job's row.
struct Row {
    state: String,
    lease_owner: Option<String>,
    lease_until_ms: Option<i64>,
    reason: Option<String>,
    attempts: Option<String>,
    plan_key: String,
    plan: String,
}

impl SqliteStore {
    /// See `JobStore::retry`. A spool an ended job left behind (its worker
    /// was killed between the fold's commit and the file's removal, so its
    /// lines are in the store already) is folded in again and removed before
    /// the commit, so that the cut is of the whole journal and no line of it
    /// comes back when the next run opens its spool.
    pub(crate) fn retry(&self, id: &str, by: &str, cut: usize) -> Result<Attempt> {
        let spooled = self.spooled(id)?;
        let attempt = self.write_durably(|tx| {
            let row = tx
                .query_row(
                    "SELECT state, lease_owner, lease_until_ms, reason, retries, plan_key,
                     json_extract(spec, '$.plan.name') FROM jobs WHERE id = ?1",
                    [id],
                    |r| {
                        Ok(Row {
                            state: r.get(0)?,
                            lease_owner: r.get(1)?,
                            lease_until_ms: r.get(2)?,
                            reason: r.get(3)?,
                            attempts: r.get(4)?,
                            plan_key: r.get(5)?,
                            plan: r.get(6)?,
                        })
                    },
                )
                .optional()?
                .ok_or_else(|| StoreError::NoSuchJob { id: id.to_string() })?;
            let status: JobStatus = decode("job state", &row.state)?;
            let now = millis(Utc::now());
            let held_by = row
                .lease_owner
                .filter(|_| row.lease_until_ms.is_some_and(|until| until > now));
            if status != JobStatus::Failed || held_by.is_some() {
                return Err(StoreError::NotFailed {
                    job: id.to_string(),
                    status,
                    held_by,
                }
                .into());
            }
            if let Some(busy) = busy_with(tx, &row.plan_key)? {
                return Err(StoreError::PlanBusy {
                    job: id.to_string(),
                    busy: Busy {
                        plan: row.plan,
                        job: busy,
                        on_busy: OnBusy::Refuse,
                    },
                }
                .into());
            }
            if !spooled.is_empty() {
                spool::insert(tx, id, &spooled)?;
                let path = self.spool_path(id);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(StoreError::Spool {
                            path,
                            detail: format!("it cannot be removed before the retry: {e}"),
                        }
                        .into())
                    }
                    _ => {}
                }
            }
            let dropped = tx
                .prepare_cached(
                    "SELECT entry FROM journal WHERE job_id = ?1 AND seq >= ?2 ORDER BY seq",
                )?
                .query_map(params![id, cut as i64], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .iter()
                .map(|text| decode::<Entry>("journal entry", text))
                .collect::<Result<Vec<_>>>()?;
            let kept: i64 = tx.query_row(
                "SELECT count(*) FROM journal WHERE job_id = ?1 AND seq < ?2",
                params![id, cut as i64],
                |r| r.get(0),
            )?;
            tx.execute(
                "DELETE FROM journal WHERE job_id = ?1 AND seq >= ?2",
                params![id, cut as i64],
            )?;
            tx.execute(
                "DELETE FROM decisions WHERE job_id = ?1 AND journal_seq >= ?2",
                params![id, cut as i64],
            )?;
            let streams_after: i64 = tx.query_row(
                "SELECT coalesce(max(seq), 0) FROM streams WHERE job_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            let mut attempts: Vec<Attempt> = row
                .attempts
                .as_deref()
                .map(|a| decode("job attempts", a))
                .transpose()?
                .unwrap_or_default();
            let attempt = Attempt {
                attempt: attempts.last().map_or(1, |a| a.attempt) + 1,
                by: by.to_string(),
                at: Utc::now(),
                previous_reason: row.reason,
                journal_from: kept as usize,
                streams_after,
                dropped,
            };
            attempts.push(attempt.clone());
            tx.execute(
                "UPDATE jobs SET state = ?2, reason = NULL, result = NULL, wake = NULL, stop_requested = NULL,
                 ended_ms = NULL, lease_owner = NULL, lease_until_ms = NULL, retries = ?3 WHERE id = ?1",
                params![id, encode(&JobStatus::New), encode(&attempts)],
            )?;
            Ok(attempt)
        })?;
        Ok(attempt)
    }
}
