//! `drbook fabric jobs`: Site Recovery's jobs (`replicationJobs`), the
//! vault's record of every operation, newest first: what `fabric history`
//! is for the simulator.

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use super::{Global, InputError, Outcome};
use crate::cli::table;
use crate::config::FabricChoice;
use drbook_fabric_azure::wire;

#[derive(Args)]
pub struct JobsArgs {
    /// Only the jobs started since then: a time (RFC 3339,
    /// `2026-12-01T08:00:00Z`) or a duration ago (`90m`, `24h`, `7d`).
    #[arg(long, value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
}

/// `--since`: a time, or a duration before now.
fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    let ago = drbook_runtime::parse_duration(text).map_err(|_| {
        format!(
            "`{text}` is neither a time nor a duration; write e.g. `2026-12-01T08:00:00Z`, \
             `90m`, `24h` or `7d`"
        )
    })?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| Utc::now().checked_sub_signed(ago))
        .ok_or_else(|| format!("`{text}` reaches back too far"))
}

/// One job as `--json` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    name: &'a str,
    id: &'a str,
    operation: Option<&'a str>,
    scenario: Option<&'a str>,
    state: Option<&'a str>,
    target: Option<&'a str>,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
}

impl<'a> Row<'a> {
    fn of(job: &'a wire::Job) -> Self {
        let p = &job.properties;
        Row {
            name: &job.name,
            id: &job.id,
            operation: p.friendly_name.as_deref(),
            scenario: p.scenario_name.as_deref(),
            state: p.state.as_deref(),
            target: p.target_object_name.as_deref(),
            start_time: p.start_time,
            end_time: p.end_time,
        }
    }
}

pub async fn run(global: &Global, args: JobsArgs) -> anyhow::Result<Outcome> {
    let FabricChoice::Azure(config) = &global.config()?.fabric else {
        return Err(InputError::new(
            "fabric jobs lists Site Recovery's jobs of an Azure vault, and this host drives the \
             simulator: its operations are `drbook fabric history`",
        )
        .into());
    };
    let jobs = crate::cli::open_azure(config)?.jobs(args.since).await?;
    let rows: Vec<Row> = jobs.iter().map(Row::of).collect();
    if global.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Success);
    }
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or("-".to_string(), |t| {
            t.format("%Y-%m-%d %H:%M:%S").to_string()
        })
    };
    let text = |s: Option<&str>| s.unwrap_or("-").to_string();
    let headers = ["STARTED", "ENDED", "NAME", "OPERATION", "STATE", "TARGET"];
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                time(row.start_time),
                time(row.end_time),
                row.name.to_string(),
                text(row.operation.or(row.scenario)),
                text(row.state),
                text(row.target),
            ]
        })
        .collect();
    println!("{}", table::render(&headers, &table_rows));
    Ok(Outcome::Success)
}
