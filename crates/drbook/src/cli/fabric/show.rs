//! `drbook fabric show`: one row per VM, like the portal's replicated items.

use super::{Global, Outcome};
use crate::cli::table;
use drbook_core::fabric::ProtectedItem;

pub async fn run(global: &Global) -> anyhow::Result<Outcome> {
    let sim = crate::cli::open_backend(global)?;
    let items = sim.list_items().await?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(Outcome::Success);
    }
    let headers = [
        "NAME",
        "ACTIVE",
        "STATE",
        "TEST FAILOVER",
        "HEALTH",
        "RPO",
        "ALLOWED",
        "SCENARIO",
    ];
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    println!("{}", table::render(&headers, &rows));
    if let Ok(sim) = crate::cli::open_fabric(global) {
        if let Some(faults) = sim.faults()?.summary() {
            println!("\nfaults: {faults}");
        }
    }
    Ok(Outcome::Success)
}

fn row(item: &ProtectedItem) -> Vec<String> {
    let allowed: Vec<String> = item
        .allowed_operations
        .iter()
        .map(|op| format!("{op:?}"))
        .collect();
    let scenario = item.current_scenario.as_ref().map_or(String::new(), |s| {
        format!("{} {}% ({})", s.scenario_name, s.percent_complete, s.job_id)
    });
    vec![
        item.name.clone(),
        format!("{:?} ({})", item.active_location, item.active_region()),
        format!("{:?}", item.protection_state),
        format!("{:?}", item.test_failover_state),
        format!("{:?}", item.replication_health),
        item.rpo_seconds.map_or("-".to_string(), duration),
        if allowed.is_empty() {
            "-".to_string()
        } else {
            allowed.join(",")
        },
        scenario,
    ]
}

/// `75` → `1m15s`, `3600` → `1h0m0s`.
fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}
