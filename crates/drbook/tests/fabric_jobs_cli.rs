//! `drbook fabric jobs` against the ARM emulator of `drbook fabric
//! serve-arm` (`common/azure.rs`): after failovers
//! started with `fabric op`, Site Recovery's job list shows each one (its
//! operation, state, target and times), every page of it (`nextLink`),
//! newest first, and `--since` bounds it. On the simulator it points to
//! `fabric history`, and the simulator-only commands on Azure point to it.

use serde_json::Value;

#[path = "common/azure.rs"]
mod azure;
#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;

use azure::{text, AzureHost};

#[test]
fn the_failover_jobs_are_listed_newest_first_across_pages() {
    let (sim, host) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Two jobs a page: three failovers take two pages.
    let azure = AzureHost::start(sim.path(), host.path(), &[], Some(2));
    for vm in ["web-01", "web-02", "sql-01"] {
        let op = azure.run(&["fabric", "op", "planned-failover", vm, "--wait"]);
        assert!(op.status.success(), "{vm}: {}", text(&op));
    }

    let listed = azure.run(&["--json", "fabric", "jobs"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let jobs: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let jobs = jobs.as_array().unwrap();
    let targets: Vec<&str> = jobs.iter().map(|j| j["target"].as_str().unwrap()).collect();
    assert_eq!(
        targets,
        ["sql-01", "web-02", "web-01"],
        "every page, newest first"
    );
    for job in jobs {
        assert_eq!(job["operation"], "Planned failover", "{job}");
        assert_eq!(job["scenario"], "PlannedFailover", "{job}");
        assert_eq!(job["state"], "Succeeded", "{job}");
        assert!(
            job["id"].as_str().unwrap().ends_with(&format!(
                "/replicationJobs/{}",
                job["name"].as_str().unwrap()
            )),
            "{job}"
        );
        assert!(
            job["endTime"].as_str() >= job["startTime"].as_str(),
            "{job}"
        );
    }

    let table = azure.run(&["fabric", "jobs", "--since", "1h"]);
    assert!(table.status.success(), "{}", text(&table));
    let said = text(&table);
    assert!(
        said.contains("OPERATION") && said.contains("TARGET"),
        "{said}"
    );
    assert_eq!(said.matches("Planned failover").count(), 3, "{said}");

    let later = azure.run(&[
        "--json",
        "fabric",
        "jobs",
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(later.status.success(), "{}", text(&later));
    assert_eq!(
        serde_json::from_slice::<Value>(&later.stdout).unwrap(),
        serde_json::json!([]),
        "no job started after --since"
    );

    let bad = azure.run(&["fabric", "jobs", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("is neither a time nor a duration"),
        "{}",
        text(&bad)
    );

    // The simulator-only commands on Azure name the way to its history.
    let history = azure.run(&["fabric", "history"]);
    assert_eq!(history.status.code(), Some(2), "{}", text(&history));
    assert!(
        text(&history).contains("`drbook fabric jobs`"),
        "{}",
        text(&history)
    );

    // And on the simulator, `fabric jobs` names `fabric history`.
    let on_sim = azure.on_simulator(&["fabric", "jobs"]);
    assert_eq!(on_sim.status.code(), Some(2), "{}", text(&on_sim));
    assert!(
        text(&on_sim).contains("`drbook fabric history`"),
        "{}",
        text(&on_sim)
    );
}
