//! Pages of jobs ([`JobStore::page`]): filters, order, cursors, limits.

use std::collections::HashSet;

use super::fixtures::{ids, spec, Must, MODULE};
use super::Backend;
use drbook_core::job::{JobRecord, JobStatus, NewJob, Trigger};
use drbook_core::module::digest;
use drbook_core::store::{JobFilter, JobStore, PageCursor};

/// The jobs the scenario makes: runbook, plan and user of each, in order.
fn kinds(n: usize) -> (&'static str, &'static str, &'static str) {
    let runbook = ["failover.wasm", "drill.wasm"][n % 2];
    let plan = ["web", "db", "cache"][n % 3];
    let user = ["alice", "bob"][n / 7 % 2];
    (runbook, plan, user)
}

async fn create(store: &dyn JobStore, n: usize) -> String {
    let (runbook, plan, user) = kinds(n);
    let mut spec = spec(Trigger::CommandLine {
        user: user.to_string(),
    });
    spec.plan.name = plan.to_string();
    let job = NewJob {
        digest: &digest(MODULE),
        runbook,
        spec: &spec,
    };
    store.create(job, MODULE).await.must("create a job");
    spec.job_id
}

/// Every job of `filter`, page after page of `limit`: each page is full
/// but the last, which alone has no `next`. `between` runs after each page
/// but the last (the next page is asked for after it).
async fn walk(
    store: &dyn JobStore,
    filter: &JobFilter,
    limit: usize,
    mut between: impl AsyncFnMut(),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut after: Option<PageCursor> = None;
    for _ in 0..1000 {
        let page = store
            .page(filter, after.as_ref(), limit)
            .await
            .must("read a page of jobs");
        assert!(
            page.jobs.len() <= limit,
            "a page of limit {limit} holds {} jobs",
            page.jobs.len()
        );
        for job in &page.jobs {
            assert!(
                filter.matches(job),
                "{filter:?} shows a job it does not match: {job:?}"
            );
        }
        let Some(next) = page.next else {
            seen.extend(ids(page.jobs));
            return seen;
        };
        assert_eq!(
            page.jobs.len(),
            limit,
            "a page with a next page is full ({filter:?})"
        );
        assert_eq!(
            Some(&next),
            page.jobs.last().map(PageCursor::after).as_ref(),
            "a page's next is its last job"
        );
        seen.extend(ids(page.jobs));
        after = Some(next);
        between().await;
    }
    panic!("paging {filter:?} by {limit} does not end");
}

/// The ids of `jobs` that `filter` matches, in their order.
fn matching(jobs: &[JobRecord], filter: &JobFilter) -> Vec<String> {
    let kept = jobs.iter().filter(|j| filter.matches(j)).cloned();
    ids(kept.collect())
}

/// Jobs are paged newest first by (created, id), filtered by status,
/// runbook, plan, trigger, time and text, in pages of at most the limit
/// that follow on from each other by their cursors: every matching job
/// once, across pages, also when jobs are created between the pages.
pub async fn jobs_are_paged_newest_first_by_filter_and_cursor(backend: &impl Backend) {
    let store = backend.open().await;
    let empty = store
        .page(&JobFilter::default(), None, 10)
        .await
        .must("a page of an empty store");
    assert!(empty.jobs.is_empty() && empty.next.is_none());

    let mut made = Vec::new();
    for n in 0..14 {
        made.push(create(&*store, n).await);
    }
    let result = serde_json::json!({});
    for id in made.iter().step_by(4) {
        let (status, reason) = (JobStatus::Failed, Some("it broke"));
        store
            .finish(id, status, reason, &result)
            .await
            .must("fail a job");
    }
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();

    // Another process's reader pages as this one wrote.
    let reader = backend.open().await;
    let all = reader
        .page(&JobFilter::default(), None, 100)
        .await
        .must("one page of every job");
    assert_eq!(ids(all.jobs.clone()), newest_first, "newest first");
    assert!(all.next.is_none(), "a page holding every job is the last");
    let jobs = all.jobs;
    for pair in jobs.windows(2) {
        assert!(
            (pair[0].created, &pair[0].id) > (pair[1].created, &pair[1].id),
            "ordered by (created, id), newest first: {} then {}",
            pair[0].id,
            pair[1].id
        );
    }

    let text = |s: &str| Some(s.to_string());
    let middle = &jobs[jobs.len() / 2];
    // How many of the scenario's jobs each matches (the time range's
    // depends on the clock: checked below).
    let filters = [
        (JobFilter::default(), Some(14)),
        (
            JobFilter {
                status: Some(JobStatus::Failed),
                ..Default::default()
            },
            Some(4),
        ),
        (
            JobFilter {
                status: Some(JobStatus::New),
                ..Default::default()
            },
            Some(10),
        ),
        (
            JobFilter {
                status: Some(JobStatus::Completed),
                ..Default::default()
            },
            Some(0),
        ),
        (
            JobFilter {
                runbook: text("drill.wasm"),
                ..Default::default()
            },
            Some(7),
        ),
        (
            JobFilter {
                runbook: text("drill"),
                ..Default::default()
            },
            Some(0),
        ),
        (
            JobFilter {
                plan: text("db"),
                ..Default::default()
            },
            Some(5),
        ),
        (
            JobFilter {
                trigger: text("cli:bob"),
                ..Default::default()
            },
            Some(7),
        ),
        (
            JobFilter {
                plan: text("web"),
                trigger: text("cli:alice"),
                ..Default::default()
            },
            Some(3),
        ),
        (
            JobFilter {
                since: Some(middle.created),
                ..Default::default()
            },
            None,
        ),
        (
            JobFilter {
                until: Some(middle.created),
                ..Default::default()
            },
            None,
        ),
        (
            JobFilter {
                q: text("drill"),
                ..Default::default()
            },
            Some(7),
        ),
        (
            JobFilter {
                q: text("cach"),
                status: Some(JobStatus::New),
                ..Default::default()
            },
            Some(3),
        ),
        (
            JobFilter {
                q: text(&made[5][made[5].len() - 12..]),
                ..Default::default()
            },
            Some(1),
        ),
        (
            JobFilter {
                q: text("CLI:"),
                ..Default::default()
            },
            Some(0),
        ),
    ];
    for (filter, count) in &filters {
        let expected = matching(&jobs, filter);
        if let Some(count) = count {
            assert_eq!(
                expected.len(),
                *count,
                "the scenario's jobs {filter:?} matches"
            );
        }
        for limit in [1, 3, 14, 100] {
            let paged = walk(&*reader, filter, limit, async || {}).await;
            assert_eq!(paged, expected, "{filter:?} in pages of {limit}");
        }
    }
    // The time range splits the jobs at the middle one: since holds it.
    let since = matching(&jobs, &filters[9].0);
    let until = matching(&jobs, &filters[10].0);
    assert!(since.contains(&middle.id) && !until.contains(&middle.id));
    assert_eq!(since.len() + until.len(), jobs.len());

    // Jobs created between pages are newer than every cursor: the walk
    // shows each job it started with once, and none of them.
    let mut created_between = Vec::new();
    let paged = walk(&*store, &JobFilter::default(), 4, async || {
        let n = 100 + created_between.len();
        let id = create(&*store, n).await;
        created_between.push(id);
    })
    .await;
    assert_eq!(paged, newest_first, "the pages as they were before");
    assert_eq!(
        created_between.len(),
        3,
        "a job between each two of 4 pages"
    );
    let unique: HashSet<&String> = paged.iter().collect();
    assert_eq!(unique.len(), paged.len(), "no job twice");
    let first = store
        .page(&JobFilter::default(), None, 3)
        .await
        .must("the first page again");
    let newest: Vec<String> = created_between.iter().rev().cloned().collect();
    assert_eq!(ids(first.jobs), newest, "a new walk starts with them");

    // A cursor whose job is gone (pruned) still says where a page ends.
    let after = PageCursor::after(&jobs[2]);
    let result = serde_json::json!({});
    let end = store.finish(&jobs[2].id, JobStatus::Completed, None, &result);
    end.await.must("end a job");
    let later = chrono::Utc::now() + chrono::TimeDelta::minutes(1);
    store.prune(later).await.must("prune the ended jobs");
    let kept: Vec<String> = jobs[3..]
        .iter()
        .filter(|j| j.state != JobStatus::Failed)
        .take(2)
        .map(|j| j.id.clone())
        .collect();
    let page = store
        .page(&JobFilter::default(), Some(&after), 2)
        .await
        .must("a page after a pruned job's cursor");
    assert_eq!(ids(page.jobs), kept);
}
