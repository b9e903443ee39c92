//! `drbook --server URL jobs ...`: the same commands on a server's job
//! store, through its API, printed by the same functions as the local ones.
//! What needs the store itself (resume, retry, prune, a rerun run here with
//! `--wait`) is refused: run it on the server's host.

use super::{done, list, logs, show, Global, JobsCommand, Outcome, Source};
use crate::cli::remote::Remote;
use crate::cli::InputError;
use drbook_core::job::JobRecord;
use drbook_triggers::{Decided, Decision, Stopped};

#[derive(serde::Deserialize)]
struct Page {
    jobs: Vec<JobRecord>,
}

pub(super) async fn run(
    global: &Global,
    server: &Remote,
    command: JobsCommand,
) -> anyhow::Result<Outcome> {
    let decide = |id: String, approved: bool, comment: String| async move {
        let body = serde_json::to_value(Decision { approved, comment })?;
        let decided: Decided = server
            .post(&format!("/api/v1/jobs/{id}/decision"), &body)
            .await?;
        done(decided)
    };
    match command {
        JobsCommand::List { status, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(status) = status {
                query.push(("status", format!("{status:?}")));
            }
            let page: Page = server.get("/api/v1/jobs", &query).await?;
            list(global, &page.jobs)
        }
        JobsCommand::Show { id } => {
            show(&server.get(&format!("/api/v1/jobs/{id}"), &[]).await?)
        }
        JobsCommand::Logs { id, follow } => {
            let source = Source::Remote(server);
            let job = source.get(&id).await?;
            logs(global, source, &job, follow).await
        }
        JobsCommand::Approve { id, comment } => decide(id, true, comment).await,
        JobsCommand::Reject { id, comment } => decide(id, false, comment).await,
        JobsCommand::Rerun { id, wait: false, .. } => {
            let path = format!("/api/v1/jobs/{id}/rerun");
            let rerun: JobRecord = server.post(&path, &serde_json::json!({})).await?;
            eprintln!(
                "job {} reruns job {id} from the top (module {}, the same plan and inputs), started by {}",
                rerun.id,
                rerun.digest,
                rerun.spec.trigger.started_by().unwrap_or("the server")
            );
            println!("{}", rerun.id);
            Ok(Outcome::Success)
        }
        JobsCommand::Stop { id } => {
            let path = format!("/api/v1/jobs/{id}/stop");
            let stopped: Stopped = server.post(&path, &serde_json::json!({})).await?;
            done(stopped)
        }
        _ => Err(InputError::new(
            "with --server, `drbook jobs` lists, shows, follows, approves, rejects, reruns (without --wait) and \
             stops jobs; resuming, retrying and pruning need the job store: run them on the server's host, \
             without --server",
        )
        .into()),
    }
}
