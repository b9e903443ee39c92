//! `drbook fabric history`: the audit trail: every operation, and every start
//! refused before it reached the fabric (outside its job's scope), shown
//! `Refused` with its reason.

use super::{Global, Outcome};
use crate::cli::table;

pub fn run(global: &Global) -> anyhow::Result<Outcome> {
    let sim = crate::cli::open_fabric(global)?;
    let history = sim.history()?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&history)?);
        return Ok(Outcome::Success);
    }
    let headers = [
        "STARTED",
        "ID",
        "VM",
        "OPERATION",
        "OPTIONS",
        "INITIATOR",
        "OUTCOME",
    ];
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|entry| {
            let outcome = match &entry.error {
                Some(error) => format!("{:?}: {error}", entry.outcome),
                None => format!("{:?}", entry.outcome),
            };
            vec![
                entry.start_time.format("%Y-%m-%d %H:%M:%S").to_string(),
                entry.id.clone(),
                entry.vm.clone(),
                entry.operation.to_string(),
                entry.options.to_string(),
                entry.initiator.clone(),
                outcome,
            ]
        })
        .collect();
    println!("{}", table::render(&headers, &rows));
    Ok(Outcome::Success)
}
