//! Pages of jobs ([`JobStore::page`](super::JobStore::page)): which jobs a
//! page holds ([`JobFilter`]), where the page before ended ([`PageCursor`]),
//! and the SQL both SQL backends run for it ([`page_sql`]), so that they
//! differ only in their dialect.
//!
//! Pages are keyset pages on `(created, id)`, newest first: the next page
//! holds the jobs strictly older than the cursor, the last job shown. A
//! job created between two pages is newer than every cursor handed out, so
//! it never shifts a page: no job is shown twice or skipped, as an offset
//! would. Each filter the backends index (status, runbook, plan, trigger)
//! reads its index from the cursor on, and a page stops after `limit + 1`
//! rows: a page costs the same with 100,000 jobs as with 100. The text
//! search `q` (a substring, which no B-tree index serves) walks the jobs
//! newest first from the cursor and stops once the page is full: it reads
//! as many jobs as lie between the matches.

use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

use crate::job::{JobRecord, JobStatus};

/// Which jobs a page holds: those every filter given matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    /// The runbook's file name, whole.
    pub runbook: Option<String>,
    /// The plan's name, whole.
    pub plan: Option<String>,
    /// The trigger's label, whole (`webhook:NAME`, `cli:USER`, ...).
    pub trigger: Option<String>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Text the job's id, runbook, plan name or trigger label holds
    /// (case-sensitive).
    pub q: Option<String>,
}

impl JobFilter {
    /// Whether `job` matches: the rule the SQL of [`page_sql`] states, for
    /// tests to check pages against.
    pub fn matches(&self, job: &JobRecord) -> bool {
        self.status.is_none_or(|s| s == job.state)
            && self.runbook.as_ref().is_none_or(|r| *r == job.runbook)
            && self.plan.as_ref().is_none_or(|p| *p == job.spec.plan.name)
            && self.trigger.as_ref().is_none_or(|t| *t == job.trigger)
            && self.since.is_none_or(|t| job.created >= t)
            && self.until.is_none_or(|t| job.created < t)
            && self.q.as_ref().is_none_or(|q| {
                [&job.id, &job.runbook, &job.spec.plan.name, &job.trigger]
                    .iter()
                    .any(|field| field.contains(q.as_str()))
            })
    }
}

/// Where a page ended: its last job's creation time (in milliseconds, what
/// stores keep) and id. As text (an API's `next`, a console link), it is
/// `<ms>.<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub created_ms: i64,
    pub id: String,
}

impl PageCursor {
    /// The cursor after `job`.
    pub fn after(job: &JobRecord) -> Self {
        PageCursor {
            created_ms: job.created.timestamp_millis(),
            id: job.id.clone(),
        }
    }
}

impl fmt::Display for PageCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.created_ms, self.id)
    }
}

/// A cursor that is not one a page handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cursor `{}` is not a page's `next` (`<ms>.<job id>`); pass the `next` of the page before as it \
     was given, or none for the first page",
    .0.escape_debug()
)]
pub struct BadCursor(pub String);

impl FromStr for PageCursor {
    type Err = BadCursor;

    fn from_str(text: &str) -> Result<Self, BadCursor> {
        let bad = || BadCursor(text.chars().take(100).collect());
        let (ms, id) = text.split_once('.').ok_or_else(bad)?;
        let created_ms = ms.parse().map_err(|_| bad())?;
        if id.is_empty() {
            return Err(bad());
        }
        Ok(PageCursor {
            created_ms,
            id: id.to_string(),
        })
    }
}

/// A page of jobs, newest first, and the cursor of the next page (`None`:
/// this is the last).
#[derive(Debug, Clone)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    pub next: Option<PageCursor>,
}

impl JobPage {
    /// The page of `limit` jobs from `rows`, the first `limit + 1` rows of
    /// [`page_sql`]'s query: one more than the page says there is a next.
    pub fn of(mut rows: Vec<JobRecord>, limit: usize) -> Self {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(PageCursor::after)
        } else {
            None
        };
        JobPage { jobs: rows, next }
    }
}

/// What a backend's SQL differs in.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Placeholder `n` (from 1): `?1` (SQLite), `$1` (PostgreSQL).
    pub placeholder: char,
    /// The expression of a job's plan name, as its index names it.
    pub plan: &'static str,
    /// The function `f(haystack, needle)` that is the needle's position
    /// (from 1), 0 if absent: `instr` (SQLite), `strpos` (PostgreSQL).
    pub position: &'static str,
}

/// A value [`page_sql`] binds, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// A job status, stored as the backend encodes it.
    Status(JobStatus),
    Text(String),
    Int(i64),
}

/// The `WHERE ... ORDER BY ...` of a page's query on table `jobs` (without
/// `LIMIT`: a backend reads `limit + 1` rows), with the values to bind.
/// Only the filters given are written, so that the planner picks the index
/// of the one that is.
pub fn page_sql(
    dialect: Dialect,
    filter: &JobFilter,
    after: Option<&PageCursor>,
) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut next = |bind: Bind| {
        binds.push(bind);
        format!("{}{}", dialect.placeholder, binds.len())
    };
    let mut terms: Vec<String> = Vec::new();
    if let Some(status) = filter.status {
        terms.push(format!("state = {}", next(Bind::Status(status))));
    }
    let exact = [
        ("runbook", &filter.runbook),
        (dialect.plan, &filter.plan),
        ("trigger", &filter.trigger),
    ];
    for (column, value) in exact {
        if let Some(value) = value {
            terms.push(format!("{column} = {}", next(Bind::Text(value.clone()))));
        }
    }
    if let Some(since) = filter.since {
        terms.push(format!(
            "created_ms >= {}",
            next(Bind::Int(since.timestamp_millis()))
        ));
    }
    if let Some(until) = filter.until {
        terms.push(format!(
            "created_ms < {}",
            next(Bind::Int(until.timestamp_millis()))
        ));
    }
    if let Some(q) = &filter.q {
        let q = next(Bind::Text(q.clone()));
        let fields = ["id", "runbook", dialect.plan, "trigger"]
            .map(|field| format!("{}({field}, {q}) > 0", dialect.position))
            .join(" OR ");
        terms.push(format!("({fields})"));
    }
    if let Some(after) = after {
        let ms = next(Bind::Int(after.created_ms));
        let id = next(Bind::Text(after.id.clone()));
        terms.push(format!("(created_ms, id) < ({ms}, {id})"));
    }
    let filter = if terms.is_empty() {
        String::new()
    } else {
        format!("WHERE {} ", terms.join(" AND "))
    };
    (format!("{filter}ORDER BY created_ms DESC, id DESC"), binds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_a_bad_one_is_named() {
        let cursor = PageCursor {
            created_ms: 1_764_680_000_123,
            id: "job-0193.x".to_string(),
        };
        assert_eq!(cursor.to_string().parse::<PageCursor>(), Ok(cursor));
        for bad in ["", "job-1", "12.", "x.job-1"] {
            let Err(e) = bad.parse::<PageCursor>() else {
                panic!("`{bad}` is no cursor");
            };
            assert!(
                e.to_string().contains("the `next` of the page before"),
                "{e}"
            );
        }
    }

    #[test]
    fn only_the_filters_given_are_written_and_bound_in_order() {
        let sqlite = Dialect {
            placeholder: '?',
            plan: "plan_name",
            position: "instr",
        };
        let (sql, binds) = page_sql(sqlite, &JobFilter::default(), None);
        assert_eq!(sql, "ORDER BY created_ms DESC, id DESC");
        assert!(binds.is_empty());
        let filter = JobFilter {
            status: Some(JobStatus::Failed),
            plan: Some("web".to_string()),
            q: Some("db".to_string()),
            ..Default::default()
        };
        let cursor = PageCursor {
            created_ms: 7,
            id: "job-7".to_string(),
        };
        let (sql, binds) = page_sql(sqlite, &filter, Some(&cursor));
        assert_eq!(
            sql,
            "WHERE state = ?1 AND plan_name = ?2 AND (instr(id, ?3) > 0 OR instr(runbook, ?3) > 0 OR \
             instr(plan_name, ?3) > 0 OR instr(trigger, ?3) > 0) AND (created_ms, id) < (?4, ?5) \
             ORDER BY created_ms DESC, id DESC"
        );
        assert_eq!(
            binds,
            [
                Bind::Status(JobStatus::Failed),
                Bind::Text("web".to_string()),
                Bind::Text("db".to_string()),
                Bind::Int(7),
                Bind::Text("job-7".to_string()),
            ]
        );
    }
}
