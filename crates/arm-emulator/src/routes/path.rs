//! ARM paths, parsed by hand and case-insensitively as ARM does (Azure's
//! own links say `/Subscriptions/`), and the counters' name of each route.

/// An ARM route of the vault, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    ItemsList,
    ItemsByContainer { fabric: String, container: String },
    Item(ItemPath),
    Action(ItemPath, Action),
    RecoveryPoints(ItemPath),
    RecoveryPoint(ItemPath, String),
    JobsList,
    Job(String),
    PlansList,
    Plan(String),
    OperationStatus(String),
    OperationResult(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ItemPath {
    pub(super) fabric: String,
    pub(super) container: String,
    pub(super) item: String,
}

/// The item actions, by their ARM names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    PlannedFailover,
    UnplannedFailover,
    TestFailover,
    TestFailoverCleanup,
    FailoverCommit,
    FailoverCancel,
    ApplyRecoveryPoint,
    ReProtect,
}

impl Action {
    const ALL: [Action; 8] = [
        Action::PlannedFailover,
        Action::UnplannedFailover,
        Action::TestFailover,
        Action::TestFailoverCleanup,
        Action::FailoverCommit,
        Action::FailoverCancel,
        Action::ApplyRecoveryPoint,
        Action::ReProtect,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Action::PlannedFailover => "plannedFailover",
            Action::UnplannedFailover => "unplannedFailover",
            Action::TestFailover => "testFailover",
            Action::TestFailoverCleanup => "testFailoverCleanup",
            Action::FailoverCommit => "failoverCommit",
            Action::FailoverCancel => "failoverCancel",
            Action::ApplyRecoveryPoint => "applyRecoveryPoint",
            Action::ReProtect => "reProtect",
        }
    }

    pub(super) fn parse(segment: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(segment))
    }
}

/// The vault a path names, and the route under it.
pub(super) struct Parsed {
    pub(super) subscription: String,
    pub(super) resource_group: String,
    pub(super) vault: String,
    pub(super) route: Option<Route>,
}

pub(super) fn is(segment: &str, word: &str) -> bool {
    segment.eq_ignore_ascii_case(word)
}

pub(super) fn parse(path: &str) -> Option<Parsed> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 8
        || !is(segs[0], "subscriptions")
        || !is(segs[2], "resourceGroups")
        || !is(segs[4], "providers")
        || !is(segs[5], "Microsoft.RecoveryServices")
        || !is(segs[6], "vaults")
    {
        return None;
    }
    let rest = &segs[8..];
    let owned = |s: &str| s.to_string();
    let route = match rest {
        [items] if is(items, "replicationProtectedItems") => Some(Route::ItemsList),
        [jobs] if is(jobs, "replicationJobs") => Some(Route::JobsList),
        [jobs, job] if is(jobs, "replicationJobs") => Some(Route::Job(owned(job))),
        [plans] if is(plans, "replicationRecoveryPlans") => Some(Route::PlansList),
        [plans, plan] if is(plans, "replicationRecoveryPlans") => Some(Route::Plan(owned(plan))),
        [status, op] if is(status, "replicationOperationStatus") => {
            Some(Route::OperationStatus(owned(op)))
        }
        [results, op] if is(results, "replicationOperationResults") => {
            Some(Route::OperationResult(owned(op)))
        }
        [fabrics, fabric, containers, container, items, tail @ ..]
            if is(fabrics, "replicationFabrics")
                && is(containers, "replicationProtectionContainers")
                && is(items, "replicationProtectedItems") =>
        {
            let item = |name: &str| ItemPath {
                fabric: owned(fabric),
                container: owned(container),
                item: owned(name),
            };
            match tail {
                [] => Some(Route::ItemsByContainer {
                    fabric: owned(fabric),
                    container: owned(container),
                }),
                [name] => Some(Route::Item(item(name))),
                [name, points] if is(points, "recoveryPoints") => {
                    Some(Route::RecoveryPoints(item(name)))
                }
                [name, points, point] if is(points, "recoveryPoints") => {
                    Some(Route::RecoveryPoint(item(name), owned(point)))
                }
                [name, action] => Action::parse(action).map(|a| Route::Action(item(name), a)),
                _ => None,
            }
        }
        _ => None,
    };
    Some(Parsed {
        subscription: owned(segs[1]),
        resource_group: owned(segs[3]),
        vault: owned(segs[7]),
        route,
    })
}

/// The counters' name of a route.
pub(super) fn route_name(route: Option<&Route>) -> String {
    match route {
        None => "unknown".to_string(),
        Some(Route::ItemsList) => "protectedItems.list".to_string(),
        Some(Route::ItemsByContainer { .. }) => "protectedItems.listByContainer".to_string(),
        Some(Route::Item(_)) => "protectedItems.get".to_string(),
        Some(Route::Action(_, action)) => format!("protectedItems.{}", action.name()),
        Some(Route::RecoveryPoints(_)) => "recoveryPoints.list".to_string(),
        Some(Route::RecoveryPoint(..)) => "recoveryPoints.get".to_string(),
        Some(Route::JobsList) => "jobs.list".to_string(),
        Some(Route::Job(_)) => "jobs.get".to_string(),
        Some(Route::PlansList) => "recoveryPlans.list".to_string(),
        Some(Route::Plan(_)) => "recoveryPlans.get".to_string(),
        Some(Route::OperationStatus(_)) => "operationStatus.get".to_string(),
        Some(Route::OperationResult(_)) => "operationResults.get".to_string(),
    }
}
