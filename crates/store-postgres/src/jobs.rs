//! Jobs in PostgreSQL: the SQL the port's calls share (which jobs a worker
//! may take, busy plans, creating a job, how a run ends) and reading a job
//! row back.
//!
//! Why advisory locks for busy plans: PostgreSQL's transactions (READ
//! COMMITTED) do not serialise as SQLite's `BEGIN IMMEDIATE` does, so two
//! starts of one plan could both find it free. A start takes its plan's
//! transaction-scoped lock first (`lock_plans`); starts of other plans never
//! wait for it.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::db::{backend, decode, encode, from_millis};
use drbook_core::job::{JobRecord, JobStatus, NewJob, Wake};
use drbook_core::store::{plan_key, Busy, OnBusy, StoreError};

/// The first key of the advisory locks on plans (the second: the plan key's
/// hash), apart from every other lock of drbook's.
const PLAN_LOCKS: i32 = 1;

/// The first key of the advisory locks on webhooks' deliveries.
pub(crate) const WEBHOOK_LOCKS: i32 = 2;

/// How a state is written in the `state` column (as SQLite writes it).
pub(crate) fn state(status: JobStatus) -> String {
    encode(&status)
}

/// SQL: job `jobs` waits its turn: queued, not started, and a job of its
/// plan created before it has not ended; `$new` is the parameter holding the
/// `New` state.
macro_rules! waiting_its_turn {
    ($new:literal) => {
        concat!(
            "(jobs.queued AND jobs.state = ",
            $new,
            " AND EXISTS (SELECT 1 FROM jobs AS ahead
              WHERE ahead.plan_key = jobs.plan_key AND ahead.seq < jobs.seq AND ahead.ended_ms IS NULL))"
        )
    };
}

/// SQL of `runnable`: `$1` New, `$2` Running, `$3` the caller's now (ms),
/// `$4` the limit. A lease has ended when it ended before the caller's now
/// or the database's, whichever is later: `claim` decides on the
/// database's clock alone, so a worker whose clock runs ahead only lists a
/// job early.
pub(crate) const RUNNABLE: &str = concat!(
    "SELECT id FROM jobs WHERE (state = $1 OR (state = $2 AND wake IS NULL))
     AND (lease_until_ms IS NULL OR lease_until_ms < greatest($3, drbook_now_ms()))
     AND NOT ",
    waiting_its_turn!("$1"),
    " ORDER BY seq LIMIT $4"
);

/// SQL of `claim`: `$1` the job, `$2` the owner, `$3` its deadline (from its
/// last renewal, on the database's clock), `$4` New, `$5` Running, `$6` that
/// renewal's time (the job's heartbeat, as `renew` records it). The row
/// is locked `SKIP LOCKED`: a job another worker is claiming at this moment
/// is not waited for, it is theirs. Each claim is a new attempt, which the
/// run's writes are fenced by.
pub(crate) const CLAIM: &str = concat!(
    "UPDATE jobs SET lease_owner = $2, lease_until_ms = $3, lease_renewed_ms = $6, state = $5,
     reason = NULL,
     started_ms = coalesce(started_ms, drbook_now_ms()), attempt = attempt + 1
     WHERE id = (SELECT id FROM jobs WHERE id = $1 AND $3 > drbook_now_ms()
       AND (lease_until_ms IS NULL OR lease_until_ms < drbook_now_ms() OR lease_owner = $2)
       AND (state = $4 OR (state = $5 AND wake IS NULL)) AND NOT ",
    waiting_its_turn!("$4"),
    " FOR UPDATE SKIP LOCKED)"
);

pub(crate) const COLUMNS: &str =
    "id, digest, runbook, spec, trigger, state, reason, wake, stop_requested, result, created_ms, \
     started_ms, ended_ms, lease_owner, lease_until_ms, retries";

/// A job row of [`COLUMNS`], decoded.
pub(crate) fn job_record(row: &PgRow) -> Result<JobRecord, StoreError> {
    let text = |name: &str| -> Result<String, StoreError> { row.try_get(name).map_err(backend) };
    let opt =
        |name: &str| -> Result<Option<String>, StoreError> { row.try_get(name).map_err(backend) };
    let ms = |name: &str| -> Result<Option<i64>, StoreError> { row.try_get(name).map_err(backend) };
    Ok(JobRecord {
        id: text("id")?,
        digest: text("digest")?,
        runbook: text("runbook")?,
        spec: decode("job spec", &text("spec")?)?,
        trigger: text("trigger")?,
        state: decode("job state", &text("state")?)?,
        reason: opt("reason")?,
        wake: opt("wake")?.map(|w| decode("wake", &w)).transpose()?,
        stop_requested: opt("stop_requested")?,
        result: opt("result")?.map(|r| decode("result", &r)).transpose()?,
        created: from_millis(ms("created_ms")?.unwrap_or_default()),
        started: ms("started_ms")?.map(from_millis),
        ended: ms("ended_ms")?.map(from_millis),
        lease_owner: opt("lease_owner")?,
        lease_until: ms("lease_until_ms")?.map(from_millis),
        attempts: opt("retries")?
            .map(|a| decode("job attempts", &a))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// Keeps a module, once per digest.
pub(crate) async fn store_module(
    conn: &mut PgConnection,
    digest: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO modules (digest, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(digest)
        .bind(bytes)
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Takes the locks of the plans of `jobs` for the caller's transaction, in
/// one order (two deliveries never wait for each other's locks in a cycle).
pub(crate) async fn lock_plans(
    conn: &mut PgConnection,
    jobs: &[NewJob<'_>],
) -> Result<(), StoreError> {
    let mut keys: Vec<String> = jobs.iter().map(|j| plan_key(&j.spec.plan)).collect();
    keys.sort();
    keys.dedup();
    lock_plan_keys(conn, &keys).await
}

/// Takes the locks of the plans known by `keys` ([`plan_key`]), sorted and
/// without repeats, for the caller's transaction.
pub(crate) async fn lock_plan_keys(
    conn: &mut PgConnection,
    keys: &[String],
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(key)) FROM unnest($2::text[]) AS key")
        .bind(PLAN_LOCKS)
        .bind(keys)
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// The job the plan known by `key` is busy with: its oldest that has not
/// ended. The caller holds the plan's lock.
pub(crate) async fn busy_with(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT id FROM jobs WHERE plan_key = $1 AND ended_ms IS NULL ORDER BY seq LIMIT 1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)
}

/// Creates `job` if its plan is free; if it is busy, does what `on_busy`
/// says (queued: created behind the busy job) and returns the busy job. The
/// caller holds the plan's lock ([`lock_plans`]).
pub(crate) async fn place(
    conn: &mut PgConnection,
    job: NewJob<'_>,
    on_busy: OnBusy,
) -> Result<Option<Busy>, StoreError> {
    let Some(busy) = busy_with(conn, &plan_key(&job.spec.plan)).await? else {
        insert_job(conn, job, None).await?;
        return Ok(None);
    };
    let busy = Busy {
        plan: job.spec.plan.name.clone(),
        job: busy,
        on_busy,
    };
    if on_busy == OnBusy::Queue {
        insert_job(conn, job, Some(&busy)).await?;
    }
    Ok(Some(busy))
}

/// Inserts a new job pinned to `digest`, a module already in the store;
/// queued behind `behind`'s job when given. Wakes workers as it commits.
pub(crate) async fn insert_job(
    conn: &mut PgConnection,
    job: NewJob<'_>,
    behind: Option<&Busy>,
) -> Result<(), StoreError> {
    let spec = job.spec;
    sqlx::query(
        "INSERT INTO jobs (id, digest, runbook, spec, trigger, state, created_ms, plan_key, queued, reason)
         VALUES ($1, $2, $3, $4, $5, $6, drbook_now_ms(), $7, $8, $9)",
    )
    .bind(&spec.job_id)
    .bind(job.digest)
    .bind(job.runbook)
    .bind(encode(spec))
    .bind(spec.trigger.label())
    .bind(state(JobStatus::New))
    .bind(plan_key(&spec.plan))
    .bind(behind.is_some())
    .bind(behind.map(Busy::to_string))
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    crate::notify::runnable(conn).await
}

/// Records that a job was unloaded to wait; `Suspended` for a person.
pub(crate) async fn set_waiting(
    conn: &mut PgConnection,
    id: &str,
    status: JobStatus,
    reason: &str,
    wake: &Wake,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE jobs SET state = $2, reason = $3, wake = $4 WHERE id = $1")
        .bind(id)
        .bind(state(status))
        .bind(reason)
        .bind(encode(wake))
        .execute(conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Ends a job for good, releasing its lease; wakes workers as it commits
/// (a queued job's turn may have come).
pub(crate) async fn finish(
    conn: &mut PgConnection,
    id: &str,
    status: JobStatus,
    reason: Option<&str>,
    result: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = $2, reason = $3, result = $4, wake = NULL, ended_ms = drbook_now_ms(),
         lease_owner = NULL, lease_until_ms = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(state(status))
    .bind(reason)
    .bind(result.to_string())
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    crate::notify::runnable(conn).await
}
