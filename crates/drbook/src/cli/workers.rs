//! `drbook workers`: the lease owners of the job store (workers, `run`s,
//! `serve`s, on any host), what each holds and its last heartbeat, live ones
//! first; those whose leases all lapsed are shown lapsed: a worker that died,
//! whose jobs wait for another to take them over.

use chrono::{DateTime, Utc};
use clap::Args;
use std::time::Duration;

use super::{Global, Outcome};
use drbook_core::store::WorkerRow;
use drbook_runtime::parse_duration;

#[derive(Args)]
pub struct WorkersArgs {
    /// Also show owners whose leases all ended within this period (e.g.
    /// `10m`, `1d`): older ones are long gone, or their jobs long ended.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    lapsed_within: Duration,
}

pub async fn run(global: &Global, args: WorkersArgs) -> anyhow::Result<Outcome> {
    let store = super::open_store(global)?;
    let workers = store.workers(args.lapsed_within).await?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&workers)?);
    } else {
        println!("{}", table(&workers, Utc::now()));
    }
    Ok(Outcome::Success)
}

fn table(workers: &[WorkerRow], now: DateTime<Utc>) -> String {
    let headers = ["OWNER", "STATUS", "JOBS", "LAST HEARTBEAT", "LEASE ENDS"];
    let rows: Vec<Vec<String>> = workers
        .iter()
        .map(|w| {
            let jobs: Vec<String> = w
                .jobs
                .iter()
                .map(|j| format!("{} ({}, {})", j.id, j.runbook, j.plan))
                .collect();
            vec![
                w.owner.clone(),
                if w.lapsed { "lapsed" } else { "live" }.to_string(),
                jobs.join(", "),
                w.last_heartbeat
                    .map_or_else(|| "-".to_string(), |t| relative(t, now)),
                relative(w.lease_until, now),
            ]
        })
        .collect();
    super::table::render(&headers, &rows)
}

/// `t` from `now`: "3 s ago", "in 25 s", minutes and hours past two of them.
/// The store's clock stamps `t`, which may be a little ahead of this host's.
fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let n = secs.unsigned_abs();
    let amount = match n {
        0..120 => format!("{n} s"),
        120..7200 => format!("{} min", n / 60),
        _ => format!("{} h", n / 3600),
    };
    if secs >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drbook_core::store::HeldJob;

    #[test]
    fn a_row_per_owner_with_its_jobs_and_times_from_now() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let at = |secs| now + chrono::TimeDelta::seconds(secs);
        let job = |id: &str| HeldJob {
            id: id.to_string(),
            runbook: "failover.wasm".to_string(),
            plan: "sql".to_string(),
        };
        let workers = [
            WorkerRow {
                owner: "worker-ops@a#7".to_string(),
                lapsed: false,
                jobs: vec![job("j1"), job("j2")],
                last_heartbeat: Some(at(-3)),
                lease_until: at(27),
            },
            WorkerRow {
                owner: "worker-ops@b#9".to_string(),
                lapsed: true,
                jobs: vec![job("j3")],
                last_heartbeat: None,
                lease_until: at(-600),
            },
        ];
        assert_eq!(
            table(&workers, now),
            "OWNER           STATUS  JOBS                                              LAST HEARTBEAT  LEASE ENDS\n\
             worker-ops@a#7  live    j1 (failover.wasm, sql), j2 (failover.wasm, sql)  3 s ago         in 27 s\n\
             worker-ops@b#9  lapsed  j3 (failover.wasm, sql)                           -               10 min ago"
        );
        assert_eq!(relative(at(-7200), now), "2 h ago");
    }
}
