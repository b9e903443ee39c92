//! The backend reads the REST specification's own example bodies
//! (`tests/fixtures/`, see its README for each source): items, recovery
//! points and jobs map onto drbook's model, the 202's headers are
//! understood, the action bodies drbook sends have the examples' shape, and
//! ARM's error bodies become the errors the port promises.

use chrono::Utc;
use drbook_core::fabric::{
    AllowedOperation, Direction, FabricError, Health, Location, OperationKind, OperationRequest,
    OperationState, ProtectionState, RecoveryPointType, TestFailoverState,
};
use drbook_fabric_azure::{
    error_of, map, request, retry_after, wire, Answer, ArmError, ImportError, Imported,
};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn body<T: serde::de::DeserializeOwned>(example: &Value, status: &str) -> T {
    serde_json::from_value(example["responses"][status]["body"].clone())
        .unwrap_or_else(|e| panic!("{}: {e}", example["operationId"]))
}

fn points() -> Vec<wire::RecoveryPoint> {
    let list: wire::Page<wire::RecoveryPoint> = body(
        &fixture("RecoveryPoints_ListByReplicationProtectedItems.json"),
        "200",
    );
    assert_eq!(list.next_link, None);
    list.value
}

#[test]
fn an_idle_protected_item_reads_as_protected_and_idle() {
    let raw: wire::Item = body(&fixture("ReplicationProtectedItems_Get.json"), "200");
    let item = map::item(&raw, &points(), Utc::now());
    assert_eq!(
        item.name, "vm1",
        "the friendly name, not the item's GUID name"
    );
    assert!(item
        .id
        .ends_with("/replicationProtectedItems/f8491e4f-817a-40dd-a90c-af773978c75b"));
    assert_eq!(
        (
            item.active_location,
            item.protection_state,
            item.test_failover_state
        ),
        (
            Location::Primary,
            ProtectionState::Protected,
            TestFailoverState::None
        )
    );
    assert_eq!(item.current_scenario, None, "the 1753 sentinel is idle");
    assert_eq!(item.replication_health, Health::Normal);
    // Sorted, and with DisableProtection, which Azure lists and drbook keeps.
    assert_eq!(
        item.allowed_operations,
        [
            AllowedOperation::PlannedFailover,
            AllowedOperation::UnplannedFailover,
            AllowedOperation::TestFailover,
            AllowedOperation::DisableProtection,
        ]
    );
    // A Hyper-V item has no A2A regions: the fabrics' names stand in.
    assert_eq!(
        (item.primary_region.as_str(), item.recovery_region.as_str()),
        ("cloud1", "Microsoft Azure")
    );
    assert_eq!(item.rpo_seconds, None, "no A2A RPO fields");
    assert_eq!(item.recovery_points.len(), 2);
}

#[test]
fn a_failed_over_item_reads_as_commit_pending_with_its_recovery_point() {
    let example = fixture("ReplicationProtectedItems_PlannedFailover.json");
    let raw: wire::Item = body(&example, "200");
    let item = map::item(&raw, &[], Utc::now());
    assert_eq!(
        (item.active_location, item.protection_state),
        (Location::Recovery, ProtectionState::FailedOverCommitPending),
        "PlannedFailoverCommitRequired"
    );
    assert_eq!(
        item.test_failover_state,
        TestFailoverState::MarkedForDeletion
    );
    assert_eq!(
        item.allowed_operations,
        [
            AllowedOperation::Commit,
            AllowedOperation::ChangePit,
            AllowedOperation::DisableProtection
        ],
        "CompleteMigration is no operation of drbook's"
    );
    assert!(
        item.failover_recovery_point_id
            .as_deref()
            .is_some_and(|id| id == "b22134ea-620c-474b-9fa5-3c1cb47708e3"),
        "a point is named by its name within the item"
    );
    assert_eq!(
        item.last_successful_failover_time.map(|t| t.to_rfc3339()),
        Some("2017-04-26T06:37:23.157865500+00:00".to_string())
    );

    // The 202: Retry-After in seconds, and an Azure-AsyncOperation that
    // names no job (ASR's job is found by the item or the request id).
    let headers = &example["responses"]["202"]["headers"];
    let mut map = reqwest::header::HeaderMap::new();
    map.insert(
        "retry-after",
        headers["Retry-After"].to_string().parse().unwrap(),
    );
    assert_eq!(retry_after(&map), Some(std::time::Duration::from_secs(30)));
    let operation = headers["Azure-AsyncOperation"].as_str().unwrap();
    assert_eq!(drbook_fabric_azure::job_in_url(operation), None);
    assert_eq!(
        drbook_fabric_azure::job_in_url(&format!(
            "{}/replicationJobs/abc-123?api-version=2025-08-01",
            "https://management.azure.com/subscriptions/s/resourceGroups/g/providers/Microsoft.RecoveryServices/vaults/v"
        )),
        Some("abc-123".to_string())
    );
}

#[test]
fn an_unplanned_failover_state_and_critical_health_are_read() {
    let raw: wire::Item = body(
        &fixture("ReplicationProtectedItems_ApplyRecoveryPoint.json"),
        "200",
    );
    let item = map::item(&raw, &[], Utc::now());
    assert_eq!(
        item.protection_state,
        ProtectionState::FailedOverCommitPending,
        "UnplannedFailoverCommitPendingStatesBegin"
    );
    assert_eq!(item.replication_health, Health::Critical);
}

#[test]
fn recovery_points_are_newest_last_with_their_ids_and_types() {
    let raw: wire::Item = body(&fixture("ReplicationProtectedItems_Get.json"), "200");
    let mut reversed = points();
    reversed.reverse();
    let item = map::item(&raw, &reversed, Utc::now());
    let points = &item.recovery_points;
    assert!(points[0].recovery_point_time < points[1].recovery_point_time);
    assert_eq!(
        points[1].id, "34cb2d05-e730-4d3f-b96b-a60a5e92acb2",
        "a point is named by its name within the item"
    );
    assert!(points
        .iter()
        .all(|p| p.recovery_point_type == RecoveryPointType::CrashConsistent));
}

/// The bodies drbook POSTs have the shape of the examples' inputs.
#[test]
fn action_bodies_have_the_examples_shape() {
    let raw: wire::Item = body(&fixture("ReplicationProtectedItems_Get.json"), "200");
    let item = map::item(&raw, &points(), Utc::now());
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };

    let planned = fixture("ReplicationProtectedItems_PlannedFailover.json");
    let input = &planned["parameters"]["failoverInput"];
    let (action, sent) = request::action(
        &OperationRequest::PlannedFailover {
            direction: Direction::PrimaryToRecovery,
        },
        &raw,
        &item,
    )
    .unwrap();
    let sent = sent.unwrap();
    assert_eq!(action, "plannedFailover");
    assert_eq!(keys(&sent), keys(input));
    // The example's provider input is Hyper-V's: the specification has no
    // A2A kind of it, so an A2A item's input is the direction alone.
    assert_eq!(
        input["properties"]["providerSpecificDetails"]["instanceType"],
        "HyperVReplicaAzure"
    );
    assert_eq!(keys(&sent["properties"]), vec!["failoverDirection"]);
    assert_eq!(
        sent["properties"]["failoverDirection"],
        input["properties"]["failoverDirection"]
    );

    let apply = fixture("ReplicationProtectedItems_ApplyRecoveryPoint.json");
    let input = &apply["parameters"]["applyRecoveryPointInput"];
    let point = format!("{}/recoveryPoints/{}", item.id, item.recovery_points[0].id);
    let (action, sent) = request::action(
        &OperationRequest::ChangeRecoveryPoint {
            recovery_point_id: item.recovery_points[0].id.clone(),
        },
        &raw,
        &item,
    )
    .unwrap();
    let sent = sent.unwrap();
    assert_eq!(action, "applyRecoveryPoint");
    assert_eq!(keys(&sent["properties"]), keys(&input["properties"]));
    assert_eq!(
        sent["properties"]["recoveryPointId"], point,
        "a point's name is sent as its full id"
    );

    let (action, sent) = request::action(&OperationRequest::Commit, &raw, &item).unwrap();
    assert_eq!(
        (action, sent),
        ("failoverCommit", None),
        "commit takes no body"
    );
}

#[test]
fn a_job_reads_with_its_state_request_id_and_progress() {
    let job: wire::Job = body(&fixture("ReplicationJobs_Get.json"), "200");
    assert_eq!(job.name, "32ea4b9e-de62-49a1-b062-7864d5c3b897");
    assert_eq!(
        map::job_state(job.properties.state.as_deref()),
        OperationState::Succeeded
    );
    assert_eq!(
        map::job_request_id(&job),
        Some("fc8e9c8f-0e76-4b6b-8e7e-d37c1b31eba0"),
        "the first word of activityId is the client request id"
    );
    assert_eq!(map::job_percent(&job), 100);
    assert_eq!(
        job.properties
            .scenario_name
            .as_deref()
            .and_then(map::operation_kind),
        None,
        "DeleteRecoveryPlan is no operation drbook drives"
    );
    for (scenario, kind) in [
        ("PlannedFailover", OperationKind::PlannedFailover),
        ("UnplannedFailover", OperationKind::UnplannedFailover),
        ("TestFailover", OperationKind::TestFailover),
        ("TestFailoverCleanup", OperationKind::TestFailoverCleanup),
        ("Commit", OperationKind::Commit),
        ("CancelFailover", OperationKind::CancelFailover),
        ("ChangePit", OperationKind::ChangeRecoveryPoint),
        ("ReverseReplicate", OperationKind::Reprotect),
    ] {
        assert_eq!(map::operation_kind(scenario), Some(kind), "{scenario}");
    }
}

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        headers: reqwest::header::HeaderMap::new(),
        body: bytes::Bytes::from(body.to_string()),
    }
}

#[test]
fn arm_error_bodies_map_onto_the_ports_errors() {
    let refused = error_of(&answer(
        409,
        r#"{"error":{"code":"ProtectionEntityInvalidState","message":"The operation is not allowed in the current state of the protected item."}}"#,
    ));
    assert_eq!(
        refused,
        ArmError::Status {
            status: 409,
            code: "ProtectionEntityInvalidState".into(),
            message: "The operation is not allowed in the current state of the protected item."
                .into()
        }
    );
    match error_of(&answer(
        429,
        r#"{"error":{"code":"TooManyRequests","message":"retry"}}"#,
    ))
    .into_fabric()
    {
        FabricError::Transient { .. } => {}
        other => panic!("429: {other:?}"),
    }
    match error_of(&answer(503, "")).into_fabric() {
        FabricError::Transient { message } => {
            assert!(message.contains("Service Unavailable"), "{message}")
        }
        other => panic!("503: {other:?}"),
    }
    match error_of(&answer(
        403,
        r#"{"error":{"code":"AuthorizationFailed","message":"no"}}"#,
    ))
    .into_fabric()
    {
        FabricError::InvalidRequest { message } => {
            assert!(message.contains("Site Recovery Contributor"), "{message}")
        }
        other => panic!("403: {other:?}"),
    }
    let nested = error_of(&answer(
        400,
        r#"{"error":{"code":"BadRequest","message":"failed","details":[{"code":"28150","message":"The VM is being shut down."}]}}"#,
    ));
    assert!(
        nested.to_string().contains("The VM is being shut down."),
        "{nested}"
    );
}

/// The protected items the recovery plan example names: the Get example's
/// item (`vm1`), and that item again under the plan's second id as `vm2`
/// (the specification has no example of it), read as the read model reads
/// them; `edit` changes the second before it is read.
fn plan_items(edit: impl FnOnce(&mut wire::Item)) -> Vec<drbook_core::fabric::ProtectedItem> {
    let first: wire::Item = body(&fixture("ReplicationProtectedItems_Get.json"), "200");
    let mut second = first.clone();
    second.id = first.id.replace(
        "f8491e4f-817a-40dd-a90c-af773978c75b",
        "c0c14913-3d7a-48ea-9531-cc99e0e686e6",
    );
    second.properties.friendly_name = Some("vm2".into());
    edit(&mut second);
    [first, second]
        .iter()
        .map(|raw| map::item(raw, &[], Utc::now()))
        .collect()
}

fn plan_example() -> Value {
    fixture("ReplicationRecoveryPlans_Get.json")["responses"]["200"]["body"].clone()
}

fn import(
    plan: Value,
    items: &[drbook_core::fabric::ProtectedItem],
) -> Result<Imported, ImportError> {
    let plan: wire::RecoveryPlan = serde_json::from_value(plan).unwrap();
    drbook_fabric_azure::recovery_plans::import(&plan, items)
}

#[test]
fn a_recovery_plan_imports_its_boot_groups_in_order_with_the_items_names() {
    let imported = import(plan_example(), &plan_items(|_| {})).unwrap();
    let plan = &imported.plan;
    assert_eq!(plan.name, "RPtest1");
    assert_eq!(
        (plan.primary_region.as_str(), plan.recovery_region.as_str()),
        ("cloud1", "Microsoft Azure"),
        "the items' regions (for Hyper-V items, their fabrics)"
    );
    let groups: Vec<(&str, Vec<&str>)> = plan
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.vms.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        groups,
        [("group-1", vec!["vm1"]), ("group-2", vec!["vm2"])],
        "Shutdown and Failover hold no VMs; items are ids in the plan, friendly names here"
    );
    assert!(plan
        .groups
        .iter()
        .all(|g| g.pre.is_empty() && g.post.is_empty()));
    assert_eq!(imported.notes, Vec::<String>::new());
}

#[test]
fn a_plan_item_that_is_no_protected_item_is_named_with_its_group() {
    let items = plan_items(|_| {});
    let err = import(plan_example(), &items[..1]).unwrap_err().to_string();
    assert!(
        err.contains("c0c14913-3d7a-48ea-9531-cc99e0e686e6 (Boot group (group 4 of the plan)"),
        "{err}"
    );
    assert!(err.contains("`drbook fabric show`"), "{err}");
    assert!(!err.contains("f8491e4f"), "vm1 is a protected item: {err}");
}

#[test]
fn two_items_of_one_name_or_two_pairs_of_regions_cannot_be_one_plan() {
    let twins = plan_items(|item| item.properties.friendly_name = Some("VM1".into()));
    match import(plan_example(), &twins).unwrap_err() {
        ImportError::AmbiguousName { name, ids, .. } => {
            assert_eq!(name.to_lowercase(), "vm1");
            assert_eq!(ids.len(), 2);
        }
        other => panic!("{other}"),
    }
    let elsewhere =
        plan_items(|item| item.properties.primary_fabric_friendly_name = Some("cloud2".into()));
    let err = import(plan_example(), &elsewhere).unwrap_err().to_string();
    assert!(
        err.contains("cloud1 → Microsoft Azure; cloud2 → Microsoft Azure"),
        "{err}"
    );
}

/// The example's plan with actions of the specification's three kinds
/// (`RecoveryPlanAction`: `actionName`, `failoverTypes`,
/// `failoverDirections`, `customDetails` by `instanceType`).
#[test]
fn actions_become_named_and_manual_steps_in_asrs_order() {
    let every = json_types(&["PlannedFailover", "UnplannedFailover", "TestFailover"]);
    let both = json_types(&["PrimaryToRecovery", "RecoveryToPrimary"]);
    let action = |name: &str, types: &Value, details: Value| {
        serde_json::json!({
            "actionName": name,
            "failoverTypes": types,
            "failoverDirections": both,
            "customDetails": details,
        })
    };
    let mut plan = plan_example();
    let groups = &mut plan["properties"]["groups"];
    groups[0]["startGroupActions"] = serde_json::json!([action(
        "stop-batch",
        &every,
        serde_json::json!({"instanceType": "ManualActionDetails", "description": "Stop the batch jobs"})
    )]);
    groups[2]["endGroupActions"] = serde_json::json!([action(
        "check-db",
        &every,
        serde_json::json!({"instanceType": "ScriptActionDetails", "path": "scripts/check.ps1", "fabricLocation": "Recovery"})
    )]);
    groups[3]["startGroupActions"] = serde_json::json!([
        action(
            "warm-cache",
            &json_types(&["TestFailover"]),
            serde_json::json!({"instanceType": "AutomationRunbookActionDetails", "runbookId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Automation/automationAccounts/a/runbooks/warm", "fabricLocation": "Recovery"})
        ),
        action(
            "approve",
            &every,
            serde_json::json!({"instanceType": "ManualActionDetails"})
        ),
    ]);
    let imported = import(plan, &plan_items(|_| {})).unwrap();
    let steps = |steps: &[drbook_core::plan::Step]| -> Vec<(String, Option<String>)> {
        steps
            .iter()
            .map(|s| (s.name.clone(), s.manual.clone()))
            .collect()
    };
    let [first, second] = &imported.plan.groups[..] else {
        panic!("{:?}", imported.plan.groups)
    };
    assert_eq!(
        steps(&first.pre),
        [(
            "stop-batch".to_string(),
            Some("Stop the batch jobs".to_string())
        )],
        "the Shutdown group's actions run before the first boot group"
    );
    assert_eq!(steps(&first.post), [("check-db".to_string(), None)]);
    assert_eq!(
        steps(&second.pre),
        [
            ("warm-cache".to_string(), None),
            ("approve".to_string(), Some("approve".to_string()))
        ],
        "a manual action without a description prompts with its name"
    );
    let notes = imported.notes.join("\n");
    assert!(
        notes.contains("Shutdown group (group 1 of the plan) run before the next group"),
        "{notes}"
    );
    assert!(notes.contains("`check-db` (end action 1 of Boot group (group 3 of the plan)) ran the script scripts/check.ps1"), "{notes}");
    assert!(notes.contains("runbooks/warm in Site Recovery"), "{notes}");
    assert!(
        notes.contains("`warm-cache` (start action 1 of Boot group (group 4 of the plan)) does not run in Site Recovery for PlannedFailover, UnplannedFailover"),
        "{notes}"
    );
}

fn json_types(names: &[&str]) -> Value {
    serde_json::json!(names)
}

#[test]
fn a_job_list_reads_every_job_with_its_target_and_times() {
    let list: wire::Page<wire::Job> = body(&fixture("ReplicationJobs_List.json"), "200");
    assert_eq!(list.next_link, None);
    let rows: Vec<(&str, &str, &str, &str)> = list
        .value
        .iter()
        .map(|job| {
            let p = &job.properties;
            (
                job.name.as_str(),
                p.friendly_name.as_deref().unwrap(),
                p.state.as_deref().unwrap(),
                p.target_object_name.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows[0],
        (
            "1557d73f-6244-491e-8f0b-d300f752240b",
            "Create replication policy",
            "Succeeded",
            "protectionprofile1"
        )
    );
    assert_eq!(rows.len(), 3);
    let job = &list.value[1];
    assert_eq!(
        job.properties.start_time.map(|t| t.to_rfc3339()),
        Some("2017-05-02T14:07:19.278433800+00:00".to_string())
    );
    assert!(job.properties.end_time > job.properties.start_time);
    assert!(list
        .value
        .iter()
        .all(|j| map::job_state(j.properties.state.as_deref()) == OperationState::Succeeded));
    let since = chrono::DateTime::parse_from_rfc3339("2017-05-01T00:00:00.5Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        drbook_fabric_azure::since_filter(since),
        "startTime eq '2017-05-01T00:00:00Z'"
    );
}
